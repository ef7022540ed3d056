//! `docker-init`: the helper that starts a container (v0.1.0's sysinit step). The library
//! starts it with a plain spawn; it is a fresh single-threaded process, so it may unshare,
//! mount, `pivot_root`, drop capabilities, switch user and `exec`, reporting each step over
//! the socket at fd 3 (see `spawn::protocol`). Descriptors the caller hands the container's
//! process (an OCI runtime's `--preserve-fds`) sit at 3 and up, the socket right past them.
//!
//! It forks once: the parent stays in the host's namespaces (those given by path aside) as a
//! tiny monitor that waits for the container, writes its exit status to the container's
//! folder (so it survives a restart of the library's process) and exits with that status; the
//! child becomes pid 1 of the new PID namespace and turns into the container's program.
//!
//! Before the fork it makes the container's device nodes (`devices`), joins the namespaces
//! given by path (a joined PID namespace so holds the forked process) and, for a user
//! namespace, forks the process into it and writes its id maps from outside (`userns`). The
//! cgroup namespace and `cgroup` mounts come last, once the library has put the process in
//! all its cgroups (`cgroupfs`). A warm helper (started ahead) makes the container's network
//! namespace while it waits, and so stays in it as the monitor (`netns`).

mod binds;
pub mod caps;
mod cgroupfs;
mod devices;
pub mod hooks;
mod netns;
mod sys;
mod userns;

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, fork, pivot_root, sethostname, ForkResult, Pid};

use crate::spawn::protocol::{
    self, InitConfig, Message, INIT_PARENT_ENV, INIT_SOCKET_ENV, INIT_SOCKET_FD, PROTOCOL_VERSION,
};
use netns::NetAhead;
use sys::{errno_msg, mnt, remount_adding, Res};

/// Exit status when the program cannot be found (as a shell does).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit status when the program exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;

/// The socket to the library at `sock_fd`: fd 3, or past the descriptors handed on to the
/// container's process (see `spawn::protocol`). Descriptors above it that a host process
/// leaked to us (without close-on-exec) go. None when no socket is there: not started by the
/// library.
fn library_socket(sock_fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: close_range on descriptors this fresh process does not use.
    unsafe { libc::syscall(libc::SYS_close_range, sock_fd as u32 + 1, u32::MAX, 0u32) };
    // SAFETY: a zeroed stat is valid for fstat to fill; fstat only reads the descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let is_socket = unsafe { libc::fstat(sock_fd, &mut st) } == 0
        && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
    // SAFETY: the socket the library placed there; this process owns it from now on.
    is_socket.then(|| unsafe { OwnedFd::from_raw_fd(sock_fd) })
}

/// A warm helper ([`INIT_PARENT_ENV`]): killed when the thread that started it ends, gone at
/// once when that already happened (its parent is another process by now). True for a warm
/// helper.
fn die_with_parent() -> Result<bool, String> {
    let Some(parent) = std::env::var(INIT_PARENT_ENV)
        .ok()
        .and_then(|v| v.parse::<libc::pid_t>().ok())
    else {
        return Ok(false);
    };
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } < 0 {
        return Err(errno_msg("setting the parent death signal", Errno::last()));
    }
    // SAFETY: getppid has no arguments and cannot fail.
    if unsafe { libc::getppid() } != parent {
        return Err("the library that started this warm helper is gone".into());
    }
    Ok(true)
}

/// The entry point of the `docker-init` program (its argument, the container id, only names it
/// in `ps`). Returns the exit status.
pub fn main() -> i32 {
    let sock_fd = std::env::var(INIT_SOCKET_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|fd| *fd >= INIT_SOCKET_FD)
        .unwrap_or(INIT_SOCKET_FD);
    match die_with_parent() {
        Ok(warm) => serve_with(sock_fd, warm),
        Err(e) => {
            eprintln!("docker-init: {e}");
            1
        }
    }
}

/// The helper's work, with the library's socket at `sock_fd`: in `docker-init`, or in a fork
/// of a single-threaded program of this crate (the OCI runtime command), whose descriptors
/// were put in place as `docker-init`'s are. Returns the exit status.
pub fn serve(sock_fd: RawFd) -> i32 {
    serve_with(sock_fd, false)
}

