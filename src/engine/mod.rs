//! The container engine: it runs one OCI runtime spec (`config.json`, runtime-spec 1.x, typed
//! with the `oci-spec` crate) on a root file system that is already there. Every face that
//! starts a container comes through here: the docker commands (whose v0.1.0 `Config` becomes
//! a spec in `container::spec`), the C API and the daemon above them.
//!
//! A start, [`launch`], is three named steps, each undone when a later one fails:
//!
//! 1. [`plan::init_config`]: the spec read once into the helper's steps (what the engine
//!    does not execute is refused, never dropped);
//! 2. the container's cgroup, at the spec's `linux.cgroupsPath` or `docker-runtime/NAME`,
//!    with the spec's `linux.resources` written (see `cgroup`; undo: remove it);
//! 3. the `docker-init` helper spawned (born in the cgroup's v1 folders; it creates the
//!    container's process in the v2 one) and spoken to (see `spawn::protocol`): it makes the
//!    namespaces and reports the container's pid; while it sets up the file system, the
//!    caller's [`Hooks`] join the network and journal the start (and, for a spec with prestart
//!    or createRuntime hooks, run them while the helper waits before entering the root:
//!    [`Hooks::created`]); then the program runs
//!    (undo: kill the helper). With a gate ([`Launch::gate`], an OCI runtime's `create`) the
//!    process waits at a FIFO instead, ready, until something opens it (`start`); the helper
//!    then leaves it to the caller's subreaper rather than staying as its monitor.
//!
//! The engine takes everything as arguments (the spec, the helper's path, the streams, the
//! exit file, the hooks, the [`Kernel`]) and imports nothing from the container registry, the
//! network or the runtime: it only looks down (`spawn`, `cgroup`, `mount`, `error`).

pub mod kernel;
pub mod namespaces;
pub mod plan;
mod propagation;
pub mod seccomp;
mod warm;

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use oci_spec::runtime::Spec;

pub use kernel::{Helper, Host, Kernel, Streams};
pub use warm::Warm;

use crate::cgroup::Cgroup;
use crate::error::{Error, ErrorKind, Result};
use crate::spawn::protocol::{self, InitConfig, Message};

/// How long the helper may take for one step before the start is abandoned.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// One container to start.
pub struct Launch<'a> {
    pub spec: &'a Spec,
    /// The bundle folder: a relative `root.path` is taken from here.
    pub bundle: &'a Path,
    /// The `docker-init` helper.
    pub helper: &'a Path,
    /// Names the helper in `ps` and the cgroup (`docker-runtime/NAME`) when the spec has no
    /// `linux.cgroupsPath` (the container id).
    pub name: &'a str,
    pub streams: Streams,
    /// Where the helper records the exit status.
    pub exit_file: &'a Path,
    /// The terminal's size, for a spec with `process.terminal`.
    pub tty_size: Option<(u16, u16)>,
    /// Where compiled seccomp programs are kept across processes (the runtime root's).
    pub seccomp_cache: Option<&'a Path>,
    /// A FIFO the process waits at until it is opened for reading (an OCI runtime's
    /// `create`/`start`); `launch` then returns once the process waits there, and no helper
    /// stays as its monitor (`exit_file` is unused: the caller's subreaper reaps it).
    pub gate: Option<&'a Path>,
    /// Run the spec's process beside a running container instead of making one (an OCI
    /// runtime's `exec`): in the namespaces of its first process and in its cgroup.
    pub join: Option<Join<'a>>,
    /// Give the container a new session keyring (runc's default; an OCI runtime's
    /// `--no-new-keyring` keeps the caller's).
    pub new_session_keyring: bool,
    /// The container's state (runtime-spec JSON; the helper sets its `pid` and `status`) that
    /// the spec's hooks read. Only a caller that runs the hooks the helper does not (an OCI
    /// runtime: prestart and createRuntime in [`Hooks::created`], poststart, poststop) gives
    /// it; without it a spec with hooks is refused.
    pub hook_state: Option<String>,
}

