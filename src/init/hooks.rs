//! OCI hooks (runtime-spec `config.md`, "POSIX-platform Hooks"): [`run`] executes one, for the
//! helper (createContainer and startContainer, in the container's namespaces) and for the OCI
//! runtime (prestart, createRuntime, poststart and poststop, in its own). A hook gets the
//! container's state on its standard input, its own arguments and environment only, and its
//! output is captured (bounded) for the error message instead of reaching the container's
//! streams; it is killed when its timeout passes.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{mount, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

use crate::spawn::protocol::{self, InitConfig, Message};

/// How much of a hook's output is kept for its error message.
const OUTPUT_LIMIT: usize = 4096;

/// A memory file holding `state`, read from its start (the hook's standard input: it never
/// blocks us, whatever the hook reads).
fn state_file(state: &[u8]) -> Result<File, String> {
    // SAFETY: memfd_create with a NUL-terminated name; returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"oci-state".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!(
            "making the hook's state file: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let mut f = unsafe { File::from_raw_fd(fd) };
    f.write_all(state)
        .and_then(|()| f.rewind())
        .map_err(|e| format!("writing the hook's state: {e}"))?;
    Ok(f)
}

/// The hook's output so far, kept up to [`OUTPUT_LIMIT`] bytes (the rest is read and dropped,
/// so that the hook never blocks on a full pipe).
fn drain(pipe: &mut File, kept: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Nothing more for now (the pipe is non-blocking).
            Err(_) => return true,
        }
    }
}

/// The command for `hook`: its path, its argv (`args[0]` is argv[0]; the path when there are
/// none) and exactly its environment, with `stdin` and `output` as its streams.
fn command(hook: &Hook, stdin: File, output: &OwnedFd) -> Result<Command, String> {
    let out = output.try_clone().map_err(|e| format!("dup: {e}"))?;
    let err = output.try_clone().map_err(|e| format!("dup: {e}"))?;
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    match args.split_first() {
        Some((argv0, rest)) => {
            cmd.arg0(argv0).args(rest);
        }
        None => {
            cmd.arg0(hook.path());
        }
    }
    cmd.env_clear();
    for entry in hook.env().iter().flatten() {
        let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::from(stdin))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    // SAFETY: the closure runs in the forked child before exec and only makes one system call
    // (async-signal-safe): descriptors above 2 (a container's socket) do not reach the hook.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
    Ok(cmd)
}

/// Collect the output of the hook process `pidfd` from `pipe` until it exits (true) or
/// `deadline` passes (false).
fn watch(
    pidfd: &OwnedFd,
    pipe: &mut File,
    output: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> Result<bool, String> {
    let mut open = true;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        let wait = left.map_or(PollTimeout::NONE, |l| {
            PollTimeout::try_from(l.as_millis().min(60_000) as u64 + 1).unwrap_or(PollTimeout::MAX)
        });
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if open {
            fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, wait) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("waiting: {e}")),
        }
        let exited = fds[0].any().unwrap_or(false);
        // What it wrote (a process it left may hold the pipe after it exits: not waited for).
        if open {
            open = drain(pipe, output);
        }
        if exited {
            return Ok(true);
        }
    }
}

/// Run one `kind` hook (`createRuntime`, ...) with `state` on its standard input, until it
/// exits or its timeout passes (then it is killed). An error names the kind, the path and the
/// exit status or signal, with the start of the hook's output.
pub fn run(kind: &str, hook: &Hook, state: &[u8]) -> Result<(), String> {
    let path = hook.path().display();
    let fail = |why: String| format!("the {kind} hook {path} failed: {why}");
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .map_err(|e| fail(format!("pipe: {e}")))?;
    let mut child = command(hook, state_file(state).map_err(&fail)?, &write)
        .map_err(&fail)?
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    drop(write);
    let mut pipe = File::from(read);
    let mut output = Vec::new();
    let deadline = hook
        .timeout()
        .map(|s| Instant::now() + Duration::from_secs(s.max(1) as u64));
    let pidfd = match crate::proc::pidfd_open(child.id() as i32) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("watching it: {e}")));
        }
    };
    let exited = watch(&pidfd, &mut pipe, &mut output, deadline).map_err(&fail)?;
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        return Err(fail(format!(
            "it did not finish within its timeout of {} s and was killed",
            hook.timeout().unwrap_or_default()
        )));
    }
    let status = child.wait().map_err(|e| fail(e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    };
    let text = String::from_utf8_lossy(&output);
    let text = text.trim();
    Err(if text.is_empty() {
        fail(how)
    } else {
        fail(format!("{how}: {text}"))
    })
}