/// [`serve`]; a `warm` helper (started ahead, waiting for its container) makes the network
/// namespace ahead (see `netns`).
fn serve_with(sock_fd: RawFd, warm: bool) -> i32 {
    let Some(sock) = library_socket(sock_fd) else {
        eprintln!(
            "docker-init: this program is started by the docker-runtime library, not by hand"
        );
        return 2;
    };
    let sock_fd = sock.as_raw_fd();
    let (cfg, net_ahead) = match handshake(sock.as_fd(), warm) {
        Ok(c) => c,
        Err(e) => {
            let _ = protocol::send(sock.as_fd(), &Message::Error { message: e.clone() }, None);
            eprintln!("docker-init: {e}");
            return 1;
        }
    };
    // A session of its own: the library's terminal and process group signals do not reach us.
    let _ = nix::unistd::setsid();
    // Opened first: the host's path is gone once a container's mount namespace is joined.
    let cgroup = match open_cgroup(&cfg.cgroup) {
        Ok(c) => c,
        Err(message) => {
            let _ = protocol::send(sock.as_fd(), &Message::Error { message }, None);
            return 1;
        }
    };
    let prepared = match before_fork(&cfg, net_ahead) {
        Ok(p) => p,
        Err(message) => {
            let _ = protocol::send(sock.as_fd(), &Message::Error { message }, None);
            return 1;
        }
    };
    let forked = fork_into(cgroup.as_ref(), &cfg.cgroup, prepared.clone_flags);
    if matches!(forked, Ok(ForkResult::Parent { .. })) && sock_fd > INIT_SOCKET_FD {
        // The descriptors handed on are the process's alone: a monitor holding a pipe's end
        // would keep its reader from seeing the end.
        // SAFETY: close_range on descriptors this process no longer uses.
        unsafe { libc::syscall(libc::SYS_close_range, 3u32, sock_fd as u32 - 1, 0u32) };
    }
    match forked {
        Err(message) => {
            let _ = protocol::send(sock.as_fd(), &Message::Error { message }, None);
            1
        }
        Ok(ForkResult::Child) => in_child(sock.as_fd(), &cfg, prepared),
        Ok(ForkResult::Parent { child }) if cfg.join > 0 => {
            // Only we see its host pid (the child's /proc is the container's now).
            let ready = Message::Ready {
                pid: child.as_raw(),
            };
            let _ = protocol::send(sock.as_fd(), &ready, None);
            if !cfg.join_monitor {
                return 0;
            }
            // The library reads the program's last words (and the end of the conversation)
            // from its copy of the socket alone.
            drop(sock);
            monitor(child, None)
        }
        Ok(ForkResult::Parent { child }) => {
            if let Err(message) = let_go(child, &cfg, prepared) {
                let _ = protocol::send(sock.as_fd(), &Message::Error { message }, None);
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(child, None);
                return 1;
            }
            drop(sock);
            if cfg.gate.is_empty() {
                monitor(child, Some(&cfg.exit_file))
            } else {
                // The caller's subreaper takes the container's process over from here.
                0
            }
        }
    }
}

/// The forked process: the container's first process (or the one beside a running
/// container); exits with the status of a failed step or a program that cannot be executed.
fn in_child(sock: BorrowedFd<'_>, cfg: &InitConfig, mut prepared: Prepared) -> ! {
    let run = if cfg.join > 0 {
        joined(sock, cfg)
    } else {
        let maps = prepared.maps.take().map(|(wait, go)| {
            drop(go);
            wait
        });
        child(sock, cfg, &prepared, maps)
    };
    let status = match run {
        Ok(never) => match never {},
        Err((status, msg)) => {
            if status == 1 {
                let _ = protocol::send(
                    sock,
                    &Message::Error {
                        message: msg.clone(),
                    },
                    None,
                );
            } else {
                let _ = writeln!(std::io::stderr(), "docker-init: {msg}");
            }
            status
        }
    };
    // SAFETY: _exit skips atexit handlers and buffered state, as a failed exec should.
    unsafe { libc::_exit(status) }
}

/// The helper's side once the container's process is forked: its own copies of the store and
/// the gate go (the process has its own), and a new user namespace gets its maps before the
/// process goes on.
fn let_go(child: Pid, cfg: &InitConfig, prepared: Prepared) -> Res<()> {
    let Prepared {
        maps, store, gate, ..
    } = prepared;
    drop((store, gate));
    match maps {
        Some((wait, go)) => {
            drop(wait);
            userns::write_maps(child, &cfg.uid_map, &cfg.gid_map, go)
        }
        None => Ok(()),
    }
}

/// What the helper made before forking the container's process.
struct Prepared {
    /// `clone3` flags for the fork (new PID and user namespaces).
    clone_flags: u64,
    /// The helper is in the container's new network namespace already (made ahead).
    in_new_netns: bool,
    /// The device nodes' store (see `devices`); none beside a running container.
    store: Option<OwnedFd>,
    /// With a new user namespace, the pipe the process waits at for its maps: (read, write).
    maps: Option<(OwnedFd, OwnedFd)>,
    /// The gate (see [`InitConfig::gate`]): a host path, so held from here, and reopened by
    /// the process once the host's tree is gone.
    gate: Option<OwnedFd>,
}

