//! The container's device nodes: the standard ones (`/dev/null`, `zero`, `full`, `random`,
//! `urandom`, `tty`) and the spec's `linux.devices`.
//!
//! Every place a container can write is `nodev` (its `/dev`, `/dev/shm`, its root), so a node
//! it makes itself (with CAP_MKNOD) or one its image carries can never be opened. The nodes it
//! may use are made by the helper before the container's process exists, on a tmpfs of its own
//! that is mounted nowhere (`fsopen`/`fsmount`: a detached mount). It is made in the host's
//! user namespace, so its nodes can be opened even from a container with a user namespace (a
//! file system mounted inside one never allows devices). The container's process, before its
//! `pivot_root`, moves that tmpfs into the old root's tree (over the host's `/dev`, in its
//! own mount namespace) and bind-mounts each node file onto its path in the new root (a bind
//! mount of one node has flags of its own: not `nodev`); the tmpfs goes with the old root
//! when that is detached (one unmount for both: each waits for an RCU grace period), before
//! anything of the container runs. What stays are mounts of single node files, in which
//! nothing can be created.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::mount::{mount, MsFlags};

use super::sys::Res;
use crate::spawn::protocol::DeviceNode;

/// The standard nodes: (name under `/dev`, major, minor), character devices, mode 0666.
const STANDARD: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Where the nodes' tmpfs is while the container's process binds them: in the old root
/// (detached with it).
const STORE_AT: &str = "/dev";

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn os_err(what: impl std::fmt::Display) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The store's file name of the `i`th node of the spec.
fn extra_name(i: usize) -> String {
    format!("x{i}")
}

/// Run from the helper, in the host's namespaces: a detached tmpfs holding the standard
/// nodes and `extra` (named `x0`, `x1`, ...), each with its mode and owner.
pub fn make_store(extra: &[DeviceNode]) -> Res<OwnedFd> {
    // SAFETY: fsopen with a NUL-terminated file system name; returns a new descriptor.
    let fs_fd = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
    if fs_fd < 0 {
        return Err(os_err("making the device nodes' tmpfs (fsopen)"));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let fs_fd = unsafe { OwnedFd::from_raw_fd(fs_fd as i32) };
    // SAFETY: fsconfig on our fs context with a NUL-terminated key and value.
    let set = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs_fd.as_raw_fd(),
            FSCONFIG_SET_STRING,
            c"mode".as_ptr(),
            c"0711".as_ptr(),
            0,
        )
    };
    // SAFETY: fsconfig's create command on our fs context takes no key or value.
    if set < 0
        || unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs_fd.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_char>(),
                0,
            )
        } < 0
    {
        return Err(os_err("making the device nodes' tmpfs (fsconfig)"));
    }
    // SAFETY: fsmount of our configured context; returns a new descriptor of a detached mount.
    let mnt_fd = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs_fd.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        )
    };
    if mnt_fd < 0 {
        return Err(os_err("making the device nodes' tmpfs (fsmount)"));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let store = unsafe { OwnedFd::from_raw_fd(mnt_fd as i32) };
    // The modes as given (the helper's own umask aside).
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let made = (|| {
        for &(name, major, minor) in STANDARD {
            let node = DeviceNode {
                path: format!("/dev/{name}"),
                kind: 'c',
                major,
                minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            };
            make_node(&store, name, &node)?;
        }
        for (i, node) in extra.iter().enumerate() {
            make_node(&store, &extra_name(i), node)?;
        }
        Ok::<(), String>(())
    })();
    nix::sys::stat::umask(old);
    made?;
    Ok(store)
}

/// One node in the store, with its mode (the umask is 0) and owner (root's unless given:
/// the helper runs as root).
fn make_node(store: &OwnedFd, name: &str, node: &DeviceNode) -> Res<()> {
    let kind = match node.kind {
        'b' => libc::S_IFBLK,
        'p' => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    };
    let dev = if node.kind == 'p' {
        0
    } else {
        libc::makedev(node.major as u32, node.minor as u32)
    };
    let c = CString::new(name).map_err(|_| format!("bad node name {name:?}"))?;
    let what = &node.path;
    // SAFETY: mknodat relative to our store's descriptor, with a NUL-terminated name.
    if unsafe {
        libc::mknodat(
            store.as_raw_fd(),
            c.as_ptr(),
            kind | (node.mode & 0o777),
            dev,
        )
    } != 0
    {
        return Err(os_err(format_args!("creating the device node {what}")));
    }
    // SAFETY: fchownat relative to our store's descriptor, with a NUL-terminated name.
    if (node.uid, node.gid) != (0, 0)
        && unsafe { libc::fchownat(store.as_raw_fd(), c.as_ptr(), node.uid, node.gid, 0) } != 0
    {
        return Err(os_err(format_args!("setting the owner of {what}")));
    }
    Ok(())
}

/// Run in the new root (the working directory) before `pivot_root`, once its `dev` tmpfs is
/// mounted: the store attached in the old root, and each of its nodes bind-mounted at its path
/// under `dev` (the standard ones, then `extra`).
pub fn attach(store: &OwnedFd, extra: &[DeviceNode]) -> Res<()> {
    let t = CString::new(STORE_AT).map_err(|_| "bad path".to_string())?;
    // SAFETY: move_mount of our detached store (its descriptor, empty path) onto a
    // NUL-terminated target path.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            store.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(os_err("mounting the device nodes' tmpfs"));
    }
    let standard = STANDARD
        .iter()
        .map(|(name, _, _)| (name.to_string(), format!("/dev/{name}")));
    let extras = extra
        .iter()
        .enumerate()
        .map(|(i, n)| (extra_name(i), n.path.clone()));
    for (name, path) in standard.chain(extras) {
        bind_node(&format!("{STORE_AT}/{name}"), &path)?;
    }
    Ok(())
}

/// Bind the node file `src` onto the container's `dst` (`/dev/...`, made under `dev` of the
/// working directory as an empty file, with its folders, when new), `nosuid` and `noexec` but
/// not `nodev`.
fn bind_node(src: &str, dst: &str) -> Res<()> {
    let rel = dst.trim_start_matches('/');
    if let Some(parent) = std::path::Path::new(rel).parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating the folder of {dst}: {e}"))?;
    }
    if fs::symlink_metadata(rel).is_err() {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(rel)
            .map_err(|e| format!("creating the mount point {dst}: {e}"))?;
    }
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(Some(src), rel, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .and_then(|()| mount(None::<&str>, rel, None::<&str>, flags, None::<&str>))
        .map_err(|e| format!("mounting the device {dst}: {}", e.desc()))
}
