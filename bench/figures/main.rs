//! In-process figures for `bench/run.sh` (the harness, `bench/harness.py`, runs this program
//! and reads the one JSON object it prints on stdout):
//!
//! - `alloc [--quick]`: allocator creation on a /24, /16 and /8 and acquire+release pairs per
//!   second, next to v0.1.0's design (a queue pre-filled with every address of the pool: Go's
//!   buffered channel), reimplemented here, and only here, as the baseline.
//! - `restore ROOT BRIDGE SUBNET CHAIN`: a runtime created on ROOT and `restore`d, as the
//!   daemon does at start; prints the time and this process's peak RSS. The bridge, subnet and
//!   chain are the harness's own (a root whose containers had no network never touches them).
//! - `floor ROOT`: the floor for `restore`: a plain loop reading and parsing (into
//!   `serde_json::Value`) every `ROOT/containers/*/config.json`, nothing else.
//! - `calls ROOT N`: `docker_runtime_call(["version"])` through the exported C function, N
//!   times, output to /dev/null: calls per second in-process.
//!
//! Run as root by the harness: `cargo bench --bench figures -- SUBCOMMAND ...`.

use std::ffi::{c_char, c_int, CString};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use ::docker_runtime::ffi::alloc::{
    docker_ip_allocator, docker_ip_allocator_acquire, docker_ip_allocator_free,
    docker_ip_allocator_new, docker_ip_allocator_release,
};
use ::docker_runtime::ffi::docker_result;
use ::docker_runtime::ffi::runtime::{
    docker_runtime, docker_runtime_call, docker_runtime_free, docker_runtime_new,
    docker_runtime_options, docker_runtime_options_init,
};
use ::docker_runtime::network::NetworkOptions;
use ::docker_runtime::network::{IpAllocator, PortAllocator};
use ::docker_runtime::{Runtime, RuntimeOptions};
use serde_json::{json, Value};

/// v0.1.0's address allocator (`network.go`): a buffered channel holding every free address,
/// filled when the allocator is made; acquire takes one out, release puts it back.
struct QueueIpAllocator {
    tx: SyncSender<Ipv4Addr>,
    rx: Receiver<Ipv4Addr>,
}

impl QueueIpAllocator {
    fn new(cidr: &str) -> QueueIpAllocator {
        let (gw, prefix) = cidr.split_once('/').expect("GATEWAY/PREFIX");
        let gw: Ipv4Addr = gw.parse().expect("gateway address");
        let prefix: u32 = prefix.parse().expect("prefix length");
        let size = 1u32 << (32 - prefix);
        let first = u32::from(gw) & !(size - 1);
        let (tx, rx) = sync_channel(size as usize - 3);
        for i in 1..size - 1 {
            let ip = Ipv4Addr::from(first + i);
            if ip != gw {
                tx.send(ip).expect("the queue has room for every host");
            }
        }
        QueueIpAllocator { tx, rx }
    }

    fn acquire(&self) -> Option<Ipv4Addr> {
        self.rx.try_recv().ok()
    }

    fn release(&self, ip: Ipv4Addr) {
        self.tx.try_send(ip).expect("a released address fits back");
    }
}

/// v0.1.0's port allocator: the same design over 49153-65535.
struct QueuePortAllocator {
    tx: SyncSender<u16>,
    rx: Receiver<u16>,
}

impl QueuePortAllocator {
    fn new(first: u16, last: u16) -> QueuePortAllocator {
        let (tx, rx) = sync_channel(usize::from(last - first) + 1);
        for p in first..=last {
            tx.send(p).expect("the queue has room for every port");
        }
        QueuePortAllocator { tx, rx }
    }

    fn acquire(&self) -> Option<u16> {
        self.rx.try_recv().ok()
    }

    fn release(&self, p: u16) {
        self.tx.try_send(p).expect("a released port fits back");
    }
}

