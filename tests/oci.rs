//! `docker-runtime-oci`, run as containerd's shim runs it: each command, its errors on standard
//! error and in the `--log` file, the state under `--root`, and the config.json fields the
//! engine executes. Some containers here are processes the test starts in a pid namespace of
//! their own (what `create` makes), with their records.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::oci::{
    become_subreaper, bundle, cgroup_dir, fails, json, oci, oci_to, ok, status, wait_status,
};
use common::TempDir;
use docker_runtime::oci::store::{Record, Store};

#[test]
fn version_help_features_and_spec() {
    let dir = TempDir::new("oci-basics");
    let root = dir.join("root");
    // go-runc reads three lines: "NAME version V", "commit: C", "spec: S".
    let v = ok(&oci(&root, &["--version"]));
    let lines: Vec<&str> = v.lines().collect();
    assert_eq!(lines.len(), 3, "{v}");
    assert!(lines[0].starts_with("docker-runtime-oci version "));
    assert!(lines[1].starts_with("commit: ") && lines[2] == "spec: 1.2.0");
    assert!(ok(&oci(&root, &["--help"])).contains("Usage: docker-runtime-oci"));
    assert!(fails(&oci(&root, &[])).contains("no command given"));
    assert!(fails(&oci(&root, &["frob"])).contains("unknown command \"frob\""));

    let f = json(&ok(&oci(&root, &["features"])));
    let ns = f["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.contains(&"pid".into()) && ns.contains(&"network".into()));
    assert!(ns.contains(&"user".into()) && ns.contains(&"cgroup".into()));
    assert!(
        !ns.contains(&"time".into()),
        "time namespaces are not executed"
    );
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .contains(&"CAP_SYS_ADMIN".into()));
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    let resources = f["annotations"]["org.docker-runtime.linux.resources"]
        .as_str()
        .unwrap();
    assert!(resources.split(',').any(|r| r == "hugepageLimits"), "{f}");
    assert_eq!(
        f["hooks"],
        serde_json::json!([
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ])
    );

    let bundle = dir.join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    let b = bundle.to_str().unwrap();
    ok(&oci(&root, &["spec", "--bundle", b]));
    let spec: oci_spec::runtime::Spec =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().path(), Path::new("rootfs"));
    assert!(fails(&oci(&root, &["spec", "--bundle", b])).contains("remove it first"));
}

#[test]
fn errors_go_to_stderr_and_the_log_as_json_lines() {
    let dir = TempDir::new("oci-log");
    let root = dir.join("root");
    let log = dir.join("log.json");
    let l = log.to_str().unwrap();
    let err = fails(&oci(
        &root,
        &["--log", l, "--log-format", "json", "state", "nope"],
    ));
    assert!(err.contains("container \"nope\" does not exist"), "{err}");
    fails(&oci(
        &root,
        &["--log", l, "--log-format", "json", "kill", "nope", "KILL"],
    ));
    let err = fails(&oci(
        &root,
        &["--log", l, "--log-format", "json", "state", "../x"],
    ));
    assert!(err.contains("invalid container id"), "{err}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(json)
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["level"], "error");
        assert!(line["time"].is_string());
    }
    assert_eq!(lines[0]["msg"], "container \"nope\" does not exist");
    assert_eq!(
        json(&ok(&oci(&root, &["list", "--format", "json"]))),
        serde_json::json!([])
    );
    let err = fails(&oci(&root, &["update", "--resources", "-", "c"]));
    assert!(err.contains("container \"c\" does not exist"), "{err}");
}

/// A process alone in a new pid namespace (pid 1 there, as a container's first process),
/// killed on drop.
struct Contained {
    unshare: Child,
    pid: i32,
}

impl Contained {
    fn start() -> Contained {
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let children = format!("/proc/{0}/task/{0}/children", unshare.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let text = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(p) = text.split_whitespace().next() {
                let p: i32 = p.parse().unwrap();
                // Until the exec, the child is still `unshare`.
                if std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default()
                    == "sleep\n"
                {
                    break p;
                }
            }
            assert!(Instant::now() < deadline, "unshare made no child");
            std::thread::sleep(Duration::from_millis(2));
        };
        Contained { unshare, pid }
    }

