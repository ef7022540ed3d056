//! A `docker -d` started by a test: its own temp root and socket, its stderr in a file, killed
//! (and its files removed) on drop, also when the test fails. Plus small wire-level helpers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::TempDir;

pub const DOCKER: &str = env!("CARGO_BIN_EXE_docker");
pub const MAGIC: &str = "\u{0}rcli/2";

static N: AtomicU32 = AtomicU32::new(0);

/// A running daemon.
pub struct Daemon {
    pub child: Option<Child>,
    /// The bridge and iptables chain this daemon's runtime uses (removed on drop).
    pub bridge: String,
    pub chain: String,
    pub dir: TempDir,
    pub sock: PathBuf,
    pub root: PathBuf,
    pub log: PathBuf,
}

/// Runtime options that keep a test daemon off the machine's defaults: its own bridge name
/// and subnet (10.213.0.0/16 is routed nowhere here), its own iptables chain, no change to
/// ip_forward, and the docker-init of this build. Returns the arguments, the bridge and the
/// chain.
pub fn isolation_args() -> (Vec<String>, String, String) {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tag = std::process::id() % 100_000;
    let bridge = format!("drd{tag}x{n}");
    let chain = format!("DRD{tag}X{n}");
    let args = vec![
        "-b".into(),
        bridge.clone(),
        "--bip".into(),
        format!("10.213.{}.1/24", (tag as u32 + n) % 250),
        "--iptables-chain".into(),
        chain.clone(),
        "--ip-forward=false".into(),
        "--init-path".into(),
        env!("CARGO_BIN_EXE_docker-init").into(),
    ];
    (args, bridge, chain)
}

impl Daemon {
    /// Start a daemon on a fresh temp root and socket, with `extra` flags, and wait until it
    /// answers.
    pub fn start(extra: &[&str]) -> Daemon {
        let dir = TempDir::new("daemon");
        let sock = dir.join("s.sock");
        let root = dir.join("root");
        let mut d = Daemon::spawn(dir, sock, root, extra);
        d.wait_ready();
        d
    }

    /// Start a daemon on `sock` and `root` without waiting for it.
    pub fn spawn(dir: TempDir, sock: PathBuf, root: PathBuf, extra: &[&str]) -> Daemon {
        Daemon::spawn_with(dir, sock, root, extra, |_| {})
    }

