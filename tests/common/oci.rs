//! The `docker-runtime-oci` command as containerd's shim runs it, for the OCI tests: a bundle
//! of busybox, the command with its output captured, the state it reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn oci(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docker-runtime-oci"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The error of a failed run (exit status 1).
pub fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stderr.clone()).unwrap()
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

pub fn status(root: &Path, id: &str) -> String {
    json(&ok(&oci(root, &["state", id])))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A bundle at `dir`: a busybox root file system and a `config.json` running `args`, in the
/// shape containerd writes (what the engine executes of it).
pub fn bundle(dir: &Path, args: &[&str], terminal: bool) -> PathBuf {
    let b = dir.join("bundle");
    super::make_busybox_tree(&b.join("rootfs"));
    let caps = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_NET_BIND_SERVICE",
    ];
    let mount =
        |dst: &str, typ: &str| serde_json::json!({"destination": dst, "type": typ, "source": typ});
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs"},
        "hostname": "oci-test",
        "mounts": [
            mount("/proc", "proc"), mount("/sys", "sysfs"), mount("/dev", "tmpfs"),
            mount("/dev/pts", "devpts"), mount("/dev/shm", "tmpfs"), mount("/dev/mqueue", "mqueue")
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
                           {"type": "network"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        }
    });
    std::fs::write(b.join("config.json"), config.to_string()).unwrap();
    b
}

/// This test process as the containers' subreaper, as containerd's shim is: the container's
/// first process is reparented to it when the helper leaves, and it reads the exit status.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

pub fn wait_status(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid writes the status into our integer.
    let got = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(got, pid, "the container's process is this test's to reap");
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// `docker-runtime-oci` with its standard output and error going to files (as the shim gives
/// it pipes or FIFOs), which the container inherits untouched.
pub fn oci_to(root: &Path, args: &[&str], out: &Path) -> std::process::ExitStatus {
    Command::new(env!("CARGO_BIN_EXE_docker-runtime-oci"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
        .status()
        .unwrap()
}

/// The container's cgroup folder on this host's v2 hierarchy (hybrid or pure), if any.
pub fn cgroup_dir(id: &str) -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(|b| {
            Path::new(b)
                .join("docker-runtime")
                .join(format!("oci-{id}"))
        })
        .find(|p| p.exists())
}
