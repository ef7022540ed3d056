//! Containers on the network: the bridge, their addresses, port mappings reachable from the
//! host (at the container's address and at 127.0.0.1:PUBLIC), `port`, `--network none`,
//! release on exit and across restarts. Each test owns its bridge, subnet, chains and ports.
//! Traffic goes only to 127.0.0.1 and to the test's own containers.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::cli::{call, ok};
use common::net::sh;
use common::Fixture;

/// GET / from `addr`, retrying until the server is up (at most ~10 s).
fn http_get(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(body) if body.contains("200") => return body,
            _ if Instant::now() > deadline => panic!("no answer from {addr}: {attempt:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn inspect(f: &Fixture, id: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&f.rt, &["inspect", id])).unwrap()
}

fn start_httpd(f: &Fixture, port_flag: &str) -> String {
    ok(
        &f.rt,
        &[
            "run", "-d", "-p", port_flag, "busybox", "sh", "-c",
            "mkdir -p /www && echo hello-from-container > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
    )
    .trim()
    .to_string()
}

#[test]
fn httpd_is_reachable_at_its_address_and_at_localhost() {
    let f = Fixture::new("cnet-http");
    let id = start_httpd(&f, "80");
    let info = inspect(&f, &id);
    let ns = &info["NetworkSettings"];
    let ip = ns["IpAddress"].as_str().unwrap().to_string();
    assert_eq!(ns["Gateway"], f.net.gateway.to_string().as_str());
    assert_eq!(ns["IpPrefixLen"], 24);
    let public = ns["PortMapping"]["80"].as_str().unwrap().to_string();
    assert_eq!(ok(&f.rt, &["port", &id, "80"]), format!("{public}\n"));
    let port: u16 = public.parse().unwrap();
    assert!((f.net.ports.0..=f.net.ports.1).contains(&port));
    assert!(http_get(&format!("{ip}:80")).contains("hello-from-container"));
    assert!(http_get(&format!("127.0.0.1:{public}")).contains("hello-from-container"));
    let out = call(&f.rt, &["port", &id, "81"]);
    assert!(
        out.stderr
            .contains("no public port is mapped to private port 81"),
        "{}",
        out.stderr
    );
    // Stopping releases the rule, the address and the port.
    ok(&f.rt, &["kill", &id]);
    ok(&f.rt, &["rm", &id]);
    // The network is given back just after the exit is announced.
    let released = || f.net.dnat_rules().is_empty() && f.net.bridge_ports().is_empty();
    assert!(
        common::eventually(Duration::from_secs(10), released),
        "{:?} {:?}",
        f.net.dnat_rules(),
        f.net.bridge_ports()
    );
    assert!(TcpStream::connect_timeout(
        &format!("127.0.0.1:{public}").parse().unwrap(),
        Duration::from_millis(300)
    )
    .is_err());
}

#[test]
fn containers_reach_each_other_and_the_gateway() {
    let f = Fixture::new("cnet-peers");
    let server = start_httpd(&f, "80");
    let ip = inspect(&f, &server)["NetworkSettings"]["IpAddress"]
        .as_str()
        .unwrap()
        .to_string();
    http_get(&format!("{ip}:80"));
    let out = ok(
        &f.rt,
        &["run", "busybox", "sh", "-c", &format!(
            "wget -q -O - http://{ip}/index.html; ping -c 1 -W 2 {gw} >/dev/null && echo gateway-ok; ip route | grep default; ip -o -4 addr show eth0 | wc -l",
            gw = f.net.gateway
        )],
    );
    assert!(out.contains("hello-from-container"), "{out}");
    assert!(out.contains("gateway-ok"), "{out}");
    assert!(
        out.contains(&format!("default via {}", f.net.gateway)),
        "{out}"
    );
    assert!(out.trim_end().ends_with('1'), "{out}");
}

#[test]
fn network_none_has_only_loopback() {
    let f = Fixture::new("cnet-none");
    let out = ok(
        &f.rt,
        &[
            "run",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "ls /sys/class/net | tr '\\n' ' '; ping -c 1 -W 1 127.0.0.1 > /dev/null && echo lo-up",
        ],
    );
    assert_eq!(out, "lo lo-up\n");
    let id = ok(
        &f.rt,
        &["run", "-d", "--network", "none", "busybox", "true"],
    )
    .trim()
    .to_string();
    ok(&f.rt, &["wait", &id]);
    assert_eq!(inspect(&f, &id)["NetworkSettings"]["IpAddress"], "");
}

#[test]
fn a_taken_public_port_is_a_clear_error_and_leaves_nothing() {
    let f = Fixture::new("cnet-taken");
    let public = f.net.ports.0 + 7;
    let first = start_httpd(&f, &format!("{public}:80"));
    assert_eq!(ok(&f.rt, &["port", &first, "80"]), format!("{public}\n"));
    let before = f.rt.network().unwrap().ipam().held().unwrap();
    let out = call(
        &f.rt,
        &[
            "run",
            "-d",
            "-p",
            &format!("{public}:80"),
            "busybox",
            "sleep",
            "100",
        ],
    );
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains(&format!("port {public}")),
        "{}",
        out.stderr
    );
    assert_eq!(f.rt.network().unwrap().ipam().held().unwrap(), before);
    assert_eq!(ok(&f.rt, &["ps", "-q"]).lines().count(), 1);
    assert_eq!(f.net.bridge_ports().len(), 1);
    for bad in ["abc", "0", "70000", "1:2:3"] {
        let out = call(&f.rt, &["run", "-p", bad, "busybox", "true"]);
        assert_ne!(out.status, 0, "{bad}");
        assert!(out.stderr.contains("port"), "{bad}: {}", out.stderr);
    }
    assert_eq!(f.rt.network().unwrap().ipam().held().unwrap(), before);
}

#[test]
fn two_hundred_cycles_with_ports_leave_nothing() {
    let f = Fixture::new("cnet-cycles");
    for _ in 0..200 {
        let id = ok(&f.rt, &["run", "-d", "-p", "80", "busybox", "true"])
            .trim()
            .to_string();
        ok(&f.rt, &["wait", &id]);
        ok(&f.rt, &["rm", &id]);
    }
    let held = || f.rt.network().unwrap().ipam().held().unwrap();
    // The kernel deletes each veth with its container's namespace, shortly after the exit.
    let idle = || {
        let (ips, ports) = held();
        f.net.dnat_rules().is_empty()
            && ips.is_empty()
            && ports.is_empty()
            && f.net.bridge_ports().is_empty()
    };
    assert!(
        common::eventually(Duration::from_secs(10), idle),
        "{:?} {:?}",
        held(),
        f.net.bridge_ports()
    );
    let (_, links) = sh("ip", &["-o", "link", "show", "type", "veth"]);
    assert!(!links.contains(&f.net.bridge), "{links}");
}

#[test]
fn twenty_concurrent_starts_never_share_an_address_or_port() {
    let f = Fixture::new("cnet-conc");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    ok(&f.rt, &["run", "-d", "-p", "80", "busybox", "sleep", "100"])
                        .trim()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for id in &ids {
        let ns = inspect(&f, id)["NetworkSettings"].clone();
        assert!(ips.insert(ns["IpAddress"].as_str().unwrap().to_string()));
        assert!(ports.insert(ns["PortMapping"]["80"].as_str().unwrap().to_string()));
    }
    assert_eq!(f.net.dnat_rules().len(), 20);
}

#[test]
fn mappings_survive_a_restart_once_and_values_are_not_reissued() {
    let f = Fixture::new("cnet-restart");
    let id = start_httpd(&f, "80");
    let ns = inspect(&f, &id)["NetworkSettings"].clone();
    let public = ns["PortMapping"]["80"].as_str().unwrap().to_string();
    http_get(&format!("127.0.0.1:{public}"));
    let rules = f.net.dnat_rules();
    assert_eq!(rules.len(), 1);
    // A second runtime on the same root, as a restarted daemon.
    let rt2 = f.reopen();
    assert_eq!(f.net.dnat_rules(), rules, "the rule exists exactly once");
    assert_eq!(f.net.jumps(), f.net.jumps_once());
    assert!(http_get(&format!("127.0.0.1:{public}")).contains("hello-from-container"));
    let other = ok(&rt2, &["run", "-d", "-p", "80", "busybox", "sleep", "100"])
        .trim()
        .to_string();
    let ns2: serde_json::Value = serde_json::from_str(&ok(&rt2, &["inspect", &other])).unwrap();
    assert_ne!(ns2["NetworkSettings"]["IpAddress"], ns["IpAddress"]);
    assert_ne!(
        ns2["NetworkSettings"]["PortMapping"]["80"],
        ns["PortMapping"]["80"]
    );
    // The restarted runtime stops what the first one started and releases its network.
    ok(&rt2, &["kill", &id]);
    ok(&rt2, &["rm", &id]);
    ok(&rt2, &["rm", "-f", &other]);
    let held = || rt2.network().unwrap().ipam().held().unwrap();
    let idle = || {
        let (ips, ports) = held();
        f.net.dnat_rules().is_empty() && ips.is_empty() && ports.is_empty()
    };
    assert!(
        common::eventually(Duration::from_secs(10), idle),
        "{:?}",
        held()
    );
}

#[test]
fn a_runtime_with_default_options_adopts_the_roots_network() {
    let f = Fixture::new("cnet-adopt");
    let id = start_httpd(&f, "80");
    // As the in-process client would open the root of a daemon started with -b/--bip/...
    let opts = docker_runtime::RuntimeOptions {
        init_path: Some(env!("CARGO_BIN_EXE_docker-init").into()),
        ..Default::default()
    };
    let rt = docker_runtime::Runtime::new(&f.root(), opts).unwrap();
    assert_eq!(rt.options().network.bridge_name, f.net.bridge);
    assert_eq!(rt.options().network.iptables_chain, f.net.chain);
    assert!(!rt.options().network.ip_forward);
    rt.restore().unwrap();
    assert_eq!(f.net.dnat_rules().len(), 1);
    ok(&rt, &["rm", "-f", &id]);
    // A corrupt settings file is logged and the defaults are kept.
    std::fs::write(f.root().join("network/settings.json"), b"{").unwrap();
    let rt =
        docker_runtime::Runtime::new(&f.root(), docker_runtime::RuntimeOptions::default()).unwrap();
    assert_eq!(rt.options().network.bridge_name, "lxcbr0");
}
