//! `top` and `stats`: a running container's processes and use of resources, read from its
//! cgroup (the processes it holds, the controllers' counters) and from `/proc`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::flags::Flags;
use super::streams::Streams;
use crate::cgroup::{Cgroup, Usage};
use crate::container::Container;
use crate::error::{Error, Result};
use crate::humanize::{bytes_binary, bytes_decimal};
use crate::ids;
use crate::ps::{read, ticks};
use crate::runtime::Runtime;
use crate::table;

/// How often `stats` refreshes (and the window its CPU % is measured over).
const INTERVAL: Duration = Duration::from_secs(1);

fn running_cgroup(c: &Container) -> Result<Cgroup> {
    let short = ids::short(&c.id);
    if !c.is_running() {
        return Err(Error::in_use(format!("container {short} is not running")));
    }
    c.cgroup().ok_or_else(|| {
        Error::unsupported(format!(
            "container {short} has no cgroup (this host offers none under /sys/fs/cgroup)"
        ))
    })
}

pub fn top(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "top",
        "CONTAINER [ps OPTIONS]",
        "Display the running processes of a container (ps -ef's columns; ps options are accepted and ignored)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    let Some(name) = p.args.first() else {
        return Err(f.usage_error("1 argument(s) expected"));
    };
    let cg = running_cgroup(&*rt.container(name)?)?;
    io.out(&table::render_min(&crate::ps::table(&cg.pids()), 20))?;
    Ok(0)
}

/// The host's CPU time so far (ns) and its number of CPUs, from `/proc/stat`.
fn system_cpu() -> (u64, u64) {
    let text = read("/proc/stat");
    let jiffies: u64 = text
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let cpus = text
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as u64;
    (jiffies * 1_000_000_000 / ticks(), cpus.max(1))
}

/// Bytes received and sent on the interfaces of process `pid`'s network namespace but
/// loopback.
fn net_io(pid: i32) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for line in read(&format!("/proc/{pid}/net/dev")).lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let c: Vec<u64> = counters
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        rx += c.first().copied().unwrap_or(0);
        tx += c.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

/// The host's memory (bytes), the limit of a container without one.
fn host_memory() -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// One container's counters at one instant.
struct Sample {
    usage: Usage,
    net: (u64, u64),
}

fn sample(c: &Container) -> Option<Sample> {
    let cg = running_cgroup(c).ok()?;
    Some(Sample {
        usage: cg.usage(),
        net: net_io(c.record().state.pid),
    })
}

/// One `stats` row from two samples `system_ns` apart on a host of `cpus` CPUs.
fn stats_row(
    c: &Container,
    before: Option<&Sample>,
    now: Option<&Sample>,
    (system_ns, cpus): (u64, u64),
    host_mem: u64,
) -> Vec<String> {
    let id = ids::short(&c.id).to_string();
    let Some(now) = now else {
        let zero = "0B / 0B".to_string();
        return vec![
            id.clone(),
            id,
            "0.00%".into(),
            zero.clone(),
            "0.00%".into(),
            zero.clone(),
            zero,
            "0".into(),
        ];
    };
    let u = &now.usage;
    let cpu_ns = before.map_or(0, |b| u.cpu_ns.saturating_sub(b.usage.cpu_ns));
    let cpu = if system_ns > 0 {
        cpu_ns as f64 / system_ns as f64 * cpus as f64 * 100.0
    } else {
        0.0
    };
    let limit = u.memory_limit.unwrap_or(host_mem).min(host_mem.max(1));
    let mem_pct = u.memory as f64 / limit.max(1) as f64 * 100.0;
    vec![
        id.clone(),
        id,
        format!("{cpu:.2}%"),
        format!("{} / {}", bytes_binary(u.memory), bytes_binary(limit)),
        format!("{mem_pct:.2}%"),
        format!(
            "{} / {}",
            bytes_decimal(now.net.0),
            bytes_decimal(now.net.1)
        ),
        // Not accounted (no blkio cgroup): docker's "--".
        u.block.map_or("--".into(), |(r, w)| {
            format!("{} / {}", bytes_decimal(r), bytes_decimal(w))
        }),
        u.pids.to_string(),
    ]
}

/// The containers `stats` shows: those named, or every running one.
fn shown(rt: &Runtime, names: &[String]) -> Result<Vec<Arc<Container>>> {
    if names.is_empty() {
        let mut all: Vec<_> = rt
            .containers()
            .into_iter()
            .filter(|c| c.is_running())
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        return Ok(all);
    }
    names.iter().map(|n| rt.container(n)).collect()
}

pub fn stats(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "stats",
        "[OPTIONS] [CONTAINER...]",
        "Display a live stream of container(s) resource usage statistics",
    );
    let no_stream = f.bool(
        &["no-stream"],
        "Print one table (CPU % over one second) instead of refreshing every second",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    let host_mem = host_memory();
    let mut containers = shown(rt, &p.args)?;
    let mut before: HashMap<String, Sample> = HashMap::new();
    for c in &containers {
        if let Some(s) = sample(c) {
            before.insert(c.id.clone(), s);
        }
    }
    let mut system_before = system_cpu();
    loop {
        std::thread::sleep(INTERVAL);
        let system = system_cpu();
        let delta = (system.0.saturating_sub(system_before.0), system.1);
        let mut rows = vec![[
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS",
        ]
        .map(String::from)
        .to_vec()];
        let mut now = HashMap::new();
        for c in &containers {
            let s = sample(c);
            rows.push(stats_row(c, before.get(&c.id), s.as_ref(), delta, host_mem));
            if let Some(s) = s {
                now.insert(c.id.clone(), s);
            }
        }
        let text = table::render_min(&rows, 10);
        if p.bool(no_stream) {
            io.out(&text)?;
            return Ok(0);
        }
        // Until the reader goes (an interrupted client): each refresh clears the screen.
        io.out(&format!("\x1b[2J\x1b[H{text}"))?;
        before = now;
        system_before = system;
        if p.args.is_empty() {
            containers = shown(rt, &[])?;
        }
    }
}
