//! `create`, `start` and `run`: a bundle's container made by the engine, waiting at its gate
//! (`ROOT/ID/exec.fifo`) until `start` opens it. The helper does not stay as the container's
//! monitor: once `create` returns, the process belongs to the caller's subreaper (containerd's
//! shim), which reaps it and reads its exit status, as with runc.

use std::fs::File;
use std::io::{IoSlice, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use chrono::Utc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::Spec;

use super::cli::Invocation;
use super::fds::{self, Passed};
use super::fork::Forking;
use super::hooks;
use super::log::Log;
use super::store::{alive, cgroup_name, state_as, Record, Status, Store};
use crate::engine::plan::HookKind;
use crate::engine::{self, Hooks, Launch, Streams};
use crate::error::{Error, ErrorKind, Result};
use crate::proc::process_start_time;

/// `process.consoleSize` as (rows, columns), for the terminal.
fn console_size(spec: &Spec) -> Option<(u16, u16)> {
    let b = spec.process().as_ref()?.console_size()?;
    let clamp = |v: u64| v.min(u16::MAX as u64) as u16;
    Some((clamp(b.height()), clamp(b.width())))
}

/// The bundle's `config.json`.
pub(super) fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!(
                "the bundle {} has no config.json",
                bundle.display()
            ))
        } else {
            Error::io_path("reading", &path, e)
        }
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::corrupt(format!("{}: {e}", path.display())))
}

/// One of our standard streams, for the container (a copy: ours stay open).
fn inherited(fd: i32) -> Result<OwnedFd> {
    // SAFETY: 0, 1 and 2 are open in any process started normally; borrowed only to copy.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    borrowed
        .try_clone_to_owned()
        .map_err(|e| Error::io(format_args!("duplicating descriptor {fd}"), e))
}

/// Hand the terminal's master side to whoever listens on `socket` (one `SCM_RIGHTS` message,
/// as runc sends it).
fn send_console(socket: &Path, pty: &File) -> Result<()> {
    let conn = UnixStream::connect(socket)
        .map_err(|e| Error::io_path("connecting to the console socket", socket, e))?;
    let fds = [pty.as_raw_fd()];
    let name = b"/dev/ptmx";
    sendmsg::<()>(
        conn.as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::errno("sending the terminal to the console socket", e))?;
    Ok(())
}

/// Start `spec`'s process through the engine with our standard streams and the descriptors
/// `passed` on: a container waiting at `gate` (`create`, whose record `rec` gives the hooks
/// their state), or a process beside a running one (`exec`, `join`); the container's id is
/// the command's first argument.
fn launch(
    inv: &Invocation,
    passed: Passed,
    spec: &Spec,
    bundle: &Path,
    gate: Option<&Path>,
    join: Option<engine::Join<'_>>,
    rec: Option<&Record>,
) -> Result<engine::Launched> {
    let helper = crate::spawn::find_helper(None)?;
    let id = inv.args[0].as_str();
    engine::launch(
        &Forking,
        Launch {
            spec,
            bundle,
            helper: &helper,
            name: &cgroup_name(id),
            streams: Streams {
                stdin: inherited(0)?,
                stdout: inherited(1)?,
                stderr: inherited(2)?,
                preserved: passed.total,
            },
            exit_file: Path::new(""),
            tty_size: console_size(spec),
            seccomp_cache: Some(&inv.globals.root.join(".seccomp")),
            gate,
            // A new session keyring for a new container (unless asked not to); an exec'd
            // process keeps the caller's, as runc's.
            new_session_keyring: join.is_none() && !inv.flag("no-new-keyring"),
            join,
            hook_state: rec.map(|r| state_as(r, Status::Creating).to_string()),
        },
        Hooks {
            attach: &mut |_| Ok(()),
            running: &mut |_, _| Ok(()),
            created: &mut |pid| match rec {
                Some(r) => {
                    let r = Record { pid, ..r.clone() };
                    hooks::run(&r, HookKind::Prestart, Status::Creating)?;
                    hooks::run(&r, HookKind::CreateRuntime, Status::Creating)
                }
                None => Ok(()),
            },
        },
    )
}

