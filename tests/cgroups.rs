//! Every `docker run` container's cgroup on the real kernel: its folder in each accounting
//! hierarchy (memory, pids, cpu, cpuacct on cgroup v1; the v2 folder on a pure v2 host),
//! gone on `rm`; `-c` as `cpu.shares`; `top` listing its processes from the cgroup and
//! `stats` reading its counters, in-process and through the daemon.

mod common;
mod daemon_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{call, ok};
use common::Fixture;
use daemon_support::eventually;

/// The hierarchies holding a docker container's accounting: the v1 controllers here, or the
/// pure v2 root.
fn accounting() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    ["memory", "pids", "cpu", "cpuacct"]
        .iter()
        .map(|c| base.join(c))
        .filter(|p| p.join("tasks").exists())
        .collect()
}

/// Container `id`'s folders, in every hierarchy under /sys/fs/cgroup.
fn folders(id: &str) -> Vec<PathBuf> {
    let mut all = vec![PathBuf::from("/sys/fs/cgroup")];
    all.extend(
        std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path()),
    );
    all.into_iter()
        .map(|h| h.join("docker-runtime").join(id))
        .filter(|p| p.is_dir())
        .collect()
}

fn pid_of(f: &Fixture, id: &str) -> i32 {
    let v: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", id])).unwrap();
    v["State"]["Pid"].as_i64().unwrap() as i32
}

fn run_d(f: &Fixture, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--network", "none"];
    all.extend_from_slice(args);
    ok(&f.rt, &all).trim().to_string()
}

#[test]
fn every_container_has_an_accounted_cgroup_gone_on_rm() {
    let f = Fixture::new("cg-run");
    let id = run_d(&f, &["busybox", "sleep", "300"]);
    let pid = pid_of(&f, &id);
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for h in accounting() {
        let d = h.join("docker-runtime").join(&id);
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{}: {procs}\n{cgroups}",
            d.display()
        );
    }
    assert!(!folders(&id).is_empty());
    ok(&f.rt, &["rm", "-f", &id]);
    // Removed right after the exit is announced (as the network is released).
    let gone = |id: &str| eventually(Duration::from_secs(10), || folders(id).is_empty());
    assert!(
        gone(&id),
        "not removed with the container: {:?}",
        folders(&id)
    );

    // A container that ends on its own loses its cgroup too.
    let id = run_d(&f, &["busybox", "true"]);
    assert!(eventually(Duration::from_secs(10), || !f
        .rt
        .container(&id)
        .unwrap()
        .is_running()));
    assert!(gone(&id), "{:?}", folders(&id));
}

#[test]
fn cpu_shares_are_written_and_bad_ones_refused() {
    let f = Fixture::new("cg-shares");
    let id = run_d(&f, &["-c", "512", "busybox", "sleep", "300"]);
    let cpu = Path::new("/sys/fs/cgroup/cpu/docker-runtime").join(&id);
    let v2 = Path::new("/sys/fs/cgroup/docker-runtime").join(&id);
    let got = std::fs::read_to_string(cpu.join("cpu.shares"))
        .or_else(|_| std::fs::read_to_string(v2.join("cpu.weight")))
        .expect("the container's cpu cgroup");
    // v1 takes the shares as they are; v2 their weight (runc's conversion).
    let want = if cpu.exists() { "512" } else { "20" };
    assert_eq!(got.trim(), want);
    // Recorded as v0.1.0 did (`CpuShares` in the container's config).
    let v: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &id])).unwrap();
    assert_eq!(v["Config"]["CpuShares"], 512);
    ok(&f.rt, &["rm", "-f", &id]);
    for bad in ["1", "-3", "lots", "300000"] {
        let out = call(&f.rt, &["run", "-c", bad, "busybox", "true"]);
        assert_eq!(out.status, 125, "{bad}: a failed run is docker's 125");
        assert!(out.stderr.contains("CPU shares"), "{bad}: {}", out.stderr);
    }
    assert_eq!(ok(&f.rt, &["ps", "-aq"]), "", "nothing made for a bad -c");
}

