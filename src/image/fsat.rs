//! File-system operations relative to a directory descriptor. Nothing here takes a path from
//! the process's root or current directory: every name is one component looked up in a
//! directory we hold open, with `O_NOFOLLOW` on the last component, and a path of several
//! components is resolved with the directory treated as `/` (`openat2` `RESOLVE_IN_ROOT`), so a
//! symlink in a layer can never lead out of it.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{self, Mode};
use nix::unistd::{self, UnlinkatFlags};

/// Flags for opening a directory we will work in: read-only (enough for `*at` calls,
/// `fchown`, `fchmod`, `fsetxattr`, `futimens`), never through a symlink.
const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Flags for holding an entry without opening it: `O_PATH` calls no driver (a device node, fifo
/// or socket held so is not opened), and with `O_NOFOLLOW` a symlink is held as itself.
const HOLD_FLAGS: OFlag = OFlag::O_PATH
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// How many symlinks one resolution may follow (the kernel's own limit).
const MAX_SYMLINKS: usize = 40;

pub fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Open the directory `name` (one component) in `dir`, refusing a symlink.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &[u8]) -> nix::Result<OwnedFd> {
    fcntl::openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// Hold `name` (one component, not followed) in `dir` without opening it (`O_PATH`), and stat
/// what is held. Whatever takes the name afterwards, the held object is the one stat'ed: read
/// it only through the returned descriptor ([`ProcFds::reopen`], [`XattrSource::Held`], `readlinkat`
/// with an empty name).
pub fn hold_at(dir: BorrowedFd<'_>, name: &[u8]) -> nix::Result<(OwnedFd, stat::FileStat)> {
    let fd = fcntl::openat(dir, name, HOLD_FLAGS, Mode::empty())?;
    let st = stat::fstat(&fd)?;
    Ok((fd, st))
}

/// `/proc/self/fd/N`: the object a descriptor holds, by a name the kernel resolves to it.
fn fd_path(fd: BorrowedFd<'_>) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

/// The process's `/proc/self/fd`, held open so that reopening a descriptor through it is one
/// lookup.
pub struct ProcFds(OwnedFd);

impl ProcFds {
    pub fn open() -> io::Result<ProcFds> {
        fcntl::open(
            "/proc/self/fd",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(ProcFds)
        .map_err(|e| io::Error::new(errno_io(e).kind(), format!("opening /proc/self/fd: {e}")))
    }

    /// Open for reading (`flags`) the object `held` (from [`hold_at`], stat'ed as `st`),
    /// whatever has its name now, and check that the opened object is that one: same type,
    /// device and inode (else an error: `/proc` is not the kernel's). Only for directories and
    /// regular files: a device node, fifo or socket is never opened.
    pub fn reopen(
        &self,
        held: BorrowedFd<'_>,
        st: &stat::FileStat,
        flags: OFlag,
    ) -> io::Result<OwnedFd> {
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only a directory or a regular file is opened for its contents",
            ));
        }
        let fd = fcntl::openat(
            &self.0,
            held.as_raw_fd().to_string().as_str(),
            flags | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_io)?;
        let now = stat::fstat(&fd).map_err(errno_io)?;
        if now.st_mode & libc::S_IFMT != kind || now.st_dev != st.st_dev || now.st_ino != st.st_ino
        {
            return Err(io::Error::other(
                "reopening through /proc/self/fd gave another file (is /proc the kernel's procfs?)",
            ));
        }
        Ok(fd)
    }
}

/// The names in a directory, sorted, without `.` and `..`.
pub fn sorted_names(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut d = nix::dir::Dir::from_fd(dir.try_clone_to_owned()?).map_err(errno_io)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let n = e.map_err(errno_io)?.file_name().to_bytes().to_vec();
        if n != b"." && n != b".." {
            names.push(n);
        }
    }
    names.sort();
    Ok(names)
}

/// Open the directory at `path` (components separated by `/`, no `..`) inside `root`,
/// following symlinks as if `root` were `/`: an absolute link or a `..` can climb no higher than
/// `root`. The kernel does the resolution (`openat2` with `RESOLVE_IN_ROOT`); where it lacks
/// `openat2`, the same resolution is done one component at a time.
pub fn open_dir_in_root(root: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
    if path.is_empty() {
        return root.try_clone_to_owned();
    }
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // EAGAIN: a concurrent rename raced the lookup; the kernel asks for a retry.
    for _ in 0..8 {
        match fcntl::openat2(root, path, how) {
            Err(Errno::EAGAIN) => continue,
            Err(Errno::ENOSYS) => return resolve_in_root(root, path),
            r => return r.map_err(errno_io),
        }
    }
    Err(errno_io(Errno::EAGAIN))
}

