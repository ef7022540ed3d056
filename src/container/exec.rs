//! `docker exec`: a program run beside a running container's first process, with exactly the
//! container's confinement and never more. Its runtime spec is the container's own, built by
//! [`super::spec::build`] from the record as at a start (docker's default capabilities with
//! the container's `--cap-add`/`--cap-drop`, its seccomp profile, no-new-privileges), with
//! only the process's command, user, environment, working directory and terminal changed, as
//! docker's daemon writes an exec's process from its container's spec. The engine's helper
//! joins the namespaces of the container's first process (so masked paths stay masked: it is
//! in the container's mount namespace) and creates the program in the container's cgroup v2
//! folder, from a helper born in its v1 folders (memory, pids, cpu: see `crate::cgroup`);
//! only a v1 freezer (a host without v2) is joined by pid before it runs.
//!
//! The helper stays as the program's parent ([`crate::engine::Join::monitor`]) and exits with
//! its status, which is ours to wait for. The program gets pipes (or a terminal), never the
//! caller's descriptors: those may be a terminal (whose `TIOCSTI` would type into the host's
//! shell) or a daemon's connection socket. Its output is relayed until it exits; what it
//! left in the pipes is then delivered, and a background child still holding them does not
//! keep the exec open. When the container's first process exits, the kernel kills every
//! process of its PID namespace: an exec'd program never keeps a container running.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::runtime::Spec;

use super::event::{poll_in, Event};
use super::lifecycle::Container;
use super::record::ContainerRecord;
use super::spec::{self, Inputs};
use super::{start, user};
use crate::cgroup::Cgroup;
use crate::engine::{self, Hooks, Join, Kernel, Launch, Streams};
use crate::error::{Error, ErrorKind, Result};
use crate::spawn::process::Child;
use crate::term::{set_window_size, WindowSizes};

/// What `docker exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    /// The program and its arguments.
    pub cmd: Vec<String>,
    /// `-u`: a name or uid[:gid] resolved in the container; None: the container's user.
    pub user: Option<String>,
    /// `-e K=V`, added to the container's environment (replacing an entry of the same name).
    pub env: Vec<String>,
    /// `-w`: an absolute path; None: the container's working directory.
    pub workdir: Option<String>,
    /// `-t`: a terminal from the container's devpts.
    pub tty: bool,
    /// `-i`: the caller's stdin fed to the program.
    pub stdin: bool,
    /// `-d`: started, not waited for; its output is discarded (and no terminal is made: nobody
    /// would read it).
    pub detach: bool,
    /// The terminal's size (rows, columns), with `tty`.
    pub tty_size: Option<(u16, u16)>,
}

/// What an exec takes from its owner (the runtime).
pub struct ExecDeps<'a> {
    pub kernel: &'a dyn Kernel,
    /// The `docker-init` helper.
    pub helper: PathBuf,
    /// Where compiled seccomp programs are kept across processes.
    pub seccomp_cache: Option<PathBuf>,
}

/// The caller's side of an attached exec (one descriptor may serve for both outputs). When
/// an output's reader goes away (a pipe's read end closed, a terminal hung up: a daemon's
/// client that left), the exec returns an error and leaves the program running, as docker.
pub struct ExecIo {
    /// Fed to the program with [`ExecConfig::stdin`].
    pub stdin: Option<File>,
    pub stdout: File,
    pub stderr: File,
    /// With a terminal: the client's window sizes while the program runs, applied to it.
    pub sizes: Option<WindowSizes>,
}

/// The running container an exec joins, as it is now.
struct Target {
    pid: i32,
    /// The container's first process, to tell that it still runs once its namespaces are
    /// joined (its pid cannot have been reused meanwhile).
    pidfd: OwnedFd,
    cgroup: Option<Cgroup>,
    rec: ContainerRecord,
}

impl Container {
    /// The container to exec in, or docker's errors for one that does not run or is paused.
    fn exec_target(&self) -> Result<Target> {
        let inner = self.lock();
        let not_running = || Error::in_use(format!("Container {} is not running", self.id));
        if !inner.rec.state.running {
            return Err(not_running());
        }
        let live = inner.live.as_ref().ok_or_else(not_running)?;
        if live.cgroup.as_ref().is_some_and(Cgroup::is_frozen) {
            return Err(Error::in_use(format!(
                "Container {} is paused, unpause the container before exec",
                self.id
            )));
        }
        let pidfd = live
            .pidfd
            .as_ref()
            .ok_or_else(not_running)?
            .try_clone()
            .map_err(|e| Error::io("duplicating the container's pidfd", e))?;
        Ok(Target {
            pid: inner.rec.state.pid,
            pidfd,
            cgroup: live.cgroup.clone(),
            rec: inner.rec.clone(),
        })
    }
}

