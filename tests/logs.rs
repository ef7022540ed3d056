//! `logs -f`, `--tail`, `-t` for real, in process and through the daemon; `attach` through the
//! daemon ending with the container; a client that leaves ending its follow.

mod common;
mod daemon_support;

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::cli::{call, ok, Output};
use common::Fixture;
use daemon_support::{Daemon, DOCKER};

/// `docker ARGS` on a thread, its output within `limit` (None: still running then).
fn call_within(f: &std::sync::Arc<Fixture>, args: &[&str], limit: Duration) -> Option<Output> {
    let (tx, rx) = mpsc::channel();
    let (f, args): (_, Vec<String>) = (f.clone(), args.iter().map(|s| s.to_string()).collect());
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = tx.send(call(&f.rt, &args));
    });
    rx.recv_timeout(limit).ok()
}

fn wait_child(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Split `2024-01-02T03:04:05.123456789Z text` into the time and the text, checking docker's
/// fixed nine-digit format.
fn stamped(line: &str) -> (DateTime<Utc>, &str) {
    let (t, text) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("no stamp: {line:?}"));
    assert_eq!(t.len(), 30, "{t}");
    assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    (DateTime::parse_from_rfc3339(t).unwrap().to_utc(), text)
}

#[test]
fn follow_prints_what_is_there_then_live_output_and_ends_at_the_exit() {
    let f = std::sync::Arc::new(Fixture::new("logsf"));
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo first; sleep 1; for i in 2 3 4; do echo line$i; sleep 0.2; done; echo err >&2",
        ],
    );
    let id = id.trim();
    let started = Instant::now();
    let out = call_within(&f, &["logs", "-f", id], Duration::from_secs(20))
        .expect("logs -f ends when the container does");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "first\nline2\nline3\nline4\n");
    assert_eq!(out.stderr, "err\n");
    // It followed: it returned only once the container had run its course.
    assert!(started.elapsed() >= Duration::from_millis(1200));
    // A stopped container: what is there, at once.
    let out = call_within(&f, &["logs", "-f", id], Duration::from_secs(5)).unwrap();
    assert_eq!(out.stdout, "first\nline2\nline3\nline4\n");
}

#[test]
fn tail_and_timestamps() {
    let f = Fixture::new("logst");
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "-t",
            "busybox",
            "sh",
            "-c",
            "echo a; sleep 1; echo b; echo c; printf partial",
        ],
    );
    let id = id.trim();
    ok(&f.rt, &["wait", id]);
    // A terminal's output: lines end with \r\n.
    assert_eq!(ok(&f.rt, &["logs", "--tail", "2", id]), "c\r\npartial");
    assert_eq!(ok(&f.rt, &["logs", "-n", "1", id]), "partial");
    assert_eq!(ok(&f.rt, &["logs", "--tail", "0", id]), "");
    assert_eq!(ok(&f.rt, &["logs", "--tail", "all", id]).lines().count(), 4);
    assert_eq!(ok(&f.rt, &["logs", "--tail", "99", id]).lines().count(), 4);
    let out = call(&f.rt, &["logs", "--tail", "x", id]);
    assert!(
        out.stderr.contains("invalid --tail \"x\""),
        "{}",
        out.stderr
    );
    let text = ok(&f.rt, &["logs", "-t", id]);
    let lines: Vec<_> = text.split_inclusive('\n').map(stamped).collect();
    let texts: Vec<_> = lines.iter().map(|(_, t)| *t).collect();
    assert_eq!(texts, ["a\r\n", "b\r\n", "c\r\n", "partial"]);
    // The stamps are when each line was written (the index), not one time for all: `b` came
    // a second after `a`. Without the index every line gets the log's modification time.
    let gap = lines[1].0 - lines[0].0;
    assert!(gap >= chrono::Duration::milliseconds(900), "{text}");
    assert!(gap < chrono::Duration::seconds(3), "{text}");
    assert!(lines.windows(2).all(|w| w[0].0 <= w[1].0), "{text}");
    let created = f.rt.container(id).unwrap().record().created;
    assert!(lines[0].0 >= created && lines[3].0 <= Utc::now(), "{text}");
    // --tail with -t: the same stamps for the same lines.
    let tail = ok(&f.rt, &["logs", "-t", "--tail", "1", id]);
    assert_eq!(stamped(&tail), lines[3]);
}

