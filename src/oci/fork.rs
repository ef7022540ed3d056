//! The OCI command's helper: a fork of this process that runs the helper's code itself, where
//! the library execs `docker-init`. `docker-runtime-oci` is a single-threaded program of this
//! crate, so its fork may run Rust code (the library's host process may be any threaded
//! program, which is why the library never forks into Rust code); crun starts its containers
//! the same way. The exec of `docker-init`, its dynamic loading and its runtime's start
//! (about 0.5 ms) leave the path of every `create`, `run` and `exec`. Should a thread exist
//! at the fork, the helper is started as the library starts it.

use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::cgroup::Cgroup;
use crate::engine::kernel::helper_fds;
use crate::engine::{Helper, Host, Kernel, Streams};
use crate::error::{Error, Result};
use crate::spawn::process::{self, Child};

/// [`Host`], but with the helper forked from this process.
pub struct Forking;

/// Whether this process has one thread (what a fork that runs Rust code needs).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

/// The forked helper's part: into the container's v1 cgroup folders (a single thread moving
/// itself: no RCU wait), its descriptors in place, then the helper's work. Never returns.
fn helper(streams: &Streams, sock: &UnixStream, cgroup: Option<&Cgroup>) -> ! {
    let placed = cgroup
        .filter(|c| c.has_v1())
        .map_or(Ok(()), Cgroup::enter_v1)
        .and_then(|()| {
            let (fds, sock_fd) = helper_fds(streams, sock)?;
            process::become_helper(&fds)
                .map_err(|e| Error::io("placing the helper's descriptors", e))?;
            Ok(sock_fd)
        });
    let status = match placed {
        Ok(sock_fd) => crate::init::serve(sock_fd),
        Err(e) => {
            eprintln!("docker-runtime-oci: starting the container's helper: {e}");
            1
        }
    };
    // SAFETY: _exit ends this forked process without running the parent's exit handlers.
    unsafe { libc::_exit(status) }
}

impl Kernel for Forking {
    fn spawn_helper(
        &self,
        path: &Path,
        name: &str,
        streams: Streams,
        cgroup: Option<&Cgroup>,
    ) -> Result<Helper> {
        if !single_threaded() {
            return Host.spawn_helper(path, name, streams, cgroup);
        }
        let (sock, child_sock) =
            UnixStream::pair().map_err(|e| Error::io("creating the helper socket", e))?;
        // SAFETY: this process has a single thread (checked above), so the child may run any
        // code; it ends with _exit.
        match unsafe { libc::fork() } {
            -1 => Err(Error::io(
                "forking the container's helper",
                std::io::Error::last_os_error(),
            )),
            0 => helper(&streams, &child_sock, cgroup),
            pid => Ok(Helper {
                sock,
                pid,
                child: Some(Child::forked(pid)),
                greeted: false,
            }),
        }
    }
}
