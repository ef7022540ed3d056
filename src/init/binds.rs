//! Bind mounts: the host's file or folder taken as a detached mount tree before the root is
//! entered (`open_tree`), its flags and propagation set on the whole tree while it is detached
//! (`mount_setattr`: read-only is the tree's from the start), then attached inside the
//! container's root once it is the root (`move_mount` onto a descriptor of the target). The
//! target is looked up after `pivot_root`, so a symbolic link of the image resolves inside the
//! container's root: an absolute link or a `..` climbs no higher than it. A missing target is
//! made there (a folder, or an empty file for a file source, as docker does), never through a
//! link.
//!
//! Propagation: a clone (`open_tree`) of a mount keeps its peer group, and the container's
//! mount namespace starts as a copy whose mounts are peers of the host's shared ones. So the
//! tree is a peer of the host's mount of the source until its propagation is set: private by
//! default (nothing mounted under it on either side reaches the other), a slave (the
//! container sees what the host mounts under the source, the host nothing of the
//! container's), or left a peer for `shared` (both ways). A shared bind is taken before the
//! namespace's mounts are made slaves for the hooks (`hooks::before_root`), which would cut
//! the way back to the host. In a user namespace the kernel copies the host's shared mounts
//! as slaves: a shared bind then only receives.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{self, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{self, Mode};

use super::sys::{errno_msg, Res};
use crate::spawn::protocol::Bind;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
/// `/proc`'s file system type (`statfs`).
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A bind taken from the host, ready to be attached.
pub struct Taken {
    tree: OwnedFd,
    target: String,
    /// Whether the source is a folder (a missing target is made as one).
    dir: bool,
}

fn os_err(what: impl std::fmt::Display) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Whether `bind` is shared (its top or its tree): see the module documentation.
fn shared(bind: &Bind) -> bool {
    bind.propagation == libc::MS_SHARED || bind.tree_propagation == libc::MS_SHARED
}

/// The shared binds of `binds`, taken now (the others: `None`), while the namespace's mounts
/// are still the host's peers.
pub fn take_shared(binds: &[Bind]) -> Res<Vec<Option<Taken>>> {
    binds
        .iter()
        .map(|b| {
            if shared(b) {
                take(b).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect()
}

/// Every bind of `binds`, in their order: those of `early` ([`take_shared`]'s) and the others
/// taken now.
pub fn take_rest(binds: &[Bind], early: Vec<Option<Taken>>) -> Res<Vec<Taken>> {
    binds
        .iter()
        .zip(early)
        .map(|(b, t)| t.map_or_else(|| take(b), Ok))
        .collect()
}

/// `mount_setattr` on the detached `tree` (every mount of it with `recursive`).
fn set_attr(tree: &OwnedFd, attr: &MountAttr, recursive: bool) -> std::io::Result<()> {
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: mount_setattr on our detached tree (its descriptor, empty path) with a
    // `struct mount_attr` we own and its size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Take `bind`'s source as a detached tree (its submounts too when recursive) with its
/// attributes and its tree's propagation set on every mount of it, then its top's.
fn take(bind: &Bind) -> Res<Taken> {
    let src = &bind.source;
    let c = CString::new(src.as_str()).map_err(|_| format!("bad path {src:?}"))?;
    let dir = stat::stat(c.as_c_str())
        .map_err(|e| errno_msg(format_args!("the bind mount source {src}"), e))?
        .st_mode
        & libc::S_IFMT
        == libc::S_IFDIR;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if bind.recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: open_tree with a valid NUL-terminated path; returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(os_err(format_args!("cloning a mount of {src}")));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: bind.attr,
        attr_clr: 0,
        propagation: bind.tree_propagation,
        userns_fd: 0,
    };
    set_attr(&tree, &attr, true)
        .map_err(|e| format!("setting the flags of the bind of {src}: {e}"))?;
    if bind.propagation != bind.tree_propagation {
        let top = MountAttr {
            attr_set: 0,
            attr_clr: 0,
            propagation: bind.propagation,
            userns_fd: 0,
        };
        set_attr(&tree, &top, false)
            .map_err(|e| format!("setting the propagation of the bind of {src}: {e}"))?;
    }
    Ok(Taken {
        tree,
        target: bind.target.clone(),
        dir,
    })
}

/// Open `name` in `dir` as `O_PATH`, following a link the way the process's root (the
/// container's) resolves it, never through a magic link of `/proc`.
fn open_in(dir: &OwnedFd, name: &str, want_dir: bool) -> nix::Result<OwnedFd> {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if want_dir {
        flags |= OFlag::O_DIRECTORY;
    }
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_NO_MAGICLINKS);
    fcntl::openat2(dir, name, how)
}

/// Make the missing `name` in `dir` (a folder, else an empty file), never through a link: a
/// dangling link there is refused.
fn make_in(dir: &OwnedFd, name: &str, folder: bool, path: &str) -> Res<()> {
    let made = if folder {
        stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755))
    } else {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY;
        fcntl::openat(
            dir,
            name,
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop)
    };
    match made {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(format!(
            "the mount target {path}: {name} is a dangling symbolic link in the image"
        )),
        Err(e) => Err(errno_msg(format_args!("making the mount target {path}"), e)),
    }
}

/// The target `path` in the container's root (the process's root by now), each missing part
/// made; refused when it resolves into `/proc`.
fn target(path: &str, dir: bool) -> Res<OwnedFd> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!("invalid mount target {path:?}: it has a '..'"));
    }
    let mut cur = fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| errno_msg("opening /", e))?;
    for (i, name) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let want_dir = !last || dir;
        cur = match open_in(&cur, name, !last) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                make_in(&cur, name, want_dir, path)?;
                open_in(&cur, name, !last)
                    .map_err(|e| errno_msg(format_args!("opening the mount target {path}"), e))?
            }
            Err(e) => return Err(errno_msg(format_args!("the mount target {path}"), e)),
        };
    }
    let fs = nix::sys::statfs::fstatfs(&cur)
        .map_err(|e| errno_msg(format_args!("the mount target {path}"), e))?;
    if fs.filesystem_type().0 as i64 == PROC_SUPER_MAGIC {
        return Err(format!(
            "the mount target {path} resolves into /proc: refusing to mount over it"
        ));
    }
    Ok(cur)
}

/// Attach a taken bind at its target, inside the container's root (call after `pivot_root`).
pub fn attach(t: &Taken) -> Res<()> {
    let target = target(&t.target, t.dir)?;
    // SAFETY: move_mount from our detached tree descriptor onto our target descriptor (both
    // with empty paths).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            t.tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(os_err(format_args!("mounting on {}", t.target)));
    }
    Ok(())
}