    /// Its record as `create` would leave it.
    fn record(&self, id: &str, root: &Path) -> Record {
        let store = Store::open(root).unwrap();
        store.reserve(id).unwrap();
        let rec = Record {
            id: id.into(),
            bundle: PathBuf::from("/b"),
            rootfs: PathBuf::from("/b/rootfs"),
            pid: self.pid,
            pid_start: docker_runtime::proc::process_start_time(self.pid).unwrap(),
            created: chrono::Utc::now(),
            annotations: Default::default(),
            hooks: None,
            cgroups_path: None,
        };
        store.save(&rec).unwrap();
        rec
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        // SAFETY: kill takes a pid and a signal.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = self.unshare.wait();
    }
}

#[test]
fn kill_and_delete_act_on_the_recorded_process() {
    let dir = TempDir::new("oci-kill");
    let root = dir.join("root");
    let c = Contained::start();
    c.record("c1", &root);
    let st = json(&ok(&oci(&root, &["state", "c1"])));
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"], c.pid);
    assert_eq!(st["bundle"], "/b");
    let listed = json(&ok(&oci(&root, &["list", "--format", "json"])));
    assert_eq!(listed[0]["id"], "c1");
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "c1\n");
    let err = fails(&oci(&root, &["delete", "c1"]));
    assert!(err.contains("that is not stopped: running"), "{err}");
    assert!(fails(&oci(&root, &["kill", "c1", "NOSUCHSIG"])).contains("invalid signal"));

    ok(&oci(&root, &["kill", "c1", "9"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&root, "c1") != "stopped" {
        assert!(Instant::now() < deadline, "the container did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(json(&ok(&oci(&root, &["state", "c1"])))["pid"], 0);
    let err = fails(&oci(&root, &["kill", "c1", "KILL"]));
    assert!(err.contains("container \"c1\" not running"), "{err}");
    ok(&oci(&root, &["delete", "c1"]));
    assert!(fails(&oci(&root, &["state", "c1"])).contains("does not exist"));
    assert!(!root.join("c1").exists());
}

#[test]
fn delete_takes_created_containers_and_forced_running_ones() {
    let dir = TempDir::new("oci-delete");
    let root = dir.join("root");
    // Created: waiting at its gate (here only the gate's file stands for it).
    let created = Contained::start();
    created.record("made", &root);
    std::fs::write(root.join("made/exec.fifo"), b"").unwrap();
    assert_eq!(status(&root, "made"), "created");
    ok(&oci(&root, &["delete", "made"]));
    assert!(!root.join("made").exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    let gone = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    };
    while !gone(created.pid) {
        assert!(
            Instant::now() < deadline,
            "the created container was not killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let running = Contained::start();
    running.record("run", &root);
    ok(&oci(&root, &["delete", "--force", "run"]));
    assert!(!root.join("run").exists());

    // A record that cannot be read: refused, then removed with --force.
    let store = Store::open(&root).unwrap();
    store.reserve("torn").unwrap();
    std::fs::write(root.join("torn/state.json"), b"{\"id\": ").unwrap();
    let err = fails(&oci(&root, &["state", "torn"]));
    assert!(err.contains("delete it with --force"), "{err}");
    fails(&oci(&root, &["delete", "torn"]));
    ok(&oci(&root, &["delete", "--force", "torn"]));
    assert!(!root.join("torn").exists());
}

#[test]
fn create_waits_until_start_and_delete_cleans_up() {
    become_subreaper();
    let dir = TempDir::new("oci-life");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        false,
    );
    let pid_file = dir.join("init.pid");
    let io = dir.join("io");
    let made = oci_to(
        &root,
        &[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "c1",
        ],
        &io,
    );
    assert!(
        made.success(),
        "{}",
        std::fs::read_to_string(io.with_extension("err")).unwrap()
    );
    let pid_text = std::fs::read_to_string(&pid_file).unwrap();
    assert!(!pid_text.ends_with('\n'), "the pid file has no newline");
    let pid: i32 = pid_text.parse().unwrap();
    let st = json(&ok(&oci(&root, &["state", "c1"])));
    assert_eq!(
        (st["status"].as_str(), st["pid"].as_i64()),
        (Some("created"), Some(pid as i64))
    );
    // Created: set up, but the program has not run.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(io.with_extension("out")).unwrap(),
        ""
    );
    assert!(cgroup_dir("c1").is_some(), "the container has its cgroup");

    ok(&oci(&root, &["start", "c1"]));
    assert_eq!(wait_status(pid), 3);
    assert_eq!(
        std::fs::read_to_string(io.with_extension("out")).unwrap(),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(io.with_extension("err")).unwrap(),
        "err\n"
    );
    assert_eq!(status(&root, "c1"), "stopped");
    let err = fails(&oci(&root, &["start", "c1"]));
    assert!(err.contains("it is stopped"), "{err}");
    ok(&oci(&root, &["delete", "c1"]));
    assert!(!root.join("c1").exists());
    assert!(
        cgroup_dir("c1").is_none(),
        "the cgroup went with the container"
    );
}

#[test]
fn run_gives_the_exit_status_and_leaves_nothing() {
    let dir = TempDir::new("oci-run");
    let root = dir.join("root");
    let b = bundle(&dir.join(""), &["sh", "-c", "echo ran; exit 7"], false);
    let io = dir.join("io");
    let status = oci_to(&root, &["run", "--bundle", b.to_str().unwrap(), "r1"], &io);
    assert_eq!(status.code(), Some(7));
    assert_eq!(
        std::fs::read_to_string(io.with_extension("out")).unwrap(),
        "ran\n"
    );
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
    assert!(cgroup_dir("r1").is_none());
}

/// The helper is a fork of the command (not an exec of docker-init), so what the command
/// inherited would reach the container: a caller that ignores or blocks signals (a shell's
/// `trap ''`, a program ignoring SIGPIPE) must not hand that on. Without the reset before the
/// program's exec (`init::sys::default_signals`), SigIgn shows INT, PIPE and HUP here (and 32
/// and 33, which glibc's posix_spawn leaves ignored in this test's shell).
#[test]
fn the_program_starts_with_every_signal_at_its_default() {
    let dir = TempDir::new("oci-signals");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"],
        false,
    );
    let script = format!(
        "trap '' INT PIPE HUP; exec {} --root {} run --bundle {} s1",
        env!("CARGO_BIN_EXE_docker-runtime-oci"),
        root.display(),
        b.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_bundles_are_clear_errors_and_leave_nothing() {
    let dir = TempDir::new("oci-bad");
    let root = dir.join("root");
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let create = |b: &Path, id: &str| oci(&root, &["create", "--bundle", b.to_str().unwrap(), id]);
    let err = fails(&create(&empty, "x1"));
    assert!(err.contains("has no config.json"), "{err}");
    std::fs::write(empty.join("config.json"), b"{\"ociVersion\": ").unwrap();
    let err = fails(&create(&empty, "x2"));
    assert!(err.contains("config.json"), "{err}");
    let b = bundle(&dir.join(""), &["true"], false);
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let good = spec.clone();
    spec["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/false"}]});
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&create(&b, "x3"));
    assert!(
        err.contains("the prestart hook /bin/false failed: exit status 1"),
        "{err}"
    );
    spec = good.clone();
    spec["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "mount"},
        {"type": "uts"}, {"type": "ipc"}, {"type": "network", "path": "/proc/1/ns/nonexistent"}]);
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&create(&b, "x4"));
    assert!(
        err.contains("opening the net namespace /proc/1/ns/nonexistent"),
        "{err}"
    );
    spec = good.clone();
    spec["process"]["terminal"] = true.into();
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&create(&b, "x5"));
    assert!(err.contains("--console-socket"), "{err}");
    std::fs::write(b.join("config.json"), good.to_string()).unwrap();
    let err = fails(&create(&b, "bad/id"));
    assert!(err.contains("invalid container id"), "{err}");
    // Nothing was left of any of them: no folder, no cgroup.
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for id in ["x1", "x2", "x3", "x4", "x5"] {
        assert!(cgroup_dir(id).is_none(), "{id}'s cgroup was left");
    }
    // A taken id. (The container keeps the standard streams it is given: files here, so
    // that nothing waits for them to close.)
    become_subreaper();
    let io = dir.join("taken-io");
    assert!(oci_to(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "taken"],
        &io
    )
    .success());
    let pid: i32 = json(&ok(&oci(&root, &["state", "taken"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    assert!(fails(&create(&b, "taken")).contains("already exists"));
    ok(&oci(&root, &["delete", "taken"]));
    wait_status(pid);
}

/// `process.terminal`: the terminal's master side goes to the console socket (one
/// `SCM_RIGHTS` message), and the program's output comes out of it.
#[test]
fn a_terminal_goes_to_the_console_socket() {
    use std::os::unix::net::UnixListener;
    become_subreaper();
    let dir = TempDir::new("oci-tty");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &["sh", "-c", "tty; stty size; echo hello-from-tty"],
        true,
    );
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["process"]["consoleSize"] = serde_json::json!({"height": 30, "width": 100});
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let sock = dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            std::os::fd::AsRawFd::as_raw_fd(&conn),
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        let mut fds = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(f) = c {
                fds.extend(f);
            }
        }
        assert_eq!(fds.len(), 1, "one descriptor");
        // SAFETY: the descriptor just received is ours.
        unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) }
    });
    let out = oci(
        &root,
        &[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
            "t1",
        ],
    );
    ok(&out);
    let mut master = receiver.join().unwrap();
    let pid = json(&ok(&oci(&root, &["state", "t1"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    ok(&oci(&root, &["start", "t1"]));
    let mut text = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&text).contains("hello-from-tty") {
        assert!(
            Instant::now() < deadline,
            "no output: {:?}",
            String::from_utf8_lossy(&text)
        );
        match std::io::Read::read(&mut master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains("/dev/pts/") && text.contains("hello-from-tty"),
        "{text}"
    );
    assert!(text.contains("30 100"), "process.consoleSize: {text}");
    assert_eq!(wait_status(pid), 0);
    ok(&oci(&root, &["delete", "t1"]));
}

/// `pause` freezes the container's cgroup (`state` says paused, the counter stops), `ps
/// --format json` lists its processes, `resume` thaws it; a paused container can be killed.
#[test]
fn pause_resume_and_ps() {
    become_subreaper();
    let dir = TempDir::new("oci-pause");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.01; done",
        ],
        false,
    );
    let io = dir.join("io");
    assert!(oci_to(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "p1"],
        &io
    )
    .success());
    let pid = json(&ok(&oci(&root, &["state", "p1"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    ok(&oci(&root, &["start", "p1"]));
    let count = || {
        std::fs::read_to_string(b.join("rootfs/tmp/n"))
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < 3 {
        assert!(Instant::now() < deadline, "the counter never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = json(&ok(&oci(&root, &["ps", "--format", "json", "p1"])));
    assert!(pids.as_array().unwrap().contains(&pid.into()), "{pids}");
    // The default, as runc: ps -ef's columns for the container's processes.
    let table = ok(&oci(&root, &["ps", "p1"]));
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("UID"), "{table}");
    assert!(
        lines.any(|l| l.split_whitespace().nth(1) == Some(pid.to_string().as_str())),
        "{table}"
    );
    assert!(fails(&oci(&root, &["ps", "--format", "xml", "p1"])).contains("want table or json"));
    assert!(fails(&oci(&root, &["resume", "p1"])).contains("is not paused"));

    ok(&oci(&root, &["pause", "p1"]));
    assert_eq!(status(&root, "p1"), "paused");
    assert!(fails(&oci(&root, &["pause", "p1"])).contains("already paused"));
    let frozen = count();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count(), frozen, "a paused container made progress");
    let err = fails(&oci(&root, &["delete", "p1"]));
    assert!(err.contains("not stopped: paused"), "{err}");

    ok(&oci(&root, &["resume", "p1"]));
    assert_eq!(status(&root, "p1"), "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() <= frozen {
        assert!(
            Instant::now() < deadline,
            "the counter did not go on after resume"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    ok(&oci(&root, &["pause", "p1"]));
    ok(&oci(&root, &["kill", "p1", "KILL"]));
    assert_eq!(wait_status(pid), 137, "killed (SIGKILL) while paused");
    assert!(fails(&oci(&root, &["pause", "p1"])).contains("not running"));
    ok(&oci(&root, &["delete", "p1"]));
    assert!(cgroup_dir("p1").is_none());
}

/// `process.rlimits` are set before the program runs (a hard limit above the caller's too),
/// and `root.readonly` makes the root file system read-only while `/dev/shm` stays writable.
#[test]
fn rlimits_and_a_read_only_root() {
    let dir = TempDir::new("oci-limits");
    let root = dir.join("root");
    let script = "ulimit -n; ulimit -Hn; touch /x 2>/dev/null && echo root-writable; \
                  touch /dev/shm/y && echo shm-writable";
    let b = bundle(&dir.join(""), &["sh", "-c", script], false);
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let good = spec.clone();
    spec["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 4321}]);
    spec["root"]["readonly"] = true.into();
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let io = dir.join("io");
    let status = oci_to(&root, &["run", "--bundle", b.to_str().unwrap(), "l1"], &io);
    let out = std::fs::read_to_string(io.with_extension("out")).unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    assert_eq!(out, "1234\n4321\nshm-writable\n");
    assert!(!b.join("rootfs/x").exists());

    // Without them: the caller's limits, a writable root (that is what the test above shows).
    std::fs::write(b.join("config.json"), good.to_string()).unwrap();
    oci_to(&root, &["run", "--bundle", b.to_str().unwrap(), "l2"], &io);
    let out = std::fs::read_to_string(io.with_extension("out")).unwrap();
    assert!(out.contains("root-writable"), "{out}");
    assert!(!out.starts_with("1234\n"), "{out}");

    spec["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "l3"],
    ));
    assert!(
        err.contains("the soft limit 10 is above the hard limit 5"),
        "{err}"
    );
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
}

/// tmpfs mounts of the spec (containerd's `/run`) with their options; an option the engine
/// does not know is refused.
#[test]
fn tmpfs_mounts_with_their_options() {
    let dir = TempDir::new("oci-tmpfs");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &[
            "sh",
            "-c",
            "grep ' /run ' /proc/mounts; touch /run/x && echo ok",
        ],
        false,
    );
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "destination": "/run", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "noexec", "nodev", "strictatime", "mode=755", "size=1m"]
        }));
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let io = dir.join("io");
    let status = oci_to(&root, &["run", "--bundle", b.to_str().unwrap(), "m1"], &io);
    let out = std::fs::read_to_string(io.with_extension("out")).unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    let line = out.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("tmpfs /run tmpfs rw,nosuid,nodev,noexec"),
        "{out}"
    );
    assert!(
        line.contains("size=1024k") && line.contains("mode=755"),
        "{out}"
    );
    assert!(out.ends_with("ok\n"), "{out}");
    assert!(
        !b.join("rootfs/run/x").exists(),
        "written to the tmpfs, not the rootfs"
    );

    spec["mounts"].as_array_mut().unwrap().last_mut().unwrap()["options"] =
        serde_json::json!(["frobnicate"]);
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "m2"],
    ));
    assert!(
        err.contains("the tmpfs option \"frobnicate\" on /run"),
        "{err}"
    );
}