#[test]
fn follow_of_a_missing_or_removed_container_is_a_clear_error() {
    let f = std::sync::Arc::new(Fixture::new("logsrm"));
    let out = call(&f.rt, &["logs", "-f", "nosuchcontainer"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("no such container: nosuchcontainer"),
        "{}",
        out.stderr
    );
    let id = ok(
        &f.rt,
        &["run", "-d", "busybox", "sh", "-c", "echo up; sleep 60"],
    );
    let id = id.trim().to_string();
    let (tx, rx) = mpsc::channel();
    let (f2, id2) = (f.clone(), id.clone());
    std::thread::spawn(move || {
        let _ = tx.send(call(&f2.rt, &["logs", "-f", &id2]));
    });
    std::thread::sleep(Duration::from_millis(300));
    ok(&f.rt, &["rm", "-f", &id]);
    let out = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("logs -f ends when its container is removed");
    assert_eq!(out.stdout, "up\n");
    // It ended either at the kill (exit 0) or after the removal (an error that says so).
    assert!(
        out.status == 0 || out.stderr.contains("was removed"),
        "{} {}",
        out.status,
        out.stderr
    );
}

fn client(d: &Daemon, args: &[&str]) -> Child {
    Command::new(DOCKER)
        .arg("-H")
        .arg(d.addr())
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read_all(child: &mut Child) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut s).unwrap();
    s
}

#[test]
fn follow_and_attach_through_the_daemon_end_with_the_container() {
    let d = Daemon::start(&[]);
    daemon_support::import_busybox(&d.addr());
    let run = d.client(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "sleep 1; for i in 1 2 3; do echo tick$i; sleep 0.3; done",
    ]);
    assert!(run.status.success(), "{run:?}");
    // attach and logs -f, both with a stdin that stays open (the client's pipe).
    let mut logs = client(&d, &["logs", "-f", "ticker"]);
    let mut attach = client(&d, &["attach", "ticker"]);
    for (what, child) in [("logs -f", &mut logs), ("attach", &mut attach)] {
        let status = wait_child(child, Duration::from_secs(20));
        assert!(
            status.is_some(),
            "{what} through the daemon did not end with the container"
        );
        assert!(status.unwrap().success(), "{what}");
    }
    assert_eq!(read_all(&mut logs), "tick1\ntick2\ntick3\n");
    assert!(read_all(&mut attach).ends_with("tick3\n"));
}

#[test]
fn a_client_that_leaves_ends_its_follow_in_the_daemon() {
    let d = Daemon::start(&[]);
    daemon_support::import_busybox(&d.addr());
    let run = d.client(&["run", "-d", "--name", "quiet", "busybox", "sleep", "120"]);
    assert!(run.status.success(), "{run:?}");
    // Settled: the main thread, the monitor's and the one keeping a docker-init ready ahead
    // (warm start, on in the daemon).
    assert!(common::eventually(Duration::from_secs(10), || d
        .thread_count()
        <= 3));
    let threads = d.thread_count();
    for args in [&["logs", "-f", "quiet"][..], &["attach", "quiet"][..]] {
        let mut c = client(&d, args);
        assert!(common::eventually(Duration::from_secs(10), || d
            .thread_count()
            > threads));
        // The container is silent: only noticing the closed connection ends the command.
        c.kill().unwrap();
        c.wait().unwrap();
        assert!(
            common::eventually(Duration::from_secs(10), || d.thread_count() == threads),
            "{args:?} kept running in the daemon after its client left: {} threads, {threads} before",
            d.thread_count()
        );
    }
    let out = d.client(&["rm", "-f", "quiet"]);
    assert!(out.status.success(), "{out:?}");
}

/// A program that writes its two streams in turn, 100 ms apart: o1, e1, o2, e2, o3.
const TURNS: &str = "echo o1; sleep 0.1; echo e1 >&2; sleep 0.1; echo o2; sleep 0.1; \
                     echo e2 >&2; sleep 0.1; echo o3";

