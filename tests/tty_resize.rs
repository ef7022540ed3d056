//! Terminal resizes reach the container (issue 15, point 3: "tty resize"): `docker run -t
//! -i`, `docker attach` and `docker exec -t -i` started on a pseudo-terminal the test makes
//! (the client's controlling terminal, so the kernel sends it SIGWINCH), in-process and
//! through the daemon (window sizes in framed stdin); the Engine API's `POST
//! /exec/{id}/resize` of a running exec, driven by Debian's docker 20.10 CLI on a terminal of
//! its own. Each time the test changes the terminal's size (TIOCSWINSZ) and the shell in the
//! container reports its own terminal's size (`stty size`) until it is the new one.
//! Also `-e NAME` without a value: the value comes from the client's environment.

mod common;
mod daemon_support;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempDir;
use daemon_support::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A root with a busybox image, and (as a guard) the cleanup a test daemon does: containers
/// left running are removed, the bridge and chain deleted.
struct Root {
    guard: Daemon,
    isolation: Vec<String>,
}

impl Root {
    /// For commands run in-process (`-H none`) on a root of their own.
    fn in_process() -> Root {
        let dir = TempDir::new("tty-resize");
        let root = dir.join("root");
        let sock = dir.join("unused.sock");
        let (isolation, bridge, chain) = isolation_args();
        let id = common::make_busybox_image(&root);
        let r = Root {
            guard: Daemon {
                child: None,
                bridge,
                chain,
                dir,
                sock,
                root,
                log: PathBuf::new(),
            },
            isolation,
        };
        let out = r.docker(&["tag", &id, "busybox:latest"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        r
    }

    /// A daemon with the busybox image, its environment holding `FOO=daemon-side`.
    fn daemon() -> Daemon {
        let dir = TempDir::new("tty-resize-d");
        let sock = dir.join("s.sock");
        let root = dir.join("root");
        let id = common::make_busybox_image(&root);
        let mut d = Daemon::spawn_with(dir, sock, root, &[], |c| {
            c.env("FOO", "daemon-side");
        });
        d.wait_ready();
        let out = client(&["-H", &d.addr()], &["tag", &id, "busybox:latest"]);
        assert!(out.status.success(), "{out:?}");
        d
    }

    /// `docker -H none -g ROOT ISOLATION args...`.
    fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new(DOCKER);
        c.env_remove("DOCKER_HOST")
            .args(["-H", "none", "-g"])
            .arg(&self.guard.root)
            .args(&self.isolation)
            .args(args);
        c
    }
}

/// `docker -H ADDR args...` for a daemon.
fn docker_at(d: &Daemon, args: &[&str]) -> Command {
    let mut c = Command::new(DOCKER);
    c.env_remove("DOCKER_HOST")
        .args(["-H", &d.addr()])
        .args(args);
    c
}

fn winsize(rows: u16, cols: u16) -> nix::pty::Winsize {
    nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// A client on a pseudo-terminal of the test's: its controlling terminal, in a session of
/// its own (so it is the foreground process group, which gets SIGWINCH).
struct OnPty {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl OnPty {
    fn spawn(mut cmd: Command) -> OnPty {
        let pty = nix::pty::openpty(&winsize(24, 80), None::<&nix::sys::termios::Termios>).unwrap();
        let slave = File::from(pty.slave);
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(slave);
        let master = File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (mut r, out) = (master.try_clone().unwrap(), output.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the client and its children have closed the terminal.
            while let Ok(n @ 1..) = r.read(&mut buf) {
                out.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnPty {
            child,
            master,
            output,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Set the terminal's size: the kernel sends SIGWINCH to its foreground process group.
    fn resize(&self, rows: u16, cols: u16) {
        // SAFETY: TIOCSWINSZ reads the winsize we pass; the master is open.
        let rc = unsafe {
            libc::ioctl(
                self.master.as_fd().as_raw_fd(),
                libc::TIOCSWINSZ,
                &winsize(rows, cols),
            )
        };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    }

    /// Ask the shell for its terminal's size until it reports `rows cols` (the echo of the
    /// question cannot match: it holds `$(stty size)`, not numbers).
    fn wait_for_size(&mut self, rows: u16, cols: u16) {
        let want = format!("S={rows} {cols}=E");
        let deadline = Instant::now() + LIMIT;
        let mut asked = Instant::now() - LIMIT;
        while !self.text().contains(&want) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("the client exited ({st}) before {want}:\n{}", self.text());
            }
            assert!(
                Instant::now() < deadline,
                "no {want} within {LIMIT:?}:\n{}",
                self.text()
            );
            if asked.elapsed() > Duration::from_millis(500) {
                self.master
                    .write_all(b"echo \"S=$(stty size)=E\"\r")
                    .unwrap();
                asked = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resize twice, each seen by the shell, then leave it with `exit 3`; the client's status
    /// is then `status`.
    fn check_and_exit(mut self, status: i32) {
        self.wait_for_size(24, 80);
        self.resize(40, 132);
        self.wait_for_size(40, 132);
        self.resize(33, 99);
        self.wait_for_size(33, 99);
        self.master.write_all(b"exit 3\r").unwrap();
        let deadline = Instant::now() + LIMIT;
        let st = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "still running:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(st.code(), Some(status), "{}", self.text());
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `run -d` of a `sleep` with a terminal, for `exec -t` and `attach`; its id.
fn started(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const RUN_SH: &[&str] = &["run", "-t", "-i", "--network", "none", "busybox", "sh"];
/// A container with a terminal, for `attach` (through the daemon: in-process, the terminal
/// is the starting process's, and goes with it).
const RUN_D_TTY: &[&str] = &[
    "run",
    "-d",
    "-t",
    "-i",
    "--network",
    "none",
    "busybox",
    "sh",
];
/// A container to exec into.
const RUN_D: &[&str] = &["run", "-d", "--network", "none", "busybox", "sleep", "600"];

#[test]
fn run_and_exec_follow_the_window_in_process() {
    let root = Root::in_process();
    OnPty::spawn(root.docker(RUN_SH)).check_and_exit(3);
    let id = started(&mut root.docker(RUN_D));
    OnPty::spawn(root.docker(&["exec", "-t", "-i", &id, "sh"])).check_and_exit(3);
}

#[test]
fn run_exec_and_attach_follow_the_window_through_the_daemon() {
    let d = Root::daemon();
    OnPty::spawn(docker_at(&d, RUN_SH)).check_and_exit(3);
    let id = started(&mut docker_at(&d, RUN_D));
    OnPty::spawn(docker_at(&d, &["exec", "-t", "-i", &id, "sh"])).check_and_exit(3);
    // `attach` ends with the container, with its status (as docker's).
    let id = started(&mut docker_at(&d, RUN_D_TTY));
    OnPty::spawn(docker_at(&d, &["attach", &id])).check_and_exit(3);
    d.assert_serving();
}

/// Debian's docker 20.10 CLI: `exec -it` sends `POST /exec/{id}/resize` when its window
/// changes, and the running exec's terminal takes the size.
#[test]
fn the_docker_cli_resizes_a_running_exec() {
    const CLI: &str = "/usr/bin/docker";
    assert!(
        std::path::Path::new(CLI).exists(),
        "{CLI} is missing: scripts/setup.sh installs Debian's docker.io (the client only)"
    );
    let d = Root::daemon();
    let id = started(&mut docker_at(&d, RUN_D));
    let cfg = TempDir::new("tty-resize-cli");
    let mut cmd = Command::new(CLI);
    cmd.env("DOCKER_CONFIG", cfg.path())
        .env_remove("DOCKER_HOST")
        .args(["-H", &d.addr(), "exec", "-it", &id, "sh"]);
    OnPty::spawn(cmd).check_and_exit(3);
    d.assert_serving();
}

/// `-e NAME` without a value: set from the client's environment, left out when unset there,
/// never the daemon's (whose FOO is `daemon-side`).
#[test]
fn env_names_take_the_clients_values() {
    let check = |mut cmd: Command| {
        let out = cmd
            .env("FOO", "from client")
            .env_remove("NOPE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{out:?}");
        assert!(text.lines().any(|l| l == "FOO=from client"), "{text}");
        assert!(!text.contains("NOPE"), "{text}");
        assert!(!text.contains("daemon-side"), "{text}");
    };
    let env_args = ["-e", "FOO", "-e", "NOPE", "--env=BAR=1"];
    let run = |mut cmd: Command| {
        cmd.args(["run", "--rm", "--network", "none"])
            .args(env_args)
            .args(["busybox", "env"]);
        cmd
    };
    let root = Root::in_process();
    check(run(root.docker(&[])));
    let id = started(&mut root.docker(RUN_D));
    let mut cmd = root.docker(&["exec"]);
    cmd.args(env_args).args([&id, "env"]);
    check(cmd);

    let d = Root::daemon();
    check(run(docker_at(&d, &[])));
    let id = started(&mut docker_at(&d, RUN_D));
    let mut cmd = docker_at(&d, &["exec"]);
    cmd.args(env_args).args([&id, "env"]);
    check(cmd);
}

/// The client reads `run`'s and `exec`'s command lines itself (to resolve `-e NAME`, and to
/// tell a terminal command): each flag that takes a value must be known to it as one, or
/// the flag's value would be taken for the image (`run --network none -e FOO ...` sent
/// `-e FOO` unresolved). The flag tables come from `docker completion bash`.
#[test]
fn the_client_knows_every_valued_flag_of_run_and_exec() {
    let root = Root::in_process();
    let out = root.docker(&["completion", "bash"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8_lossy(&out.stdout).into_owned();
    for cmd in ["run", "exec"] {
        let line = script
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{cmd})")))
            .unwrap_or_else(|| panic!("no {cmd} in:\n{script}"));
        let valued = line
            .split("valued=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(valued.contains("-e"), "{line}");
        for flag in valued.split_whitespace() {
            let name = flag.trim_start_matches('-');
            assert!(
                docker_runtime::server::terminal::takes_value(name),
                "{cmd} {flag} takes a value, the client does not know it"
            );
        }
    }
}
