//! The engine's seam to the kernel: the few host operations a container's start and stop make
//! outside the helper (an overlay mount, a cgroup, the helper process). [`Host`] does them for
//! real; unit tests give the lifecycle a fake that records the calls and plays the helper's part
//! of the protocol, so the order of the steps and their undo are tested without root. The
//! integration tests use [`Host`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::cgroup::{Cgroup, CgroupPath, Resources};
use crate::error::{Error, Result};
use crate::spawn::process::{self, Child};
use crate::spawn::protocol::{
    self, Message, INIT_PARENT_ENV, INIT_SOCKET_ENV, INIT_SOCKET_FD, PROTOCOL_VERSION,
};

/// The standard streams the helper (and so the container's program) starts with.
pub struct Streams {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// Descriptors 3 to `3 + preserved - 1` of this process, which the program gets at the
    /// same numbers (an OCI runtime's `--preserve-fds`); they must be open. 0: none (no
    /// descriptor past 2 reaches the program).
    pub preserved: u32,
}

impl Streams {
    /// /dev/null for all three (a warm helper's, until it is given its container's).
    pub fn null() -> Result<Streams> {
        let open = || -> Result<OwnedFd> {
            std::fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map(OwnedFd::from)
                .map_err(|e| Error::io("opening /dev/null", e))
        };
        Ok(Streams {
            stdin: open()?,
            stdout: open()?,
            stderr: open()?,
            preserved: 0,
        })
    }
}

/// A started helper: our end of its socket, its pid, and the process to reap when the start
/// is abandoned (none for a fake).
pub struct Helper {
    pub sock: UnixStream,
    pub pid: i32,
    pub child: Option<Child>,
    /// Its `Hello` was read already (a warm helper, see `warm`).
    pub greeted: bool,
}

impl Helper {
    /// Make sure a helper whose start failed is gone (it exits on its own once it reported an
    /// error or lost us).
    pub fn abandon(mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Host operations of a container's lifecycle. All but the helper's start default to the
/// real ones (a kernel that changes how the helper starts keeps them; the unit tests' fake
/// gives its own for each).
pub trait Kernel: Send + Sync {
    /// Mount `lowers` (topmost first) with the read-write `upper` at `target`.
    fn mount_overlay(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<()> {
        crate::mount::mount_overlay(lowers, upper, work, target)
    }
    /// Detach what is mounted at `target` (nothing there is fine).
    fn unmount(&self, target: &Path) -> Result<()> {
        crate::mount::unmount(target)
    }
    /// Make the container's cgroup at `path` with the resources `res` (see
    /// [`Cgroup::create`]). None when the host has no cgroup to make.
    fn create_cgroup(&self, path: &CgroupPath, res: &Resources) -> Result<Option<Cgroup>> {
        Cgroup::create(path, res)
    }
    /// Move `pid` into the folders of `cgroup` it was not born in (v1's freezer, on a host
    /// without cgroup v2).
    fn join_cgroup(&self, cgroup: &Cgroup, pid: i32) -> Result<()> {
        cgroup.add(pid)
    }
    /// Remove `cgroup` (its processes are gone).
    fn remove_cgroup(&self, cgroup: &Cgroup) {
        cgroup.remove()
    }
    /// Start the helper program `path` (named `docker-init NAME` in `ps`) with `streams` and
    /// its end of a socket pair at [`INIT_SOCKET_FD`] (past the descriptors it hands on, see
    /// [`Streams::preserved`]); born in `cgroup`'s v1 folders when
    /// given (so that what it forks is too).
    fn spawn_helper(
        &self,
        path: &Path,
        name: &str,
        streams: Streams,
        cgroup: Option<&Cgroup>,
    ) -> Result<Helper>;
}

/// The real kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Host;

impl Kernel for Host {
    fn spawn_helper(
        &self,
        path: &Path,
        name: &str,
        streams: Streams,
        cgroup: Option<&Cgroup>,
    ) -> Result<Helper> {
        let Some(cg) = cgroup.filter(|c| c.has_v1()) else {
            return spawn(path, name, streams, false);
        };
        // Forked by a thread that entered the v1 folders itself (no RCU wait, see
        // `cgroup`) and then ends, which takes it out of them again.
        std::thread::scope(|s| {
            s.spawn(move || {
                cg.enter_v1()
                    .map_err(|e| e.context("entering the container's cgroup"))?;
                spawn(path, name, streams, false)
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::new(
                    crate::error::ErrorKind::Io,
                    "the thread starting docker-init panicked",
                ))
            })
        })
    }
}

/// Read a helper's greeting: it must speak our protocol.
pub fn greet(sock: &UnixStream) -> Result<()> {
    let m = protocol::recv(sock.as_fd())
        .map_err(|e| Error::io("talking to docker-init (greeting)", e))?;
    match m {
        Some((Message::Hello { version }, _)) if version == PROTOCOL_VERSION => Ok(()),
        Some((Message::Hello { version }, _)) => Err(Error::unsupported(format!(
            "docker-init speaks protocol {version}, this library {PROTOCOL_VERSION}: use the docker-init of the same build"
        ))),
        Some((Message::Error { message }, _)) => Err(Error::invalid(message)),
        Some((m, _)) => Err(Error::invalid(format!(
            "unexpected message from docker-init: {m:?}"
        ))),
        None => Err(Error::new(
            crate::error::ErrorKind::Io,
            "docker-init exited before greeting",
        )),
    }
}

/// Check that the descriptors to preserve are open: a hole would be filled by whatever this
/// process opens next (the helper's socket among them), handing that to the container.
fn check_preserved(preserved: u32) -> Result<()> {
    for fd in INIT_SOCKET_FD..INIT_SOCKET_FD + preserved as i32 {
        // SAFETY: F_GETFD only reads the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::invalid(format!(
                "descriptor {fd}, one of the {preserved} to preserve from 3 on, is not open"
            )));
        }
    }
    Ok(())
}