/// `--tail N` is docker's: the last N lines of the two streams together, in the order they
/// were written (before, N lines of each: `--tail 2` gave o2 o3 and e1 e2).
#[test]
fn tail_counts_the_last_lines_of_both_streams_together() {
    let f = Fixture::new("logstail2");
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            TURNS,
        ],
    );
    let id = id.trim();
    ok(&f.rt, &["wait", id]);
    let tail = |n: &str| {
        let out = call(&f.rt, &["logs", "--tail", n, id]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        (out.stdout, out.stderr)
    };
    assert_eq!(tail("1"), ("o3\n".into(), "".into()));
    assert_eq!(tail("2"), ("o3\n".into(), "e2\n".into()));
    assert_eq!(tail("3"), ("o2\no3\n".into(), "e2\n".into()));
    assert_eq!(tail("4"), ("o2\no3\n".into(), "e1\ne2\n".into()));
    assert_eq!(tail("5"), ("o1\no2\no3\n".into(), "e1\ne2\n".into()));
    assert_eq!(tail("0"), ("".into(), "".into()));
    // A negative number is all, as docker; garbage is an error naming it, and nothing is
    // written before it.
    assert_eq!(tail("-1"), tail("all"));
    assert_eq!(tail("-1"), ("o1\no2\no3\n".into(), "e1\ne2\n".into()));
    for bad in ["x", "2x", "1.5", "-x"] {
        let out = call(&f.rt, &["logs", "--tail", bad, id]);
        assert_ne!(out.status, 0, "{bad}");
        assert!(out.stdout.is_empty(), "{bad}: {}", out.stdout);
        assert!(
            out.stderr.contains(&format!("invalid --tail {bad:?}")),
            "{bad}: {}",
            out.stderr
        );
    }
    // With -t, the same lines, stamped in the order they came.
    let out = call(&f.rt, &["logs", "-t", "--tail", "3", id]);
    let o: Vec<_> = out.stdout.split_inclusive('\n').map(stamped).collect();
    let e: Vec<_> = out.stderr.split_inclusive('\n').map(stamped).collect();
    assert_eq!(o.iter().map(|l| l.1).collect::<Vec<_>>(), ["o2\n", "o3\n"]);
    assert_eq!(e.iter().map(|l| l.1).collect::<Vec<_>>(), ["e2\n"]);
    assert!(
        o[0].0 < e[0].0 && e[0].0 < o[1].0,
        "{out:?}",
        out = out.stdout
    );
}

/// The same count through the daemon (the CLI's command there) and the Engine API's
/// `/containers/{id}/logs?tail=N` (which counts both streams even when one is asked for, as
/// docker's does).
#[test]
fn tail_through_the_daemon_and_the_engine_api() {
    let d = Daemon::start(&[]);
    daemon_support::import_busybox(&d.addr());
    let out = d.client(&[
        "run",
        "-d",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        TURNS,
    ]);
    assert!(out.status.success(), "{}", daemon_support::stderr(&out));
    let id = daemon_support::stdout(&out).trim().to_string();
    assert!(d.client(&["wait", &id]).status.success());
    let out = d.client(&["logs", "--tail", "3", &id]);
    assert_eq!(daemon_support::stdout(&out), "o2\no3\n");
    assert_eq!(daemon_support::stderr(&out), "e2\n");
    let out = d.client(&["logs", "--tail", "nope", &id]);
    assert!(!out.status.success());
    assert!(
        daemon_support::stderr(&out).contains("invalid --tail \"nope\""),
        "{}",
        daemon_support::stderr(&out)
    );
    let api = |query: &str| {
        let raw = format!(
            "GET /containers/{id}/logs?{query} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
        );
        let answer = d.raw(raw.as_bytes());
        let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&answer[..at]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut streams = (String::new(), String::new());
        for (kind, data) in daemon_support::parse_frames(&answer[at..]) {
            let text = String::from_utf8(data).unwrap();
            match kind {
                1 => streams.0.push_str(&text),
                _ => streams.1.push_str(&text),
            }
        }
        streams
    };
    let both = |o: &str, e: &str| (o.to_string(), e.to_string());
    assert_eq!(api("stdout=1&stderr=1&tail=3"), both("o2\no3\n", "e2\n"));
    assert_eq!(api("stdout=1&tail=2"), both("o3\n", ""));
    assert_eq!(api("stderr=1&tail=2"), both("", "e2\n"));
    assert_eq!(api("stderr=1&tail=-1"), both("", "e1\ne2\n"));
    assert_eq!(api("stderr=1&tail=all"), both("", "e1\ne2\n"));
}