/// Undoes a create that did not finish: the process (if made), its cgroup and the
/// container's folder; then, once the engine was asked to make the container (`rec`), its
/// poststop hooks.
struct Undo<'a> {
    store: &'a Store,
    id: &'a str,
    cgroup: crate::cgroup::CgroupPath,
    pid: Option<i32>,
    rec: Option<Record>,
    log: &'a Log,
    done: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(pid) = self.pid {
            // SAFETY: kill takes a pid and a signal.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if let Some(cg) = crate::cgroup::Cgroup::find(&self.cgroup) {
            cg.remove();
        }
        let _ = self.store.remove(self.id);
        if let Some(rec) = &self.rec {
            hooks::run_warning(self.log, rec, HookKind::Poststop, Status::Stopped);
        }
    }
}

/// Socket activation's variables for the container's process (runc's): the count, and its
/// pid as the process sees itself (1, its PID namespace's first).
fn listen_env(spec: &mut Spec, passed: Passed) {
    if passed.listen == 0 {
        return;
    }
    let mut process = spec.process().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
    env.push(format!("LISTEN_FDS={}", passed.listen));
    env.push("LISTEN_PID=1".into());
    process.set_env(Some(env));
    spec.set_process(Some(process));
}

/// `create`: the container made and waiting at its gate; its pid in `--pid-file`.
pub fn create(inv: &Invocation, log: &Log) -> Result<Record> {
    let passed = fds::passed(inv, true)?;
    if inv.globals.systemd_cgroup {
        return Err(Error::unsupported(
            "--systemd-cgroup: systemd's cgroup driver is not supported (the runtime manages \
             cgroups itself, as the cgroupfs driver does); set SystemdCgroup = false",
        ));
    }
    let id = inv.args[0].as_str();
    let bundle = bundle_of(inv)?;
    let mut spec = load_spec(&bundle)?;
    listen_env(&mut spec, passed);
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && inv.value("console-socket").is_none() {
        return Err(Error::invalid(
            "process.terminal is set but no --console-socket was given",
        ));
    }
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = engine::plan::cgroup_path(&spec, &cgroup_name(id))?;
    let store = Store::open(&inv.globals.root)?;
    store.reserve(id)?;
    let mut undo = Undo {
        store: &store,
        id,
        cgroup,
        pid: None,
        rec: None,
        log,
        done: false,
    };
    let gate = store.exec_fifo(id);
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| Error::errno("making the start gate", e))?;
    let mut rec = Record {
        id: id.to_string(),
        bundle: bundle.clone(),
        rootfs: engine::plan::rootfs(&spec, &bundle)?,
        pid: 0,
        pid_start: 0,
        created: Utc::now(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        hooks: spec.hooks().clone(),
        cgroups_path,
    };
    store.save(&rec)?;
    undo.rec = Some(rec.clone());
    let launched = launch(inv, passed, &spec, &bundle, Some(&gate), None, Some(&rec))?;
    undo.pid = Some(launched.pid);
    if let (Some(pty), Some(socket)) = (&launched.pty, inv.value("console-socket")) {
        send_console(Path::new(socket), pty)?;
    }
    rec.pid = launched.pid;
    rec.pid_start = process_start_time(launched.pid).ok_or_else(|| {
        Error::new(
            ErrorKind::Io,
            "the container's process ended while it was made",
        )
    })?;
    store.save(&rec)?;
    if let Some(path) = inv.value("pid-file") {
        // As runc: whole or absent for its reader (containerd's shim), not fsynced (the pid
        // of a process names nothing after a reboot).
        crate::fsutil::write_atomic_unsynced(
            Path::new(path),
            rec.pid.to_string().as_bytes(),
            0o644,
        )?;
    }
    undo.done = true;
    Ok(rec)
}

