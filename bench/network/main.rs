//! The cost of a container's network setup: `allocate` + `attach` + `release` of the network
//! manager, per container, against a baseline doing the same work by running `ip` and
//! `iptables` once per step (as v0.1.0 and lxc's scripts did).
//!
//! Run as root: `cargo bench --bench network -- [CYCLES]` (default 200). It makes its own
//! bridge (`drtbench<pid%1000>`), a free 10.19x.N.0/24 subnet, its own chains and stand-in
//! containers (`unshare --net sleep`), and removes them all at the end, also after a failure.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use docker_runtime::container::NetworkSettings;
use docker_runtime::network::NetworkOptions;
use docker_runtime::network::PortSpec;
use docker_runtime::{Runtime, RuntimeOptions};

fn sh(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn must(program: &str, args: &[&str]) {
    assert!(sh(program, args), "{program} {} failed", args.join(" "));
}

/// Removes the bench's bridge, chains and jumps; kills the stand-ins.
struct Guard {
    bridge: String,
    chain: String,
    stand_ins: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.stand_ins {
            let _ = c.kill();
            let _ = c.wait();
        }
        let c = &self.chain;
        let post = format!("{c}-POST");
        let iso = format!("{c}-ISO");
        let fwd = format!("{c}-FWD");
        let inp = format!("{c}-IN");
        let local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", c.as_str()];
        for (table, builtin, spec) in [
            ("nat", "PREROUTING", &local[..]),
            ("nat", "OUTPUT", &local[..]),
            ("nat", "POSTROUTING", &["-j", post.as_str()][..]),
            ("mangle", "FORWARD", &["-j", iso.as_str()][..]),
            ("filter", "FORWARD", &["-j", fwd.as_str()][..]),
            ("filter", "INPUT", &["-j", inp.as_str()][..]),
        ] {
            let mut args = vec!["-w", "-t", table, "-D", builtin];
            args.extend_from_slice(spec);
            while sh("iptables", &args) {}
        }
        for (table, chain) in [
            ("nat", c),
            ("nat", &post),
            ("mangle", &iso),
            ("filter", &fwd),
            ("filter", &inp),
        ] {
            sh("iptables", &["-w", "-t", table, "-F", chain]);
            sh("iptables", &["-w", "-t", table, "-X", chain]);
        }
        sh("ip", &["link", "del", &self.bridge]);
    }
}

fn stand_in() -> Child {
    let child = Command::new("unshare")
        .args(["--net", "sleep", "600"])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare");
    let me = std::fs::read_link("/proc/self/ns/net").unwrap();
    let path = format!("/proc/{}/ns/net", child.id());
    while std::fs::read_link(&path)
        .ok()
        .as_ref()
        .is_none_or(|p| *p == me)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    child
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A free 10.19x.N.0/24: no route of the host (default routes aside) overlaps it.
fn free_subnet() -> String {
    let out = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .expect("ip route");
    let mut routes = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut words = line.split_whitespace();
        let mut dst = words.next().unwrap_or("");
        if matches!(dst, "local" | "broadcast" | "unicast" | "multicast") {
            dst = words.next().unwrap_or("");
        }
        let (ip, len) = match dst.split_once('/') {
            Some((ip, len)) => (ip, len.parse::<u32>().unwrap_or(32)),
            None => (dst, 32),
        };
        if let (Ok(ip), true) = (ip.parse::<Ipv4Addr>(), len > 0) {
            let mask = u32::MAX << (32 - len);
            routes.push((u32::from(ip) & mask, u32::from(ip) | !mask));
        }
    }
    for second in 190..200u8 {
        for third in 0..=255u8 {
            let lo = u32::from(Ipv4Addr::new(10, second, third, 0));
            let hi = lo | 0xff;
            if !routes.iter().any(|(a, b)| *a <= hi && *b >= lo) {
                return format!("10.{second}.{third}.1/24");
            }
        }
    }
    panic!("no free 10.19x.N.0/24 subnet");
}