/// `template` (a state without them) with `status` and `pid` set, as JSON bytes.
pub fn state(template: &str, status: &str, pid: i32) -> Result<Vec<u8>, String> {
    let mut v: serde_json::Value =
        serde_json::from_str(template).map_err(|e| format!("the hooks' state: {e}"))?;
    v["status"] = status.into();
    v["pid"] = pid.into();
    Ok(v.to_string().into_bytes())
}

/// Before the root is entered (process `pid` as the host sees it): stop for the library's
/// prestart and createRuntime hooks when it has any, then run the createContainer hooks here,
/// in the container's namespaces with the host's file system still visible.
pub fn before_root(
    sock: std::os::fd::BorrowedFd<'_>,
    cfg: &InitConfig,
    pid: i32,
) -> Result<(), String> {
    if !cfg.runtime_hooks && cfg.create_container_hooks.is_empty() {
        return Ok(());
    }
    // What a hook mounts here must not reach the host (entering the root then makes every
    // mount private).
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| format!("making the mounts slaves for the hooks: {}", e.desc()))?;
    if cfg.runtime_hooks {
        protocol::send(sock, &Message::Prepared, None)
            .map_err(|e| format!("reporting the namespaces: {e}"))?;
        match protocol::recv(sock) {
            Ok(Some((Message::Proceed, _))) => {}
            Ok(Some((Message::Error { message }, _))) => return Err(message),
            Ok(other) => return Err(format!("expected proceed, got {other:?}")),
            Err(e) => return Err(format!("waiting for the runtime's hooks: {e}")),
        }
    }
    let state = state(&cfg.hook_state, "creating", pid)?;
    for hook in &cfg.create_container_hooks {
        run("createContainer", hook, &state)?;
    }
    Ok(())
}

/// Wait at the gate until another process opens it for reading (`start`), run the
/// startContainer hooks, and tell the reader: `0` when they passed, `1` and the error when
/// one failed (the error is also ours: the program does not run). The gate stays open until
/// the program is executed (close-on-exec), so its end tells the reader the program runs.
pub fn pass_gate(gate: &OwnedFd, cfg: &InitConfig, pid: i32) -> Result<(), String> {
    // Through our own /proc (the container's by now): the descriptor's FIFO, for writing.
    let path = format!("/proc/self/fd/{}", gate.as_raw_fd());
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| format!("waiting at the start gate: {e}"))?;
    if !cfg.start_container_hooks.is_empty() {
        let state = state(&cfg.hook_state, "created", pid)?;
        for hook in &cfg.start_container_hooks {
            if let Err(e) = run("startContainer", hook, &state) {
                let _ = w.write_all(format!("1{e}").as_bytes());
                return Err(e);
            }
        }
    }
    w.write_all(b"0")
        .map_err(|e| format!("passing the start gate: {e}"))?;
    // Kept open on purpose: closed by the program's exec (or our exit).
    let _ = w.into_raw_fd();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<i64>) -> Hook {
        serde_json::from_value(serde_json::json!({
            "path": "/bin/sh", "args": ["sh", "-c", script], "timeout": timeout
        }))
        .unwrap()
    }

    #[test]
    fn the_state_is_on_stdin_and_the_output_is_bounded() {
        let state = state(r#"{"id": "c1", "pid": 0}"#, "creating", 42).unwrap();
        let check = r#"read s; [ "$s" = '{"id":"c1","pid":42,"status":"creating"}' ]"#;
        run("createRuntime", &sh(check, None), &state).unwrap();
        // A hook that writes far more than is kept neither blocks nor floods the message.
        let e = run(
            "poststop",
            &sh("head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 2", None),
            b"{}",
        )
        .unwrap_err();
        assert!(
            e.starts_with("the poststop hook /bin/sh failed: exit status 2: xxx"),
            "{}",
            &e[..80]
        );
        assert!(e.len() < OUTPUT_LIMIT + 100, "{}", e.len());
        let e = run("prestart", &sh("kill -9 $$", Some(5)), b"{}").unwrap_err();
        assert!(e.ends_with("killed by signal 9"), "{e}");
        let e = run("prestart", &sh("exec sleep 30", Some(1)), b"{}").unwrap_err();
        assert!(e.contains("timeout of 1 s and was killed"), "{e}");
    }
}
