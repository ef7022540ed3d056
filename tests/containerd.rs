//! containerd drives `docker-runtime-oci` as its runc binary (`ctr run --runc-binary`), through
//! Debian's containerd and its runc shim (`io.containerd.runc.v2`): the path by which a cluster's
//! CRI reaches a runtime. Each test starts its own containerd on its own root, state folder and
//! socket, imports a busybox image into it, and stops it (and every shim and mount it made)
//! afterwards, also when the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::containerd::{Containerd, IMAGE, NS};

fn runtime() -> &'static str {
    env!("CARGO_BIN_EXE_docker-runtime-oci")
}

fn run_args<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--runc-binary", runtime()];
    args.extend_from_slice(rest);
    args
}

#[test]
fn ctr_run_prints_hi_and_gets_the_exit_status() {
    let c = Containerd::start("run");
    c.import_busybox();
    let out = c.ok(&run_args(&["--rm", IMAGE, "r1", "echo", "hi"]));
    assert_eq!(out, "hi\n");
    let failed = c.ctr(&run_args(&["--rm", IMAGE, "r2", "sh", "-c", "exit 3"]));
    assert_eq!(failed.status.code(), Some(3), "{failed:?}");
    assert_eq!(c.ok(&["task", "ls", "-q"]), "");
}

/// `ctr run -t`: the terminal reaches the shim through the console socket.
#[test]
fn ctr_run_with_a_terminal() {
    let c = Containerd::start("tty");
    c.import_busybox();
    let line = format!(
        "ctr -a {} -n {NS} run -t --rm --runc-binary {} {IMAGE} t1 sh -c 'tty; echo hi-tty'",
        c.sock.display(),
        runtime()
    );
    // `script` gives ctr a terminal of its own.
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("/dev/pts/") && text.contains("hi-tty"),
        "{text}"
    );
}

/// `ctr run -d`, then `ctr task ls/ps/exec/pause/resume/kill/delete`.
#[test]
fn a_detached_task_is_listed_exec_ed_paused_resumed_and_killed() {
    let c = Containerd::start("task");
    c.import_busybox();
    c.ok(&run_args(&["-d", IMAGE, "d1", "sleep", "300"]));
    assert_eq!(c.task_status("d1"), "RUNNING");
    let ps = c.ok(&["task", "ps", "d1"]);
    let pid = c
        .ok(&["task", "ls"])
        .lines()
        .find(|l| l.starts_with("d1 "))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .unwrap();
    assert!(ps.lines().any(|l| l.starts_with(&pid)), "{ps}");
    c.ok(&["task", "pause", "d1"]);
    assert_eq!(c.task_status("d1"), "PAUSED");
    c.ok(&["task", "resume", "d1"]);
    assert_eq!(c.task_status("d1"), "RUNNING");
    let out = c.ok(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "d1",
        "sh",
        "-c",
        "cat /proc/1/comm",
    ]);
    assert_eq!(out, "sleep\n");
    let failed = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e2",
        "d1",
        "sh",
        "-c",
        "exit 6",
    ]);
    assert_eq!(failed.status.code(), Some(6), "{failed:?}");
    c.ok(&["task", "kill", "-s", "SIGKILL", "d1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.task_status("d1") != "STOPPED" {
        assert!(Instant::now() < deadline, "the task did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.ok(&["task", "delete", "d1"]);
    c.ok(&["container", "delete", "d1"]);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the process was reaped"
    );
}

/// `ctr run --memory-limit`: the container's memory cgroup, at the cgroupsPath containerd
/// gives (`/NS/ID`), has the limit.
#[test]
fn ctr_run_with_a_memory_limit() {
    let c = Containerd::start("mem");
    c.import_busybox();
    let limit = 32u64 << 20;
    let l = limit.to_string();
    c.ok(&run_args(&[
        "-d",
        "--memory-limit",
        &l,
        IMAGE,
        "m1",
        "sleep",
        "300",
    ]));
    let v1 = PathBuf::from(format!(
        "/sys/fs/cgroup/memory/{NS}/m1/memory.limit_in_bytes"
    ));
    let v2 = PathBuf::from(format!("/sys/fs/cgroup/{NS}/m1/memory.max"));
    let got = std::fs::read_to_string(&v1)
        .or_else(|_| std::fs::read_to_string(&v2))
        .expect("the container's memory cgroup");
    assert_eq!(got.trim(), l);
    c.ok(&["task", "kill", "-s", "SIGKILL", "m1"]);
}
