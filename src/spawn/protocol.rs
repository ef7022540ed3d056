//! The conversation between the library and its `docker-init` helper, over a socketpair that
//! the helper finds at fd 3 (or, when the caller hands the container's process descriptors
//! from 3 on, right past them: [`INIT_SOCKET_ENV`]). Frames are a 4-byte little-endian length and a JSON message; a
//! descriptor (the container's pty master) travels with the frame that announces it.
//!
//! 1. helper -> library: `Hello { version }`. Mismatched versions refuse each other clearly.
//!    A helper started ahead of its container (a warm one, `engine::warm`) has /dev/null as
//!    its standard streams and dies with the thread that started it; the library then sends
//!    `Stdio` with the container's three stream descriptors, which the helper puts at 0-2 (and
//!    it stops dying with that thread) before it reads `Start`.
//! 2. library -> helper: `Start(InitConfig)` (the engine's reading of the OCI spec,
//!    `engine::plan`).
//! 3. helper -> library: `Ready { pid }` once the container's namespaces exist (pid is the
//!    container's first process, as the host sees it).
//! 4. library -> helper: `Go`. The helper sets up the file system, the terminal and the user;
//!    meanwhile the library sets up its network and records the container as running (the
//!    process is already in its cgroups: created in the v2 one, born from a helper that was
//!    born in the v1 ones).
//!    With [`InitConfig::runtime_hooks`], the helper then makes the mounts of its namespace
//!    slaves (nothing mounted there reaches the host), sends `Prepared` and waits for
//!    `Proceed`: the library runs the spec's prestart and createRuntime hooks meanwhile. The
//!    helper runs the createContainer hooks itself, before it enters the root.
//! 5. helper -> library: `Pty` (with the master descriptor) when a tty was asked for.
//! 6. library -> helper: `Run` (or `Error`): the process is in all its cgroups, the program
//!    may start (the helper first makes the cgroup namespace and `cgroup` mounts).
//! 7. helper -> library: `Exec` just before the program is executed, or `Error` when a step
//!    failed (the container is then not started).

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use oci_spec::runtime::Hook;
use serde::{Deserialize, Serialize};

/// Bumped whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 18;

/// The descriptor number at which the helper finds its end of the socket.
pub const INIT_SOCKET_FD: RawFd = 3;

/// The helper's environment variable naming its socket's descriptor when that is not
/// [`INIT_SOCKET_FD`]: `3 + N` when descriptors 3 to `3 + N - 1` are the container's process's
/// (an OCI runtime's `--preserve-fds N`). Unset: 3.
pub const INIT_SOCKET_ENV: &str = "DOCKER_INIT_SOCKET_FD";

/// The helper's environment variable, set for a warm helper (started ahead, before its
/// container is known): the library's pid. The helper asks to be killed when the thread that
/// started it ends (`PR_SET_PDEATHSIG`), and exits at once if its parent is already another
/// process; the container's `Stdio` message clears that again.
pub const INIT_PARENT_ENV: &str = "DOCKER_INIT_PARENT";

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 16 << 20;

/// A bind mount: the host's `source` (a file or folder, taken before the root is entered)
/// attached at `target`, resolved inside the container's root once it is the root.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bind {
    pub source: String,
    pub target: String,
    /// The mounts under `source` too (`rbind`).
    pub recursive: bool,
    /// `MOUNT_ATTR_*` bits set on every mount of the bind (read-only, nosuid, nodev, noexec);
    /// the source's own flags are kept.
    pub attr: u64,
    /// The propagation (`MS_PRIVATE`, `MS_SLAVE`, `MS_SHARED` or `MS_UNBINDABLE`) of the
    /// bind's top mount. A shared or slave bind keeps its relation with the host's mount of
    /// the source: a peer of it (both sides see what the other mounts under it) or its slave
    /// (the container sees what the host mounts there, the host nothing of the container's).
    pub propagation: u64,
    /// The propagation of every mount of the bind's tree, set before the top's.
    pub tree_propagation: u64,
}

