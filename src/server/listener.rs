//! The daemon's listening sockets.
//!
//! A unix socket is never reachable with looser permissions than 0660, not even for a moment:
//! it is bound inside a fresh private directory (mode 0700, so only root can reach it whatever
//! the umask makes of the socket's own mode), given mode 0660 and its group there, and only
//! then renamed onto its final path, an atomic step that also replaces a stale socket left by a
//! daemon that died. A path where a live daemon answers, or that is not a socket, is refused.

use std::ffi::CString;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::addr::{Addr, Stream};
use crate::error::{Error, Result};
use crate::log::Logger;

/// The group a unix socket is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketGroup {
    /// `docker` when that group exists, else the daemon's own group.
    Default,
    /// This group (a name or a number); it must exist.
    Named(String),
}

/// The group of the default socket, when it exists.
pub const DEFAULT_GROUP: &str = "docker";

/// The longest path a unix socket address holds (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

fn lookup_group(name: &str) -> Result<Option<u32>> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Some(gid));
    }
    nix::unistd::Group::from_name(name)
        .map(|g| g.map(|g| g.gid.as_raw()))
        .map_err(|e| Error::errno(format!("looking up group {name:?}"), e))
}

fn group_id(group: &SocketGroup) -> Result<Option<u32>> {
    match group {
        SocketGroup::Default => lookup_group(DEFAULT_GROUP),
        SocketGroup::Named(name) => match lookup_group(name)? {
            Some(gid) => Ok(Some(gid)),
            None => Err(Error::not_found(format!(
                "group {name:?} for the daemon socket does not exist"
            ))),
        },
    }
}

/// A bound socket the daemon accepts connections on.
#[derive(Debug)]
pub enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// Device and inode of the socket file, so only our own socket is removed at the end.
        id: (u64, u64),
    },
    Tcp {
        listener: TcpListener,
        addr: String,
    },
}

impl Listener {
    /// Bind `addr`. A TCP address is logged with a loud warning: whoever can connect to it
    /// controls the machine.
    pub fn bind(addr: &Addr, group: &SocketGroup, logger: &Logger) -> Result<Listener> {
        let l = match addr {
            Addr::Unix(path) => bind_unix(path, group)?,
            Addr::Tcp(hp) => {
                let listener = TcpListener::bind(hp.as_str())
                    .map_err(|e| Error::io(format!("listening on tcp://{hp}"), e))?;
                logger.warn(&format!(
                    "listening on tcp://{hp}: ANYONE WHO CAN CONNECT TO THIS ADDRESS CAN RUN ANY COMMAND AS ROOT ON THIS MACHINE (there is no authentication and no encryption); prefer unix://"
                ));
                Listener::Tcp {
                    listener,
                    addr: hp.clone(),
                }
            }
        };
        l.set_nonblocking()?;
        Ok(l)
    }

    fn set_nonblocking(&self) -> Result<()> {
        let r = match self {
            Listener::Unix { listener, .. } => listener.set_nonblocking(true),
            Listener::Tcp { listener, .. } => listener.set_nonblocking(true),
        };
        r.map_err(|e| Error::io(format!("setting up {}", self.addr()), e))
    }

    /// The address as `-H` spells it.
    pub fn addr(&self) -> String {
        match self {
            Listener::Unix { path, .. } => format!("unix://{}", path.display()),
            Listener::Tcp { addr, .. } => format!("tcp://{addr}"),
        }
    }

    /// Accept one pending connection; `Ok(None)` when none is waiting. The connection is in
    /// blocking mode.
    pub fn accept(&self) -> io::Result<Option<Stream>> {
        let r = match self {
            Listener::Unix { listener, .. } => listener.accept().map(|(s, _)| Stream::Unix(s)),
            Listener::Tcp { listener, .. } => listener.accept().and_then(|(s, _)| {
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }),
        };
        match r {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix { listener, .. } => listener.as_fd(),
            Listener::Tcp { listener, .. } => listener.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, id, .. } = self {
            // Remove the socket file only while it is still ours: a newer daemon may own it.
            if let Ok(m) = std::fs::symlink_metadata(&*path) {
                if (m.dev(), m.ino()) == *id {
                    let _ = std::fs::remove_file(&*path);
                }
            }
        }
    }
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    // A failure leaves zeros; mkdir then fails on a clash and the caller tries again.
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

/// A private directory (0700) next to the socket's final path, removed on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create(parent: &Path) -> Result<PrivateDir> {
        for _ in 0..16 {
            let p = parent.join(format!(".dr{}", random_suffix()));
            match std::fs::DirBuilder::new().mode(0o700).create(&p) {
                Ok(()) => return Ok(PrivateDir(p)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io_path("creating", &p, e)),
            }
        }
        Err(Error::io(
            format!("creating a private directory in {}", parent.display()),
            io::Error::from(io::ErrorKind::AlreadyExists),
        ))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chown_group(path: &Path, gid: u32) -> Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("{} contains a NUL byte", path.display())))?;
    // SAFETY: c is a valid NUL-terminated path; uid -1 keeps the owner.
    let rc = unsafe { libc::lchown(c.as_ptr(), u32::MAX, gid) };
    if rc != 0 {
        return Err(Error::io(
            format!("giving {} to group {gid}", path.display()),
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Check what is at `path` now: nothing, or a stale socket, is fine.
fn check_existing(path: &Path) -> Result<()> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io_path("checking", path, e)),
    };
    if !m.file_type().is_socket() {
        return Err(Error::exists(format!(
            "{} exists and is not a socket; refusing to replace it",
            path.display()
        )));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(Error::in_use(format!(
            "another daemon is listening on unix://{}",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(Error::io(
            format!("checking the socket {}", path.display()),
            e,
        )),
    }
}

fn bind_unix(path: &Path, group: &SocketGroup) -> Result<Listener> {
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::invalid(format!(
            "socket path {} is longer than {MAX_SOCKET_PATH} bytes",
            path.display()
        )));
    }
    let gid = group_id(group)?;
    if path.file_name().is_none() {
        return Err(Error::invalid(format!(
            "socket path {} has no file name",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&parent)
            .map_err(|e| Error::io_path("creating", &parent, e))?;
    }
    check_existing(path)?;

    let private = PrivateDir::create(&parent)?;
    let tmp = private.0.join("s");
    if tmp.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::invalid(format!(
            "socket path {} is too long to be created safely: use a shorter directory",
            path.display()
        )));
    }
    let listener = UnixListener::bind(&tmp)
        .map_err(|e| Error::io(format!("binding unix://{}", path.display()), e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| Error::io_path("setting the mode of", &tmp, e))?;
    if let Some(gid) = gid {
        chown_group(&tmp, gid)?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        Error::io(
            format!("moving the socket into place at {}", path.display()),
            e,
        )
    })?;
    drop(private);
    let m = std::fs::symlink_metadata(path).map_err(|e| Error::io_path("checking", path, e))?;
    Ok(Listener::Unix {
        listener,
        path: path.to_path_buf(),
        id: (m.dev(), m.ino()),
    })
}