/// The steps in the helper before the fork: a network namespace made ahead handed over or
/// given up (see `netns`); beside a running container, its namespaces joined; for a new one, the device nodes made (in the host's user namespace, see
/// `devices`), the namespaces given by path joined (the process is forked into them, a PID
/// namespace's member from the start) and the PID and user namespaces to make named.
fn before_fork(cfg: &InitConfig, net_ahead: Option<NetAhead>) -> Res<Prepared> {
    let in_new_netns = match net_ahead {
        Some(net) => net.hand_over(cfg)?,
        None => false,
    };
    if cfg.join > 0 {
        join_namespaces(cfg.join)?;
        return Ok(Prepared {
            clone_flags: 0,
            in_new_netns,
            store: None,
            maps: None,
            gate: None,
        });
    }
    let store = devices::make_store(&cfg.devices)?;
    let gate = if cfg.gate.is_empty() {
        None
    } else {
        Some(open_gate(&cfg.gate, &cfg.uid_map, &cfg.gid_map)?)
    };
    let mut files = Vec::new();
    for (kind, path) in &cfg.join_namespaces {
        let file = fs::File::open(path)
            .map_err(|e| format!("opening the {kind} namespace {path}: {e}"))?;
        files.push((kind, path, file));
    }
    // A user namespace first: it owns the others.
    files.sort_by_key(|(kind, _, _)| kind.as_str() != "user");
    for (kind, path, file) in files {
        let flag = match kind.as_str() {
            "user" => CloneFlags::CLONE_NEWUSER,
            "net" => CloneFlags::CLONE_NEWNET,
            "ipc" => CloneFlags::CLONE_NEWIPC,
            "pid" => CloneFlags::CLONE_NEWPID,
            "cgroup" => CloneFlags::CLONE_NEWCGROUP,
            _ => CloneFlags::CLONE_NEWUTS,
        };
        nix::sched::setns(file, flag)
            .map_err(|e| errno_msg(format_args!("joining the {kind} namespace {path}"), e))?;
    }
    let new_pid = !cfg.join_namespaces.iter().any(|(k, _)| k == "pid");
    let (mut clone_flags, mut maps) = (0, None);
    if !cfg.uid_map.is_empty() && !joins_user(cfg) {
        // Made together, so that the new user namespace owns the PID namespace.
        clone_flags = libc::CLONE_NEWUSER as u64;
        if new_pid {
            clone_flags |= libc::CLONE_NEWPID as u64;
        }
        maps = Some(userns::pipe()?);
    } else if new_pid {
        unshare(CloneFlags::CLONE_NEWPID)
            .map_err(|e| errno_msg("creating the PID namespace", e))?;
    }
    Ok(Prepared {
        clone_flags,
        in_new_netns,
        store: Some(store),
        maps,
        gate,
    })
}

fn joins_user(cfg: &InitConfig) -> bool {
    cfg.join_namespaces.iter().any(|(k, _)| k == "user")
}

/// `CLONE_INTO_CGROUP` (`include/uapi/linux/sched.h`; libc's constant is an overflowing int).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of `clone3` (up to `cgroup`, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The cgroup v2 folder `cgroup` (none when empty), for [`fork_into`].
fn open_cgroup(cgroup: &str) -> Res<Option<fs::File>> {
    if cgroup.is_empty() {
        return Ok(None);
    }
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(cgroup)
        .map(Some)
        .map_err(|e| format!("opening the container's cgroup {cgroup}: {e}"))
}

/// Fork the container's first process: plainly, or with `clone3`, into new namespaces
/// (`flags`: `CLONE_NEWPID`, `CLONE_NEWUSER`) and with `CLONE_INTO_CGROUP` straight into the
/// cgroup v2 folder `cgroup`, so that it is in the cgroup from its first instruction (the
/// monitor, this process, stays outside: it must not be frozen with the container). A fork
/// into a cgroup takes the cgroup lock only for reading; moving a process later would wait
/// for an RCU grace period (~10 ms).
fn fork_into(dir: Option<&fs::File>, cgroup: &str, flags: u64) -> Res<ForkResult> {
    if dir.is_none() && flags == 0 {
        // SAFETY: this process is single-threaded, so the child may run any code.
        return unsafe { fork() }.map_err(|e| errno_msg("fork", e));
    }
    let mut args = CloneArgs {
        flags: flags | dir.map_or(0, |_| CLONE_INTO_CGROUP),
        exit_signal: libc::SIGCHLD as u64,
        cgroup: dir.map_or(0, |d| d.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM or a stack duplicates this single-threaded process as
    // fork does (the child runs on its own copy of the memory and returns 0); `args` lives
    // across the call and its size is passed with it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match pid {
        0 => Ok(ForkResult::Child),
        p if p > 0 => Ok(ForkResult::Parent {
            child: Pid::from_raw(p as i32),
        }),
        _ if dir.is_none() => Err(errno_msg(
            "starting the container's process (clone3)",
            nix::errno::Errno::last(),
        )),
        _ => Err(errno_msg(
            format_args!("starting the container's process in its cgroup {cgroup} (clone3)"),
            nix::errno::Errno::last(),
        )),
    }
}

/// Greet the library and read the container's config. A `warm` helper (see [`serve_with`])
/// makes the network namespace ahead once it has greeted: the library counts it ready from
/// its greeting, and a start meanwhile only waits in the socket.
fn handshake(sock: BorrowedFd<'_>, warm: bool) -> Res<(InitConfig, Option<NetAhead>)> {
    protocol::send(
        sock,
        &Message::Hello {
            version: PROTOCOL_VERSION,
        },
        None,
    )
    .map_err(|e| format!("greeting the library: {e}"))?;
    let net_ahead = warm.then(NetAhead::make).flatten();
    let mut first =
        protocol::recv_fds(sock).map_err(|e| format!("reading the container config: {e}"))?;
    if let Some((Message::Stdio, fds)) = first {
        // A warm helper: the container's streams arrive now.
        take_stdio(fds)?;
        first =
            protocol::recv_fds(sock).map_err(|e| format!("reading the container config: {e}"))?;
    }
    match first {
        Some((Message::Start(cfg), _)) if cfg.version == PROTOCOL_VERSION => Ok((*cfg, net_ahead)),
        Some((Message::Start(cfg), _)) => Err(format!(
            "the library speaks protocol {}, this docker-init speaks {PROTOCOL_VERSION}: use the docker-init of the same build",
            cfg.version
        )),
        Some((other, _)) => Err(format!("expected the container config, got {other:?}")),
        None => Err("the library closed the connection".into()),
    }
}

/// A warm helper's container streams, put at 0, 1 and 2; the helper no longer dies with the
/// thread that started it (it now outlives the library as a cold one does).
fn take_stdio(fds: Vec<OwnedFd>) -> Res<()> {
    if fds.len() != 3 {
        return Err(format!(
            "expected the 3 standard stream descriptors, got {}",
            fds.len()
        ));
    }
    for (target, fd) in fds.iter().enumerate() {
        // SAFETY: dup2 onto the standard stream numbers this process owns; `fd` stays ours
        // (closed when dropped: dup2 leaves the copy without close-on-exec).
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            return Err(errno_msg(
                "putting the container's streams in place",
                Errno::last(),
            ));
        }
    }
    // SAFETY: prctl with PR_SET_PDEATHSIG 0 only clears this process's death signal.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) } < 0 {
        return Err(errno_msg("clearing the parent death signal", Errno::last()));
    }
    Ok(())
}