/// The running container a process joins.
#[derive(Debug, Clone, Copy)]
pub struct Join<'a> {
    /// Its first process (host pid).
    pub pid: i32,
    /// Its cgroup, which the process is created in (none: the caller's cgroup).
    pub cgroup: Option<&'a Cgroup>,
    /// The helper stays as the process's parent and exits with its status
    /// ([`Launched::helper`], the caller's to wait for), instead of leaving it to the
    /// caller's subreaper.
    pub monitor: bool,
}

/// What the caller does once the container's process exists, while the helper sets up its
/// file system; an error abandons the start.
pub struct Hooks<'a> {
    /// Join the process (its pid as the host sees it) to its network.
    pub attach: &'a mut dyn FnMut(i32) -> Result<()>,
    /// Journal that the container runs (pid, helper pid), before the program is let go.
    pub running: &'a mut dyn FnMut(i32, i32) -> Result<()>,
    /// Run the spec's prestart and createRuntime hooks: the process's namespaces exist and
    /// its root is not entered yet. Called only for a spec that has such hooks.
    pub created: &'a mut dyn FnMut(i32) -> Result<()>,
}

/// A started container.
pub struct Launched {
    /// The container's first process, as the host sees it.
    pub pid: i32,
    /// The helper that waits for it (its parent on the host) and its process.
    pub helper_pid: i32,
    pub helper: Option<crate::spawn::process::Child>,
    /// The terminal's master side, for a spec with `process.terminal`.
    pub pty: Option<File>,
    pub cgroup: Option<Cgroup>,
}

/// Start the container `l` describes (see the module documentation for the steps).
pub fn launch(kernel: &dyn Kernel, l: Launch<'_>, hooks: Hooks<'_>) -> Result<Launched> {
    let rootfs = plan::rootfs(l.spec, l.bundle)?;
    let mut cfg = plan::init_config(l.spec, &rootfs, l.exit_file, l.seccomp_cache)?;
    if let Some(gate) = l.gate {
        cfg.gate = gate.display().to_string();
    }
    cfg.new_session_keyring = l.new_session_keyring;
    cfg.tty_size = l.tty_size;
    let has_hooks = l
        .spec
        .hooks()
        .as_ref()
        .is_some_and(|h| *h != oci_spec::runtime::Hooks::default());
    match (l.hook_state, l.join) {
        (Some(state), None) => cfg.hook_state = state,
        _ if has_hooks => {
            return Err(Error::unsupported(
                "the runtime spec asks for hooks, which only an OCI runtime's create runs",
            ))
        }
        _ => {}
    }
    let cgroup = match l.join {
        Some(j) => {
            cfg.join = j.pid;
            cfg.join_monitor = j.monitor;
            None
        }
        None => kernel.create_cgroup(
            &plan::cgroup_path(l.spec, l.name)?,
            &plan::resources(l.spec)?,
        )?,
    };
    let inside = cgroup.as_ref().or(l.join.and_then(|j| j.cgroup));
    if let Some(dir) = inside.and_then(Cgroup::start_dir) {
        cfg.cgroup = dir.display().to_string();
    }
    let undo_cgroup = |cg: &Option<Cgroup>| {
        if let Some(cg) = cg {
            kernel.remove_cgroup(cg);
        }
    };
    let helper = match kernel.spawn_helper(l.helper, l.name, l.streams, inside) {
        Ok(h) => h,
        Err(e) => {
            undo_cgroup(&cgroup);
            return Err(e);
        }
    };
    let talk = Conversation {
        sock: &helper.sock,
        kernel,
        cgroup: inside,
    };
    match talk.run(&cfg, &helper, hooks) {
        Ok((pid, pty)) => {
            let mut child = helper.child;
            if l.gate.is_some() || l.join.is_some_and(|j| !j.monitor) {
                // Behind a gate, or beside a container unmonitored, the helper exits once the
                // process is made: reaped here.
                if let Some(mut c) = child.take() {
                    let _ = c.wait();
                }
            }
            Ok(Launched {
                pid,
                helper_pid: helper.pid,
                helper: child,
                pty,
                cgroup,
            })
        }
        Err(e) => {
            helper.abandon();
            undo_cgroup(&cgroup);
            Err(e)
        }
    }
}