/// How a created container's start went.
pub enum Started {
    /// Its program runs (it has been executed, when the container has poststart hooks).
    Running(Record),
    /// A startContainer hook failed: its process is ending, and the container is to be
    /// destroyed.
    HookFailed(Record, Error),
}

/// `start`: open the gate of a created container and read its answer.
pub fn start(store: &Store, id: &str) -> Result<Started> {
    let _lock = store.lock(id)?;
    let rec = store.load(id)?;
    match store.status(&rec) {
        Status::Created => {}
        Status::Running => {
            return Err(Error::in_use(format!(
                "cannot start container \"{id}\": it is already running"
            )))
        }
        other => {
            return Err(Error::in_use(format!(
                "cannot start container \"{id}\": it is {}",
                other.name()
            )))
        }
    }
    let gate = store.exec_fifo(id);
    let r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&gate)
        .map_err(|e| Error::io_path("opening the start gate", &gate, e))?;
    let answer = read_gate(r, &rec, hooks::has(&rec, HookKind::Poststart));
    let _ = std::fs::remove_file(&gate);
    match answer.split_first() {
        Some((b'0', _)) => Ok(Started::Running(rec)),
        Some((b'1', why)) => {
            let e = Error::new(ErrorKind::Io, String::from_utf8_lossy(why).into_owned());
            Ok(Started::HookFailed(rec, e))
        }
        _ => Err(Error::new(
            ErrorKind::Io,
            format!("container \"{id}\" did not pass its start gate (it may have exited)"),
        )),
    }
}

/// The answer the container's process writes into the gate once it is opened (`0`: passed;
/// `1` and an error: a startContainer hook failed), read while the process lives. With
/// `until_exec`, read until the process closes its end, which its program's exec does.
fn read_gate(mut r: File, rec: &Record, until_exec: bool) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(100u16)).unwrap_or(0) > 0;
        if !ready && alive(rec.pid, rec.pid_start) {
            continue;
        }
        match r.read(&mut buf) {
            // Its end closed (only once it was open: before, poll does not wake us).
            Ok(0) => return got,
            Ok(n) if got.len() < 65536 => got.extend_from_slice(&buf[..n]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && ready => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return got,
        }
        if !ready || (got.first() == Some(&b'0') && !until_exec) {
            // Passed, or the process is gone: nothing more will come.
            return got;
        }
    }
}

/// The bundle folder a command names (absolute).
pub fn bundle_of(inv: &Invocation) -> Result<PathBuf> {
    std::path::absolute(inv.value("bundle").unwrap_or("."))
        .map_err(|e| Error::io("finding the bundle", e))
}

/// Take the processes our helpers leave behind (a container's first one, an exec'd one) as
/// their subreaper, so that we can wait for them.
pub fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(Error::io(
            "becoming a subreaper",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Wait for the container's process (ours to reap: we are its subreaper); its exit status as
/// a shell gives it.
pub fn wait_exit(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            // Not ours (another subreaper took it): the status cannot be read.
            Err(_) => return 255,
        }
    }
}

/// A numeric id given to an `exec` option (`--user 1000:1000`, `--additional-gids 27`).
fn number(option: &str, text: &str) -> Result<u32> {
    text.parse().map_err(|_| {
        Error::invalid(format!(
            "exec {option}: {text:?} is not a number (ids are numeric, as with runc)"
        ))
    })
}

/// `exec --cap NAME`: the capability added to the process's bounding, effective and permitted
/// sets (and its ambient set when it has an inheritable one), as runc does.
fn add_capabilities(p: &mut oci_spec::runtime::Process, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    for name in names {
        // The spec's own spelling rules: `NET_RAW` or `CAP_NET_RAW`, any case.
        let cap: oci_spec::runtime::Capability =
            serde_json::from_value(serde_json::Value::from(name.as_str()))
                .map_err(|_| Error::invalid(format!("exec --cap: unknown capability {name:?}")))?;
        let add = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut set = set.clone().unwrap_or_default();
            set.insert(cap);
            Some(set)
        };
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
        if caps.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
            caps.set_ambient(add(caps.ambient()));
        }
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