    /// [`Daemon::spawn`], letting the caller adjust the command first.
    pub fn spawn_with(
        dir: TempDir,
        sock: PathBuf,
        root: PathBuf,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Daemon {
        let log = dir.join(&format!("daemon-{}.log", N.fetch_add(1, Ordering::Relaxed)));
        let mut cmd = Command::new(DOCKER);
        adjust(&mut cmd);
        let (isolation, bridge, chain) = isolation_args();
        let child = cmd
            .arg("-d")
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .arg("-g")
            .arg(&root)
            .args(&isolation)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting docker -d");
        Daemon {
            child: Some(child),
            bridge,
            chain,
            dir,
            sock,
            root,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn addr(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the socket accepts connections; fail with the daemon's log if it exits.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // An answer, not only a connection: a connection can reach a stale socket's
            // listener that a process forked meanwhile (by another test) still holds.
            if self.answers_version() {
                return;
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the daemon exited ({st}) before serving:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not start serving:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the daemon answers a `version` request now.
    fn answers_version(&self) -> bool {
        let Ok(mut s) = UnixStream::connect(&self.sock) else {
            return false;
        };
        let mut out = Vec::new();
        let asked = s.set_read_timeout(Some(Duration::from_secs(5))).is_ok()
            && s.write_all(b"[\"version\"]\n").is_ok()
            && s.shutdown(std::net::Shutdown::Write).is_ok()
            && s.read_to_end(&mut out).is_ok();
        asked && String::from_utf8_lossy(&out).contains("Version: ")
    }

    /// Send `sig` and wait for the daemon's exit status (at most `limit`).
    pub fn stop(
        &mut self,
        sig: nix::sys::signal::Signal,
        limit: Duration,
    ) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the daemon did not exit after {sig}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Run the client against this daemon with `args`; stdin is empty.
    pub fn client(&self, args: &[&str]) -> Output {
        client(&["-H", &self.addr()], args)
    }

    /// `client`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.client(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        stdout(&out)
    }

    /// Send raw `bytes`, half-close, and read the whole answer.
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        let mut s = UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    }

    /// Run `args` over the framed protocol on the wire; returns (stdout, stderr, status).
    pub fn framed(&self, args: &[&str]) -> (String, String, Option<i32>) {
        let mut all = vec![MAGIC.to_string(), "{}".to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let mut line = serde_json::to_vec(&all).unwrap();
        line.push(b'\n');
        let frames = parse_frames(&self.raw(&line));
        let (mut out, mut err, mut status) = (String::new(), String::new(), None);
        for (kind, payload) in frames {
            match kind {
                1 => out.push_str(&String::from_utf8_lossy(&payload)),
                2 => err.push_str(&String::from_utf8_lossy(&payload)),
                3 => {
                    assert!(status.is_none(), "two exit frames");
                    status = Some(i32::from_be_bytes(payload[..4].try_into().unwrap()));
                }
                k => panic!("unknown frame kind {k}"),
            }
        }
        (out, err, status)
    }

    /// The daemon serves a good client (checked after every bad one).
    pub fn assert_serving(&self) {
        let out = self.client(&["version"]);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("Version: "),
            "a good client failed: {out:?}\n{}",
            self.log()
        );
    }

    /// Open descriptors of the daemon process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// Threads of the daemon process.
    pub fn thread_count(&self) -> usize {
        proc_status_field(self.pid(), "Threads:").parse().unwrap()
    }

    /// Resident memory of the daemon process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_field(self.pid(), "VmRSS:")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Containers the daemon started keep running without it: remove them, then the
        // network.
        if self.root.join("containers").exists() {
            let opts = docker_runtime::RuntimeOptions {
                network: docker_runtime::network::NetworkOptions {
                    bridge_name: self.bridge.clone(),
                    iptables_chain: self.chain.clone(),
                    ip_forward: false,
                    ..Default::default()
                },
                init_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_docker-init"))),
                ..Default::default()
            };
            if let Ok(rt) = docker_runtime::Runtime::new(&self.root, opts).map(std::sync::Arc::new)
            {
                let _ = rt.restore();
                for c in rt.containers() {
                    let _ = c.kill();
                    let _ = rt.remove_container(&c);
                }
            }
        }
        crate::common::net::remove_network(&self.bridge, &self.chain);
    }
}

fn proc_status_field(pid: u32, field: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap()
        .trim()
        .to_string()
}

/// Run the client with `global` options then `args`, feeding `input` on its stdin.
pub fn client_with_input(global: &[&str], args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(DOCKER)
        .args(global)
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the client");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("waiting for the client");
    feeder.join().unwrap();
    out
}

/// Import the busybox image (from `contrib/mkimage-busybox.sh`) through the daemon at `addr`.
pub fn import_busybox(addr: &str) {
    let tar = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/contrib/mkimage-busybox.sh"
        ))
        .output()
        .expect("running contrib/mkimage-busybox.sh");
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    let out = client_with_input(&["-H", addr], &["import", "-", "busybox"], &tar.stdout);
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run the client with `global` options then `args`; stdin is empty.
pub fn client(global: &[&str], args: &[&str]) -> Output {
    Command::new(DOCKER)
        .args(global)
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("running the client")
}

/// Split a framed answer into (kind, payload) frames; panics on a malformed stream.
pub fn parse_frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 8, "a truncated frame header: {b:?}");
        assert_eq!(
            &b[1..4],
            &[0, 0, 0],
            "not a frame: {:?}",
            String::from_utf8_lossy(b)
        );
        let len = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
        assert!(b.len() >= 8 + len, "a truncated frame");
        frames.push((b[0], b[8..8 + len].to_vec()));
        b = &b[8 + len..];
    }
    frames
}

#[allow(unused_imports)]
pub use crate::common::eventually;

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether `path` exists (without following a symlink).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}