/// Everything the helper needs to set up and start one container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitConfig {
    pub version: u32,
    /// The mounted root file system (overlay) of the container.
    pub rootfs: String,
    pub hostname: String,
    /// argv of the program; argv[0] is searched in the container's PATH when it has no '/'.
    pub args: Vec<String>,
    /// The whole environment (`K=V`).
    pub env: Vec<String>,
    /// Who the program runs as: uid, gid, and every group (the gid first).
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The capability numbers kept in the bounding set; root's own set.
    pub capabilities: Vec<u32>,
    /// Set no_new_privs before the program runs.
    pub no_new_privileges: bool,
    /// The seccomp program (a `struct sock_filter` array, base64) installed just before the
    /// user is switched; none: no filter.
    pub seccomp: Option<String>,
    pub workdir: String,
    pub tty: bool,
    /// A new network namespace (false: share the host's, never used by `run`).
    pub new_netns: bool,
    /// Host files and folders bind-mounted into the container, in the spec's order.
    pub binds: Vec<Bind>,
    /// Where the helper writes the exit status when the container ends.
    pub exit_file: String,
    /// A cgroup v2 folder the container's first process is created in (`clone3` with
    /// `CLONE_INTO_CGROUP`: no migration, so no wait for an RCU grace period), so that it and
    /// everything it forks are in the cgroup from their first instruction; empty: none.
    pub cgroup: String,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// A FIFO on the host the container's process waits at, once set up, until another
    /// process opens it for reading (an OCI runtime's `create`, then `start`); empty: no gate.
    /// With a gate the helper does not stay as the container's monitor: it exits once the
    /// process is made, which leaves the process to the caller's subreaper, and writes no
    /// exit status (`exit_file` is unused).
    pub gate: String,
    /// Resource limits set before the program runs: (resource number, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// Remount the root file system read-only once everything is mounted in it.
    pub readonly_root: bool,
    /// tmpfs mounts in the container, in the spec's order, before the binds: (container path,
    /// mount flags, data such as `mode=755,size=65536k`).
    pub tmpfs: Vec<(String, u64, String)>,
    /// Nonzero: run the program in the namespaces of this process (host pid), a running
    /// container's first one, instead of new ones (an OCI runtime's `exec`): nothing is
    /// mounted, the helper reports the program's pid and leaves it to the caller's subreaper
    /// (or, with [`InitConfig::join_monitor`], waits for it).
    pub join: i32,
    /// Beside a running container ([`InitConfig::join`]): the helper stays as the program's
    /// parent, waits for it and exits with its status (the docker face's `exec`, which waits
    /// for the helper), instead of leaving it to the caller's subreaper. No exit file is
    /// written (the helper is in the container's mount namespace by then).
    pub join_monitor: bool,
    /// Namespaces joined by path instead of made (a pod's shared ones): (`net`, `ipc`, `uts`,
    /// `pid`, `user` or `cgroup`, host path). The helper joins them before it forks the container's process,
    /// which so becomes a member of a joined PID namespace.
    pub join_namespaces: Vec<(String, String)>,
    /// Give the container a new anonymous session keyring (runc's default), so it does not
    /// share its caller's.
    pub new_session_keyring: bool,
    /// Written to `/proc/self/oom_score_adj` before the program runs.
    pub oom_score_adj: Option<i32>,
    /// The program's umask (default 022).
    pub umask: Option<u32>,
    /// The NIS domain name of a new UTS namespace (empty: left alone).
    pub domainname: String,
    /// Namespaced kernel parameters written under `/proc/sys` once it is mounted:
    /// (`net.ipv4.ip_forward`, `1`).
    pub sysctls: Vec<(String, String)>,
    /// The terminal's size (rows, columns), set before the program runs.
    pub tty_size: Option<(u16, u16)>,
    /// Stop before the root is entered (`Prepared`, then wait for `Proceed`) so that the
    /// library runs the spec's prestart and createRuntime hooks.
    pub runtime_hooks: bool,
    /// The spec's createContainer hooks, run by the helper in the container's namespaces before
    /// it enters the root (their paths are the host's).
    pub create_container_hooks: Vec<Hook>,
    /// The spec's startContainer hooks, run once the gate is opened, before the program (their
    /// paths are the container's); a failure is reported to the gate's reader.
    pub start_container_hooks: Vec<Hook>,
    /// The container's state (runtime-spec JSON) the hooks above read on their standard input;
    /// the helper sets its `pid` and `status`.
    pub hook_state: String,
    /// A new user namespace, owning the container's other new namespaces, with these maps
    /// (container id, host id, count), written by the helper from the host; empty: none.
    pub uid_map: Vec<(u32, u32, u32)>,
    pub gid_map: Vec<(u32, u32, u32)>,
    /// A new cgroup namespace, made once the process is in all its cgroups (after `Run`).
    pub new_cgroupns: bool,
    /// cgroup file systems mounted in the container after `Run`: (container path, read-only).
    pub cgroup_mounts: Vec<(String, bool)>,
    /// Device nodes beside the standard ones (`linux.devices`).
    pub devices: Vec<DeviceNode>,
    /// Propagation flags (`MS_SHARED`, `MS_SLAVE`, `MS_UNBINDABLE`, with `MS_REC`) applied to
    /// the container's root once everything is mounted in it (`linux.rootfsPropagation`);
    /// 0: the root tree stays private.
    pub root_propagation: u64,
}