fn expect(
    msg: Option<(Message, Option<OwnedFd>)>,
    what: &str,
) -> Result<(Message, Option<OwnedFd>)> {
    match msg {
        Some((Message::Error { message }, _)) => Err(Error::invalid(message)),
        Some(m) => Ok(m),
        None => Err(Error::new(
            ErrorKind::Io,
            format!("docker-init exited before {what}"),
        )),
    }
}

fn unexpected(m: &Message) -> Error {
    Error::invalid(format!("unexpected message from docker-init: {m:?}"))
}

/// Our side of the protocol with one helper.
struct Conversation<'a> {
    sock: &'a UnixStream,
    kernel: &'a dyn Kernel,
    cgroup: Option<&'a Cgroup>,
}

impl Conversation<'_> {
    fn send(&self, m: &Message) -> Result<()> {
        protocol::send(self.sock.as_fd(), m, None)
            .map_err(|e| Error::io("talking to docker-init", e))
    }

    fn recv(&self, what: &str) -> Result<(Message, Option<OwnedFd>)> {
        let m = protocol::recv(self.sock.as_fd())
            .map_err(|e| Error::io(format!("talking to docker-init ({what})"), e))?;
        expect(m, what)
    }

    /// The whole conversation; returns the container's pid and the terminal master.
    fn run(
        &self,
        cfg: &InitConfig,
        helper: &Helper,
        hooks: Hooks<'_>,
    ) -> Result<(i32, Option<File>)> {
        let helper_pid = helper.pid;
        self.sock
            .set_read_timeout(Some(STEP_TIMEOUT))
            .map_err(|e| Error::io("setting a socket timeout", e))?;
        if !helper.greeted {
            kernel::greet(self.sock)?;
        }
        self.send(&Message::Start(Box::new(cfg.clone())))?;
        let pid = match self.recv("creating the namespaces")? {
            (Message::Ready { pid }, _) => pid,
            (m, _) => return Err(unexpected(&m)),
        };
        // The helper sets up the container's file system while the network and the journal
        // (and, on a host without cgroup v2, the v1 freezer's join by pid) are done here;
        // the program only runs after `Run`.
        self.send(&Message::Go)?;
        // No monitor to take it down with it: on an error, the process goes here.
        let unmonitored = !cfg.gate.is_empty() || cfg.join > 0;
        if let Err(e) = self.join(pid, helper_pid, hooks, cfg.runtime_hooks) {
            let e = self.helper_error_or(e);
            if unmonitored {
                kill_and_wait(pid);
            }
            return Err(e);
        }
        // A helper that failed meanwhile is gone: its error is read below.
        let _ = self.send(&Message::Run);
        // The createContainer hooks run before the helper's next word: their timeouts too.
        let _ = self
            .sock
            .set_read_timeout(step_timeout(&cfg.create_container_hooks));
        match self.until_exec(!cfg.gate.is_empty()) {
            Ok(pty) => Ok((pid, pty)),
            Err(e) => {
                if unmonitored {
                    kill_and_wait(pid);
                }
                Err(e)
            }
        }
    }

    /// The caller's part while the helper works: cgroup (v1's freezer only), network,
    /// journal, and (with `runtime_hooks`) its hooks once the helper stopped before entering
    /// the root.
    fn join(&self, pid: i32, helper_pid: i32, hooks: Hooks<'_>, runtime_hooks: bool) -> Result<()> {
        if let Some(cg) = self.cgroup.filter(|cg| cg.needs_join()) {
            self.kernel.join_cgroup(cg, pid)?;
        }
        (hooks.attach)(pid)?;
        (hooks.running)(pid, helper_pid)?;
        if runtime_hooks {
            match self.recv("preparing the mounts")? {
                (Message::Prepared, _) => {}
                (m, _) => return Err(unexpected(&m)),
            }
            (hooks.created)(pid)?;
            self.send(&Message::Proceed)?;
        }
        Ok(())
    }

    /// When our side failed, the helper may have failed first (a missing working directory):
    /// its message is then the cause.
    fn helper_error_or(&self, e: Error) -> Error {
        if self
            .sock
            .set_read_timeout(Some(Duration::from_millis(200)))
            .is_err()
        {
            return e;
        }
        match protocol::recv(self.sock.as_fd()) {
            Ok(Some((Message::Error { message }, _))) => Error::invalid(message),
            _ => e,
        }
    }

    /// Until the helper executes the program (`gated`: until it waits at the gate); the
    /// terminal master when one was made.
    fn until_exec(&self, gated: bool) -> Result<Option<File>> {
        let mut pty = None;
        loop {
            match self.recv("starting the program")? {
                // Its size is set by the helper before the program runs.
                (Message::Pty, Some(fd)) => pty = Some(File::from(fd)),
                (Message::Exec, _) if !gated => return Ok(pty),
                (Message::Waiting, _) if gated => return Ok(pty),
                (m, _) => return Err(unexpected(&m)),
            }
        }
    }
}