fn main() {
    let cycles: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("CYCLES is a number"))
        .unwrap_or(200);
    let pid = std::process::id();
    let mut guard = Guard {
        bridge: format!("drtbench{}", pid % 1000),
        chain: format!("DRTBENCH{pid}"),
        stand_ins: Vec::new(),
    };
    let subnet = free_subnet();
    let root = std::env::temp_dir().join(format!("dr-netbench-{pid}"));
    let opts = RuntimeOptions {
        network: NetworkOptions {
            bridge_name: guard.bridge.clone(),
            bridge_subnet: Some(subnet.clone()),
            iptables_chain: guard.chain.clone(),
            port_range: (21000, 21999),
            ip_forward: false,
        },
        ..Default::default()
    };
    let rt = Runtime::new(&root, opts).expect("runtime");
    let t = Instant::now();
    let net = rt.network().expect("network manager");
    let setup = t.elapsed();
    for _ in 0..4 {
        guard.stand_ins.push(stand_in());
    }
    let pids: Vec<i32> = guard.stand_ins.iter().map(|c| c.id() as i32).collect();

    let mut results = Vec::new();
    let p80 = vec![PortSpec {
        public: None,
        private: 80,
    }];
    // "exited": the stand-in ends before release, as a container before its monitor releases
    // its network (the namespace, and with it the veth pair, goes away by itself); "alive":
    // release deletes the veth of a namespace that still exists.
    for (label, ports, exited) in [
        ("no port, alive", vec![], false),
        ("-p 80, alive", p80.clone(), false),
        ("no port, exited", vec![], true),
        ("-p 80, exited", p80, true),
    ] {
        let (mut alloc, mut attach, mut release, mut total) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..cycles {
            let id = docker_runtime::ids::generate().unwrap();
            let mut own = exited.then(stand_in);
            let pid = own.as_ref().map_or(pids[i % pids.len()], |c| c.id() as i32);
            let t0 = Instant::now();
            let s: NetworkSettings = net.allocate(&ports).expect("allocate");
            let t1 = Instant::now();
            net.attach(&id, pid, &s).expect("attach");
            let t2 = Instant::now();
            if let Some(c) = own.as_mut() {
                c.kill().unwrap();
                c.wait().unwrap();
            }
            let t3 = Instant::now();
            net.release(&id, &s).expect("release");
            let t4 = Instant::now();
            alloc.push(t1 - t0);
            attach.push(t2 - t1);
            release.push(t4 - t3);
            total.push((t2 - t0) + (t4 - t3));
        }
        results.push((
            format!("runtime, {label}"),
            median(&mut alloc),
            median(&mut attach),
            median(&mut release),
            median(&mut total),
        ));
    }

    // Baseline: the same steps with one `ip` / `iptables` process each.
    let (gw, prefix) = subnet.split_once('/').unwrap();
    let base: Vec<&str> = gw.rsplitn(2, '.').collect();
    let net_prefix = base[1];
    for (label, with_port) in [
        ("ip/iptables commands, no port", false),
        ("ip/iptables commands, -p 80", true),
    ] {
        let (mut attach, mut release, mut total) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..cycles {
            let p = pids[i % pids.len()].to_string();
            let ns = format!("--net=/proc/{p}/ns/net");
            let ip = format!("{net_prefix}.{}", 2 + (i % 200));
            let addr = format!("{ip}/{prefix}");
            let dest = format!("{ip}:80");
            let rule = [
                "-p",
                "tcp",
                "--dport",
                "21500",
                "-j",
                "DNAT",
                "--to-destination",
                &dest,
            ];
            let t0 = Instant::now();
            must(
                "ip",
                &[
                    "link",
                    "add",
                    "vethbench",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "vethbenchp",
                ],
            );
            must(
                "ip",
                &["link", "set", "vethbench", "master", &guard.bridge, "up"],
            );
            must("ip", &["link", "set", "vethbenchp", "netns", &p]);
            must(
                "nsenter",
                &[&ns, "ip", "link", "set", "vethbenchp", "name", "eth0"],
            );
            must("nsenter", &[&ns, "ip", "addr", "add", &addr, "dev", "eth0"]);
            must("nsenter", &[&ns, "ip", "link", "set", "eth0", "up"]);
            must(
                "nsenter",
                &[&ns, "ip", "route", "add", "default", "via", gw],
            );
            if with_port {
                let mut a = vec!["-w", "-t", "nat", "-A", guard.chain.as_str()];
                a.extend_from_slice(&rule);
                must("iptables", &a);
            }
            let t1 = Instant::now();
            if with_port {
                let mut a = vec!["-w", "-t", "nat", "-D", guard.chain.as_str()];
                a.extend_from_slice(&rule);
                must("iptables", &a);
            }
            must("ip", &["link", "del", "vethbench"]);
            let t2 = Instant::now();
            attach.push(t1 - t0);
            release.push(t2 - t1);
            total.push(t2 - t0);
        }
        results.push((
            label.to_string(),
            Duration::ZERO,
            median(&mut attach),
            median(&mut release),
            median(&mut total),
        ));
    }

    println!(
        "network setup per container, median of {cycles} cycles (bridge {}, subnet {subnet}; manager set-up once: {})",
        guard.bridge,
        ms(setup)
    );
    println!(
        "{:<34} {:>11} {:>11} {:>11} {:>11}",
        "", "allocate", "attach", "release", "total"
    );
    for (label, a, b, c, d) in &results {
        println!(
            "{label:<34} {:>11} {:>11} {:>11} {:>11}",
            ms(*a),
            ms(*b),
            ms(*c),
            ms(*d)
        );
    }
    for (ours, theirs) in [(0, 4), (1, 5)] {
        let (a, b) = (results[ours].4, results[theirs].4);
        println!(
            "ratio {} / {}: {:.2}",
            results[ours].0,
            results[theirs].0,
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
    drop(rt);
    let _ = std::fs::remove_dir_all(&root);
}