/// A device node the container gets at `path` (under `/dev`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceNode {
    pub path: String,
    /// `c` (character), `b` (block) or `p` (FIFO).
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    /// The permission bits (`0o666`).
    pub mode: u32,
    /// The owner as the host sees it (already mapped through the user namespace's maps).
    pub uid: u32,
    pub gid: u32,
}

/// A message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Hello {
        version: u32,
    },
    Start(Box<InitConfig>),
    Ready {
        pid: i32,
    },
    Go,
    Run,
    Pty,
    Exec,
    /// Set up and waiting at the gate (see [`InitConfig::gate`]).
    Waiting,
    /// The namespaces exist and the root is not entered yet (see
    /// [`InitConfig::runtime_hooks`]).
    Prepared,
    /// The library's hooks ran: the helper goes on.
    Proceed,
    Error {
        message: String,
    },
    /// The container's stdin, stdout and stderr travel with it (to a warm helper, before
    /// `Start`).
    Stdio,
}

/// The most descriptors one message carries (`Stdio`'s three).
const MAX_FDS: usize = 3;

fn cmsg_space(fds: usize) -> usize {
    // SAFETY: CMSG_SPACE is a pure computation on a size.
    unsafe { libc::CMSG_SPACE((fds * std::mem::size_of::<RawFd>()) as u32) as usize }
}

/// Send `msg`, with `fd` attached when given.
pub fn send(sock: BorrowedFd<'_>, msg: &Message, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    send_fds(sock, msg, fd.as_slice())
}

/// Send `msg` with `fds` attached (at most three).
pub fn send_fds(sock: BorrowedFd<'_>, msg: &Message, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other(format!(
            "{} descriptors in one message (at most {MAX_FDS})",
            fds.len()
        )));
    }
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::other(format!(
            "message of {} bytes is larger than {MAX_FRAME}",
            body.len()
        )));
    }
    let len = (body.len() as u32).to_le_bytes();
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len);
    frame.extend_from_slice(&body);
    let mut sent = 0;
    let mut first = true;
    while sent < frame.len() {
        let iov = [IoSlice::new(&frame[sent..])];
        let mut cbuf = vec![0u8; cmsg_space(fds.len())];
        // SAFETY: a zeroed msghdr is valid; every pointer set below points into live buffers
        // that outlive the sendmsg call.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = iov.as_ptr() as *mut libc::iovec;
        hdr.msg_iovlen = 1;
        if first && !fds.is_empty() {
            hdr.msg_control = cbuf.as_mut_ptr().cast();
            hdr.msg_controllen = cbuf.len() as _;
            let bytes = fds.len() * std::mem::size_of::<RawFd>();
            // SAFETY: msg_control points at a buffer of CMSG_SPACE(bytes) bytes, so the first
            // header and its data fit.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(&hdr);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(bytes as u32) as _;
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for (i, fd) in fds.iter().enumerate() {
                    std::ptr::write_unaligned(data.add(i), fd.as_raw_fd());
                }
            }
        }
        // SAFETY: hdr is fully initialised and its buffers are live.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        sent += n as usize;
        first = false;
    }
    Ok(())
}