/// `RESOLVE_IN_ROOT` done in user space, one component at a time with `O_NOFOLLOW`: a symlink
/// is read and its target resolved from `root` (absolute) or from where it was (relative); `..`
/// never goes above `root`.
pub fn resolve_in_root(root: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
    let mut stack: Vec<OwnedFd> = vec![root.try_clone_to_owned()?];
    let mut todo: Vec<Vec<u8>> = components_rev(path);
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == b"." {
            continue;
        }
        if c == b".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let top = stack.last().expect("the root is never popped").as_fd();
        match open_dir_at(top, &c) {
            Ok(fd) => stack.push(fd),
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                let st = stat::fstatat(top, c.as_slice(), fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(errno_io)?;
                if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
                    return Err(errno_io(Errno::ENOTDIR));
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(errno_io(Errno::ELOOP));
                }
                let target = fcntl::readlinkat(top, c.as_slice()).map_err(errno_io)?;
                let target = target.as_bytes();
                if target.starts_with(b"/") {
                    stack.truncate(1);
                }
                todo.extend(components_rev(target));
            }
            Err(e) => return Err(errno_io(e)),
        }
    }
    Ok(stack.pop().expect("the stack holds at least the root"))
}

fn components_rev(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(<[u8]>::to_vec)
        .collect()
}

/// The type bits of `name` in `dir` (not following a symlink); `None` when it does not exist.
pub fn type_at(dir: BorrowedFd<'_>, name: &[u8]) -> nix::Result<Option<libc::mode_t>> {
    match stat::fstatat(dir, name, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st.st_mode & libc::S_IFMT)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Remove `name` from `dir`, whatever it is; a directory goes with everything below it. Never
/// follows a symlink and holds at most two descriptors however deep the tree (it climbs back
/// with `..`, which inside a tree that only we write is the parent we came from).
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(errno_io(e)),
    }
    let mut cur = open_dir_at(dir, name).map_err(errno_io)?;
    // Per level: the subdirectories still to remove.
    let mut levels: Vec<Vec<CString>> = vec![Vec::new()];
    let mut names: Vec<CString> = Vec::new();
    scan_and_unlink(&cur, levels.last_mut().expect("one level"))?;
    loop {
        let level = levels.last_mut().expect("at least the first level");
        if let Some(sub) = level.pop() {
            match unistd::unlinkat(&cur, sub.as_c_str(), UnlinkatFlags::RemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => continue,
                Err(Errno::ENOTEMPTY) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(errno_io(e)),
            }
            cur = open_dir_at(cur.as_fd(), sub.as_bytes()).map_err(errno_io)?;
            names.push(sub);
            let mut subdirs = Vec::new();
            scan_and_unlink(&cur, &mut subdirs)?;
            levels.push(subdirs);
            continue;
        }
        // This level is empty: go up and remove it.
        levels.pop();
        let Some(done) = names.pop() else { break };
        cur = fcntl::openat(&cur, "..", DIR_FLAGS, Mode::empty()).map_err(errno_io)?;
        match unistd::unlinkat(&cur, done.as_c_str(), UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(errno_io(e)),
        }
    }
    drop(cur);
    match unistd::unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(errno_io(e)),
    }
}

/// Unlink every non-directory in `dir`; collect the names of its subdirectories.
fn scan_and_unlink(dir: &OwnedFd, subdirs: &mut Vec<CString>) -> io::Result<()> {
    let dup = dir.try_clone()?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(errno_io)?;
    let mut files = Vec::new();
    for e in d.iter() {
        let e = e.map_err(errno_io)?;
        let n = e.file_name();
        if n == c"." || n == c".." {
            continue;
        }
        match e.file_type() {
            Some(nix::dir::Type::Directory) => subdirs.push(n.to_owned()),
            Some(_) => files.push(n.to_owned()),
            None => match type_at(dir.as_fd(), n.to_bytes()).map_err(errno_io)? {
                Some(libc::S_IFDIR) => subdirs.push(n.to_owned()),
                Some(_) => files.push(n.to_owned()),
                None => {}
            },
        }
    }
    for f in files {
        match unistd::unlinkat(dir, f.as_c_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(errno_io(e)),
        }
    }
    Ok(())
}

/// A libc call's return value: 0 is success, anything else the errno of the failure.
fn zero_is_ok(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Set the extended attribute `name` of the file open as `fd`.
pub fn fset_xattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: name is NUL-terminated, value is valid for its length, fd is open.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    zero_is_ok(rc)
}