/// The host-side monitor: wait for the container (or the program beside one, with
/// [`InitConfig::join_monitor`]), record its status in `exit_file` when given, exit with it.
fn monitor(child: Pid, exit_file: Option<&str>) -> i32 {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGPIPE,
    ] {
        // SAFETY: setting a signal to ignored in this single-threaded process.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let status = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break 255,
        }
    };
    // A hint for a restarted library (the record is the journal): not worth two fsyncs on the
    // way out of every container; after a crash a missing file means "exit code unknown".
    if let Some(path) = exit_file {
        let _ = crate::fsutil::write_atomic_unsynced(
            Path::new(path),
            format!("{status}\n").as_bytes(),
            0o600,
        );
    }
    status
}

/// Everything in the new namespaces up to `exec`. Never returns `Ok`. An `Err` carries the
/// exit status: 1 for a setup failure (reported to the library; the container does not
/// start), 126/127 for a program that cannot be executed (the container started and exits).
fn child(
    sock: BorrowedFd<'_>,
    cfg: &InitConfig,
    prepared: &Prepared,
    maps: Option<OwnedFd>,
) -> std::result::Result<std::convert::Infallible, (i32, String)> {
    let setup = |s: String| (1, s);
    if let Some(go) = maps {
        userns::wait_for_maps(go).map_err(setup)?;
    }
    // In a user namespace of the container's (made, or joined: it has maps either way).
    if !cfg.uid_map.is_empty() {
        userns::become_root().map_err(setup)?;
    }
    // Those given by path were joined by the helper before the fork.
    let joins = |kind: &str| cfg.join_namespaces.iter().any(|(k, _)| k == kind);
    let mut flags = CloneFlags::CLONE_NEWNS;
    for (kind, flag) in [
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("ipc", CloneFlags::CLONE_NEWIPC),
    ] {
        if !joins(kind) {
            flags |= flag;
        }
    }
    if cfg.new_netns && !prepared.in_new_netns {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).map_err(|e| setup(errno_msg("creating namespaces", e)))?;
    if cfg.new_session_keyring {
        // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring.
        if unsafe { libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<libc::c_char>()) } < 0 {
            return Err(setup(format!(
                "making the session keyring: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    // /proc is still the host's, so /proc/self names us as the host sees us.
    let pid: i32 = fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| setup("finding our host pid".into()))?;
    protocol::send(sock, &Message::Ready { pid }, None)
        .map_err(|e| setup(format!("reporting readiness: {e}")))?;
    match protocol::recv(sock) {
        Ok(Some((Message::Go, _))) => {}
        Ok(Some((Message::Error { message }, _))) => return Err(setup(message)),
        Ok(other) => return Err(setup(format!("expected go, got {other:?}"))),
        Err(e) => return Err(setup(format!("waiting for go: {e}"))),
    }
    let store = prepared.store.as_ref();
    let store = store.ok_or_else(|| setup("no device nodes were made".into()))?;
    // Before the hooks' step makes the namespace's mounts slaves (see `binds`).
    let shared = binds::take_shared(&cfg.binds).map_err(setup)?;
    hooks::before_root(sock, cfg, pid).map_err(setup)?;
    prepare(sock, cfg, store, shared).map_err(setup)?;
    match protocol::recv(sock) {
        Ok(Some((Message::Run, _))) => {}
        Ok(Some((Message::Error { message }, _))) => return Err(setup(message)),
        Ok(other) => return Err(setup(format!("expected run, got {other:?}"))),
        Err(e) => return Err(setup(format!("waiting for run: {e}"))),
    }
    // In every cgroup of the container by now (the library moved it into the others).
    if cfg.new_cgroupns {
        cgroupfs::new_namespace().map_err(setup)?;
    }
    for (dst, readonly) in &cfg.cgroup_mounts {
        cgroupfs::mount(dst, *readonly).map_err(setup)?;
    }
    if let Some(gate) = &prepared.gate {
        protocol::send(sock, &Message::Waiting, None)
            .map_err(|e| setup(format!("reporting the wait: {e}")))?;
        hooks::pass_gate(gate, cfg, pid).map_err(setup)?;
    }
    exec(sock, cfg)
}

/// Enter the namespaces of process `pid` (those it does not share with us; the mount
/// namespace last, which also makes its root ours). The PID namespace applies to our children.
fn join_namespaces(pid: i32) -> Res<()> {
    // All opened first: once in its user namespace, ours may no longer be reachable. The user
    // namespace is joined first, as it owns the others.
    let mut theirs = Vec::new();
    for (name, flag) in [
        ("user", CloneFlags::CLONE_NEWUSER),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ] {
        let path = format!("/proc/{pid}/ns/{name}");
        if fs::read_link(&path).ok() == fs::read_link(format!("/proc/self/ns/{name}")).ok() {
            continue;
        }
        let fd = fs::File::open(&path)
            .map_err(|e| format!("opening the container's {name} namespace: {e}"))?;
        theirs.push((name, flag, fd));
    }
    for (name, flag, fd) in theirs {
        nix::sched::setns(fd, flag)
            .map_err(|e| errno_msg(format_args!("joining the container's {name} namespace"), e))?;
    }
    Ok(())
}

/// The program beside a running container's (see [`InitConfig::join`]): its terminal, its
/// working directory, then the same last steps as a container's first process.
fn joined(
    sock: BorrowedFd<'_>,
    cfg: &InitConfig,
) -> std::result::Result<std::convert::Infallible, (i32, String)> {
    let setup = |s: String| (1, s);
    for step in ["go", "run"] {
        match protocol::recv(sock) {
            Ok(Some((Message::Go, _))) if step == "go" => {}
            Ok(Some((Message::Run, _))) if step == "run" => {}
            Ok(Some((Message::Error { message }, _))) => return Err(setup(message)),
            Ok(other) => return Err(setup(format!("expected {step}, got {other:?}"))),
            Err(e) => return Err(setup(format!("waiting for {step}: {e}"))),
        }
        if step == "go" {
            if cfg.tty {
                setup_tty(sock, cfg).map_err(setup)?;
            }
            let dir = if cfg.workdir.is_empty() {
                "/"
            } else {
                &cfg.workdir
            };
            chdir(dir).map_err(|e| {
                setup(errno_msg(
                    format_args!("changing to working directory {dir}"),
                    e,
                ))
            })?;
        }
    }
    exec(sock, cfg)
}

/// The gate FIFO, held by an `O_PATH` descriptor (opening it for writing would wait). In a
/// user namespace it is given to the container's root, which opens it for writing.
fn open_gate(path: &str, uid_map: &[(u32, u32, u32)], gid_map: &[(u32, u32, u32)]) -> Res<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| errno_msg(format_args!("opening the start gate {path}"), e))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| errno_msg("checking the start gate", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(format!("the start gate {path} is not a FIFO"));
    }
    if let (Some(&(_, uid, _)), Some(&(_, gid, _))) = (
        uid_map.iter().find(|m| m.0 == 0),
        gid_map.iter().find(|m| m.0 == 0),
    ) {
        // SAFETY: fchownat on our descriptor itself (an empty path with AT_EMPTY_PATH).
        let rc =
            unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) };
        Errno::result(rc).map_err(|e| {
            errno_msg(
                format_args!("giving the start gate {path} to the container's root"),
                e,
            )
        })?;
    }
    Ok(fd)
}