/// `exec`: a process beside a running container, in its namespaces (its hostname, its
/// processes) and its cgroup; its exit status; `--process FILE` with `--detach` and
/// `--pid-file`, as containerd's shim runs it.
#[test]
fn exec_runs_beside_the_container() {
    become_subreaper();
    let dir = TempDir::new("oci-exec");
    let root = dir.join("root");
    let b = bundle(&dir.join(""), &["sleep", "300"], false);
    let io = dir.join("io");
    let r = root.to_str().unwrap();
    assert!(oci_to(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "e1"],
        &io
    )
    .success());
    let pid = json(&ok(&oci(&root, &["state", "e1"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    let err = fails(&oci(&root, &["exec", "e1", "true"]));
    assert!(err.contains("container \"e1\" not running"), "{err}");
    ok(&oci(&root, &["start", "e1"]));

    let out = ok(&oci(
        &root,
        &[
            "exec",
            "e1",
            "sh",
            "-c",
            "hostname; cat /proc/1/comm; grep '^0::' /proc/self/cgroup | grep -c oci-e1",
        ],
    ));
    assert_eq!(out, "oci-test\nsleep\n1\n");
    let status = Command::new(env!("CARGO_BIN_EXE_docker-runtime-oci"))
        .args(["--root", r, "exec", "e1", "sh", "-c", "exit 4"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(4));

    // As the shim does it: a process file, detached, its pid in a file.
    let process = serde_json::json!({
        "args": ["sh", "-c", "echo from-exec > /tmp/exec-out"],
        "env": ["PATH=/bin"], "cwd": "/tmp", "user": {"uid": 65534, "gid": 65534}
    });
    std::fs::write(dir.join("process.json"), process.to_string()).unwrap();
    let pid_file = dir.join("exec.pid");
    ok(&oci(
        &root,
        &[
            "exec",
            "--process",
            dir.join("process.json").to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "e1",
        ],
    ));
    let exec_pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(wait_status(exec_pid), 0);
    assert_eq!(
        std::fs::read_to_string(b.join("rootfs/tmp/exec-out")).unwrap(),
        "from-exec\n"
    );
    let err = fails(&oci(&root, &["exec", "e1"]));
    assert!(err.contains("--process FILE or a command"), "{err}");
    // runc's inline options: --env (repeated, replacing the container's value), --user,
    // --additional-gids, --cwd; --cap adds to the sets.
    let out = ok(&oci(
        &root,
        &[
            "exec",
            "-e",
            "A=1",
            "--env",
            "PATH=/bin:/sbin",
            "-u",
            "1000:1001",
            "-g",
            "27",
            "-g",
            "30",
            "--cwd",
            "/tmp",
            "e1",
            "sh",
            "-c",
            "echo $A $PATH; id -u; id -g; id -G; pwd",
        ],
    ));
    assert_eq!(out, "1 /bin:/sbin\n1000\n1001\n1001 27 30\n/tmp\n");
    let eff = |extra: &[&str]| {
        let line = [
            &["exec"][..],
            extra,
            &["e1", "grep", "CapEff", "/proc/self/status"],
        ]
        .concat();
        let out = ok(&oci(&root, &line));
        u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    const NET_RAW: u64 = 1 << 13;
    assert_eq!(
        eff(&[]) & NET_RAW,
        0,
        "the bundle does not give CAP_NET_RAW"
    );
    assert_eq!(eff(&["--cap", "NET_RAW"]), eff(&[]) | NET_RAW);
    for (args, want) in [
        (&["-u", "me"][..], "exec --user: \"me\" is not a number"),
        (&["-g", "x"][..], "--additional-gids: \"x\" is not a number"),
        (&["--cap", "CAP_FLY"][..], "unknown capability \"CAP_FLY\""),
    ] {
        let line = [&["exec"][..], args, &["e1", "true"]].concat();
        let err = fails(&oci(&root, &line));
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Descriptors to preserve that the caller does not have (tests/oci_fds.rs hands some on).
    let err = fails(&oci(&root, &["exec", "--preserve-fds", "2", "e1", "true"]));
    assert!(err.contains("--preserve-fds 2: descriptor 3"), "{err}");
    ok(&oci(&root, &["kill", "e1", "KILL"]));
    wait_status(pid);
    ok(&oci(&root, &["delete", "e1"]));
}

/// The session keyring id of the calling process (keyctl GET_KEYRING_ID of the session
/// keyring), as a static program printing it.
const KEYRING_PROBE_C: &str = r#"#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) { printf("%ld\n", syscall(SYS_keyctl, 0, -3, 0)); return 0; }
"#;

/// A new session keyring for each container (runc's default), the caller's with
/// `--no-new-keyring`; namespaces joined by path (a pod's network namespace); a hostname with a
/// joined UTS namespace and `--systemd-cgroup` refused.
#[test]
fn keyrings_joined_namespaces_and_refusals() {
    let dir = TempDir::new("oci-keys");
    let root = dir.join("root");
    let b = bundle(&dir.join(""), &["/keyring"], false);
    let src = dir.join("keyring.c");
    std::fs::write(&src, KEYRING_PROBE_C).unwrap();
    let built = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(b.join("rootfs/keyring"))
        .arg(&src)
        .status()
        .unwrap();
    assert!(built.success());
    // SAFETY: keyctl(GET_KEYRING_ID, SESSION, create=0) takes integers only.
    let ours = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
    let io = dir.join("io");
    let bundle_arg = b.to_str().unwrap();
    let id_of = |args: &[&str]| {
        let status = oci_to(&root, args, &io);
        assert!(status.success());
        std::fs::read_to_string(io.with_extension("out"))
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let fresh = id_of(&["run", "--bundle", bundle_arg, "k1"]);
    assert!(fresh > 0 && fresh != ours, "{fresh} vs {ours}");
    let shared = id_of(&["run", "--no-new-keyring", "--bundle", bundle_arg, "k2"]);
    assert_eq!(shared, ours);

    // A network namespace of its own, with interfaces to recognize it by (a veth pair: this
    // kernel has no dummy interfaces).
    let ns = format!("drtest-{}", std::process::id());
    struct Netns(String);
    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    assert!(Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap()
        .success());
    let _netns = Netns(ns.clone());
    assert!(Command::new("ip")
        .args(["-n", &ns, "link", "add", "drmark0", "type", "veth", "peer", "name", "drmark1"])
        .status()
        .unwrap()
        .success());
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["process"]["args"] = serde_json::json!(["ip", "-o", "link"]);
    spec["linux"]["namespaces"][4] =
        serde_json::json!({"type": "network", "path": format!("/run/netns/{ns}")});
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    assert!(oci_to(&root, &["run", "--bundle", bundle_arg, "n1"], &io).success());
    let links = std::fs::read_to_string(io.with_extension("out")).unwrap();
    assert!(links.contains("drmark0"), "{links}");

    // (A path of another kind of namespace is refused: tests/oci_namespaces.rs.)
    spec["linux"]["namespaces"][2] =
        serde_json::json!({"type": "uts", "path": format!("/proc/{}/ns/uts", std::process::id())});
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&oci(&root, &["create", "--bundle", bundle_arg, "u1"]));
    assert!(err.contains("cannot be set in a joined UTS"), "{err}");
    let err = fails(&oci(
        &root,
        &["--systemd-cgroup", "create", "--bundle", bundle_arg, "s1"],
    ));
    assert!(
        err.contains("systemd's cgroup driver is not supported"),
        "{err}"
    );
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
}

/// `process.oomScoreAdj`, `process.user.umask`, `domainname` are applied; fields the engine
/// does not execute (`linux.personality`) or does not know (a `rootfsPropagation` that is no
/// propagation) are refused.
#[test]
fn oom_score_umask_domainname_and_refused_fields() {
    let dir = TempDir::new("oci-misc");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &[
            "sh",
            "-c",
            "cat /proc/self/oom_score_adj; umask; cat /proc/sys/kernel/domainname",
        ],
        false,
    );
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["process"]["oomScoreAdj"] = 500.into();
    spec["process"]["user"]["umask"] = 0o027.into();
    spec["domainname"] = "drtest.example".into();
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let io = dir.join("io");
    let bundle_arg = b.to_str().unwrap();
    assert!(oci_to(&root, &["run", "--bundle", bundle_arg, "o1"], &io).success());
    let out = std::fs::read_to_string(io.with_extension("out")).unwrap();
    assert_eq!(out, "500\n0027\ndrtest.example\n");

    for (field, value, what) in [
        (
            "personality",
            serde_json::json!({"domain": "LINUX32"}),
            "a personality",
        ),
        (
            "rootfsPropagation",
            "sharde".into(),
            "unknown rootfsPropagation \"sharde\"",
        ),
    ] {
        let mut bad = spec.clone();
        bad["linux"][field] = value;
        std::fs::write(b.join("config.json"), bad.to_string()).unwrap();
        let err = fails(&oci(&root, &["create", "--bundle", bundle_arg, "o2"]));
        assert!(err.contains(what), "{field}: {err}");
    }
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
}

/// `linux.sysctl`: the container's own namespaces' parameters are set; one of the host's
/// (`kernel.panic`) is refused.
#[test]
fn namespaced_sysctls() {
    let dir = TempDir::new("oci-sysctl");
    let root = dir.join("root");
    let b = bundle(
        &dir.join(""),
        &[
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
        ],
        false,
    );
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["linux"]["sysctl"] =
        serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let io = dir.join("io");
    let bundle_arg = b.to_str().unwrap();
    assert!(oci_to(&root, &["run", "--bundle", bundle_arg, "y1"], &io).success());
    assert_eq!(
        std::fs::read_to_string(io.with_extension("out")).unwrap(),
        "1\n1234\n"
    );
    spec["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "1"});
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&oci(&root, &["create", "--bundle", bundle_arg, "y2"]));
    assert!(err.contains("the sysctl \"kernel.panic\""), "{err}");
}