/// Where the helper's descriptors go: the streams at 0-2, the preserved ones at their own
/// numbers, `child_sock` right past them (fd 3 when none are preserved); and the socket's
/// number.
pub fn helper_fds<'a>(
    streams: &'a Streams,
    child_sock: &'a UnixStream,
) -> Result<(Vec<(BorrowedFd<'a>, RawFd)>, RawFd)> {
    check_preserved(streams.preserved)?;
    let sock_fd = INIT_SOCKET_FD + streams.preserved as i32;
    let mut fds = vec![
        (streams.stdin.as_fd(), 0),
        (streams.stdout.as_fd(), 1),
        (streams.stderr.as_fd(), 2),
    ];
    for fd in INIT_SOCKET_FD..sock_fd {
        // SAFETY: check_preserved found it open; borrowed for as long as the streams are.
        fds.push((unsafe { BorrowedFd::borrow_raw(fd) }, fd));
    }
    fds.push((child_sock.as_fd(), sock_fd));
    Ok((fds, sock_fd))
}

/// Start the helper from the calling thread (see [`Kernel::spawn_helper`]): its socket at
/// fd 3, or past the preserved descriptors (which it gets at their numbers, close-on-exec
/// cleared on them alone; every other descriptor of ours is close-on-exec), see
/// [`helper_fds`]. `warm`: it dies with the calling thread (`PR_SET_PDEATHSIG`, which it asks
/// for itself, told our pid by [`INIT_PARENT_ENV`]) until it is given its container's
/// streams.
pub(super) fn spawn(path: &Path, name: &str, streams: Streams, warm: bool) -> Result<Helper> {
    let (sock, child_sock) =
        UnixStream::pair().map_err(|e| Error::io("creating the helper socket", e))?;
    let (fds, sock_fd) = helper_fds(&streams, &child_sock)?;
    let mut env = Vec::new();
    if sock_fd != INIT_SOCKET_FD {
        env.push(format!("{INIT_SOCKET_ENV}={sock_fd}"));
    }
    if warm {
        env.push(format!("{INIT_PARENT_ENV}={}", std::process::id()));
    }
    // The name only shows in `ps` (docker-init reads nothing from its arguments).
    let child = process::spawn(path, &["docker-init", name], &env, &fds)
        .map_err(|e| Error::io(format!("starting {}", path.display()), e))?;
    Ok(Helper {
        sock,
        pid: child.id() as i32,
        child: Some(child),
        greeted: false,
    })
}

/// A kernel for unit tests: it records every call, mounts and cgroups nothing, and plays the
/// helper's part of the protocol with a script run on a thread.
#[cfg(test)]
pub(crate) mod fake {
    use std::sync::{Arc, Mutex};

    use super::*;

    pub type Script = Box<dyn FnOnce(UnixStream) + Send>;

    pub struct FakeKernel {
        pub calls: Arc<Mutex<Vec<String>>>,
        script: Mutex<Option<Script>>,
        pub fail_spawn: bool,
    }

    impl FakeKernel {
        pub fn new(script: impl FnOnce(UnixStream) + Send + 'static) -> FakeKernel {
            FakeKernel {
                calls: Arc::new(Mutex::new(Vec::new())),
                script: Mutex::new(Some(Box::new(script))),
                fail_spawn: false,
            }
        }

        pub fn record(&self, call: impl Into<String>) {
            self.calls.lock().unwrap().push(call.into());
        }

        pub fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Kernel for FakeKernel {
        fn mount_overlay(&self, lowers: &[PathBuf], _: &Path, _: &Path, _: &Path) -> Result<()> {
            self.record(format!("mount {} layers", lowers.len()));
            Ok(())
        }

        fn unmount(&self, _: &Path) -> Result<()> {
            self.record("unmount");
            Ok(())
        }

        fn create_cgroup(&self, path: &CgroupPath, res: &Resources) -> Result<Option<Cgroup>> {
            let name = match path {
                CgroupPath::Named(n) => n.clone(),
                other => format!("{other:?}"),
            };
            match res.memory {
                Some(limit) => self.record(format!("cgroup {name} {limit}")),
                None => self.record(format!("cgroup {name}")),
            }
            Ok(Some(Cgroup::at(PathBuf::from("/nonexistent").join(name))))
        }

        fn join_cgroup(&self, _: &Cgroup, pid: i32) -> Result<()> {
            self.record(format!("join cgroup {pid}"));
            Ok(())
        }

        fn remove_cgroup(&self, _: &Cgroup) {
            self.record("remove cgroup");
        }

        fn spawn_helper(
            &self,
            _: &Path,
            name: &str,
            _: Streams,
            _: Option<&Cgroup>,
        ) -> Result<Helper> {
            self.record(format!("spawn {name}"));
            if self.fail_spawn {
                return Err(Error::not_found(
                    "docker-init helper /nonexistent does not exist",
                ));
            }
            let (ours, theirs) = UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
            let script = self
                .script
                .lock()
                .unwrap()
                .take()
                .expect("one helper per test");
            std::thread::spawn(move || script(theirs));
            Ok(Helper {
                sock: ours,
                pid: 1,
                child: None,
                greeted: false,
            })
        }
    }
}