/// The path `/proc/self/fd/DIR/NAME`: lets the `l*xattr` calls reach a symlink or device node
/// that we can only name relative to a directory descriptor. The kernel resolves the first
/// part to exactly the directory we hold; `NAME` is one component and the `l` calls do not
/// follow it.
fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<CString> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name);
    CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Set an extended attribute on `name` in `dir` without following it.
pub fn lset_xattr_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    attr: &CStr,
    value: &[u8],
) -> io::Result<()> {
    let p = proc_path(dir, name)?;
    // SAFETY: both strings are NUL-terminated, value is valid for its length.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            attr.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    zero_is_ok(rc)
}

/// Where the extended attributes of a file are read from.
#[derive(Clone, Copy)]
pub enum XattrSource<'a> {
    /// An open file or directory.
    Fd(BorrowedFd<'a>),
    /// An object held with [`hold_at`] (a symlink, device node or fifo, which are never
    /// opened): read through `/proc/self/fd/N`, which leads to the held object itself.
    Held(BorrowedFd<'a>),
}

/// Every extended attribute of a file, as (name, value), sorted by name. A file system
/// without xattr support has none.
pub fn list_xattrs(src: XattrSource<'_>) -> io::Result<Vec<(CString, Vec<u8>)>> {
    let path = match src {
        XattrSource::Held(fd) => Some(fd_path(fd)),
        XattrSource::Fd(_) => None,
    };
    let list_call = |buf: &mut [u8]| -> isize {
        // SAFETY: buf is valid and writable for its length (0 asks for the size); the path
        // is NUL-terminated; the fd is open.
        unsafe {
            match (&path, src) {
                (Some(p), _) => libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()),
                (None, XattrSource::Fd(fd)) => {
                    libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                }
                (None, XattrSource::Held(..)) => unreachable!("Held always has a path"),
            }
        }
    };
    let get_call = |attr: &CStr, buf: &mut [u8]| -> isize {
        // SAFETY: as above; attr is NUL-terminated.
        unsafe {
            match (&path, src) {
                (Some(p), _) => libc::getxattr(
                    p.as_ptr(),
                    attr.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ),
                (None, XattrSource::Fd(fd)) => libc::fgetxattr(
                    fd.as_raw_fd(),
                    attr.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ),
                (None, XattrSource::Held(..)) => unreachable!("Held always has a path"),
            }
        }
    };
    let names = read_sized(|b| list_call(b))?;
    let mut out = Vec::new();
    for n in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let attr = CString::new(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        match read_sized(|b| get_call(&attr, b)) {
            Ok(v) => out.push((attr, v)),
            // Removed between the list and the read.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}

/// Call a `*xattr` function that fills a buffer: ask for the size, then read, retrying when
/// the value grew in between.
fn read_sized(mut call: impl FnMut(&mut [u8]) -> isize) -> io::Result<Vec<u8>> {
    loop {
        let n = call(&mut []);
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOTSUP) => Ok(Vec::new()),
                _ => Err(e),
            };
        }
        let mut buf = vec![0u8; n as usize];
        let m = call(&mut buf);
        if m >= 0 {
            buf.truncate(m as usize);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    }
}

/// The value of one attribute of an open file; `None` when it is not set.
pub fn fget_xattr(fd: BorrowedFd<'_>, attr: &CStr) -> io::Result<Option<Vec<u8>>> {
    let r = read_sized(|buf| {
        // SAFETY: buf is valid and writable for its length; attr is NUL-terminated.
        unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                attr.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
    });
    unset_is_none(r)
}

/// An attribute read: ENODATA (not set) becomes `None`.
fn unset_is_none(r: io::Result<Vec<u8>>) -> io::Result<Option<Vec<u8>>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The value of one attribute of `path`, not following a final symlink; `None` when it is not
/// set.
pub fn lget_xattr(path: &std::path::Path, attr: &CStr) -> io::Result<Option<Vec<u8>>> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let r = read_sized(|buf| {
        // SAFETY: buf is valid and writable for its length; both strings are NUL-terminated.
        unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                attr.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
    });
    unset_is_none(r)
}

/// The calling process's umask, read without changing it (`/proc/self/status`, Linux 4.7+).
/// `None` when it cannot be read.
pub fn current_umask() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
}

