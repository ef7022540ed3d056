//! A test's own network: bridge name, subnet (a 10.2xx.N.0/24 no host route covers), iptables
//! chains and public port range; everything removed on drop, even when the test fails.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use docker_runtime::network::NetworkOptions;
use docker_runtime::{Runtime, RuntimeOptions};

use super::TempDir;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The public port ranges (100 ports from 20000 + 100 * slot, below the kernel's ephemeral
/// ports) of this process's live fixtures: two live fixtures never share one, or the host's own
/// connections to `127.0.0.1:PUBLIC` could meet the other fixture's DNAT rule.
static SLOTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
const SLOT_COUNT: u16 = 120;

/// A free slot, searched from this process's own first one (processes start 6 apart).
fn take_slot() -> u16 {
    let first = (std::process::id() % 20) as u16 * 6;
    let mut live = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    let slot = (0..SLOT_COUNT)
        .map(|k| (first + k) % SLOT_COUNT)
        .find(|s| !live.contains(s))
        .expect("a free port slot");
    live.insert(slot);
    slot
}

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
const BUILTINS: [(&str, &str); 6] = [
    ("nat", "PREROUTING"),
    ("nat", "OUTPUT"),
    ("nat", "POSTROUTING"),
    ("mangle", "FORWARD"),
    ("filter", "FORWARD"),
    ("filter", "INPUT"),
];

/// A runtime's own chains for the nat chain name `chain`: (table, chain).
fn chains_of(chain: &str) -> [(&'static str, String); 5] {
    [
        ("nat", chain.to_string()),
        ("nat", format!("{chain}-POST")),
        ("mangle", format!("{chain}-ISO")),
        ("filter", format!("{chain}-FWD")),
        ("filter", format!("{chain}-IN")),
    ]
}

/// A fresh number of this process and the gateway (`.1`) of a 10.2xx.N.0/24 that no host route
/// covers and no other fixture of this process was given.
fn reserve() -> (u32, Ipv4Addr) {
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
    (n, Ipv4Addr::new(10, second, third as u8, 1))
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
        let (n, gateway) = reserve();
        let slot = take_slot();
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

    pub fn chains(&self) -> [(&'static str, String); 5] {
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
            (format!("FORWARD->{c}-ISO"), 1),
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
        let slot = (self.ports.0 - 20000) / 100;
        SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&slot);
    }
}

/// Remove a runtime's bridge and its iptables chains (`CHAIN`, `CHAIN-POST`, `CHAIN-ISO`,
/// `CHAIN-FWD`, `CHAIN-IN`) with the jumps to them.
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

/// A neighbour that routes through the host, as a machine on the host's LAN could: a `sleep` in
/// a network namespace of its own, joined to the host by a veth pair on its own /30 (the host's
/// end `.1`, the neighbour's `eth0` `.2`, out of a /24 reserved like a fixture's subnet), with
/// routes through the host; and `net.ipv4.ip_forward=1` while it lives. On drop, even when the
/// test fails, `ip_forward` gets its old value back and the namespace dies with its veth pair.
pub struct Neighbour {
    child: Child,
    link: String,
    forward: Option<ForwardOn>,
    /// The host's end of the veth pair.
    pub host_ip: Ipv4Addr,
    /// The neighbour's address.
    pub ip: Ipv4Addr,
}

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// `net.ipv4.ip_forward=1` while any of these lives (the host routes between its interfaces,
/// as the runtime makes it by default); the old value back when the last one goes, even when
/// a test fails. Counted across the tests of this process, which run at once: one test's end
/// must not turn forwarding off under another.
pub struct ForwardOn(());

/// How many [`ForwardOn`] live, and the value before the first.
static FORWARD: Mutex<(usize, String)> = Mutex::new((0, String::new()));

impl ForwardOn {
    pub fn new() -> ForwardOn {
        let mut f = FORWARD.lock().unwrap_or_else(|e| e.into_inner());
        if f.0 == 0 {
            f.1 = std::fs::read_to_string(IP_FORWARD).unwrap();
            std::fs::write(IP_FORWARD, "1").unwrap();
        }
        f.0 += 1;
        ForwardOn(())
    }
}

impl Drop for ForwardOn {
    fn drop(&mut self) {
        let mut f = FORWARD.lock().unwrap_or_else(|e| e.into_inner());
        f.0 -= 1;
        if f.0 == 0 {
            let _ = std::fs::write(IP_FORWARD, f.1.trim());
        }
    }
}

impl Neighbour {
    /// A neighbour whose routes to each of `routes` (`NET/PREFIX`) go through the host.
    pub fn new(routes: &[&str]) -> Neighbour {
        let (n, host_ip) = reserve();
        let child = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let mut me = Neighbour {
            child,
            link: format!("drn{}{n}", std::process::id() % 1000),
            forward: None,
            host_ip,
            ip: Ipv4Addr::from(u32::from(host_ip) + 1),
        };
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        let path = format!("/proc/{}/ns/net", me.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(&path).map_or(true, |ns| ns == host) {
            assert!(Instant::now() < deadline, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(2));
        }
        let pid = me.child.id().to_string();
        let host_cidr = format!("{host_ip}/30");
        let cidr = format!("{}/30", me.ip);
        let must = |program: &str, args: &[&str]| {
            let (ok, out) = sh(program, args);
            assert!(ok, "{program} {}: {out}", args.join(" "));
        };
        let link = me.link.clone();
        must(
            "ip",
            &[
                "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &pid,
            ],
        );
        must("ip", &["addr", "add", &host_cidr, "dev", &link]);
        must("ip", &["link", "set", &link, "up"]);
        for args in [
            &["ip", "addr", "add", &cidr, "dev", "eth0"][..],
            &["ip", "link", "set", "eth0", "up"],
        ] {
            let (ok, out) = me.exec(args);
            assert!(ok, "{}: {out}", args.join(" "));
        }
        let via = host_ip.to_string();
        for net in routes {
            let (ok, out) = me.exec(&["ip", "route", "add", net, "via", &via]);
            assert!(ok, "route to {net}: {out}");
        }
        me.forward = Some(ForwardOn::new());
        me
    }

    /// `make` run by a thread that joins the neighbour's namespace for it alone: the sockets it
    /// makes belong to the neighbour.
    fn inside<T: Send + 'static>(
        &self,
        make: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let ns = std::fs::File::open(format!("/proc/{}/ns/net", self.child.id()))?;
        std::thread::spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            make()
        })
        .join()
        .unwrap()
    }

    /// A TCP connection to `addr` from the neighbour.
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
        self.inside(move || TcpStream::connect_timeout(&addr, timeout))
    }

    /// A TCP listener on the neighbour's address, on a port the kernel picks.
    pub fn listen(&self) -> std::io::Result<TcpListener> {
        let ip = self.ip;
        self.inside(move || TcpListener::bind((ip, 0)))
    }

    /// Run a command inside the neighbour's namespace.
    fn exec(&self, args: &[&str]) -> (bool, String) {
        let ns = format!("--net=/proc/{}/ns/net", self.child.id());
        let mut all = vec![ns.as_str()];
        all.extend_from_slice(args);
        sh("nsenter", &all)
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        self.forward.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        sh("ip", &["link", "del", &self.link]);
    }
}
