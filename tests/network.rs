//! The network manager on the real kernel: a bridge, veth pairs, iptables, with stand-in
//! containers (a `sleep` in its own network namespace). Each test owns its bridge name, its
//! subnet (a 10.2xx.N.0/24 that no host route covers), its iptables chains and its public ports
//! (a range below the kernel's ephemeral ports); guards remove them even when a test fails.
//! Traffic goes only to 127.0.0.1 and to the test's own namespaces.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::net::{sh, NetFixture};
use common::TempDir;
use docker_runtime::container::NetworkSettings;
use docker_runtime::network::{parse_port_spec, NetworkManager, PortSpec};
use docker_runtime::{ErrorKind, Runtime};

/// A stand-in container: `sleep` alone in a new network namespace; killed on drop.
struct StandIn {
    child: Child,
    id: String,
}

impl StandIn {
    fn new() -> StandIn {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        let path = format!("/proc/{}/ns/net", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(&path).ok().as_ref() == Some(&me)
            || std::fs::read_link(&path).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "unshare did not make a namespace"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        StandIn {
            child,
            id: docker_runtime::ids::generate().unwrap(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn ns(&self) -> String {
        format!("--net=/proc/{}/ns/net", self.pid())
    }

    /// Run a command inside the namespace.
    fn exec(&self, args: &[&str]) -> (bool, String) {
        let ns = self.ns();
        let mut all = vec![ns.as_str()];
        all.extend_from_slice(args);
        sh("nsenter", &all)
    }

    /// Start `busybox httpd` on port 80 inside the namespace, serving `body`.
    fn serve(&self, dir: &TempDir, body: &str) -> Server {
        std::fs::write(dir.join("index.html"), body).unwrap();
        let child = Command::new("nsenter")
            .arg(self.ns())
            .args(["busybox", "httpd", "-f", "-p", "80", "-h"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("nsenter busybox httpd");
        Server(child)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET /` from the host; the body, or the error.
fn http_get(addr: SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// `GET /` retried until the server answers (it may still be starting).
fn http_get_eventually(addr: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http_get(addr) {
            Ok(body) if body.contains("200 OK") => return body,
            r => {
                assert!(Instant::now() < deadline, "{addr} never answered: {r:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn ip_of(s: &NetworkSettings) -> Ipv4Addr {
    s.ip_address.parse().unwrap()
}

fn public_of(s: &NetworkSettings, private: u16) -> u16 {
    s.port_mapping[&private.to_string()].parse().unwrap()
}

fn spec(private: u16) -> PortSpec {
    PortSpec {
        public: None,
        private,
    }
}

#[test]
fn attach_gives_eth0_its_address_and_default_route_and_release_undoes_it() {
    let f = NetFixture::new("attach");
    let rt = f.runtime();
    let net = rt.network().unwrap();
    assert_eq!(net.bridge().name, f.bridge);
    assert_eq!(net.bridge().gateway(), f.gateway);
    let (_, link) = sh("ip", &["-o", "-4", "addr", "show", "dev", &f.bridge]);
    assert!(link.contains(&format!("inet {}", f.subnet)), "{link}");
    let localnet = std::fs::read_to_string(format!(
        "/proc/sys/net/ipv4/conf/{}/route_localnet",
        f.bridge
    ))
    .unwrap();
    assert_eq!(localnet.trim(), "1");

    let c = StandIn::new();
    let s = net.allocate(&[]).unwrap();
    assert_eq!(s.gateway, f.gateway.to_string());
    assert_eq!(s.ip_prefix_len, 24);
    assert!(s.port_mapping.is_empty());
    net.attach(&c.id, c.pid(), &s).unwrap();

    let (ok, addr) = c.exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(ok, "{addr}");
    assert!(
        addr.contains(&format!("inet {}/24", s.ip_address)),
        "{addr}"
    );
    let (_, link) = c.exec(&["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains("state UP"), "{link}");
    let (_, route) = c.exec(&["ip", "-4", "route", "show", "default"]);
    assert!(
        route.contains(&format!("default via {} dev eth0", f.gateway)),
        "{route}"
    );
    let host_end = format!("veth{}", &c.id[..11]);
    assert_eq!(f.bridge_ports(), vec![host_end.clone()]);

    // A second attach of the same namespace fails cleanly (eth0 is taken there).
    let other = docker_runtime::ids::generate().unwrap();
    let s2 = net.allocate(&[]).unwrap();
    let e = net.attach(&other, c.pid(), &s2).unwrap_err();
    assert!(e.message().contains("eth0"), "{e}");
    assert_eq!(f.bridge_ports(), vec![host_end.clone()]);
    net.release(&other, &s2).unwrap();

    net.release(&c.id, &s).unwrap();
    assert!(f.bridge_ports().is_empty());
    let (_, links) = c.exec(&["ip", "-o", "link"]);
    assert!(!links.contains("eth0"), "{links}");
    assert_eq!(net.ipam().held().unwrap(), (vec![], vec![]));
    // Twice is harmless.
    net.release(&c.id, &s).unwrap();

    // A process that is gone is a clear error, and leaves nothing.
    let s3 = net.allocate(&[]).unwrap();
    let e = net.attach(&c.id, i32::MAX - 1, &s3).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(f.bridge_ports().is_empty());
    net.release(&c.id, &s3).unwrap();
}

#[test]
fn server_is_reachable_at_its_address_and_at_localhost_public_port() {
    let f = NetFixture::new("reach");
    let rt = f.runtime();
    let net = rt.network().unwrap();
    let c = StandIn::new();
    let s = net.allocate(&[parse_port_spec("80").unwrap()]).unwrap();
    let public = public_of(&s, 80);
    assert!((f.ports.0..=f.ports.1).contains(&public));
    net.attach(&c.id, c.pid(), &s).unwrap();
    assert_eq!(
        f.dnat_rules(),
        vec![format!(
            "-A {} -p tcp -m tcp --dport {public} -j DNAT --to-destination {}:80",
            f.chain, s.ip_address
        )]
    );
    let www = TempDir::new("www");
    let _httpd = c.serve(&www, "hello from the stand-in\n");

    let direct = http_get_eventually(SocketAddr::from((ip_of(&s), 80)));
    assert!(direct.contains("hello from the stand-in"), "{direct}");
    let local = http_get_eventually(SocketAddr::from((Ipv4Addr::LOCALHOST, public)));
    assert!(local.contains("hello from the stand-in"), "{local}");

    net.release(&c.id, &s).unwrap();
    assert!(f.dnat_rules().is_empty());
    // The mapping is gone: nothing listens on the public port of the host.
    let e = http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, public))).unwrap_err();
    assert!(e.contains("refused"), "{e}");
}

#[test]
fn two_namespaces_reach_each_other_and_the_gateway() {
    let f = NetFixture::new("peers");
    let rt = f.runtime();
    let net = rt.network().unwrap();
    let a = StandIn::new();
    let b = StandIn::new();
    let sa = net.allocate(&[]).unwrap();
    let sb = net.allocate(&[]).unwrap();
    assert_ne!(sa.ip_address, sb.ip_address);
    net.attach(&a.id, a.pid(), &sa).unwrap();
    net.attach(&b.id, b.pid(), &sb).unwrap();
    let www = TempDir::new("www-b");
    let _httpd = b.serve(&www, "b says hi\n");
    http_get_eventually(SocketAddr::from((ip_of(&sb), 80)));

    let url = format!("http://{}/index.html", sb.ip_address);
    // (busybox 1.35's `wget -T` crashes; `timeout` bounds the wait instead.)
    let (ok, body) = a.exec(&["timeout", "10", "busybox", "wget", "-q", "-O", "-", &url]);
    assert!(ok && body.contains("b says hi"), "{body}");
    let gw = f.gateway.to_string();
    let (ok, out) = a.exec(&["busybox", "ping", "-c", "1", "-W", "3", &gw]);
    assert!(ok, "a cannot reach the gateway: {out}");
    let (ok, out) = b.exec(&["busybox", "ping", "-c", "1", "-W", "3", &sa.ip_address]);
    assert!(ok, "b cannot reach a: {out}");

    net.release(&a.id, &sa).unwrap();
    net.release(&b.id, &sb).unwrap();
}

#[test]
fn a_named_public_port_that_is_taken_is_a_clear_error_and_leaves_nothing() {
    let f = NetFixture::new("taken");
    let rt = f.runtime();
    let net = rt.network().unwrap();
    let named = f.ports.0 + 50;
    let first = net
        .allocate(&[parse_port_spec(&format!("{named}:80")).unwrap()])
        .unwrap();
    assert_eq!(public_of(&first, 80), named);
    let before = net.ipam().held().unwrap();

    let e = net
        .allocate(&[spec(22), parse_port_spec(&format!("{named}:8080")).unwrap()])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InUse);
    assert_eq!(e.message(), format!("port {named} is already allocated"));
    assert_eq!(net.ipam().held().unwrap(), before);

    // A port a host program listens on is refused too (the DNAT rule would steal it).
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let busy = listener.local_addr().unwrap().port();
    let e = net
        .allocate(&[PortSpec {
            public: Some(busy),
            private: 80,
        }])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InUse);
    assert_eq!(
        e.message(),
        format!("port {busy} is already in use on the host")
    );
    // The same private port twice is refused before anything is taken.
    let e = net.allocate(&[spec(80), spec(80)]).unwrap_err();
    assert!(e.message().contains("published twice"), "{e}");
    assert_eq!(net.ipam().held().unwrap(), before);
    assert!(f.dnat_rules().is_empty());
    assert!(f.bridge_ports().is_empty());

    net.release("0".repeat(64).as_str(), &first).unwrap();
    assert_eq!(net.ipam().held().unwrap(), (vec![], vec![]));
}

#[test]
fn two_hundred_cycles_leave_no_veth_rule_or_allocation() {
    let f = NetFixture::new("cycles");
    let rt = f.runtime();
    let net = rt.network().unwrap();
    let stand_ins: Vec<StandIn> = (0..4).map(|_| StandIn::new()).collect();
    let mut ips = BTreeSet::new();
    for i in 0..200 {
        let c = &stand_ins[i % stand_ins.len()];
        let id = docker_runtime::ids::generate().unwrap();
        let s = net.allocate(&[spec(80), spec(443)]).unwrap();
        ips.insert(s.ip_address.clone());
        net.attach(&id, c.pid(), &s).unwrap();
        assert_eq!(f.dnat_rules().len(), 2, "cycle {i}");
        net.release(&id, &s).unwrap();
    }
    assert!(ips.len() > 1, "addresses are reused round the pool");
    assert!(f.bridge_ports().is_empty(), "{:?}", f.bridge_ports());
    assert!(f.dnat_rules().is_empty(), "{:?}", f.dnat_rules());
    assert_eq!(net.ipam().held().unwrap(), (vec![], vec![]));
    for c in &stand_ins {
        let (_, links) = c.exec(&["ip", "-o", "link"]);
        assert!(!links.contains("eth0"), "{links}");
    }
    assert_eq!(f.jumps(), f.jumps_once());
}

fn assert_all_distinct(settings: &[NetworkSettings]) {
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for s in settings {
        assert!(ips.insert(s.ip_address.clone()), "{} twice", s.ip_address);
        for p in s.port_mapping.values() {
            assert!(ports.insert(p.clone()), "port {p} twice");
        }
    }
}

#[test]
fn concurrent_allocations_never_share_an_address_or_a_port() {
    let f = NetFixture::new("concurrent");
    // 20 threads on one runtime.
    let rt = Arc::new(f.runtime());
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let rt = Arc::clone(&rt);
            std::thread::spawn(move || rt.network().unwrap().allocate(&[spec(80)]).unwrap())
        })
        .collect();
    let first: Vec<NetworkSettings> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_all_distinct(&first);

    // Two runtimes on the same root, 10 threads each, at once.
    let a = Arc::new(f.runtime());
    let b = Arc::new(f.runtime());
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let rt = Arc::clone(if i % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || {
                rt.network()
                    .unwrap()
                    .allocate(&[spec(80), spec(81)])
                    .unwrap()
            })
        })
        .collect();
    let second: Vec<NetworkSettings> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let all: Vec<NetworkSettings> = first.iter().chain(&second).cloned().collect();
    assert_all_distinct(&all);
    let (ips, ports) = rt.network().unwrap().ipam().held().unwrap();
    assert_eq!(ips.len(), 40);
    assert_eq!(ports.len(), 60);

    for s in &all {
        a.network().unwrap().release(&"a".repeat(64), s).unwrap();
    }
    assert_eq!(
        rt.network().unwrap().ipam().held().unwrap(),
        (vec![], vec![])
    );
    assert_eq!(f.jumps(), f.jumps_once());
}

#[test]
fn restart_keeps_running_mappings_once_and_never_reissues_held_values() {
    let f = NetFixture::new("restart");
    let c1 = StandIn::new();
    let c2 = StandIn::new();
    let orphan = StandIn::new();
    let www = TempDir::new("www-restart");
    let (s1, s2, s3) = {
        let rt = f.runtime();
        let net = rt.network().unwrap();
        let s1 = net.allocate(&[spec(80)]).unwrap();
        let s2 = net.allocate(&[spec(80), spec(443)]).unwrap();
        // A third container that no longer counts as running, though its namespace lives on,
        // and whose runtime died before it released anything.
        let s3 = net.allocate(&[spec(80)]).unwrap();
        net.attach(&c1.id, c1.pid(), &s1).unwrap();
        net.attach(&c2.id, c2.pid(), &s2).unwrap();
        net.attach(&orphan.id, orphan.pid(), &s3).unwrap();
        assert_eq!(f.dnat_rules().len(), 4);
        assert_eq!(f.bridge_ports().len(), 3);
        (s1, s2, s3)
    };
    // A duplicated jump, as a crash of an older runtime might leave.
    sh(
        "iptables",
        &[
            "-w",
            "-t",
            "nat",
            "-A",
            "OUTPUT",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            &f.chain,
        ],
    );
    assert_eq!(f.jumps()[&format!("OUTPUT->{}", f.chain)], 2);

    let running = vec![(c1.id.clone(), s1.clone()), (c2.id.clone(), s2.clone())];
    let rt = f.runtime();
    let net: &NetworkManager = rt.network().unwrap();
    for _ in 0..2 {
        net.restore(&running).unwrap();
        let mut rules = f.dnat_rules();
        rules.sort();
        let mut want = Vec::new();
        for s in [&s1, &s2] {
            for (private, public) in &s.port_mapping {
                want.push(format!(
                    "-A {} -p tcp -m tcp --dport {public} -j DNAT --to-destination {}:{private}",
                    f.chain, s.ip_address
                ));
            }
        }
        want.sort();
        assert_eq!(rules, want);
        assert_eq!(f.jumps(), f.jumps_once());
    }
    let (ips, mut ports) = net.ipam().held().unwrap();
    assert_eq!(ips, vec![ip_of(&s1), ip_of(&s2)]);
    let mut want_ports: Vec<u16> = [&s1, &s2]
        .iter()
        .flat_map(|s| s.port_mapping.values().map(|p| p.parse::<u16>().unwrap()))
        .collect();
    want_ports.sort_unstable();
    ports.sort_unstable();
    assert_eq!(ports, want_ports);
    assert!(!ips.contains(&ip_of(&s3)));
    // The orphan's veth is gone; the running ones' stay.
    let mut want_veths = vec![
        format!("veth{}", &c1.id[..11]),
        format!("veth{}", &c2.id[..11]),
    ];
    want_veths.sort();
    let mut veths = f.bridge_ports();
    veths.sort();
    assert_eq!(veths, want_veths);
    let (_, links) = orphan.exec(&["ip", "-o", "link"]);
    assert!(!links.contains("eth0"), "{links}");

    // New containers never get what the running ones hold.
    let mut fresh = Vec::new();
    for _ in 0..30 {
        fresh.push(net.allocate(&[spec(80)]).unwrap());
    }
    let mut all = vec![s1.clone(), s2.clone()];
    all.extend(fresh.iter().cloned());
    assert_all_distinct(&all);

    // The running containers' mappings still work.
    let _httpd = c1.serve(&www, "still here\n");
    let body = http_get_eventually(SocketAddr::from((Ipv4Addr::LOCALHOST, public_of(&s1, 80))));
    assert!(body.contains("still here"), "{body}");

    for s in &fresh {
        net.release(&"b".repeat(64), s).unwrap();
    }
    net.release(&c1.id, &s1).unwrap();
    net.release(&c2.id, &s2).unwrap();
    assert!(f.dnat_rules().is_empty());
    assert_eq!(net.ipam().held().unwrap(), (vec![], vec![]));
}

#[test]
fn an_existing_bridge_keeps_its_address_and_bad_bridges_are_refused() {
    let f = NetFixture::new("adopt");
    let (ok, out) = sh("ip", &["link", "add", &f.bridge, "type", "bridge"]);
    assert!(ok, "{out}");
    let own = format!("{}/25", f.gateway);
    let (ok, out) = sh("ip", &["addr", "add", &own, "dev", &f.bridge]);
    assert!(ok, "{out}");
    // The configured /24 is ignored in favour of the bridge's own /25.
    let rt = f.runtime();
    assert_eq!(rt.ipam().unwrap().subnet(), own);
    let net = rt.network().unwrap();
    assert_eq!(net.bridge().cidr(), own);
    let s = net.allocate(&[]).unwrap();
    assert_eq!(s.ip_prefix_len, 25);
    let (_, link) = sh("ip", &["-o", "link", "show", "dev", &f.bridge]);
    assert!(link.contains("UP"), "the bridge is brought up: {link}");
    net.release(&"c".repeat(64), &s).unwrap();

    // Not a bridge.
    let g = NetFixture::new("notbridge");
    let mut opts = g.options();
    opts.network.bridge_name = "lo".into();
    let rt = Runtime::new(&g.root.join("root"), opts).unwrap();
    let e = rt.network().unwrap_err();
    assert!(
        e.message()
            .contains("interface lo exists and is not a bridge"),
        "{e}"
    );

    // A configured subnet that a host route covers is refused, and no bridge is given it.
    let (_, routes) = sh("ip", &["-4", "-o", "addr", "show", "scope", "global"]);
    let taken = routes
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .expect("the host has a global IPv4 address")
        .to_string();
    let h = NetFixture::new("overlap");
    let mut opts = h.options();
    opts.network.bridge_subnet = Some(taken.clone());
    let rt = Runtime::new(&h.root.join("root"), opts).unwrap();
    let e = rt.network().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InUse, "{e}");
    assert!(e.message().contains("overlaps the host's route"), "{e}");
    let (_, addrs) = sh("ip", &["-o", "-4", "addr", "show", "dev", &h.bridge]);
    assert!(!addrs.contains("inet"), "{addrs}");
}

#[test]
fn a_failing_port_rule_leaves_no_veth_and_restore_repairs_the_chain() {
    let f = NetFixture::new("rulefail");
    let rt = f.runtime();
    let net = rt.network().unwrap();
    let c = StandIn::new();
    // Someone removed the runtime's nat chain behind its back.
    let c_name = f.chain.clone();
    for builtin in ["PREROUTING", "OUTPUT"] {
        sh(
            "iptables",
            &[
                "-w",
                "-t",
                "nat",
                "-D",
                builtin,
                "-m",
                "addrtype",
                "--dst-type",
                "LOCAL",
                "-j",
                &c_name,
            ],
        );
    }
    let (ok, out) = sh("iptables", &["-w", "-t", "nat", "-X", &c_name]);
    assert!(ok, "{out}");

    let s = net.allocate(&[spec(80)]).unwrap();
    let e = net.attach(&c.id, c.pid(), &s).unwrap_err();
    assert!(e.message().contains("adding port mappings"), "{e}");
    assert!(f.bridge_ports().is_empty(), "{:?}", f.bridge_ports());
    let (_, links) = c.exec(&["ip", "-o", "link"]);
    assert!(!links.contains("eth0"), "{links}");
    // Releasing what the failed start allocated works although the chain is missing.
    net.release(&c.id, &s).unwrap();
    assert_eq!(net.ipam().held().unwrap(), (vec![], vec![]));

    // Start-up repairs the chain and its jumps; the same container then attaches.
    net.restore(&[]).unwrap();
    assert_eq!(f.jumps(), f.jumps_once());
    let s = net.allocate(&[spec(80)]).unwrap();
    net.attach(&c.id, c.pid(), &s).unwrap();
    assert_eq!(f.dnat_rules().len(), 1);
    net.release(&c.id, &s).unwrap();
    assert!(f.dnat_rules().is_empty());
    assert_eq!(net.ipam().held().unwrap(), (vec![], vec![]));
}

/// The rules of the filter chain `chain`, without its `-N` line.
fn rules(table: &str, chain: &str) -> Vec<String> {
    let (_, out) = sh("iptables", &["-w", "-t", table, "-S", chain]);
    out.lines()
        .filter(|l| l.starts_with("-A "))
        .map(str::to_string)
        .collect()
}

fn must(args: &[&str]) {
    let (ok, out) = sh("iptables", args);
    assert!(ok, "iptables {}: {out}", args.join(" "));
}

#[test]
fn start_and_restore_make_the_filter_chains_exact() {
    let f = NetFixture::new("filter");
    let (iso, fwd, inp, br) = (
        format!("{}-ISO", f.chain),
        format!("{}-FWD", f.chain),
        format!("{}-IN", f.chain),
        &f.bridge,
    );
    let want_iso = vec![
        format!("-A {iso} -i {br} -o {br} -j RETURN"),
        format!("-A {iso} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"),
        format!("-A {iso} -o {br} -m conntrack --ctstate DNAT -j RETURN"),
        format!("-A {iso} -o {br} -j DROP"),
    ];
    let want_fwd = vec![
        format!("-A {fwd} -i {br} -j ACCEPT"),
        format!("-A {fwd} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        format!("-A {fwd} -o {br} -m conntrack --ctstate DNAT -j ACCEPT"),
    ];
    let want_in = vec![format!(
        "-A {inp} -d 127.0.0.0/8 -i {br} -m conntrack ! --ctstate DNAT -j DROP"
    )];
    let exact = || {
        assert_eq!(rules("mangle", &iso), want_iso);
        assert_eq!(rules("filter", &fwd), want_fwd);
        assert_eq!(rules("filter", &inp), want_in);
        assert_eq!(f.jumps(), f.jumps_once());
    };
    f.runtime().network().unwrap();
    exact();

    // As main c49bff3 left them: no isolation chain, no input chain nor jumps to them; and a
    // stray rule someone added.
    must(&["-w", "-t", "mangle", "-D", "FORWARD", "-j", &iso]);
    must(&["-w", "-t", "mangle", "-F", &iso]);
    must(&["-w", "-t", "mangle", "-X", &iso]);
    must(&["-w", "-D", "INPUT", "-j", &inp]);
    must(&["-w", "-F", &inp]);
    must(&["-w", "-X", &inp]);
    must(&["-w", "-A", &fwd, "-j", "ACCEPT"]);
    let rt = f.runtime();
    let net = rt.network().unwrap();
    exact();

    // Restore (a daemon's start-up) too.
    must(&["-w", "-I", &inp, "1", "-j", "ACCEPT"]);
    must(&["-w", "-t", "mangle", "-D", &iso, "-o", br, "-j", "DROP"]);
    net.restore(&[]).unwrap();
    exact();
}
