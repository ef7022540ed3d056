//! Many clients at once on one daemon: every one gets its own command's answer, nobody waits
//! for anybody, and the daemon is fine afterwards.
//!
//! The mix of commands is the table [`CASES`]: adding a command to the test is one row.

mod common;
mod daemon_support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use daemon_support::*;

/// One kind of client: its arguments, the exit status it must get, and text its stdout and
/// stderr must contain ("" matches anything; stderr "" also means no fallback notice).
struct Case {
    args: &'static [&'static str],
    status: i32,
    stdout: &'static str,
    stderr: &'static str,
}

const CASES: &[Case] = &[
    Case {
        args: &["version"],
        status: 0,
        stdout: "Version: ",
        stderr: "",
    },
    Case {
        args: &["info"],
        status: 0,
        stdout: "containers: ",
        stderr: "",
    },
    Case {
        args: &["help"],
        status: 0,
        stdout: "Commands:",
        stderr: "",
    },
    Case {
        args: &["nosuch"],
        status: 1,
        stdout: "",
        stderr: "is not a docker command",
    },
];

const CLIENTS: usize = 64;

#[test]
fn sixty_four_clients_at_once() {
    let d = Daemon::start(&[]);
    let addr = d.addr();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (addr, barrier) = (addr.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let case = &CASES[i % CASES.len()];
                barrier.wait();
                let out = client(&["-H", &addr], case.args);
                (i, out)
            })
        })
        .collect();
    for h in handles {
        let (i, out) = h.join().unwrap();
        let case = &CASES[i % CASES.len()];
        let (o, e) = (stdout(&out), stderr(&out));
        assert_eq!(
            out.status.code(),
            Some(case.status),
            "client {i} {:?}: {out:?}",
            case.args
        );
        assert!(o.contains(case.stdout), "client {i} {:?}: {o}", case.args);
        if case.stderr.is_empty() {
            assert_eq!(e, "", "client {i} {:?}", case.args);
        } else {
            assert!(e.contains(case.stderr), "client {i} {:?}: {e}", case.args);
        }
    }
    d.assert_serving();
}

#[test]
fn sixty_four_slow_connections_do_not_hold_up_anyone() {
    let d = Daemon::start(&["--request-timeout", "120"]);
    // 64 clients each send half a request and wait.
    let mut slow: Vec<UnixStream> = (0..CLIENTS)
        .map(|_| {
            let mut s = UnixStream::connect(&d.sock).unwrap();
            s.write_all(b"[\"\\u0000rcli/2\", \"{}\", \"ver").unwrap();
            s
        })
        .collect();
    // Another client is served meanwhile.
    d.assert_serving();
    // Then the 64 finish their requests, all at once, and each gets its own answer.
    for s in &mut slow {
        s.write_all(b"sion\"]\n").unwrap();
    }
    for s in slow {
        s.shutdown(std::net::Shutdown::Write).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut b = Vec::new();
        (&s).read_to_end(&mut b).unwrap();
        let frames = parse_frames(&b);
        assert_eq!(
            frames,
            vec![
                (
                    1,
                    format!("Version: {}\n", env!("CARGO_PKG_VERSION")).into_bytes()
                ),
                (3, vec![0, 0, 0, 0])
            ]
        );
    }
    d.assert_serving();
}

/// 64 clients at once running containers (`run` attached and detached with a published port,
/// `logs`, `inspect`, `rm -f`) and listing them (`ps -a`): every client gets its own output and
/// exit status, no address or port is handed out twice, nothing is left behind.
#[test]
fn sixty_four_clients_run_ps_logs_rm() {
    let d = Daemon::start(&[]);
    let addr = d.addr();
    import_busybox(&addr);
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (addr, barrier) = (addr.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let g = ["-H", addr.as_str()];
                barrier.wait();
                match i % 4 {
                    0 => {
                        let msg = format!("client-{i}");
                        let out = client(&g, &["run", "busybox", "echo", &msg]);
                        assert_eq!(out.status.code(), Some(0), "{i}: {out:?}");
                        assert_eq!(stdout(&out), format!("{msg}\n"));
                        None
                    }
                    1 => {
                        let out = client(
                            &g,
                            &[
                                "run",
                                "-d",
                                "-p",
                                "80",
                                "busybox",
                                "sh",
                                "-c",
                                "echo up; sleep 30",
                            ],
                        );
                        assert_eq!(out.status.code(), Some(0), "{i}: {out:?}");
                        let id = stdout(&out).trim().to_string();
                        assert!(eventually(Duration::from_secs(10), || {
                            stdout(&client(&g, &["logs", &id])) == "up\n"
                        }));
                        let info: serde_json::Value =
                            serde_json::from_str(&stdout(&client(&g, &["inspect", &id]))).unwrap();
                        let ns = &info["NetworkSettings"];
                        let held = (
                            ns["IpAddress"].as_str().unwrap().to_string(),
                            ns["PortMapping"]["80"].as_str().unwrap().to_string(),
                        );
                        let out = client(&g, &["rm", "-f", &id]);
                        assert_eq!(out.status.code(), Some(0), "{i}: {out:?}");
                        Some(held)
                    }
                    2 => {
                        let out = client(&g, &["ps", "-a"]);
                        assert_eq!(out.status.code(), Some(0), "{i}: {out:?}");
                        assert!(stdout(&out).starts_with("ID "));
                        None
                    }
                    _ => {
                        let out = client(&g, &["run", "busybox", "sh", "-c", "exit 7"]);
                        assert_eq!(out.status.code(), Some(7), "{i}: {out:?}");
                        None
                    }
                }
            })
        })
        .collect();
    let held: Vec<(String, String)> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .collect();
    let ips: std::collections::BTreeSet<_> = held.iter().map(|h| &h.0).collect();
    let ports: std::collections::BTreeSet<_> = held.iter().map(|h| &h.1).collect();
    assert_eq!(
        ips.len(),
        held.len(),
        "an address was handed out twice: {held:?}"
    );
    assert_eq!(
        ports.len(),
        held.len(),
        "a port was handed out twice: {held:?}"
    );
    let g = ["-H", addr.as_str()];
    assert_eq!(stdout(&client(&g, &["ps", "-q"])), "");
    let all = stdout(&client(&g, &["ps", "-a", "-q"]));
    let ids: Vec<&str> = all.lines().collect();
    assert_eq!(ids.len(), CLIENTS / 2, "{all}");
    let mut rm = vec!["rm"];
    rm.extend(ids);
    assert_eq!(client(&g, &rm).status.code(), Some(0));
    d.assert_serving();
}