/// Read exactly `buf.len()` bytes, collecting any descriptor that arrives with them.
fn recv_exact(sock: BorrowedFd<'_>, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        let mut iov = [IoSliceMut::new(&mut buf[got..])];
        let mut cbuf = vec![0u8; cmsg_space(MAX_FDS)];
        // SAFETY: a zeroed msghdr is valid; pointers set below point into live buffers.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = iov.as_mut_ptr() as *mut libc::iovec;
        hdr.msg_iovlen = 1;
        hdr.msg_control = cbuf.as_mut_ptr().cast();
        hdr.msg_controllen = cbuf.len() as _;
        // SAFETY: hdr points at live buffers; MSG_CMSG_CLOEXEC marks received fds close-on-exec.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut hdr, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // SAFETY: walking the control messages the kernel wrote into cbuf.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&hdr);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let header = libc::CMSG_LEN(0) as usize;
                    let n = ((*c).cmsg_len as usize - header) / std::mem::size_of::<RawFd>();
                    let data = libc::CMSG_DATA(c).cast::<RawFd>();
                    for i in 0..n {
                        fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                    }
                }
                c = libc::CMSG_NXTHDR(&hdr, c);
            }
        }
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed in the middle of a message",
            ));
        }
        got += n as usize;
    }
    Ok(true)
}

/// Receive one message and the descriptor sent with it. `Ok(None)` at end of stream.
pub fn recv(sock: BorrowedFd<'_>) -> io::Result<Option<(Message, Option<OwnedFd>)>> {
    Ok(recv_fds(sock)?.map(|(m, mut fds)| (m, fds.pop())))
}

/// Receive one message and the descriptors sent with it, in their order. `Ok(None)` at end
/// of stream.
pub fn recv_fds(sock: BorrowedFd<'_>) -> io::Result<Option<(Message, Vec<OwnedFd>)>> {
    let mut fds = Vec::new();
    let mut len = [0u8; 4];
    if !recv_exact(sock, &mut len, &mut fds)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!(
            "message of {len} bytes is larger than {MAX_FRAME}"
        )));
    }
    let mut body = vec![0u8; len];
    recv_exact(sock, &mut body, &mut fds)?;
    let msg = serde_json::from_slice(&body)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad message: {e}")))?;
    Ok(Some((msg, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn messages_and_descriptors_cross() {
        let (a, b) = UnixStream::pair().unwrap();
        let cfg = InitConfig {
            version: PROTOCOL_VERSION,
            rootfs: "/x".into(),
            hostname: "h".into(),
            args: vec!["sh".into()],
            env: vec!["A=1".into(); 1000],
            uid: 0,
            gid: 0,
            groups: vec![0],
            capabilities: vec![0, 1],
            no_new_privileges: false,
            seccomp: Some("AAAA".into()),
            workdir: "/".into(),
            tty: true,
            new_netns: true,
            binds: vec![],
            exit_file: "/e".into(),
            cgroup: "/sys/fs/cgroup/docker-runtime/x".into(),
            ..InitConfig::default()
        };
        send(a.as_fd(), &Message::Start(Box::new(cfg.clone())), None).unwrap();
        let devnull = std::fs::File::open("/dev/null").unwrap();
        send(a.as_fd(), &Message::Pty, Some(devnull.as_fd())).unwrap();
        drop(a);
        let (m, fd) = recv(b.as_fd()).unwrap().unwrap();
        assert_eq!(m, Message::Start(Box::new(cfg)));
        assert!(fd.is_none());
        let (m, fd) = recv(b.as_fd()).unwrap().unwrap();
        assert_eq!(m, Message::Pty);
        assert!(fd.is_some());
        assert!(recv(b.as_fd()).unwrap().is_none());
    }

    #[test]
    fn three_descriptors_cross_in_their_order() {
        let (a, b) = UnixStream::pair().unwrap();
        let files: Vec<std::fs::File> = ["/dev/null", "/proc/self/stat", "/dev/zero"]
            .iter()
            .map(|p| std::fs::File::open(p).unwrap())
            .collect();
        let fds: Vec<BorrowedFd<'_>> = files.iter().map(|f| f.as_fd()).collect();
        send_fds(a.as_fd(), &Message::Stdio, &fds).unwrap();
        let (m, got) = recv_fds(b.as_fd()).unwrap().unwrap();
        assert_eq!(m, Message::Stdio);
        let targets: Vec<String> = got
            .iter()
            .map(|fd| {
                let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
                std::fs::read_link(link).unwrap().display().to_string()
            })
            .collect();
        assert_eq!(targets[0], "/dev/null");
        assert!(targets[1].ends_with("/stat"), "{targets:?}");
        assert_eq!(targets[2], "/dev/zero");
        let four = [fds[0], fds[1], fds[2], fds[0]];
        assert!(send_fds(a.as_fd(), &Message::Stdio, &four).is_err());
    }
}
