//! `docker -d` and the `docker` client: the protocol (v0.1.0 plain and rcli/2 framed), the
//! listeners and their permissions, the client's terminal and fallback, the pid file, and the
//! daemon's life (signals, leaks).

mod common;
mod daemon_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use common::TempDir;
use daemon_support::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn client_runs_commands_through_the_daemon() {
    let d = Daemon::start(&["-D"]);
    let out = d.client(&["version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), format!("Version: {VERSION}\n"));
    assert_eq!(stderr(&out), "", "no fallback notice, no error");

    let out = d.client(&["info"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("containers: 0"), "{out:?}");

    for args in [&[][..], &["help"][..]] {
        let out = d.client(args);
        assert!(out.status.success(), "{out:?}");
        let text = stdout(&out);
        assert!(text.starts_with("Usage: docker COMMAND"), "{text}");
        for c in ["help", "info", "version"] {
            assert!(text.contains(&format!("    {c}")), "{text}");
        }
    }

    let out = d.client(&["version", "--help"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("Usage: docker version"), "{out:?}");

    // Each of these went through the daemon, framed.
    let log = d.log();
    assert!(log.contains(r#"rcli/2 ["version"]"#), "{log}");
    assert!(log.contains(r#"rcli/2 ["version", "--help"]"#), "{log}");
    assert!(log.contains("rcli/2 []"), "{log}");
}

#[test]
fn exit_status_and_stderr_reach_the_client_separately() {
    let d = Daemon::start(&[]);
    let out = d.client(&["nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "Error: \"nosuch\" is not a docker command. See 'docker help'.\n"
    );

    // A usage error is docker's 125.
    let out = d.client(&["version", "extra"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with("Error: unexpected argument \"extra\""),
        "{out:?}"
    );
}

#[test]
fn a_plain_v010_client_gets_raw_output() {
    let d = Daemon::start(&[]);
    assert_eq!(
        String::from_utf8(d.raw(b"[\"version\"]\n")).unwrap(),
        format!("Version: {VERSION}\n")
    );
    // Errors come back in v0.1.0's words, mixed into the one stream.
    assert_eq!(
        String::from_utf8(d.raw(b"[\"nosuch\"]\n")).unwrap(),
        "Error: \"nosuch\" is not a docker command. See 'docker help'.\n"
    );
    let help = String::from_utf8(d.raw(b"[]\n")).unwrap();
    assert!(help.starts_with("Usage: docker COMMAND"), "{help}");
    // Stdin may follow the line at once; the command still sees only its arguments.
    assert_eq!(
        String::from_utf8(d.raw(b"[\"version\"]\nsome stdin bytes")).unwrap(),
        format!("Version: {VERSION}\n")
    );
}

#[test]
fn framed_answers_on_the_wire() {
    let d = Daemon::start(&[]);
    assert_eq!(
        d.framed(&["version"]),
        (format!("Version: {VERSION}\n"), String::new(), Some(0))
    );
    let (out, err, status) = d.framed(&["nosuch"]);
    assert_eq!(out, "");
    assert!(err.starts_with("Error: \"nosuch\""), "{err}");
    assert_eq!(status, Some(1));
    // The exit frame is the last one, and exactly one.
    let line = r#"["\u0000rcli/2","{\"tty_size\":[40,120]}","info"]"#.to_string() + "\n";
    let frames = parse_frames(&d.raw(line.as_bytes()));
    assert_eq!(frames.last().unwrap(), &(3u8, 0i32.to_be_bytes().to_vec()));
    assert_eq!(frames.iter().filter(|f| f.0 == 3).count(), 1);
    assert!(frames.iter().any(|f| f.0 == 1), "{frames:?}");
}

#[test]
fn docker_host_selects_the_daemon_and_h_wins_over_it() {
    let d = Daemon::start(&[]);
    let out = Command::new(DOCKER)
        .arg("version")
        .env("DOCKER_HOST", d.addr())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stderr(&out), "", "went to the daemon, no fallback");

    let other = TempDir::new("dh");
    let out = Command::new(DOCKER)
        .args([
            "-H",
            &format!("unix://{}", other.join("none.sock").display()),
        ])
        .args(["-g", &other.join("root").to_string_lossy(), "version"])
        .env("DOCKER_HOST", d.addr())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("Cannot connect to the daemon at unix://"),
        "-H beats DOCKER_HOST: {out:?}"
    );

    let out = client(&["-H", "ftp://x"], &["version"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid daemon address \"ftp://x\""),
        "{out:?}"
    );
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn several_listeners_and_a_loud_tcp_warning() {
    let port = free_tcp_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let dir = TempDir::new("multi");
    let (sock, root, second) = (
        dir.join("s.sock"),
        dir.join("root"),
        dir.join("second.sock"),
    );
    let mut d = Daemon::spawn(
        dir,
        sock,
        root,
        &["-H", &tcp, "-H", &format!("unix://{}", second.display())],
    );
    d.wait_ready();
    d.assert_serving();
    for addr in [tcp.as_str(), &format!("unix://{}", second.display())] {
        let out = client(&["-H", addr], &["version"]);
        assert!(out.status.success(), "{addr}: {out:?}");
        assert_eq!(stderr(&out), "", "{addr} answered");
    }
    let log = d.log();
    assert!(
        log.contains(&format!("listening on {tcp}: ANYONE WHO CAN CONNECT")),
        "{log}"
    );
    // A plain v0.1.0 client over TCP, as v0.1.0 spoke it.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"[\"version\"]\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert_eq!(out, format!("Version: {VERSION}\n"));
}

/// inotify events (mask, name) for one directory, read without blocking.
struct Watch(std::os::fd::OwnedFd);

impl Watch {
    fn new(dir: &std::path::Path) -> Watch {
        use std::os::fd::FromRawFd;
        // SAFETY: inotify_init1 returns a new descriptor or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        assert!(fd >= 0);
        // SAFETY: fd is ours from now on.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: fd is an inotify descriptor, c a valid path.
        let wd = unsafe {
            libc::inotify_add_watch(
                fd,
                c.as_ptr(),
                libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_ATTRIB,
            )
        };
        assert!(wd >= 0);
        Watch(owned)
    }

    fn events(&self) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = nix::unistd::read(self.0.as_fd(), &mut buf) {
            let mut off = 0;
            while off + 16 <= n {
                let mask = u32::from_ne_bytes(buf[off + 4..off + 8].try_into().unwrap());
                let len = u32::from_ne_bytes(buf[off + 12..off + 16].try_into().unwrap()) as usize;
                let name = String::from_utf8_lossy(&buf[off + 16..off + 16 + len])
                    .trim_end_matches('\0')
                    .to_string();
                out.push((mask, name));
                off += 16 + len;
            }
        }
        out
    }
}

#[test]
fn unix_socket_is_0660_and_never_reachable_looser_even_with_umask_0() {
    let dir = TempDir::new("perm");
    let sock = dir.join("s.sock");
    let root = dir.join("root");
    let watch = Watch::new(dir.path());
    let mut d = Daemon::spawn_with(dir, sock.clone(), root, &["-G", "adm"], |cmd| {
        // SAFETY: umask is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
    });
    d.wait_ready();
    let m = std::fs::symlink_metadata(&sock).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o660);
    assert_eq!(m.uid(), 0);
    let adm = nix::unistd::Group::from_name("adm").unwrap().unwrap();
    assert_eq!(m.gid(), adm.gid.as_raw());

    // The socket appeared at its path only by a rename, fully set up; it was bound inside a
    // private directory that is gone again.
    let events = watch.events();
    let at_path: Vec<u32> = events
        .iter()
        .filter(|(_, n)| n == "s.sock")
        .map(|(m, _)| *m)
        .collect();
    assert_eq!(at_path, vec![libc::IN_MOVED_TO], "{events:?}");
    assert!(
        events
            .iter()
            .any(|(m, n)| n.starts_with(".dr") && m & libc::IN_ISDIR != 0),
        "{events:?}"
    );
    // Once it serves (the socket is connectable a moment before its private folder goes).
    d.assert_serving();
    let leftovers: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dr"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn default_socket_group_is_docker_when_it_exists() {
    let d = Daemon::start(&[]);
    let m = std::fs::symlink_metadata(&d.sock).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o660);
    let expected = nix::unistd::Group::from_name("docker")
        .unwrap()
        .map_or(nix::unistd::getegid().as_raw(), |g| g.gid.as_raw());
    assert_eq!(m.gid(), expected);

    // A named group that does not exist is refused.
    let dir = TempDir::new("nogroup");
    let (sock, root) = (dir.join("s.sock"), dir.join("root"));
    let mut bad = Daemon::spawn(dir, sock.clone(), root, &["-G", "no-such-group-xyz"]);
    let st = bad.stop_or_exit();
    assert_eq!(st.code(), Some(1));
    assert!(
        bad.log().contains("group \"no-such-group-xyz\""),
        "{}",
        bad.log()
    );
    assert!(!exists(&sock));
}

trait ExitWait {
    fn stop_or_exit(&mut self) -> std::process::ExitStatus;
}

impl ExitWait for Daemon {
    /// Wait for a daemon that is expected to exit by itself.
    fn stop_or_exit(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        let mut status = None;
        assert!(
            eventually(Duration::from_secs(20), || {
                status = c.try_wait().unwrap();
                status.is_some()
            }),
            "the daemon did not exit:\n{}",
            self.log()
        );
        status.unwrap()
    }
}

#[test]
fn a_stale_socket_is_replaced_and_other_files_are_not() {
    let dir = TempDir::new("stale");
    let sock = dir.join("s.sock");
    drop(UnixListener::bind(&sock).unwrap());
    assert!(exists(&sock), "a dead daemon's socket stays behind");
    let root = dir.join("root");
    let mut d = Daemon::spawn(dir, sock.clone(), root, &[]);
    d.wait_ready();
    d.assert_serving();

    let dir = TempDir::new("notsock");
    let file = dir.join("s.sock");
    std::fs::write(&file, b"keep me").unwrap();
    let root = dir.join("root");
    let mut d = Daemon::spawn(dir, file.clone(), root, &[]);
    assert_eq!(d.stop_or_exit().code(), Some(1));
    assert!(
        d.log().contains("exists and is not a socket"),
        "{}",
        d.log()
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn a_second_daemon_on_the_same_root_or_socket_is_refused() {
    let a = Daemon::start(&[]);
    let pid = std::fs::read_to_string(a.root.join("docker.pid")).unwrap();
    assert_eq!(pid.trim(), a.pid().to_string());

    // Same root, another socket.
    let dir = TempDir::new("second");
    let other_sock = dir.join("b.sock");
    let mut b = Daemon::spawn(dir, other_sock.clone(), a.root.clone(), &[]);
    assert_eq!(b.stop_or_exit().code(), Some(1));
    assert!(
        b.log()
            .contains(&format!("is in use by another daemon (pid {},", a.pid())),
        "{}",
        b.log()
    );
    assert!(!exists(&other_sock), "the refused daemon bound nothing");

    // Same socket, another root.
    let dir = TempDir::new("second2");
    let root = dir.join("root");
    let mut c = Daemon::spawn(dir, a.sock.clone(), root, &[]);
    assert_eq!(c.stop_or_exit().code(), Some(1));
    assert!(
        c.log().contains("another daemon is listening on unix://"),
        "{}",
        c.log()
    );
    // The first daemon never noticed.
    a.assert_serving();
    assert_eq!(
        std::fs::read_to_string(a.root.join("docker.pid")).unwrap(),
        pid
    );
}

/// Only the default address falls back to running in-process (v0.1.0 had one fixed address):
/// an address the user named (`-H`, `DOCKER_HOST`) that nothing listens on is an error naming
/// it, and nothing is done on the local root; `-H none` asks for in-process explicitly.
#[test]
fn only_the_default_address_falls_back_to_in_process() {
    let dir = TempDir::new("fallback");
    let root = dir.join("root");
    let r = root.to_str().unwrap();
    let addr = format!("unix://{}", dir.join("none.sock").display());
    let tcp = format!("tcp://127.0.0.1:{}", free_tcp_port());
    for named in [&addr, &tcp] {
        let out = client(&["-H", named, "-g", r], &["version"]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("Cannot connect to the daemon at {named}")),
            "{err}"
        );
        assert!(
            err.contains("never replaced by running the command in-process"),
            "{err}"
        );
        assert!(!root.exists(), "nothing was done on the local root");
        // A failed `run` is docker's 125 (never a status its program could give).
        let out = client(&["-H", named, "-g", r], &["run", "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
    }
    let out = Command::new(DOCKER)
        .args(["-g", r, "version"])
        .env("DOCKER_HOST", &addr)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains(&format!("Cannot connect to the daemon at {addr}")));

    // -H none: in-process, no notice; the exit status is the command's.
    let out = client(&["-H", "none", "-g", r], &["version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), format!("Version: {VERSION}\n"));
    assert_eq!(stderr(&out), "");
    assert!(root.join("containers").is_dir(), "the local root was used");
    let out = client(&["-H", "none", "-g", r], &["nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not a docker command"), "{out:?}");
    assert!(
        !exists(&root.join("docker.pid")),
        "the shared lock is cleaned up"
    );

    // The default address: a notice, then in-process (checked when no daemon of this
    // machine listens there, which is the case on a fresh machine and in CI).
    let default = "/var/run/docker-runtime.sock";
    if UnixStream::connect(default).is_ok() {
        eprintln!("a daemon listens at {default}: the default fallback is not checked here");
        return;
    }
    let out = client(&["-g", r], &["version"]);
    assert!(out.status.success(), "{out:?}");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("running the command in-process on {r}")),
        "{err}"
    );
}

/// A Docker Engine at the address (an HTTP server: dockerd answers a request line it cannot
/// parse with `400 Bad Request`, as this stand-in does) is recognised and explained.
#[test]
fn a_docker_engine_at_the_address_is_recognised() {
    let dir = TempDir::new("engine");
    let path = dir.join("engine.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        s.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
              Connection: close\r\n\r\n400 Bad Request",
        )
        .unwrap();
        line
    });
    let addr = format!("unix://{}", path.display());
    let out = client(&["-H", &addr], &["ps"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("HTTP/1.1 400 Bad Request"), "{err}");
    assert!(err.contains("Docker Engine API server"), "{err}");
    assert!(
        server.join().unwrap().starts_with('['),
        "it was sent our request"
    );
}

#[test]
fn in_process_refuses_a_root_a_daemon_owns() {
    let d = Daemon::start(&[]);
    let out = client(
        &["-H", "none", "-g", d.root.to_str().unwrap()],
        &["version"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains(&format!("in use by another daemon (pid {},", d.pid())),
        "{out:?}"
    );
}

#[test]
fn sigterm_and_sigint_stop_cleanly_and_a_restart_serves() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let mut d = Daemon::start(&["--request-timeout", "600"]);
        // One client half-way through its request line: it has no command to finish.
        let mut partial = UnixStream::connect(&d.sock).unwrap();
        partial.write_all(b"[\"vers").unwrap();
        d.assert_serving();
        let st = d.stop(sig, Duration::from_secs(30));
        assert_eq!(st.code(), Some(0), "{sig}: {st:?}\n{}", d.log());
        assert!(!exists(&d.sock), "{sig}: the socket is removed");
        assert!(
            !exists(&d.root.join("docker.pid")),
            "{sig}: the pid file too"
        );
        assert!(d.log().contains(&format!("received {sig}")), "{}", d.log());
        partial
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut rest = Vec::new();
        assert_eq!(
            partial.read_to_end(&mut rest).unwrap(),
            0,
            "dropped at stop"
        );

        // A new daemon on the same root and socket.
        let dir = std::mem::replace(&mut d.dir, TempDir::new("restart-old"));
        let mut again = Daemon::spawn(dir, d.sock.clone(), d.root.clone(), &[]);
        again.wait_ready();
        again.assert_serving();
    }
}

#[test]
fn debug_logging_only_with_d_flag() {
    let quiet = Daemon::start(&[]);
    quiet.assert_serving();
    let loud = Daemon::start(&["-D"]);
    loud.assert_serving();
    assert!(!quiet.log().contains("debug:"), "{}", quiet.log());
    // The readiness probe (a plain `version` request) was connection 1; the client's request
    // is the next one. Each line is written by its connection's thread, possibly a moment
    // after the client is done.
    for line in [
        r#"debug: connection 1 (unix): plain ["version"]"#,
        r#"debug: connection 2 (unix): rcli/2 ["version"]"#,
        "debug: connection 2: exit status 0 in ",
    ] {
        assert!(
            eventually(Duration::from_secs(10), || loud.log().contains(line)),
            "{line}: {}",
            loud.log()
        );
    }
}

/// The docker-init helpers started ahead (`docker-init .warm-...`) among `pid`'s children.
fn warm_helpers(pid: u32) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|child| std::fs::read(format!("/proc/{child}/cmdline")).ok())
        .filter(|c| c.starts_with(b"docker-init\0.warm-"))
        .count()
}

#[test]
fn clients_that_leave_early_leak_no_descriptors_or_threads() {
    let d = Daemon::start(&["--request-timeout", "30"]);
    d.assert_serving();
    // The baseline once the connection of that first request has ended (an idle daemon runs
    // two threads: the main one, and the one that keeps a docker-init started ahead, see
    // `warm_start`) and its warm helper is ready: counted while a thread still closes or the
    // helper's socket is not yet made, it would be off.
    assert!(eventually(Duration::from_secs(10), || d.thread_count()
        == 2
        && warm_helpers(d.pid()) == 1));
    let (fds, threads) = (d.fd_count(), d.thread_count());
    let framed_help = "[\"\\u0000rcli/2\",\"{}\",\"help\"]\n";
    for i in 0..200 {
        let mut s = UnixStream::connect(&d.sock).unwrap();
        match i % 5 {
            // Connects and closes at once.
            0 => {}
            // Sends a request and leaves without reading the answer.
            1 => s.write_all(framed_help.as_bytes()).unwrap(),
            2 => s.write_all(b"[\"help\"]\n").unwrap(),
            // Leaves half-way through the request line.
            3 => s.write_all(b"[\"help\", \"x").unwrap(),
            // Sends a request plus stdin and leaves after the first bytes of the answer.
            _ => {
                s.write_all(framed_help.as_bytes()).unwrap();
                s.write_all(b"stdin nobody reads").unwrap();
                let mut b = [0u8; 3];
                let _ = s.read(&mut b);
            }
        }
    }
    d.assert_serving();
    let settled = eventually(Duration::from_secs(20), || {
        d.fd_count() == fds && d.thread_count() == threads
    });
    assert!(
        settled,
        "fds {fds} -> {}, threads {threads} -> {}\n{}",
        d.fd_count(),
        d.thread_count(),
        d.log()
    );
}

// ---- The client against a scripted daemon: terminal, stdin, exit status, foreign answers ----

/// A listening socket the test answers by hand.
struct FakeDaemon {
    _dir: TempDir,
    addr: String,
    listener: UnixListener,
}

impl FakeDaemon {
    fn new() -> FakeDaemon {
        let dir = TempDir::new("fake");
        let path = dir.join("fake.sock");
        let listener = UnixListener::bind(&path).unwrap();
        FakeDaemon {
            addr: format!("unix://{}", path.display()),
            _dir: dir,
            listener,
        }
    }

    /// Accept one client and read its request line.
    fn accept(&self) -> (BufReader<UnixStream>, Vec<String>) {
        let (s, _) = self.listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        (r, serde_json::from_str(&line).unwrap())
    }
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind, 0, 0, 0];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn client_streams_stdin_half_closes_and_returns_the_exit_status() {
    let fake = FakeDaemon::new();
    let mut child = Command::new(DOCKER)
        .args(["-H", &fake.addr, "run", "-i", "busybox", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello\nworld").unwrap();
    drop(stdin);
    let (mut r, args) = fake.accept();
    assert_eq!(args[0], "\u{0}rcli/2");
    assert_eq!(args[1], "{}", "no terminal, no size");
    assert_eq!(&args[2..], ["run", "-i", "busybox", "cat"]);
    // The client's stdin, raw, then its half-close (end of stream).
    let mut input = Vec::new();
    r.read_to_end(&mut input).unwrap();
    assert_eq!(input, b"hello\nworld");
    let mut s = r.into_inner();
    s.write_all(&frame(1, b"to stdout\n")).unwrap();
    s.write_all(&frame(2, b"to stderr\n")).unwrap();
    s.write_all(&frame(1, b"more\n")).unwrap();
    s.write_all(&frame(3, &42i32.to_be_bytes())).unwrap();
    drop(s);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(stdout(&out), "to stdout\nmore\n");
    assert_eq!(stderr(&out), "to stderr\n");

    // A status no process can exit with is a failure, never mistaken for success.
    for bad in [-1i32, 256] {
        let child = Command::new(DOCKER)
            .args(["-H", &fake.addr, "version"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (r, _) = fake.accept();
        let mut s = r.into_inner();
        s.write_all(&frame(3, &bad.to_be_bytes())).unwrap();
        drop(s);
        assert_eq!(
            child.wait_with_output().unwrap().status.code(),
            Some(1),
            "{bad}"
        );
    }
}

#[test]
fn client_shows_an_unframed_answer_and_a_lost_exit_status_as_errors() {
    let fake = FakeDaemon::new();
    let run = |reply: Vec<u8>| {
        let child = Command::new(DOCKER)
            .args(["-H", &fake.addr, "version"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (r, _) = fake.accept();
        let mut s = r.into_inner();
        s.write_all(&reply).unwrap();
        drop(s);
        child.wait_with_output().unwrap()
    };
    // A refusal in v0.1.0's raw words (what our daemon sends before framing can start).
    let out = run(b"Error: the request is not JSON\n".to_vec());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "Error: the request is not JSON\n");
    // Output, then the connection ends without an exit status.
    let out = run(frame(1, b"partial\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "partial\n");
    assert!(
        stderr(&out).contains("closed the connection before sending the command's exit status"),
        "{out:?}"
    );
}

fn termios_of(fd: impl AsFd) -> nix::sys::termios::Termios {
    nix::sys::termios::tcgetattr(fd).unwrap()
}

fn same_modes(a: &nix::sys::termios::Termios, b: &nix::sys::termios::Termios) -> bool {
    a.input_flags == b.input_flags
        && a.output_flags == b.output_flags
        && a.control_flags == b.control_flags
        && a.local_flags == b.local_flags
}

/// Start the client on a fresh pty (40 rows, 132 columns) with `args`; returns the child, the
/// pty's two ends and the request the fake daemon received.
fn client_on_a_pty(
    fake: &FakeDaemon,
    args: &[&str],
) -> (
    std::process::Child,
    nix::pty::OpenptyResult,
    BufReader<UnixStream>,
    Vec<String>,
) {
    let ws = nix::pty::Winsize {
        ws_row: 40,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&ws, None::<&nix::sys::termios::Termios>).unwrap();
    let child = Command::new(DOCKER)
        .args(["-H", &fake.addr])
        .args(args)
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (r, req) = fake.accept();
    (child, pty, r, req)
}

#[test]
fn client_raw_terminal_sends_its_size_and_is_restored_at_the_end() {
    use nix::sys::termios::LocalFlags;
    let fake = FakeDaemon::new();
    let ws = nix::pty::Winsize {
        ws_row: 40,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let before = termios_of(
        nix::pty::openpty(&ws, None::<&nix::sys::termios::Termios>)
            .unwrap()
            .slave,
    );
    let (child, pty, r, req) = client_on_a_pty(&fake, &["run", "-it", "busybox", "sh"]);
    // A terminal command frames its stdin, so that window changes can follow
    // (tests/tty_resize.rs).
    assert_eq!(req[1], r#"{"stdin_frames":true,"tty_size":[40,132]}"#);
    assert_eq!(&req[2..], ["run", "-it", "busybox", "sh"]);
    let during = termios_of(&pty.slave);
    assert!(
        !during
            .local_flags
            .intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG),
        "raw while the command runs: {:?}",
        during.local_flags
    );
    let mut s = r.into_inner();
    s.write_all(&frame(3, &7i32.to_be_bytes())).unwrap();
    drop(s);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(same_modes(&termios_of(&pty.slave), &before), "restored");

    // A command that does not want a raw terminal leaves it alone, but still sends the size;
    // its stdin streams raw.
    let (child, pty, r, req) = client_on_a_pty(&fake, &["run", "-i", "busybox", "sh"]);
    assert_eq!(req[1], r#"{"tty_size":[40,132]}"#);
    assert!(termios_of(&pty.slave)
        .local_flags
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
    let mut s = r.into_inner();
    s.write_all(&frame(3, &0i32.to_be_bytes())).unwrap();
    drop(s);
    assert!(child.wait_with_output().unwrap().status.success());
}

#[test]
fn client_restores_the_terminal_when_killed() {
    let fake = FakeDaemon::new();
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let (mut child, pty, _r, _req) = client_on_a_pty(&fake, &["attach", "3f2a"]);
        let ws = nix::pty::Winsize {
            ws_row: 40,
            ws_col: 132,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let fresh = termios_of(
            nix::pty::openpty(&ws, None::<&nix::sys::termios::Termios>)
                .unwrap()
                .slave,
        );
        assert!(!same_modes(&termios_of(&pty.slave), &fresh), "raw");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.signal(), Some(sig as i32), "dies of {sig}");
        assert!(
            same_modes(&termios_of(&pty.slave), &fresh),
            "{sig}: restored"
        );
    }
}

#[test]
fn global_usage_and_bad_global_flags() {
    let out = client(&["--help"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("docker -d [OPTIONS]"), "{out:?}");
    let out = client(&["--bogus"], &["version"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("unknown flag --bogus"), "{out:?}");
    let out = client(&["-H"], &[]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("flag -H needs a value"), "{out:?}");
    let out = client(&["-H", "unix:///a", "-H", "unix:///b"], &["version"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("give -H once"), "{out:?}");
    let dir = TempDir::new("twice");
    let sock = format!("unix://{}", dir.join("s.sock").display());
    let out = Command::new(DOCKER)
        .args(["-d", "-H", &sock, "-H", &sock, "-g"])
        .arg(dir.join("root"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is given twice"), "{out:?}");
    let out = client(&["-G", "adm"], &["version"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--group is a daemon option"),
        "{out:?}"
    );
}

/// `docker` is the client and runs `docker-engine` from its own folder for the rest (the
/// daemon, `-H none`, no daemon at the default socket): in-process commands work through it,
/// the engine is the same process, and a `docker` copied without its engine says what is
/// missing instead of running anything. The client does not load the runtime's libraries.
#[test]
fn the_client_runs_the_engine_beside_it() {
    let dir = TempDir::new("engine");
    let root = dir.join("root");
    let r = root.to_str().unwrap();
    // In-process through the engine (it takes the runtime lock: the root is made).
    let out = client(&["-H", "none", "-g", r], &["images"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("REPOSITORY"), "{out:?}");
    assert!(root.join("graph").is_dir(), "the engine made the root");
    // The daemon is the process `docker -d` started, its program now docker-engine.
    let d = Daemon::start(&[]);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", d.pid())).unwrap();
    assert_eq!(comm.trim(), "docker-engine");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", d.pid())).unwrap();
    assert!(
        cmdline.starts_with(DOCKER.as_bytes()),
        "argv[0] kept: {cmdline:?}"
    );
    drop(d);
    // Without its engine, `docker` fails and says so; a client command still works.
    let alone = dir.join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(DOCKER, alone.join("docker")).unwrap();
    let out = Command::new(alone.join("docker"))
        .args(["-H", "none", "-g", r, "images"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("docker-engine: No such file or directory")
            && stderr(&out).contains("installed beside docker"),
        "{out:?}"
    );
    let out = Command::new(alone.join("docker"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(stdout(&out).starts_with("Docker version"), "{out:?}");
    // The client's dynamic section: no libseccomp (the runtime's) to load at each start.
    let elf = Command::new("readelf")
        .args(["-d", DOCKER])
        .output()
        .unwrap();
    let needed = String::from_utf8_lossy(&elf.stdout).into_owned();
    assert!(
        needed.contains("(NEEDED)") && needed.contains("libc.so"),
        "{needed}"
    );
    assert!(!needed.contains("libseccomp"), "{needed}");
}

/// `docker completion bash` (issue 15): the script completes commands, each command's flags
/// (from its flag table), the global flags (every one `docker --help` lists), and names of
/// the runtime's images for arguments, asking `docker` with the same global options.
#[test]
fn bash_completion_from_the_flag_tables() {
    let dir = TempDir::new("completion");
    let root = dir.join("root");
    let r = root.to_str().unwrap();
    let id = common::make_busybox_image(&root);
    let out = client(&["-H", "none", "-g", r], &["tag", &id, "busybox:latest"]);
    assert!(out.status.success(), "{out:?}");
    let out = client(&["-H", "none", "-g", r], &["completion", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = dir.join("docker.bash");
    std::fs::write(&script, stdout(&out)).unwrap();

    // Every global flag of the usage is offered.
    let help = stdout(&client(&["--help"], &[]));
    let offered = complete(&script, &["docker", "-"]);
    for line in help.lines().filter(|l| l.starts_with("  -")) {
        for flag in line.split_whitespace().take_while(|w| w.starts_with('-')) {
            let flag = flag.trim_end_matches(',');
            assert!(
                offered.contains(&flag.to_string()),
                "{flag} of {line:?}: {offered:?}"
            );
        }
    }
    assert_eq!(complete(&script, &["docker", "ru"]), ["run"]);
    assert_eq!(complete(&script, &["docker", "pu"]), ["pull", "push"]);
    let run_flags = complete(&script, &["docker", "run", "--ne"]);
    assert_eq!(run_flags, ["--net", "--network"]);
    // A flag's value is not completed with names; an argument is, through docker itself.
    assert!(complete(&script, &["docker", "run", "-m", "bu"]).is_empty());
    let bin = std::path::Path::new(DOCKER)
        .parent()
        .unwrap()
        .to_str()
        .unwrap();
    let names = complete_with_path(
        &script,
        &["docker", "-H", "none", "-g", r, "rmi", "bu"],
        bin,
    );
    assert_eq!(names, ["busybox:latest"]);

    let out = client(&["-H", "none", "-g", r], &["completion", "zsh"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("only bash"), "{out:?}");
    let out = client(&["-H", "none", "-g", r], &["completion"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
}

/// What bash's completion offers for the command line `words` (the cursor on the last word).
fn complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    complete_with_path(script, words, "/usr/bin:/bin")
}

fn complete_with_path(script: &std::path::Path, words: &[&str], path: &str) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _docker_runtime; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .env("PATH", format!("{path}:/usr/bin:/bin"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}