#[test]
fn top_lists_the_containers_processes_and_stats_reads_its_counters() {
    let f = Fixture::new("cg-top");
    // Two processes: the shell and its sleep; 16 MiB kept in memory by the shell.
    let id = run_d(
        &f,
        &[
            "-m",
            "64m",
            "busybox",
            "sh",
            "-c",
            "x=$(head -c 16777216 /dev/zero | tr '\\0' a); sleep 300 & echo ${#x} > /ready; wait",
        ],
    );
    let rw = f.rt.container(&id).unwrap().rw_dir();
    assert!(eventually(Duration::from_secs(20), || rw
        .join("ready")
        .exists()));
    let pid = pid_of(&f, &id);
    let top = ok(&f.rt, &["top", &id, "-ef"]);
    let lines: Vec<&str> = top.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert_eq!(lines.len(), 3, "{top}");
    let row = |i: usize| -> Vec<&str> { lines[i].split_whitespace().collect() };
    assert_eq!(row(1)[0], "root");
    assert_eq!(row(1)[1], pid.to_string(), "{top}");
    assert!(row(1)[7..].join(" ").starts_with("sh -c"), "{top}");
    assert_eq!(
        row(2)[2],
        pid.to_string(),
        "the sleep is the shell's child: {top}"
    );
    assert_eq!(row(2)[7..].join(" "), "sleep 300");

    let stats = ok(&f.rt, &["stats", "--no-stream", &id]);
    let lines: Vec<&str> = stats.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID"), "{stats}");
    assert!(lines[0].contains("MEM USAGE / LIMIT") && lines[0].ends_with("PIDS"));
    assert_eq!(lines.len(), 2, "{stats}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[0], &id[..12]);
    // MEM USAGE / LIMIT: the 16 MiB string and more, below the 64 MiB limit.
    let usage = cells[3];
    assert_eq!(cells[5], "64MiB", "{stats}");
    let mib: f64 = match usage.strip_suffix("MiB") {
        Some(n) => n.parse().unwrap(),
        None => panic!("memory use {usage} not in MiB: {stats}"),
    };
    assert!((16.0..64.0).contains(&mib), "{stats}");
    assert_eq!(cells.last().unwrap(), &"2", "two processes: {stats}");

    // Not running: said clearly.
    ok(&f.rt, &["stop", "-t", "1", &id]);
    let out = call(&f.rt, &["top", &id]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("is not running"), "{}", out.stderr);
    ok(&f.rt, &["rm", &id]);
}

/// The same through a daemon: `top` and `stats` are commands of its table.
#[test]
fn top_and_stats_through_the_daemon() {
    use daemon_support::{import_busybox, Daemon};
    let d = Daemon::start(&[]);
    import_busybox(&d.addr());
    let run = |args: &[&str]| d.ok(args);
    let id = run(&["run", "-d", "--network", "none", "busybox", "sleep", "300"]);
    let id = id.trim();
    let top = run(&["top", id]);
    assert!(
        top.lines().nth(1).is_some_and(|l| l.ends_with("sleep 300")),
        "{top}"
    );
    let stats = run(&["stats", "--no-stream"]);
    let row = stats.lines().find(|l| l.starts_with(&id[..12]));
    assert!(row.is_some_and(|r| r.ends_with(" 1")), "{stats}");
    // Without --no-stream: a table every second until the client goes.
    let mut live = std::process::Command::new(daemon_support::DOCKER)
        .args(["-H", d.addr().as_str(), "stats", id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2600));
    live.kill().unwrap();
    let out = live.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.matches("CONTAINER ID").count() >= 2, "{text}");
    assert!(text.contains("\x1b[2J"), "each refresh clears the screen");
    // The daemon went on serving.
    assert!(run(&["top", id]).contains("sleep 300"));
    run(&["rm", "-f", id]);
}