/// `mkdirat` that treats an existing directory as success; returns whether it was created.
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> nix::Result<bool> {
    match stat::mkdirat(dir, name, Mode::from_bits_truncate(mode as libc::mode_t)) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST) => match type_at(dir, name)? {
            Some(libc::S_IFDIR) => Ok(false),
            _ => Err(Errno::EEXIST),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("fsat-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn open(p: &std::path::Path) -> OwnedFd {
        fcntl::open(p, DIR_FLAGS, Mode::empty()).unwrap()
    }

    #[test]
    fn user_space_resolution_stays_in_root() {
        let d = tmp("resolve");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        symlink("/", root.join("up")).unwrap();
        symlink("../../../..", root.join("real/dots")).unwrap();
        symlink("/real", root.join("abs")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let rfd = open(&root);
        let same = |a: &OwnedFd, b: &std::path::Path| {
            let sa = stat::fstat(a).unwrap();
            let sb = std::fs::metadata(b).unwrap();
            use std::os::unix::fs::MetadataExt;
            sa.st_ino == sb.ino() && sa.st_dev == sb.dev()
        };
        for resolver in [resolve_in_root, open_dir_in_root] {
            let fd = resolver(rfd.as_fd(), b"up/up/real/sub").unwrap();
            assert!(same(&fd, &root.join("real/sub")));
            let fd = resolver(rfd.as_fd(), b"real/dots/abs/sub").unwrap();
            assert!(same(&fd, &root.join("real/sub")));
            let fd = resolver(rfd.as_fd(), b"up").unwrap();
            assert!(same(&fd, &root));
            let e = resolver(rfd.as_fd(), b"loop1").unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
            let e = resolver(rfd.as_fd(), b"up/etc").unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// What a held entry gives is the held object's, whatever takes its name afterwards; a
    /// device node is never opened for its contents.
    #[test]
    fn held_entries_are_read_as_held() {
        let d = tmp("hold");
        std::fs::write(d.join("file"), b"data").unwrap();
        std::fs::write(d.join("target"), b"t").unwrap();
        symlink("target", d.join("link")).unwrap();
        let dfd = open(&d);
        let proc_fds = ProcFds::open().unwrap();

        // A file swapped for a device node after it was held: still the file.
        let (held, st) = hold_at(dfd.as_fd(), b"file").unwrap();
        std::fs::rename(d.join("file"), d.join("file.old")).unwrap();
        stat::mknod(
            &d.join("file"),
            stat::SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o600),
            stat::makedev(1, 5),
        )
        .unwrap();
        let fd = proc_fds.reopen(held.as_fd(), &st, OFlag::O_RDONLY).unwrap();
        let mut got = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut got).unwrap();
        assert_eq!(got, "data");

        // The device node itself is held, never opened.
        let (dev, dst) = hold_at(dfd.as_fd(), b"file").unwrap();
        assert_eq!(dst.st_mode & libc::S_IFMT, libc::S_IFCHR);
        let e = proc_fds
            .reopen(dev.as_fd(), &dst, OFlag::O_RDONLY)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // A descriptor stat'ed as another object is refused.
        let e = proc_fds
            .reopen(held.as_fd(), &dst, OFlag::O_RDONLY)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let (other, ost) = hold_at(dfd.as_fd(), b"target").unwrap();
        let e = proc_fds
            .reopen(held.as_fd(), &ost, OFlag::O_RDONLY)
            .unwrap_err();
        assert!(e.to_string().contains("another file"), "{e}");
        drop(other);

        // A held symlink: its own target and its own attributes, not its target's.
        let (link, _) = hold_at(dfd.as_fd(), b"link").unwrap();
        assert_eq!(fcntl::readlinkat(link.as_fd(), "").unwrap(), "target");
        let target = CString::new(d.join("target").as_os_str().as_bytes()).unwrap();
        // SAFETY: both strings are NUL-terminated, the value is valid for its length.
        let rc = unsafe {
            libc::setxattr(
                target.as_ptr(),
                c"user.t".as_ptr(),
                b"1".as_ptr().cast(),
                1,
                0,
            )
        };
        if rc == 0 {
            assert!(list_xattrs(XattrSource::Held(link.as_fd()))
                .unwrap()
                .is_empty());
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn remove_all_deep_tree_without_following_links() {
        let d = tmp("remove");
        let outside = d.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"x").unwrap();
        let mut p = d.join("victim");
        for i in 0..300 {
            p = p.join(format!("d{i}"));
        }
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("f"), b"x").unwrap();
        symlink(&outside, d.join("victim/link")).unwrap();
        std::fs::create_dir_all(d.join("victim/d0/wide1")).unwrap();
        std::fs::create_dir_all(d.join("victim/d0/wide2/x")).unwrap();
        let dfd = open(&d);
        remove_all_at(dfd.as_fd(), b"victim").unwrap();
        assert!(!d.join("victim").exists());
        assert!(outside.join("keep").exists());
        // Missing is fine; a plain file goes too.
        remove_all_at(dfd.as_fd(), b"victim").unwrap();
        std::fs::write(d.join("file"), b"x").unwrap();
        remove_all_at(dfd.as_fd(), b"file").unwrap();
        assert!(!d.join("file").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