/// This process's resident set, KiB (`VmRSS`).
fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Median, minimum and maximum of `v` (sorted in place).
fn stats(v: &mut [f64]) -> Value {
    v.sort_by(f64::total_cmp);
    json!({ "median": v[v.len() / 2], "min": v[0], "max": v[v.len() - 1], "n": v.len() })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Creation time, alternating ours and the queue, `reps` times each.
fn creation(cidr: &str, reps: usize) -> Value {
    let (mut ours, mut queue) = (Vec::new(), Vec::new());
    let mut queue_rss = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let a = IpAllocator::new(cidr).expect("allocator");
        ours.push(secs(t.elapsed()));
        black_box(&a);
        let before = rss_kib();
        let t = Instant::now();
        let q = QueueIpAllocator::new(cidr);
        queue.push(secs(t.elapsed()));
        queue_rss = queue_rss.max(rss_kib().saturating_sub(before));
        drop(black_box(q));
    }
    json!({
        "cidr": cidr,
        "ours_s": stats(&mut ours),
        "queue_s": stats(&mut queue),
        "ours_bytes": std::mem::size_of::<IpAllocator>(),
        "queue_rss_kib": queue_rss,
    })
}

/// Acquire+release pairs per second: `rounds` rounds, each `pairs` pairs of ours then of the
/// queue. A few addresses are held throughout, as by running containers.
fn pairs(cidr: &str, pairs: u32, rounds: usize) -> Value {
    let mut ours = IpAllocator::new(cidr).expect("allocator");
    let queue = QueueIpAllocator::new(cidr);
    for _ in 0..100 {
        ours.acquire().expect("room for 100");
        queue.acquire().expect("room for 100");
    }
    let abi = AbiIpAllocator::new(cidr);
    let (mut o, mut q, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..pairs {
            let ip = ours.acquire().expect("acquire");
            ours.release(black_box(ip)).expect("release");
        }
        o.push(f64::from(pairs) / secs(t.elapsed()));
        let t = Instant::now();
        for _ in 0..pairs {
            let ip = queue.acquire().expect("acquire");
            queue.release(black_box(ip));
        }
        q.push(f64::from(pairs) / secs(t.elapsed()));
        let t = Instant::now();
        for _ in 0..pairs {
            abi.acquire_release();
        }
        c.push(f64::from(pairs) / secs(t.elapsed()));
    }
    json!({
        "cidr": cidr,
        "ours_per_s": stats(&mut o),
        "queue_per_s": stats(&mut q),
        "ours_abi_per_s": stats(&mut c),
    })
}

fn port_pairs(pairs: u32, rounds: usize) -> Value {
    let mut ours = PortAllocator::default();
    let (first, last) = ours.range();
    let mut creation_ours = Vec::new();
    let mut creation_queue = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(PortAllocator::new(first, last).expect("ports"));
        creation_ours.push(secs(t.elapsed()));
        let t = Instant::now();
        black_box(QueuePortAllocator::new(first, last));
        creation_queue.push(secs(t.elapsed()));
    }
    let queue = QueuePortAllocator::new(first, last);
    let (mut o, mut q) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..pairs {
            let p = ours.acquire().expect("acquire");
            ours.release(black_box(p)).expect("release");
        }
        o.push(f64::from(pairs) / secs(t.elapsed()));
        let t = Instant::now();
        for _ in 0..pairs {
            let p = queue.acquire().expect("acquire");
            queue.release(black_box(p));
        }
        q.push(f64::from(pairs) / secs(t.elapsed()));
    }
    json!({
        "range": format!("{first}-{last}"),
        "ours_create_s": stats(&mut creation_ours),
        "queue_create_s": stats(&mut creation_queue),
        "ours_per_s": stats(&mut o),
        "queue_per_s": stats(&mut q),
    })
}

/// The stand-alone allocator of the C ABI (`docker_ip_allocator_*`): the same pool behind a
/// mutex, addresses passed as text.
struct AbiIpAllocator(*mut docker_ip_allocator);

impl AbiIpAllocator {
    fn new(cidr: &str) -> AbiIpAllocator {
        let cidr = CString::new(cidr).expect("cidr");
        let mut a = ptr::null_mut();
        // SAFETY: cidr is a valid string and a is writable.
        let r = unsafe { docker_ip_allocator_new(cidr.as_ptr(), &mut a) };
        assert_eq!(r, docker_result::DOCKER_OK, "docker_ip_allocator_new");
        AbiIpAllocator(a)
    }

    fn acquire_release(&self) {
        let mut buf = [0 as c_char; 16];
        // SAFETY: self.0 is a live handle and buf holds 16 bytes.
        let r = unsafe { docker_ip_allocator_acquire(self.0, buf.as_mut_ptr(), buf.len()) };
        assert_eq!(r, docker_result::DOCKER_OK, "docker_ip_allocator_acquire");
        // SAFETY: buf holds the NUL-terminated address the call wrote.
        let r = unsafe { docker_ip_allocator_release(self.0, buf.as_ptr()) };
        assert_eq!(r, docker_result::DOCKER_OK, "docker_ip_allocator_release");
    }
}

