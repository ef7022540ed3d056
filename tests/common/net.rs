//! A test's own network: bridge name, subnet (a 10.2xx.N.0/24 no host route covers), iptables
//! chains and public port range; everything removed on drop, even when the test fails.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use docker_runtime::network::NetworkOptions;
use docker_runtime::{Runtime, RuntimeOptions};

use super::TempDir;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn sh(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The IPv4 route destinations of the host (`ip route show table all`), default routes left
/// out.
fn host_routes() -> Vec<(u32, u32)> {
    let (_, out) = sh("ip", &["-4", "route", "show", "table", "all"]);
    let mut nets = Vec::new();
    for line in out.lines() {
        let mut words = line.split_whitespace();
        let mut dst = words.next().unwrap_or("");
        if matches!(dst, "local" | "broadcast" | "unicast" | "multicast") {
            dst = words.next().unwrap_or("");
        }
        if dst == "default" {
            continue;
        }
        let (ip, len) = match dst.split_once('/') {
            Some((ip, len)) => (ip, len.parse::<u32>().unwrap_or(32)),
            None => (dst, 32),
        };
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            nets.push((u32::from(ip) & mask, mask));
        }
    }
    nets
}

fn overlaps_host_route(net: Ipv4Addr) -> bool {
    let lo = u32::from(net);
    let hi = lo | 0xff;
    host_routes()
        .iter()
        .any(|(n, mask)| *n <= hi && (n | !mask) >= lo)
}

/// The built-in chains the runtime's jumps start from.
const BUILTINS: [(&str, &str); 5] = [
    ("nat", "PREROUTING"),
    ("nat", "OUTPUT"),
    ("nat", "POSTROUTING"),
    ("filter", "FORWARD"),
    ("filter", "INPUT"),
];

/// A runtime's own chains for the nat chain name `chain`: (table, chain).
fn chains_of(chain: &str) -> [(&'static str, String); 4] {
    [
        ("nat", chain.to_string()),
        ("nat", format!("{chain}-POST")),
        ("filter", format!("{chain}-FWD")),
        ("filter", format!("{chain}-IN")),
    ]
}

/// A test's own bridge, subnet, chains and public ports, removed on drop.
pub struct NetFixture {
    pub root: TempDir,
    pub bridge: String,
    pub chain: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
    pub ports: (u16, u16),
}

impl NetFixture {
    pub fn new(tag: &str) -> NetFixture {
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let second = 200 + (pid % 50) as u8;
        let mut third = (n * 7 + pid / 50) % 256;
        let mut tries = 0;
        while overlaps_host_route(Ipv4Addr::new(10, second, third as u8, 0)) {
            third = (third + 1) % 256;
            tries += 1;
            assert!(tries < 256, "no free 10.{second}.x.0/24 subnet");
        }
        let gateway = Ipv4Addr::new(10, second, third as u8, 1);
        let slot = ((pid % 20) * 6 + n % 6) as u16;
        let lo = 20000 + slot * 100;
        NetFixture {
            root: TempDir::new(&format!("net-{tag}")),
            bridge: format!("drt{}{}", pid % 1000, n),
            chain: format!("DRT{pid}N{n}"),
            subnet: format!("{gateway}/24"),
            gateway,
            ports: (lo, lo + 99),
        }
    }

    pub fn options(&self) -> RuntimeOptions {
        RuntimeOptions {
            network: NetworkOptions {
                bridge_name: self.bridge.clone(),
                bridge_subnet: Some(self.subnet.clone()),
                iptables_chain: self.chain.clone(),
                port_range: self.ports,
                ip_forward: false,
            },
            ..Default::default()
        }
    }

    pub fn runtime(&self) -> Runtime {
        Runtime::new(&self.root.join("root"), self.options()).unwrap()
    }

    pub fn chains(&self) -> [(&'static str, String); 4] {
        chains_of(&self.chain)
    }

    /// The rules of the nat chain, without its `-N` line.
    pub fn dnat_rules(&self) -> Vec<String> {
        let (_, out) = sh("iptables", &["-w", "-t", "nat", "-S", &self.chain]);
        out.lines()
            .filter(|l| l.starts_with("-A "))
            .map(str::to_string)
            .collect()
    }

    /// The jumps from the built-in chains to this test's chains, with how often each is there.
    pub fn jumps(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for (table, builtin) in BUILTINS {
            let (_, text) = sh("iptables", &["-w", "-t", table, "-S", builtin]);
            for (_, chain) in self.chains() {
                let n = text
                    .lines()
                    .filter(|l| l.ends_with(&format!("-j {chain}")))
                    .count();
                if n > 0 {
                    out.insert(format!("{builtin}->{chain}"), n);
                }
            }
        }
        out
    }

    /// Each jump the runtime adds, once.
    pub fn jumps_once(&self) -> BTreeMap<String, usize> {
        let c = &self.chain;
        BTreeMap::from([
            (format!("PREROUTING->{c}"), 1),
            (format!("OUTPUT->{c}"), 1),
            (format!("POSTROUTING->{c}-POST"), 1),
            (format!("FORWARD->{c}-FWD"), 1),
            (format!("INPUT->{c}-IN"), 1),
        ])
    }

    /// Host interfaces enslaved to the bridge.
    pub fn bridge_ports(&self) -> Vec<String> {
        let (_, out) = sh("ip", &["-o", "link", "show", "master", &self.bridge]);
        out.lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }
}

impl Drop for NetFixture {
    fn drop(&mut self) {
        remove_network(&self.bridge, &self.chain);
    }
}

/// Remove a runtime's bridge and its iptables chains (`CHAIN`, `CHAIN-POST`, `CHAIN-FWD`,
/// `CHAIN-IN`) with the jumps to them.
pub fn remove_network(bridge: &str, chain: &str) {
    let chains = chains_of(chain);
    for (table, builtin) in BUILTINS {
        let (_, text) = sh("iptables", &["-w", "-t", table, "-S", builtin]);
        for line in text.lines() {
            let ours = chains
                .iter()
                .any(|(_, c)| line.ends_with(&format!("-j {c}")));
            if let (true, Some(rest)) = (ours, line.strip_prefix("-A ")) {
                let mut args = vec!["-w", "-t", table, "-D"];
                args.extend(rest.split_whitespace());
                sh("iptables", &args);
            }
        }
    }
    for (table, c) in &chains {
        sh("iptables", &["-w", "-t", table, "-F", c]);
        sh("iptables", &["-w", "-t", table, "-X", c]);
    }
    sh("ip", &["link", "del", bridge]);
}