/// The environment: docker's daemon environment for the exec's terminal (`PATH`, `HOSTNAME`,
/// `TERM` with `-t`), the container's `Config.Env`, then `-e`; a later entry replaces an
/// earlier one with the same name.
fn environment(rec: &ContainerRecord, hostname: &str, cfg: &ExecConfig) -> Vec<String> {
    let mut env = spec::environment(rec, hostname, cfg.tty);
    for e in &cfg.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    env
}

/// The exec's runtime spec: the container's, with the exec's process.
fn exec_spec(c: &Container, rec: &ContainerRecord, cfg: &ExecConfig) -> Result<Spec> {
    if cfg.cmd.is_empty() {
        return Err(Error::usage("exec needs a command to run"));
    }
    if let Some(e) = cfg.env.iter().find(|e| e.is_empty() || e.starts_with('=')) {
        return Err(Error::usage(format!(
            "invalid environment variable {e:?}: want KEY=VALUE"
        )));
    }
    let workdir = match cfg.workdir.as_deref() {
        Some(w) if !w.starts_with('/') => {
            return Err(Error::invalid(format!(
                "the working directory {w:?} is not an absolute path"
            )))
        }
        Some(w) => w,
        None if rec.config.working_dir.is_empty() => "/",
        None => &rec.config.working_dir,
    };
    let rootfs = c.rootfs();
    let who = cfg.user.as_deref().unwrap_or(&rec.config.user);
    let identity = user::lookup(&rootfs, who)?;
    let hostname = start::hostname(rec);
    let mut spec = spec::build(
        rec,
        &Inputs {
            rootfs: &rootfs,
            hostname: &hostname,
            binds: &[],
            // The exec joins the container's mount namespace: its mounts are there already.
            mounts: &[],
            user: &identity,
        },
    )?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(cfg.cmd.clone()));
    p.set_env(Some(environment(rec, &hostname, cfg)));
    p.set_cwd(PathBuf::from(workdir));
    p.set_terminal(Some(cfg.tty && !cfg.detach));
    spec.set_process(Some(p));
    Ok(spec)
}

fn devnull() -> Result<OwnedFd> {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| Error::io("opening /dev/null", e))
}

fn pipe() -> Result<(File, File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::errno("making a pipe", e))?;
    Ok((File::from(r), File::from(w)))
}

/// Our ends of the program's streams (none with a terminal: its master is both).
#[derive(Default)]
struct Ends {
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
}

/// The program's standard streams: pipes for what is attached, /dev/null for the rest (and
/// for all three with a terminal, which the helper puts on them instead).
fn streams(cfg: &ExecConfig) -> Result<(Streams, Ends)> {
    let mut ends = Ends::default();
    let attached = !cfg.detach && !cfg.tty;
    let stdin = if attached && cfg.stdin {
        let (r, w) = pipe()?;
        ends.stdin = Some(w);
        OwnedFd::from(r)
    } else {
        devnull()?
    };
    let output = |end: &mut Option<File>| -> Result<OwnedFd> {
        if !attached {
            return devnull();
        }
        let (r, w) = pipe()?;
        *end = Some(r);
        Ok(OwnedFd::from(w))
    };
    let stdout = output(&mut ends.stdout)?;
    let stderr = output(&mut ends.stderr)?;
    Ok((
        Streams {
            stdin,
            stdout,
            stderr,
            preserved: 0,
        },
        ends,
    ))
}

/// docker's status when the program could not be started in the container: a user or a
/// working directory that is not there, a step its runtime's `exec` failed at.
pub const EXEC_FAILED_STATUS: i32 = 126;

/// Run `cfg.cmd` in the running container `c`. Attached: the program's output goes to `io`
/// (and `io.stdin` to it with `-i`) until it exits; returns its exit status (127: not found,
/// 126: it cannot be executed or started, with the reason on `io.stderr` as docker's
/// `exec failed: ...`; 128+N: killed by signal N). Detached: returns 0 once it runs. Errors:
/// docker's for a container that does not run or is paused.
pub fn exec(c: &Arc<Container>, deps: &ExecDeps<'_>, cfg: &ExecConfig, io: ExecIo) -> Result<i32> {
    let (helper, mut ends, pty) = match begin(c, deps, cfg) {
        Ok(started) => started,
        // The helper's (or the user lookup's) word on a step that failed in the container.
        Err(e) if e.kind() == ErrorKind::InvalidArgument && !e.is_usage() => {
            let _ = (&io.stderr).write_all(format!("exec failed: {e}\n").as_bytes());
            return Ok(EXEC_FAILED_STATUS);
        }
        Err(e) => return Err(e),
    };
    let Some(helper) = helper else {
        return Ok(0);
    };
    let mut _follower = None;
    if let Some(pty) = pty {
        let dup = || {
            pty.try_clone()
                .map_err(|e| Error::io("duplicating the terminal", e))
        };
        ends.stdin = cfg.stdin.then(dup).transpose()?;
        if let Some(sizes) = io.sizes.clone() {
            let term = dup()?;
            _follower = Some(super::resize::follow(sizes, move |rows, cols| {
                // A program that has exited has no window to fit.
                let _ = set_window_size(&term, rows, cols);
            })?);
        }
        ends.stdout = Some(pty);
    }
    relay(helper, ends, io, cfg.tty)
}

