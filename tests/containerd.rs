//! containerd drives `docker-runtime-oci` as its runc binary (`ctr run --runc-binary`), through
//! Debian's containerd and its runc shim (`io.containerd.runc.v2`): the path by which a cluster's
//! CRI reaches a runtime. Each test starts its own containerd on its own root, state folder and
//! socket, imports a busybox image into it, and stops it (and every shim and mount it made)
//! afterwards, also when the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use sha2::{Digest, Sha256};

const IMAGE: &str = "docker.io/library/drtest-busybox:latest";
const NS: &str = "drtest";

fn runtime() -> &'static str {
    env!("CARGO_BIN_EXE_docker-runtime-oci")
}

/// A containerd of the test's own.
struct Containerd {
    child: Child,
    dir: TempDir,
    sock: PathBuf,
}

impl Containerd {
    fn start(tag: &str) -> Containerd {
        let dir = TempDir::new(&format!("ctrd-{tag}"));
        let sock = dir.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\n[grpc]\n  address = \"{}\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_tcp_service = true\n",
            dir.join("root").display(),
            dir.join("state").display(),
            sock.display()
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("containerd.log")).unwrap())
            .spawn()
            .expect("containerd (scripts/setup.sh installs it)");
        let me = Containerd { child, dir, sock };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !me.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(&self.sock)
            .args(["-n", NS])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Import a busybox image (a docker-archive made here from the host's busybox-static).
    fn import_busybox(&self) {
        let tar = self.dir.join("image.tar");
        std::fs::write(&tar, docker_archive(&self.dir.join("layer"))).unwrap();
        self.ok(&["image", "import", tar.to_str().unwrap()]);
    }

    /// The task's status as `ctr task ls` shows it.
    fn task_status(&self, id: &str) -> String {
        self.ok(&["task", "ls"])
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let tasks = self.ctr(&["task", "ls", "-q"]);
        for id in String::from_utf8_lossy(&tasks.stdout).split_whitespace() {
            self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !self.ctr(&["task", "delete", id]).status.success() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let containers = self.ctr(&["container", "ls", "-q"]);
        for id in String::from_utf8_lossy(&containers.stdout).split_whitespace() {
            self.ctr(&["container", "delete", id]);
        }
        // SAFETY: kill takes a pid and a signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        // Shims of this containerd still running (a failed test), and its mounts.
        let mine = self.sock.display().to_string();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&mine) {
                if let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() {
                    // SAFETY: kill takes a pid and a signal.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let base = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&base))
            .collect();
        under.reverse();
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        // containerd names the cgroups `/NS/ID` (linux.cgroupsPath): the parent goes with the
        // last test using it (a busy one stays for that test).
        remove_ns_cgroups();
    }
}

/// The `/NS` cgroup folders the runtime made for containerd's cgroupsPath, in every
/// hierarchy (those still holding a container stay).
fn remove_ns_cgroups() {
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(h.path().join(NS));
    }
}

/// A docker-archive (`docker save`'s format, which `ctr image import` reads) of a busybox
/// tree laid out at `layer`.
fn docker_archive(layer: &Path) -> Vec<u8> {
    common::make_busybox_tree(layer);
    let mut layer_tar = tar::Builder::new(Vec::new());
    layer_tar.follow_symlinks(false);
    layer_tar.append_dir_all(".", layer).unwrap();
    let layer_tar = layer_tar.into_inner().unwrap();
    let diff_id = format!("sha256:{:x}", Sha256::digest(&layer_tar));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}
    })
    .to_string();
    let config_name = format!("{:x}.json", Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": [IMAGE], "Layers": ["layer/layer.tar"]
    }])
    .to_string();
    let mut out = tar::Builder::new(Vec::new());
    for (name, data) in [
        (config_name.as_str(), config.as_bytes()),
        ("layer/layer.tar", &layer_tar[..]),
        ("manifest.json", manifest.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, data).unwrap();
    }
    out.into_inner().unwrap()
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