/// How long the helper may take for a step that runs `hooks`: their timeouts on top of
/// [`STEP_TIMEOUT`]; no limit when one of them has none.
fn step_timeout(hooks: &[oci_spec::runtime::Hook]) -> Option<Duration> {
    hooks.iter().try_fold(STEP_TIMEOUT, |total, h| {
        h.timeout()
            .map(|t| total + Duration::from_secs(t.max(0) as u64))
    })
}

/// Kill process `pid` (one no helper watches) and wait, a few seconds at most, until it has
/// exited, so that its cgroup can go.
fn kill_and_wait(pid: i32) {
    let Ok(pidfd) = crate::proc::pidfd_open(pid) else {
        return;
    };
    if crate::proc::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL).is_ok() {
        let mut fds = [nix::poll::PollFd::new(
            pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16));
    }
}

/// Set a terminal's window size.
pub fn set_window_size(pty: &File, rows: u16, cols: u16) -> Result<()> {
    crate::term::set_window_size(pty, rows, cols)
        .map_err(|e| Error::io("setting the window size", e))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::sync::{Arc, Mutex};

    use super::kernel::fake::FakeKernel;
    use super::*;
    use crate::spawn::protocol::PROTOCOL_VERSION;

    /// A spec as the docker face writes one, with a memory limit.
    fn spec(extra_linux: serde_json::Value) -> Spec {
        let mut linux = serde_json::json!({
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                           {"type": "ipc"}, {"type": "network"}],
            "resources": {"memory": {"limit": 1048576}},
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        });
        for (k, v) in extra_linux.as_object().unwrap() {
            linux[k] = v.clone();
        }
        let mount =
            |d: &str, t: &str| serde_json::json!({"destination": d, "type": t, "source": t});
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "hostname": "box",
            "process": {
                "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
                "args": ["sh", "-c", "true"],
                "env": ["PATH=/bin"],
                "cwd": "/tmp",
                "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"]}
            },
            "mounts": [mount("/proc", "proc"), mount("/sys", "sysfs"), mount("/dev", "tmpfs"),
                       mount("/dev/pts", "devpts"), mount("/dev/shm", "tmpfs"),
                       mount("/dev/mqueue", "mqueue"),
                       {"destination": "/etc/hosts", "type": "bind", "source": "/x/hosts",
                        "options": ["rbind", "ro"]}],
            "linux": linux
        }))
        .unwrap()
    }

    fn send(sock: &UnixStream, m: Message) {
        protocol::send(sock.as_fd(), &m, None).unwrap();
    }

    fn recv(sock: &UnixStream) -> Option<Message> {
        protocol::recv(sock.as_fd()).unwrap().map(|(m, _)| m)
    }

    /// The fake helper's greeting, then the config it is started with (kept in `seen`).
    fn greet(sock: &UnixStream, seen: &Mutex<Option<InitConfig>>) {
        send(
            sock,
            Message::Hello {
                version: PROTOCOL_VERSION,
            },
        );
        let Some(Message::Start(cfg)) = recv(sock) else {
            panic!("no start")
        };
        *seen.lock().unwrap() = Some(*cfg);
    }

    fn streams() -> Streams {
        let null = || std::fs::File::open("/dev/null").unwrap().into();
        Streams {
            stdin: null(),
            stdout: null(),
            stderr: null(),
            preserved: 0,
        }
    }

    /// Launch `spec` on `kernel`; the hooks record into the kernel's calls, and `attach`
    /// fails when `attach_fails`.
    fn run(kernel: &FakeKernel, spec: &Spec, attach_fails: bool) -> Result<Launched> {
        let calls = kernel.calls.clone();
        let calls2 = kernel.calls.clone();
        let mut attach = move |pid: i32| {
            calls.lock().unwrap().push(format!("attach {pid}"));
            if attach_fails {
                Err(Error::in_use("the bridge is gone"))
            } else {
                Ok(())
            }
        };
        let mut running = move |pid: i32, helper: i32| {
            calls2
                .lock()
                .unwrap()
                .push(format!("running {pid} {helper}"));
            Ok(())
        };
        launch(
            kernel,
            Launch {
                spec,
                bundle: Path::new("/bundle"),
                helper: Path::new("/docker-init"),
                name: "c1",
                streams: streams(),
                exit_file: Path::new("/bundle/exit-status"),
                tty_size: None,
                seccomp_cache: None,
                gate: None,
                join: None,
                new_session_keyring: true,
                hook_state: None,
            },
            Hooks {
                attach: &mut attach,
                running: &mut running,
                created: &mut |_| panic!("no runtime hooks"),
            },
        )
    }

    /// A kernel whose helper goes through a start without hooks, its process `pid`, and what
    /// it was told.
    fn plain_helper(pid: i32) -> (FakeKernel, Arc<Mutex<Option<InitConfig>>>) {
        let seen: Arc<Mutex<Option<InitConfig>>> = Arc::default();
        let seen2 = seen.clone();
        let kernel = FakeKernel::new(move |sock| {
            greet(&sock, &seen2);
            send(&sock, Message::Ready { pid });
            assert_eq!(recv(&sock), Some(Message::Go));
            assert_eq!(recv(&sock), Some(Message::Run));
            send(&sock, Message::Exec);
        });
        (kernel, seen)
    }

    #[test]
    fn a_spec_is_run_step_by_step_and_the_helper_is_told_what_it_says() {
        let (kernel, seen) = plain_helper(4242);
        let seccomp = serde_json::json!({"seccomp": {"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}});
        let launched = run(&kernel, &spec(seccomp), false).unwrap();
        assert_eq!(launched.pid, 4242);
        assert!(launched.cgroup.is_some());
        assert_eq!(
            kernel.calls(),
            [
                "cgroup c1 1048576",
                "spawn c1",
                "attach 4242",
                "running 4242 1"
            ]
        );
        let cfg = seen.lock().unwrap().clone().unwrap();
        assert_eq!(cfg.rootfs, "/bundle/rootfs");
        assert_eq!(cfg.args, ["sh", "-c", "true"]);
        assert_eq!(
            (cfg.uid, cfg.gid, cfg.groups.clone()),
            (1000, 1000, vec![1000, 10])
        );
        assert_eq!(cfg.capabilities, [0, 5], "CAP_CHOWN and CAP_KILL by number");
        assert_eq!(cfg.workdir, "/tmp");
        assert!(cfg.new_netns);
        assert_eq!(
            cfg.binds,
            [crate::spawn::protocol::Bind {
                source: "/x/hosts".into(),
                target: "/etc/hosts".into(),
                recursive: true,
                // read-only and nodev (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV)
                attr: 0x1 | 0x4,
                propagation: libc::MS_PRIVATE,
                tree_propagation: libc::MS_PRIVATE,
            }]
        );
        assert_eq!(cfg.masked_paths, ["/proc/kcore"]);
        assert_eq!(cfg.exit_file, "/bundle/exit-status");
        // The process is created in the (v2) cgroup: no join after the fact.
        assert_eq!(cfg.cgroup, "/nonexistent/c1");
        assert!(
            cfg.seccomp.is_some_and(|p| !p.is_empty()),
            "the filter is compiled"
        );
        assert!(!cfg.no_new_privileges);
    }

    #[test]
    fn a_failed_hook_undoes_the_cgroup_and_names_the_helpers_error_first() {
        let kernel = FakeKernel::new(|sock| {
            send(
                &sock,
                Message::Hello {
                    version: PROTOCOL_VERSION,
                },
            );
            recv(&sock);
            send(&sock, Message::Ready { pid: 7 });
            recv(&sock);
            send(
                &sock,
                Message::Error {
                    message: "no such directory /tmp".into(),
                },
            );
        });
        let e = run(&kernel, &spec(serde_json::json!({})), true)
            .err()
            .unwrap();
        assert!(e.message().contains("no such directory /tmp"), "{e}");
        let calls = kernel.calls();
        assert_eq!(
            calls.last().map(String::as_str),
            Some("remove cgroup"),
            "{calls:?}"
        );
        assert!(!calls.iter().any(|c| c.starts_with("running")), "{calls:?}");
    }

    #[test]
    fn a_helper_that_goes_away_is_a_clear_error_and_nothing_stays() {
        let kernel = FakeKernel::new(|sock| {
            send(
                &sock,
                Message::Hello {
                    version: PROTOCOL_VERSION,
                },
            );
            recv(&sock);
            drop(sock);
        });
        // No memory limit: the container still gets its cgroup (the freezer's).
        let no_limit = spec(serde_json::json!({"resources": {}}));
        let e = run(&kernel, &no_limit, false).err().unwrap();
        assert!(
            e.message()
                .contains("docker-init exited before creating the namespaces"),
            "{e}"
        );
        assert_eq!(kernel.calls(), ["cgroup c1", "spawn c1", "remove cgroup"]);
    }

    /// A spec with hooks, as an OCI runtime's `create` launches it (with the hooks' state and
    /// a `created` callback recording into the kernel's calls).
    fn run_with_hooks(kernel: &FakeKernel, spec: &Spec) -> Result<Launched> {
        let calls = kernel.calls.clone();
        let mut created = move |pid: i32| {
            calls.lock().unwrap().push(format!("created {pid}"));
            Ok(())
        };
        launch(
            kernel,
            Launch {
                spec,
                bundle: Path::new("/bundle"),
                helper: Path::new("/docker-init"),
                name: "c1",
                streams: streams(),
                exit_file: Path::new(""),
                tty_size: None,
                seccomp_cache: None,
                gate: Some(Path::new("/run/c1/exec.fifo")),
                join: None,
                new_session_keyring: true,
                hook_state: Some(r#"{"id": "c1"}"#.into()),
            },
            Hooks {
                attach: &mut |_| Ok(()),
                running: &mut |_, _| Ok(()),
                created: &mut created,
            },
        )
    }

    #[test]
    fn runtime_hooks_run_while_the_helper_waits_before_the_root() {
        let seen: Arc<Mutex<Option<InitConfig>>> = Arc::default();
        let seen2 = seen.clone();
        let kernel = FakeKernel::new(move |sock| {
            greet(&sock, &seen2);
            send(&sock, Message::Ready { pid: 4242 });
            assert_eq!(recv(&sock), Some(Message::Go));
            send(&sock, Message::Prepared);
            assert_eq!(recv(&sock), Some(Message::Proceed));
            assert_eq!(recv(&sock), Some(Message::Run));
            send(&sock, Message::Waiting);
        });
        let mut spec = spec(serde_json::json!({}));
        let hook = |path: &str| serde_json::json!([{"path": path, "args": ["x", "1"]}]);
        spec.set_hooks(Some(
            serde_json::from_value(serde_json::json!({
                "createRuntime": hook("/bin/cr"),
                "createContainer": hook("/bin/cc"),
                "startContainer": hook("/bin/sc"),
                "poststop": hook("/bin/ps")
            }))
            .unwrap(),
        ));
        run_with_hooks(&kernel, &spec).unwrap();
        assert_eq!(
            kernel.calls(),
            ["cgroup c1 1048576", "spawn c1", "created 4242"]
        );
        let cfg = seen.lock().unwrap().clone().unwrap();
        assert!(cfg.runtime_hooks);
        let paths = |h: &[oci_spec::runtime::Hook]| {
            h.iter()
                .map(|h| h.path().display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(&cfg.create_container_hooks), ["/bin/cc"]);
        assert_eq!(paths(&cfg.start_container_hooks), ["/bin/sc"]);
        assert_eq!(cfg.hook_state, r#"{"id": "c1"}"#);

        // A caller that does not run hooks (the docker face) has a spec with hooks refused.
        let kernel = FakeKernel::new(|_| {});
        let e = run(&kernel, &spec, false).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.message().contains("hooks"), "{e}");
        assert!(kernel.calls().is_empty(), "{:?}", kernel.calls());
    }

    /// Beside a running container (`docker exec`): no cgroup made, the helper told which
    /// process to join, which cgroup to create the program in, and to stay as its monitor.
    #[test]
    fn a_process_beside_a_container_joins_it_and_may_be_monitored() {
        for monitor in [true, false] {
            let (kernel, seen) = plain_helper(99);
            let cgroup = Cgroup::at("/sys/fs/cgroup/docker-runtime/c1".into());
            let join = Join {
                pid: 4242,
                cgroup: Some(&cgroup),
                monitor,
            };
            let mut attached = Vec::new();
            let launched = launch(
                &kernel,
                Launch {
                    spec: &spec(serde_json::json!({})),
                    bundle: Path::new("/bundle"),
                    helper: Path::new("/docker-init"),
                    name: "c1",
                    streams: streams(),
                    exit_file: Path::new(""),
                    tty_size: None,
                    seccomp_cache: None,
                    gate: None,
                    join: Some(join),
                    new_session_keyring: false,
                    hook_state: None,
                },
                Hooks {
                    attach: &mut |pid| {
                        attached.push(pid);
                        Ok(())
                    },
                    running: &mut |_, _| Ok(()),
                    created: &mut |_| panic!("no runtime hooks"),
                },
            )
            .unwrap();
            assert_eq!(launched.pid, 99);
            assert!(launched.cgroup.is_none());
            assert_eq!(attached, [99]);
            assert_eq!(kernel.calls(), ["spawn c1"], "no cgroup is made");
            let cfg = seen.lock().unwrap().clone().unwrap();
            assert_eq!((cfg.join, cfg.join_monitor), (4242, monitor));
            assert_eq!(cfg.cgroup, "/sys/fs/cgroup/docker-runtime/c1");
        }
    }

    #[test]
    fn what_the_engine_does_not_execute_is_refused_before_anything_is_made() {
        for (linux, what) in [
            (
                serde_json::json!({"sysctl": {"kernel.panic": "1"}}),
                "the sysctl \"kernel.panic\"",
            ),
            (
                serde_json::json!({"namespaces": [{"type": "pid"}, {"type": "mount"},
                {"type": "uts"}, {"type": "ipc"}, {"type": "time"}]}),
                "a Time namespace",
            ),
            (
                serde_json::json!({"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}),
                "sharing the host's Ipc namespace",
            ),
            (
                serde_json::json!({"namespaces": [{"type": "pid"},
                {"type": "mount", "path": "/proc/1/ns/mnt"}, {"type": "uts"}, {"type": "ipc"}]}),
                "joining the Mount namespace at /proc/1/ns/mnt",
            ),
        ] {
            let kernel = FakeKernel::new(|_| {});
            let e = run(&kernel, &spec(linux), false).err().unwrap();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            assert!(e.message().contains(what), "{e}");
            assert!(kernel.calls().is_empty(), "{:?}", kernel.calls());
        }
    }
}