/// The program started beside the container: its helper to wait for (none detached), our
/// ends of its streams, its terminal.
fn begin(
    c: &Arc<Container>,
    deps: &ExecDeps<'_>,
    cfg: &ExecConfig,
) -> Result<(Option<Child>, Ends, Option<File>)> {
    let target = c.exec_target()?;
    let spec = exec_spec(c, &target.rec, cfg)?;
    let (streams, ends) = streams(cfg)?;
    let join = Join {
        pid: target.pid,
        cgroup: target.cgroup.as_ref(),
        monitor: !cfg.detach,
    };
    let mut attach = |pid: i32| joined(c, &target, pid);
    let launched = engine::launch(
        deps.kernel,
        Launch {
            spec: &spec,
            bundle: c.dir(),
            helper: &deps.helper,
            name: &c.id,
            streams,
            exit_file: Path::new(""),
            tty_size: cfg.tty_size,
            seccomp_cache: deps.seccomp_cache.as_deref(),
            gate: None,
            join: Some(join),
            // The container's keyring, as runc's exec.
            new_session_keyring: false,
            hook_state: None,
        },
        Hooks {
            attach: &mut attach,
            running: &mut |_, _| Ok(()),
            created: &mut |_| Ok(()),
        },
    )
    .map_err(|e| match ended(c, &target) {
        // Its namespaces went with it (the helper could not open them): docker's word.
        Err(gone) => gone,
        Ok(()) => e,
    })?;
    Ok((launched.helper, ends, launched.pty))
}

/// Once the helper has joined the container's namespaces: refuse if the container's first
/// process ended meanwhile (the namespaces may have been another process's), and put the
/// program into the container's v1 freezer (a host without v2) before it runs.
fn joined(c: &Container, target: &Target, pid: i32) -> Result<()> {
    ended(c, target)?;
    match &target.cgroup {
        Some(cg) if cg.needs_join() => cg.add(pid),
        _ => Ok(()),
    }
}

/// docker's error when the container's first process has ended or is ending: its pidfd says
/// so once it is a zombie, its namespaces are gone earlier (as pid 1 of its PID namespace it
/// waits meanwhile for the namespace's other processes to die). While the pidfd is not
/// readable, the pid is still that process's.
fn ended(c: &Container, target: &Target) -> Result<()> {
    let ns = format!("/proc/{}/ns/mnt", target.pid);
    let exited = poll_in(&[target.pidfd.as_fd()], 0)?[0];
    if exited || std::fs::read_link(ns).is_err() {
        return Err(Error::in_use(format!("Container {} is not running", c.id)));
    }
    Ok(())
}

/// The status of the helper, which exits with the program's.
fn status_of(mut helper: Child) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let st = helper
        .wait()
        .map_err(|e| Error::io("waiting for the exec's helper", e))?;
    Ok(st.code().or(st.signal().map(|s| 128 + s)).unwrap_or(255))
}

/// Relay the program's output to `io` (and `io.stdin` to it) until it exits, then what it
/// left behind; returns its status. When the caller goes away the program is left running
/// and a thread reaps its helper.
fn relay(helper: Child, ends: Ends, io: ExecIo, tty: bool) -> Result<i32> {
    let helper_fd = crate::proc::pidfd_open(helper.id() as i32)
        .map_err(|e| Error::io("pidfd_open of the exec's helper", e))?;
    let stop = Arc::new(Event::new()?);
    let feeder = match (io.stdin, ends.stdin) {
        (Some(from), Some(to)) => Some(feed(from, to, stop.clone(), !tty)?),
        _ => None,
    };
    let mut outputs: Vec<(File, &File)> = Vec::new();
    outputs.extend(ends.stdout.map(|f| (f, &io.stdout)));
    outputs.extend(ends.stderr.map(|f| (f, &io.stderr)));
    let relayed = copy_until_exit(&mut outputs, helper_fd.as_fd());
    stop.signal();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    match relayed {
        Ok(()) => status_of(helper),
        Err(e) => {
            let _ = std::thread::Builder::new()
                .name("docker-exec-reap".into())
                .spawn(move || status_of(helper));
            Err(e)
        }
    }
}

