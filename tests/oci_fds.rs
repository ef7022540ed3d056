//! `docker-runtime-oci` handing descriptors past 0-2 to the container's process, as runc:
//! `--preserve-fds N` on `run`/`create` and `exec` (the caller's 3 to 3+N-1, at the same
//! numbers), systemd's socket activation (`LISTEN_FDS` with our pid in `LISTEN_PID`: those
//! first, and `LISTEN_FDS`/`LISTEN_PID=1` in the process's environment), and nothing else: a
//! descriptor not handed on never reaches the container.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::oci::{become_subreaper, bundle, fails, json, oci, oci_to, ok, wait_status};
use common::TempDir;

const OCI: &str = env!("CARGO_BIN_EXE_docker-runtime-oci");

/// Lists which of descriptors 3 to 9 the shell has open.
const LIST_OPEN: &str =
    "for f in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$f ] && echo open $f; done; true";

/// A pipe holding `data`, its writing end closed: its reader gets `data`, then the end.
fn pipe_with(data: &str) -> OwnedFd {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    nix::unistd::write(&w, data.as_bytes()).unwrap();
    r
}

/// `cmd` run with `fds` at the given numbers (inherited, as a caller such as containerd's shim
/// passes them) and every other descriptor of ours left behind (they are close-on-exec).
fn run_with(mut cmd: Command, fds: &[(i32, &OwnedFd)]) -> Output {
    // Copies far above the targets first, so that no target overwrites a source.
    let high: Vec<(i32, OwnedFd)> = fds
        .iter()
        .map(|(target, fd)| {
            // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor, which we own.
            let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
            assert!(n >= 100);
            // SAFETY: n was just made by fcntl.
            (*target, unsafe { OwnedFd::from_raw_fd(n) })
        })
        .collect();
    let pairs: Vec<(i32, i32)> = high.iter().map(|(t, fd)| (*t, fd.as_raw_fd())).collect();
    // SAFETY: dup2 alone (async-signal-safe) in the forked child; dup2 leaves the copy
    // without close-on-exec, so it is inherited.
    unsafe {
        cmd.pre_exec(move || {
            for (target, src) in &pairs {
                if libc::dup2(*src, *target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    drop(high);
    out
}

fn oci_cmd(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(OCI);
    cmd.arg("--root").arg(root).args(args);
    cmd
}

/// A file of the host the container must not see (as a caller's descriptor it did not hand
/// on: a log, a socket of containerd's).
fn secret(dir: &TempDir) -> OwnedFd {
    let path = dir.join("secret");
    std::fs::write(&path, "secret\n").unwrap();
    std::fs::File::open(path).unwrap().into()
}

/// The attack: a caller holds descriptors it does not mean to give (here at 4 and 7) beside
/// the one it preserves (3). A process started plainly with them (the host's shell, the
/// control) sees all three; the container sees 3 alone. Without the helper's close-on-exec
/// sweep before the program's exec (`init::exec`: `close_range` from the socket up) and its
/// closing of what it inherited past the socket (`init::library_socket`), 4 (by then the
/// helper's socket) and 7 would show in the list as they do in the control.
#[test]
fn run_hands_the_preserved_descriptor_on_and_no_other() {
    let dir = TempDir::new("ofd-run");
    let root = dir.join("root");
    let script = format!("cat <&3; {LIST_OPEN}");
    let b = bundle(&dir.join(""), &["sh", "-c", &script], false);
    let secret = secret(&dir);
    let mut control = Command::new("sh");
    control.args(["-c", &script]);
    let data = pipe_with("through fd 3\n");
    let out = run_with(control, &[(3, &data), (4, &secret), (7, &secret)]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "through fd 3\nopen 3\nopen 4\nopen 7\n",
        "the control sees what the caller holds"
    );
    let data = pipe_with("through fd 3\n");
    let cmd = oci_cmd(
        &root,
        &[
            "run",
            "--preserve-fds",
            "1",
            "--bundle",
            b.to_str().unwrap(),
            "f1",
        ],
    );
    let out = run_with(cmd, &[(3, &data), (4, &secret), (7, &secret)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "through fd 3\nopen 3\n"
    );
    // Without --preserve-fds nothing past 2 arrives.
    let data = pipe_with("unseen\n");
    let plain = bundle(&dir.join("plain"), &["sh", "-c", LIST_OPEN], false);
    let cmd = oci_cmd(&root, &["run", "--bundle", plain.to_str().unwrap(), "f2"]);
    let out = run_with(cmd, &[(3, &data), (4, &secret)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
}

/// systemd's socket activation through the runtime (its `LISTEN_FDS` first, then the
/// preserved ones), and `exec --preserve-fds` beside a running container.
#[test]
fn socket_activation_and_exec_hand_descriptors_on() {
    become_subreaper();
    let dir = TempDir::new("ofd-listen");
    let root = dir.join("root");
    let script = format!("echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4; {LIST_OPEN}");
    let b = bundle(&dir.join(""), &["sh", "-c", &script], false);
    // LISTEN_PID must be the runtime's own pid: a shell that execs it sets it.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "export LISTEN_PID=$$; exec \"$@\"",
        "sh",
        OCI,
        "--root",
    ])
    .arg(&root)
    .args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.to_str().unwrap(),
        "l1",
    ])
    .env("LISTEN_FDS", "1");
    let (listen, kept) = (pipe_with("listened\n"), pipe_with("preserved\n"));
    let secret = secret(&dir);
    let out = run_with(cmd, &[(3, &listen), (4, &kept), (5, &secret)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1 1\nlistened\npreserved\nopen 3\nopen 4\n"
    );
    // LISTEN_FDS meant for another process (its pid not ours) is left alone.
    let mut cmd = oci_cmd(&root, &["run", "--bundle", b.to_str().unwrap(), "l2"]);
    cmd.env("LISTEN_FDS", "1").env("LISTEN_PID", "1");
    let out = run_with(cmd, &[(3, &pipe_with("x\n"))]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("\n"),
        "{out:?}"
    );

    let sleeper = bundle(&dir.join("sleeper"), &["sleep", "300"], false);
    let io = dir.join("io");
    let s = sleeper.to_str().unwrap();
    assert!(oci_to(&root, &["create", "--bundle", s, "e1"], &io).success());
    let pid = json(&ok(&oci(&root, &["state", "e1"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    ok(&oci(&root, &["start", "e1"]));
    let script = format!("cat <&3; cat <&4; {LIST_OPEN}");
    let cmd = oci_cmd(
        &root,
        &["exec", "--preserve-fds", "2", "e1", "sh", "-c", &script],
    );
    let (a, b2) = (pipe_with("a\n"), pipe_with("b\n"));
    let out = run_with(cmd, &[(3, &a), (4, &b2), (6, &secret)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a\nb\nopen 3\nopen 4\n"
    );
    ok(&oci(&root, &["kill", "e1", "KILL"]));
    wait_status(pid);
    ok(&oci(&root, &["delete", "e1"]));
}

/// A descriptor to preserve that the caller did not give, or a count that is no number: a
/// clear error naming it, nothing made.
#[test]
fn missing_or_bad_preserved_descriptors_are_refused() {
    let dir = TempDir::new("ofd-bad");
    let root = dir.join("root");
    let b = bundle(&dir.join(""), &["true"], false);
    let bundle_arg = b.to_str().unwrap();
    let data = pipe_with("x\n");
    let log = dir.join("log.json");
    let cmd = oci_cmd(
        &root,
        &[
            "--log",
            log.to_str().unwrap(),
            "create",
            "--preserve-fds",
            "3",
            "--bundle",
            bundle_arg,
            "b1",
        ],
    );
    let out = run_with(cmd, &[(3, &data)]);
    let err = fails(&out);
    assert!(err.contains("--preserve-fds 3: descriptor 4"), "{err}");
    let cmd = oci_cmd(
        &root,
        &[
            "run",
            "--preserve-fds",
            "lots",
            "--bundle",
            bundle_arg,
            "b2",
        ],
    );
    let err = fails(&run_with(cmd, &[]));
    assert!(err.contains("invalid --preserve-fds \"lots\""), "{err}");
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
    for id in ["b1", "b2"] {
        assert!(common::oci::cgroup_dir(id).is_none(), "no cgroup for {id}");
        assert!(!root.join(id).exists());
    }
}
