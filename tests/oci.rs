//! `docker-runtime-oci`, run as containerd's shim runs it: the commands done so far (`--version`,
//! `features`, `spec`, `state`, `list`, `kill`, `delete`), their errors on standard error and in
//! the `--log` file, and the state under `--root`. The containers here are processes the test
//! starts in a pid namespace of their own (what `create` will make), with their records.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use docker_runtime::oci::store::{Record, Store};

fn oci(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docker-runtime-oci"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The error of a failed run (exit status 1).
fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

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
    assert!(
        !ns.contains(&"user".into()),
        "user namespaces are not executed"
    );
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .contains(&"CAP_SYS_ADMIN".into()));
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert_eq!(f["hooks"], serde_json::json!([]));

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
    // Not done yet: said, never pretended.
    let err = fails(&oci(&root, &["create", "--bundle", "/nonexistent", "c"]));
    assert!(err.contains("not implemented"), "{err}");
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

fn status(root: &Path, id: &str) -> String {
    json(&ok(&oci(root, &["state", id])))["status"]
        .as_str()
        .unwrap()
        .to_string()
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