impl Drop for AbiIpAllocator {
    fn drop(&mut self) {
        // SAFETY: made by docker_ip_allocator_new, released once.
        unsafe { docker_ip_allocator_free(self.0) };
    }
}

fn alloc(quick: bool) -> Value {
    let (n, rounds) = if quick { (20_000, 3) } else { (1_000_000, 10) };
    json!({
        "creation": [
            creation("10.0.0.1/24", if quick { 50 } else { 1000 }),
            creation("10.0.0.1/16", if quick { 5 } else { 50 }),
            creation("10.0.0.1/8", if quick { 1 } else { 5 }),
        ],
        "pairs": [pairs("10.0.0.1/24", n, rounds), pairs("10.0.0.1/8", n, rounds)],
        "ports": port_pairs(n, rounds),
    })
}

fn restore(root: &Path, bridge: &str, subnet: &str, chain: &str) -> Value {
    let opts = RuntimeOptions {
        network: NetworkOptions {
            bridge_name: bridge.to_string(),
            bridge_subnet: Some(subnet.to_string()),
            iptables_chain: chain.to_string(),
            ip_forward: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let t = Instant::now();
    let rt = std::sync::Arc::new(Runtime::new(root, opts).expect("runtime"));
    let n = rt.restore().expect("restore");
    let elapsed = secs(t.elapsed());
    json!({ "seconds": elapsed, "containers": n, "peak_rss_kib": status_field("VmHWM:") })
}

fn floor(root: &Path) -> Value {
    let t = Instant::now();
    let mut n = 0usize;
    for entry in std::fs::read_dir(root.join("containers")).expect("containers/") {
        let path = entry.expect("entry").path().join("config.json");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let v: Value = serde_json::from_slice(&bytes).expect("config.json parses");
        black_box(&v);
        n += 1;
    }
    let elapsed = secs(t.elapsed());
    json!({ "seconds": elapsed, "containers": n, "peak_rss_kib": status_field("VmHWM:") })
}

fn calls(root: &Path, n: u32) -> Value {
    let root = CString::new(root.as_os_str().as_encoded_bytes()).expect("root");
    // SAFETY: zeroed is a valid bit pattern for this plain C struct; init then fills it.
    let mut opts: docker_runtime_options = unsafe { std::mem::zeroed() };
    // SAFETY: opts is writable.
    unsafe { docker_runtime_options_init(&mut opts, size_of::<docker_runtime_options>()) };
    opts.disable_ip_forward = 1;
    let mut rt: *mut docker_runtime = ptr::null_mut();
    // SAFETY: root and opts are valid for the call; rt is writable.
    let r = unsafe { docker_runtime_new(root.as_ptr(), &opts, &mut rt) };
    assert_eq!(r, docker_result::DOCKER_OK, "docker_runtime_new");
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("/dev/null");
    let version = CString::new("version").expect("literal");
    let argv = [version.as_ptr()];
    let mut status: c_int = -1;
    let t = Instant::now();
    for _ in 0..n {
        // SAFETY: rt is live, argv holds one valid string, the descriptors are open.
        let r =
            unsafe { docker_runtime_call(rt, 1, argv.as_ptr(), -1, null.as_raw_fd(), &mut status) };
        assert!(
            r == docker_result::DOCKER_OK && status == 0,
            "version failed"
        );
    }
    let elapsed = secs(t.elapsed());
    // SAFETY: made by docker_runtime_new, released once.
    unsafe { docker_runtime_free(rt) };
    json!({ "calls": n, "seconds": elapsed, "per_s": f64::from(n) / elapsed })
}

fn main() {
    // `cargo bench` passes `--bench`; the harness passes the subcommand and its arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match a.as_slice() {
        ["alloc"] => alloc(false),
        ["alloc", "--quick"] => alloc(true),
        ["restore", root, bridge, subnet, chain] => restore(Path::new(root), bridge, subnet, chain),
        ["floor", root] => floor(Path::new(root)),
        ["calls", root, n] => calls(Path::new(root), n.parse().expect("N is a number")),
        _ => {
            eprintln!(
                "usage: figures alloc [--quick] | restore ROOT BRIDGE SUBNET CHAIN | floor ROOT | calls ROOT N"
            );
            std::process::exit(2);
        }
    };
    println!("{out}");
}