/// The process `exec` runs: `--process FILE` (a runtime-spec process, as containerd's shim
/// writes it), or the container's own with the command line's program (`exec ID CMD...`).
fn exec_process(inv: &Invocation, spec: &Spec) -> Result<oci_spec::runtime::Process> {
    if let Some(path) = inv.value("process") {
        let text =
            std::fs::read(path).map_err(|e| Error::io_path("reading", Path::new(path), e))?;
        return serde_json::from_slice(&text)
            .map_err(|e| Error::corrupt(format!("the process file {path}: {e}")));
    }
    if inv.args.len() < 2 {
        return Err(Error::invalid(
            "exec: give --process FILE or a command after the container id",
        ));
    }
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(inv.args[1..].to_vec()));
    p.set_terminal(Some(inv.flag("tty")));
    if let Some(cwd) = inv.value("cwd") {
        p.set_cwd(PathBuf::from(cwd));
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in inv.values("env") {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(user) = inv.value("user") {
        // Without a gid the process keeps the container's (as runc).
        let (uid, gid) = user
            .split_once(':')
            .map_or((user, None), |(u, g)| (u, Some(g)));
        p.user_mut().set_uid(number("--user", uid)?);
        if let Some(gid) = gid {
            p.user_mut().set_gid(number("--user", gid)?);
        }
    }
    let gids = inv.values("additional-gids");
    if !gids.is_empty() {
        let gids = gids.iter().map(|g| number("--additional-gids", g));
        p.user_mut()
            .set_additional_gids(Some(gids.collect::<Result<_>>()?));
    }
    add_capabilities(&mut p, inv.values("cap"))?;
    if inv.flag("no-new-privs") {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// `exec`: a process run beside a running container, in its namespaces and cgroup, with the
/// container's seccomp filter and the process's own user, capabilities and limits. Its pid in
/// `--pid-file`; without `--detach`, waited for (its status is ours).
pub fn exec(inv: &Invocation) -> Result<i32> {
    let passed = fds::passed(inv, false)?;
    let store = Store::open(&inv.globals.root)?;
    let id = inv.args[0].as_str();
    let rec = store.load(id)?;
    if store.status(&rec) != Status::Running {
        return Err(Error::in_use(format!("container \"{id}\" not running")));
    }
    let mut spec = load_spec(&rec.bundle)?;
    let process = exec_process(inv, &spec)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && inv.value("console-socket").is_none() {
        return Err(Error::invalid(
            "the process has a terminal but no --console-socket was given",
        ));
    }
    spec.set_process(Some(process));
    // The container's hooks belong to its creation, not to a process run beside it.
    spec.set_hooks(None);
    let detach = inv.flag("detach");
    if !detach {
        become_subreaper()?;
    }
    let cgroup = rec.cgroup();
    let join = engine::Join {
        pid: rec.pid,
        cgroup: cgroup.as_ref(),
        // The process is left to our subreaper, as runc leaves it to containerd's shim.
        monitor: false,
    };
    let launched = launch(inv, passed, &spec, &rec.bundle, None, Some(join), None)?;
    let handed = (|| {
        if let (Some(pty), Some(socket)) = (&launched.pty, inv.value("console-socket")) {
            send_console(Path::new(socket), pty)?;
        }
        match inv.value("pid-file") {
            Some(path) => crate::fsutil::write_atomic_unsynced(
                Path::new(path),
                launched.pid.to_string().as_bytes(),
                0o644,
            ),
            None => Ok(()),
        }
    })();
    if let Err(e) = handed {
        // SAFETY: kill takes a pid and a signal.
        unsafe { libc::kill(launched.pid, libc::SIGKILL) };
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    Ok(wait_exit(launched.pid))
}