/// Copy what `from` holds now to `to`; false at its end (a terminal whose every slave is
/// closed reads EIO).
fn pump(from: &mut File, mut to: &File, buf: &mut [u8]) -> Result<bool> {
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => return Ok(false),
            Err(e) => return Err(Error::io("reading the exec's output", e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| Error::io("writing to the client", e))?;
    }
}

fn nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|e| Error::errno("F_GETFL", e))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(|e| Error::errno("F_SETFL", e))?;
    Ok(())
}

fn pollfd(fd: BorrowedFd<'_>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

/// Wait until `exited` or one of `outputs` is readable, or one of their clients is gone;
/// whether `exited` is readable, and per output whether it is.
fn wait_outputs(outputs: &[(File, &File)], exited: BorrowedFd<'_>) -> Result<(bool, Vec<bool>)> {
    let mut fds = vec![pollfd(exited, libc::POLLIN)];
    fds.extend(outputs.iter().map(|(f, _)| pollfd(f.as_fd(), libc::POLLIN)));
    // No event asked of a client: only its errors and hang-ups are reported.
    fds.extend(outputs.iter().map(|(_, to)| pollfd(to.as_fd(), 0)));
    loop {
        // SAFETY: fds is a live array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n >= 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io("poll", e));
        }
    }
    let k = outputs.len();
    if fds[1 + k..].iter().any(|p| p.revents != 0) {
        return Err(Error::new(
            crate::error::ErrorKind::Io,
            "the client went away; the program runs on",
        ));
    }
    let ready = fds[1..=k].iter().map(|p| p.revents != 0).collect();
    Ok((fds[0].revents != 0, ready))
}

/// Relay each `(stream, client)` pair until the helper (`exited`) ends, then drain what is
/// buffered without waiting for writers that outlive the program.
fn copy_until_exit(outputs: &mut Vec<(File, &File)>, exited: BorrowedFd<'_>) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    for (f, _) in outputs.iter() {
        nonblocking(f.as_fd())?;
    }
    loop {
        let (done, ready) = wait_outputs(outputs, exited)?;
        let mut open = Vec::new();
        for (i, (mut f, to)) in std::mem::take(outputs).into_iter().enumerate() {
            if (!ready[i] && !done) || pump(&mut f, to, &mut buf)? {
                open.push((f, to));
            }
        }
        *outputs = open;
        if done {
            return Ok(());
        }
    }
}

/// Feed `from` (the caller's stdin) to `to` (the program's stdin or terminal) on a thread
/// until `from` ends (then `to` is closed when `close_at_eof`) or `stop` is signalled.
fn feed(
    from: File,
    to: File,
    stop: Arc<Event>,
    close_at_eof: bool,
) -> Result<std::thread::JoinHandle<()>> {
    nonblocking(to.as_fd())?;
    std::thread::Builder::new()
        .name("docker-exec-stdin".into())
        .spawn(move || {
            // A program that closed its stdin makes our write fail with EPIPE: the SIGPIPE
            // that comes with it stays pending on this thread and goes with it.
            let mut set = nix::sys::signal::SigSet::empty();
            set.add(nix::sys::signal::Signal::SIGPIPE);
            let _ = set.thread_block();
            let mut buf = [0u8; 16 * 1024];
            let mut to = Some(to);
            while let Some(target) = &to {
                let Ok(ready) = poll_in(&[from.as_fd(), stop.as_fd()], -1) else {
                    return;
                };
                if ready[1] {
                    return;
                }
                match (&from).read(&mut buf) {
                    Ok(0) | Err(_) if close_at_eof => to = None,
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if !write_or_stop(target, &buf[..n], &stop) {
                            return;
                        }
                    }
                }
            }
        })
        .map_err(|e| Error::io("starting the stdin thread", e))
}

/// Write all of `data` to the non-blocking `to`, waiting for room; false when it failed or
/// `stop` was signalled first.
fn write_or_stop(mut to: &File, mut data: &[u8], stop: &Event) -> bool {
    while !data.is_empty() {
        match to.write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fds = [
                    libc::pollfd {
                        fd: to.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: stop.as_fd().as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // SAFETY: fds is a live array of two pollfd.
                unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
                if fds[1].revents != 0 {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