/// Refuse a mount point of the image that is a symlink: it could lead the mount out.
fn check_mount_point(rootfs: &str, name: &str) -> Res<()> {
    let p = Path::new(rootfs).join(name);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "the image's /{name} is a symbolic link; refusing to mount over it"
        )),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("the image's /{name} is not a directory")),
        Err(e) => Err(format!("the image has no /{name}: {e}")),
    }
}

/// The container's file system and identity, up to the program: the new root, the kernel's
/// file systems, the binds (`shared`: those taken already), the masked and read-only paths,
/// the root's propagation, the hostname, the loopback, the terminal, the working directory.
fn prepare(
    sock: BorrowedFd<'_>,
    cfg: &InitConfig,
    store: &OwnedFd,
    shared: Vec<Option<binds::Taken>>,
) -> Res<()> {
    // Host files to bind in: detached copies of their mounts, taken before the host's tree
    // goes away and attached inside the new root after pivot_root (where the container's
    // symbolic links cannot lead a mount out), see `binds`.
    let taken = binds::take_rest(&cfg.binds, shared)?;
    enter_root(cfg, store)?;
    for (key, value) in &cfg.sysctls {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        fs::write(&path, value).map_err(|e| format!("setting the sysctl {key} to {value}: {e}"))?;
    }
    // In the new root: a link in the image resolves inside it.
    for (dst, flags, data) in &cfg.tmpfs {
        fs::create_dir_all(dst).map_err(|e| format!("making the mount point {dst}: {e}"))?;
        let flags = MsFlags::from_bits_truncate(*flags as libc::c_ulong);
        let data = (!data.is_empty()).then_some(data.as_str());
        mnt(Some("tmpfs"), dst, Some("tmpfs"), flags, data)?;
    }
    for t in &taken {
        binds::attach(t)?;
    }
    drop(taken);
    for p in &cfg.masked_paths {
        mask(p)?;
    }
    for p in &cfg.readonly_paths {
        if fs::symlink_metadata(p).is_ok() {
            mnt(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            remount_readonly(p, MsFlags::MS_REC)?;
        }
    }
    if cfg.root_propagation != 0 {
        // As runc after pivot_root: `rootfsPropagation` on the whole tree (`r` forms), once
        // everything is mounted in it.
        let flags = MsFlags::from_bits_truncate(cfg.root_propagation as libc::c_ulong);
        mnt(None, "/", None, flags, None)
            .map_err(|e| format!("setting the root's propagation: {e}"))?;
    }
    if !cfg.hostname.is_empty() || !cfg.join_namespaces.iter().any(|(k, _)| k == "uts") {
        sethostname(&cfg.hostname).map_err(|e| errno_msg("setting the hostname", e))?;
    }
    if !cfg.domainname.is_empty() {
        // SAFETY: setdomainname reads the bytes of the name we pass, with its length.
        let rc =
            unsafe { libc::setdomainname(cfg.domainname.as_ptr().cast(), cfg.domainname.len()) };
        if rc != 0 {
            return Err(format!(
                "setting the domain name: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    if cfg.new_netns {
        loopback_up()?;
    }
    if cfg.tty {
        setup_tty(sock, cfg)?;
    }
    if cfg.readonly_root {
        // Everything is mounted in it by now; the mounts on it (proc, dev, ...) keep theirs.
        remount_readonly("/", MsFlags::empty())?;
    }
    let workdir = if cfg.workdir.is_empty() {
        "/"
    } else {
        &cfg.workdir
    };
    chdir(workdir)
        .map_err(|e| errno_msg(format_args!("changing to working directory {workdir}"), e))
}

fn remount_readonly(path: &str, extra: MsFlags) -> Res<()> {
    remount_adding(path, MsFlags::MS_RDONLY | extra)
}

/// Make the container's root file system the root: mounts private, its mount points
/// checked, `/proc`, `/sys` (see [`mount_proc_sys`]) and `/dev` (see [`setup_dev`]) mounted,
/// `pivot_root` into it and the old root detached (with the device nodes' store in it).
fn enter_root(cfg: &InitConfig, store: &OwnedFd) -> Res<()> {
    let rootfs = cfg.rootfs.as_str();
    mnt(None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)?;
    for name in ["proc", "sys", "dev"] {
        check_mount_point(rootfs, name)?;
    }
    mnt(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    // nodev: the root is a place the container can write, and there is no device cgroup, so
    // a node it makes there (with CAP_MKNOD) must not open (the bundle's file system, unlike
    // the docker face's overlay, may allow devices).
    remount_adding(rootfs, MsFlags::MS_NODEV)?;
    chdir(rootfs).map_err(|e| errno_msg(format_args!("chdir {rootfs}"), e))?;
    mount_proc_sys(!cfg.uid_map.is_empty())?;
    setup_dev(store, cfg)?;
    pivot_root(".", ".").map_err(|e| errno_msg("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| errno_msg("detaching the old root", e))?;
    chdir("/").map_err(|e| errno_msg("chdir /", e))
}

/// `proc` and a read-only `sysfs` at `proc` and `sys` of the new root (the working
/// directory). Mounted while the host's are still in the mount namespace: in a user namespace
/// the kernel mounts them only where a full view of the same file system is already visible.
/// `sysfs` needs a network namespace owned by the user namespace; in a user namespace without
/// one, the host's `/sys` is bound instead (read-only, as runc does).
fn mount_proc_sys(userns: bool) -> Res<()> {
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mnt(
        Some("proc"),
        "proc",
        Some("proc"),
        nosuid_nodev_noexec,
        None,
    )?;
    let ro = nosuid_nodev_noexec | MsFlags::MS_RDONLY;
    match mount(Some("sysfs"), "sys", Some("sysfs"), ro, None::<&str>) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) if userns => {
            mnt(
                Some("/sys"),
                "sys",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            remount_readonly("sys", nosuid_nodev_noexec)
        }
        Err(e) => Err(errno_msg("mounting sysfs on /sys", e)),
    }
}

/// A tmpfs `/dev` mounted nodev at `dev` of the new root (the working directory, before
/// `pivot_root`), with the standard device nodes and the spec's bound in (see `devices`).
/// Every place the container can create a node (this `/dev`, `/dev/shm`, the
/// root file system) is nodev, so a node it makes with CAP_MKNOD, or one its image carries,
/// can never be opened: only these devices can (what docker's device cgroup allows, with no
/// cgroup to join).
fn setup_dev(store: &OwnedFd, cfg: &InitConfig) -> Res<()> {
    mnt(
        Some("tmpfs"),
        "dev",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    let old = umask(Mode::empty());
    let result = (|| {
        for (link, target) in [
            ("dev/fd", "/proc/self/fd"),
            ("dev/stdin", "/proc/self/fd/0"),
            ("dev/stdout", "/proc/self/fd/1"),
            ("dev/stderr", "/proc/self/fd/2"),
            ("dev/ptmx", "pts/ptmx"),
        ] {
            std::os::unix::fs::symlink(target, link)
                .map_err(|e| format!("creating {link}: {e}"))?;
        }
        for d in ["dev/pts", "dev/shm", "dev/mqueue"] {
            fs::create_dir(d).map_err(|e| format!("creating {d}: {e}"))?;
        }
        Ok::<(), String>(())
    })();
    umask(old);
    result?;
    // The terminals' group (5) only when the user namespace maps it.
    let devpts = if userns::maps_id(&cfg.gid_map, 5) {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    } else {
        "newinstance,ptmxmode=0666,mode=0620"
    };
    mnt(
        Some("devpts"),
        "dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(devpts),
    )?;
    mnt(
        Some("shm"),
        "dev/shm",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )?;
    mnt(
        Some("mqueue"),
        "dev/mqueue",
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;
    devices::attach(store, &cfg.devices)
}

/// Hide `path`: an empty read-only tmpfs over a directory, /dev/null over anything else.
fn mask(path: &str) -> Res<()> {
    match fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => mnt(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, None),
        Ok(_) => mnt(Some("/dev/null"), path, None, MsFlags::MS_BIND, None),
    }
}

fn loopback_up() -> Res<()> {
    // SAFETY: a plain datagram socket for the interface ioctls below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh socket we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; zeroed is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we pass.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(format!(
                "reading lo flags: {}",
                std::io::Error::last_os_error()
            ));
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(format!(
                "bringing lo up: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// A terminal from the container's own devpts: the master goes to the library, the slave
/// becomes our controlling terminal and stdio.
fn setup_tty(sock: BorrowedFd<'_>, cfg: &InitConfig) -> Res<()> {
    let uid = cfg.uid;
    let master = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_noctty()
        .open("/dev/pts/ptmx")
        .map_err(|e| format!("opening /dev/pts/ptmx: {e}"))?;
    let mut n: libc::c_uint = 0;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes an unsigned int; both on our master.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0
            || libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) < 0
        {
            return Err(format!(
                "unlocking the pty: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let slave_path = format!("/dev/pts/{n}");
    let slave = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_noctty()
        .open(&slave_path)
        .map_err(|e| format!("opening {slave_path}: {e}"))?;
    nix::unistd::fchown(&slave, Some(nix::unistd::Uid::from_raw(uid)), None)
        .map_err(|e| errno_msg(format_args!("chown {slave_path}"), e))?;
    if let Some((rows, cols)) = cfg.tty_size {
        crate::term::set_window_size(&master, rows, cols)
            .map_err(|e| format!("setting the terminal's size: {e}"))?;
    }
    protocol::send(sock, &Message::Pty, Some(master.as_fd()))
        .map_err(|e| format!("passing the pty to the library: {e}"))?;
    drop(master);
    nix::unistd::setsid().map_err(|e| errno_msg("setsid", e))?;
    // SAFETY: TIOCSCTTY on the slave we just opened, with no pointer argument.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(format!(
            "making {slave_path} the controlling terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors of this process.
        if unsafe { libc::dup2(slave.as_raw_fd(), fd) } < 0 {
            return Err(format!("dup2: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}

impl NoCtty for fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
    }
}

/// no_new_privs when the spec asks for it, then the seccomp filter (while we still hold
/// CAP_SYS_ADMIN, which installing it without no_new_privs needs). What the helper does after
/// this (switching the user, resetting signals, reporting and `execve`) is allowed by docker's
/// profile.
fn confine(cfg: &InitConfig) -> Res<()> {
    if cfg.no_new_privileges {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
        }
    }
    let Some(text) = &cfg.seccomp else {
        return Ok(());
    };
    use base64::Engine as _;
    let program = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("the seccomp program: {e}"))?;
    let len = program.len() / std::mem::size_of::<libc::sock_filter>();
    if len == 0
        || len > u16::MAX as usize
        || program.len() % std::mem::size_of::<libc::sock_filter>() != 0
    {
        return Err(format!(
            "the seccomp program has a bad size ({} bytes)",
            program.len()
        ));
    }
    // Aligned copies of the instructions (the bytes are only byte-aligned).
    let filters: Vec<libc::sock_filter> = program
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: len as u16,
        filter: filters.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: PR_SET_SECCOMP reads the sock_fprog we pass, whose filter array outlives the call.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(format!(
            "installing the seccomp filter: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The spec's user: groups, gid, uid; root keeps the spec's capabilities, everyone's
/// inheritable set is emptied.
fn switch_user(cfg: &InitConfig) -> Res<()> {
    let groups: Vec<nix::unistd::Gid> = cfg
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&groups).map_err(|e| errno_msg("setgroups", e))?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(cfg.gid)).map_err(|e| errno_msg("setgid", e))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(cfg.uid)).map_err(|e| errno_msg("setuid", e))?;
    caps::set(if cfg.uid == 0 { &cfg.capabilities } else { &[] })
}

/// Find `prog` as `execvp` would, in the PATH of the container's environment.
fn find_program(prog: &str, env: &[String]) -> std::result::Result<String, (i32, String)> {
    let runnable = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if prog.contains('/') {
        return match fs::metadata(prog) {
            Err(_) => Err((
                EXIT_NOT_FOUND,
                format!("exec: {prog:?}: no such file or directory"),
            )),
            Ok(_) if !runnable(Path::new(prog)) => Err((
                EXIT_NOT_EXECUTABLE,
                format!("exec: {prog:?}: permission denied"),
            )),
            Ok(_) => Ok(prog.to_string()),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(prog))
        .find(|p| runnable(p))
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| {
            (
                EXIT_NOT_FOUND,
                format!("exec: {prog:?}: executable file not found in $PATH"),
            )
        })
}

fn exec(
    sock: BorrowedFd<'_>,
    cfg: &InitConfig,
) -> std::result::Result<std::convert::Infallible, (i32, String)> {
    let setup = |s: String| (1, s);
    if let Some(adj) = cfg.oom_score_adj {
        fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| setup(format!("setting oom_score_adj to {adj}: {e}")))?;
    }
    // Before the capabilities go: raising a hard limit needs CAP_SYS_RESOURCE.
    for &(resource, soft, hard) in &cfg.rlimits {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(resource as _, &lim) } != 0 {
            return Err(setup(format!(
                "setting resource limit {resource} to {soft}/{hard}: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    caps::drop_bounding(&cfg.capabilities).map_err(setup)?;
    confine(cfg).map_err(setup)?;
    switch_user(cfg).map_err(setup)?;
    let args: Vec<CString> = cfg
        .args
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| setup("an argument contains a NUL byte".into()))?;
    let env: Vec<CString> = cfg
        .env
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| setup("an environment entry contains a NUL byte".into()))?;
    if args.is_empty() {
        return Err(setup("no command given".into()));
    }
    // Signals back to their defaults (the Rust runtime ignores SIGPIPE, a caller may have
    // ignored others), none blocked.
    sys::default_signals();
    umask(Mode::from_bits_truncate(cfg.umask.unwrap_or(0o022)));
    // Only 0, 1, 2 and the descriptors handed on (3 up to the socket, inherited without
    // close-on-exec) survive the exec: the socket closing tells the library it happened.
    // SAFETY: marks the socket's descriptor and those above close-on-exec; nothing is closed.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            sock.as_raw_fd() as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    // The container dies with its monitor: a killed monitor cannot leave it running unnoticed
    // (holding an address a restarted runtime would give away). Set after the user switch,
    // which clears it; the program's exec keeps it. Behind a gate there is no monitor (the
    // caller's subreaper is the parent, whose death must not take the container), nor beside
    // a running container (the same) unless the helper stays as its monitor there too.
    // SAFETY: prctl with integer arguments only.
    if cfg.gate.is_empty()
        && (cfg.join == 0 || cfg.join_monitor)
        && unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0
    {
        return Err(setup(format!(
            "setting the parent-death signal: {}",
            std::io::Error::last_os_error()
        )));
    }
    let resolved = find_program(&cfg.args[0], &cfg.env);
    // Behind a gate the caller has gone: nobody listens for this.
    if cfg.gate.is_empty() {
        protocol::send(sock, &Message::Exec, None)
            .map_err(|e| setup(format!("reporting exec: {e}")))?;
    }
    let prog = resolved?;
    let prog_c = CString::new(prog.as_str()).map_err(|_| setup("bad program path".into()))?;
    let err = nix::unistd::execve(&prog_c, &args, &env).unwrap_err();
    let status = if err == nix::errno::Errno::ENOENT {
        EXIT_NOT_FOUND
    } else {
        EXIT_NOT_EXECUTABLE
    };
    Err((status, errno_msg(format_args!("exec {prog:?}"), err)))
}
