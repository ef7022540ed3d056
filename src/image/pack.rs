//! Packing a directory tree into a tar stream.
//!
//! - [`pack_layer`]: an overlayfs upper directory becomes a layer tarball (commit, push):
//!   a whiteout (character device 0/0) becomes an empty `.wh.NAME`, an opaque directory gets
//!   a `.wh..wh..opq` entry.
//! - [`pack_dir`]: a whole tree as it is (`export` of a container's file system): no
//!   translation, and no descent into another mount below the root (`/proc`, `/sys`, a bind
//!   mount) — only the mount point itself is listed.
//!
//! Both walk with directory descriptors and never follow a symlink; entries are sorted by name
//! so the same tree always gives the same archive. The tree may be a running container's:
//! each entry is held (`O_PATH`) before it is stat'ed, and read only through what is held, so
//! a name swapped for a device node between two steps never puts the device's contents in the
//! archive; device nodes, fifos and sockets are never opened.
//!
//! Ownership (numeric), modes, mtimes (whole seconds, as GNU tar), symlinks, hardlinks (within
//! the archive), device nodes, fifos and extended attributes (pax `SCHILY.xattr.*`, overlayfs'
//! own excepted) are recorded. Sockets cannot be stored in a tar and are left out, as GNU tar
//! does.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{FileStat, Mode};
use tar::{EntryType, Header};

use super::fsat::{self, XattrSource};
use super::layer::{is_overlay_xattr, OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use crate::error::{Error, Result};

const BUF_SIZE: usize = 1 << 20;

/// Pack the overlayfs upper directory `upper` into a layer tarball written to `out`.
pub fn pack_layer<W: Write>(upper: &Path, out: W) -> Result<()> {
    Packer::run(upper, out, true)
}

/// Pack the whole tree `root` into a tar stream written to `out`, staying on the mount of
/// `root`.
pub fn pack_dir<W: Write>(root: &Path, out: W) -> Result<()> {
    Packer::run(root, out, false)
}

struct Packer<W: Write> {
    tar: tar::Builder<BufWriter<W>>,
    layer: bool,
    root_mnt: Option<u64>,
    /// (device, inode) of files with several links -> the first path archived.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
    proc_fds: fsat::ProcFds,
}

fn io_err(what: &str, path: &[u8], e: io::Error) -> Error {
    Error::io(
        format_args!("{what} {:?}", String::from_utf8_lossy(path)),
        e,
    )
}

fn nix_err(what: &str, path: &[u8], e: Errno) -> Error {
    io_err(what, path, fsat::errno_io(e))
}

/// The mount id of an open file (`statx` `STATX_MNT_ID`); `None` where the kernel lacks it.
fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    // SAFETY: an all-zero statx is a valid value to be overwritten.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open, the path is an empty NUL-terminated string with AT_EMPTY_PATH, and
    // stx is writable.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(format_args!("opening {}", path.display()), e))
}

fn base_header(st: &FileStat, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

impl<W: Write> Packer<W> {
    fn run(root: &Path, out: W, layer: bool) -> Result<()> {
        let fd = open_dir(root)?;
        let mut p = Packer {
            tar: tar::Builder::new(BufWriter::with_capacity(BUF_SIZE, out)),
            layer,
            root_mnt: mount_id(fd.as_fd()),
            links: HashMap::new(),
            buf: vec![0u8; BUF_SIZE],
            proc_fds: fsat::ProcFds::open().map_err(|e| Error::io("packing", e))?,
        };
        p.walk(fd.as_fd(), &mut Vec::new())?;
        let w = p
            .tar
            .into_inner()
            .map_err(|e| Error::io("writing the archive", e))?;
        w.into_inner()
            .map_err(|e| Error::io("writing the archive", e.into_error()))?;
        Ok(())
    }

    /// Archive the contents of `dir`, whose archive path is `prefix` (empty for the root,
    /// else ending with `/`).
    fn walk(&mut self, dir: BorrowedFd<'_>, prefix: &mut Vec<u8>) -> Result<()> {
        let names = fsat::sorted_names(dir).map_err(|e| io_err("reading directory", prefix, e))?;
        for name in names {
            let len = prefix.len();
            prefix.extend_from_slice(&name);
            let r = self.entry(dir, &name, prefix);
            prefix.truncate(len);
            r?;
        }
        Ok(())
    }

    /// Archive `name` in `dir`. It is held (`O_PATH`, not followed) and stat'ed through what is
    /// held, and everything archived of it (contents, link target, attributes) is read through
    /// that same descriptor: a running container that swaps the name for another file (a
    /// device node, a symlink) between our steps cannot make us read the other file. Device
    /// nodes, fifos and sockets are never opened.
    fn entry(&mut self, dir: BorrowedFd<'_>, name: &[u8], path: &mut Vec<u8>) -> Result<()> {
        let (held, st) = match fsat::hold_at(dir, name) {
            Ok(h) => h,
            // Removed while we walk (a running container): nothing to archive.
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(nix_err("reading", path, e)),
        };
        let held = held.as_fd();
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => self.directory(held, path, &st),
            libc::S_IFREG => self.regular(held, path, &st),
            libc::S_IFLNK => {
                // The empty name reads the held symlink itself.
                let target = fcntl::readlinkat(held, "")
                    .map_err(|e| nix_err("reading the symlink", path, e))?;
                self.xattrs(XattrSource::Held(held), path)?;
                let mut h = base_header(&st, EntryType::Symlink);
                self.tar
                    .append_link(&mut h, OsStr::from_bytes(path), Path::new(&target))
                    .map_err(|e| io_err("archiving", path, e))
            }
            libc::S_IFCHR | libc::S_IFBLK => {
                let (major, minor) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
                let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
                if self.layer && is_char && major == 0 && minor == 0 {
                    return self.whiteout(path, &st);
                }
                self.xattrs(XattrSource::Held(held), path)?;
                let kind = if is_char {
                    EntryType::Char
                } else {
                    EntryType::Block
                };
                let mut h = base_header(&st, kind);
                h.set_device_major(major)
                    .and_then(|()| h.set_device_minor(minor))
                    .map_err(|e| io_err("archiving", path, e))?;
                self.append(&mut h, path, io::empty())
            }
            libc::S_IFIFO => {
                self.xattrs(XattrSource::Held(held), path)?;
                let mut h = base_header(&st, EntryType::Fifo);
                self.append(&mut h, path, io::empty())
            }
            // Sockets (and anything unknown) cannot be stored in a tar.
            _ => Ok(()),
        }
    }

    fn append(&mut self, h: &mut Header, path: &[u8], data: impl Read) -> Result<()> {
        self.tar
            .append_data(h, OsStr::from_bytes(path), data)
            .map_err(|e| io_err("archiving", path, e))
    }

    /// `.wh.NAME` for the whiteout at `path`.
    fn whiteout(&mut self, path: &[u8], st: &FileStat) -> Result<()> {
        let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        let mut wh = dir.to_vec();
        wh.extend_from_slice(WHITEOUT_PREFIX);
        wh.extend_from_slice(name);
        let mut h = base_header(st, EntryType::Regular);
        h.set_mode(0o644);
        self.append(&mut h, &wh, io::empty())
    }

    /// Pax records for the extended attributes of a file (overlayfs' own left out).
    fn xattrs(&mut self, src: XattrSource<'_>, path: &[u8]) -> Result<()> {
        let attrs =
            fsat::list_xattrs(src).map_err(|e| io_err("reading the attributes of", path, e))?;
        let records: Vec<(String, &[u8])> = attrs
            .iter()
            .filter(|(n, _)| !is_overlay_xattr(n.to_bytes()))
            .filter_map(|(n, v)| {
                n.to_str()
                    .ok()
                    .map(|n| (format!("SCHILY.xattr.{n}"), v.as_slice()))
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        self.tar
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(|e| io_err("archiving the attributes of", path, e))
    }

    /// The directory `held` (stat'ed as `st`) and what it holds.
    fn directory(&mut self, held: BorrowedFd<'_>, path: &mut Vec<u8>, st: &FileStat) -> Result<()> {
        let fd = self
            .proc_fds
            .reopen(held, st, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| io_err("opening", path, e))?;
        self.xattrs(XattrSource::Fd(fd.as_fd()), path)?;
        path.push(b'/');
        let mut h = base_header(st, EntryType::Directory);
        self.append(&mut h, path, io::empty())?;
        if self.layer {
            let opaque = fsat::fget_xattr(fd.as_fd(), OVERLAY_OPAQUE_XATTR)
                .map_err(|e| io_err("reading the attributes of", path, e))?;
            if opaque.as_deref() == Some(b"y") {
                let mut marker = path.clone();
                marker.extend_from_slice(WHITEOUT_OPAQUE);
                let mut h = base_header(st, EntryType::Regular);
                h.set_mode(0o644);
                self.append(&mut h, &marker, io::empty())?;
            }
        }
        // Another mount below the root (/proc, /sys, a bind mount): list it, do not enter.
        if self.root_mnt.is_some() && mount_id(fd.as_fd()) != self.root_mnt {
            return Ok(());
        }
        self.walk(fd.as_fd(), path)
    }

    /// The regular file `held` (stat'ed as `st`), its contents read from it.
    fn regular(&mut self, held: BorrowedFd<'_>, path: &[u8], st: &FileStat) -> Result<()> {
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                let first = first.clone();
                let mut h = base_header(st, EntryType::Link);
                return self
                    .tar
                    .append_link(&mut h, OsStr::from_bytes(path), OsStr::from_bytes(&first))
                    .map_err(|e| io_err("archiving", path, e));
            }
            self.links.insert(key, path.to_vec());
        }
        let fd = self
            .proc_fds
            .reopen(held, st, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
            .map_err(|e| io_err("opening", path, e))?;
        self.xattrs(XattrSource::Fd(fd.as_fd()), path)?;
        let mut h = base_header(st, EntryType::Regular);
        let size = st.st_size.max(0) as u64;
        h.set_size(size);
        let mut data = Exact {
            file: File::from(fd),
            buf: &mut self.buf,
            start: 0,
            end: 0,
            left: size,
        };
        self.tar
            .append_data(&mut h, OsStr::from_bytes(path), &mut data)
            .map_err(|e| io_err("archiving", path, e))
    }
}

/// Exactly `left` bytes of a file, read in large chunks into a reused buffer; a file that
/// shrank while being read is padded with zeros (GNU tar does the same), one that grew is cut
/// at the size the header announced.
struct Exact<'a> {
    file: File,
    buf: &'a mut [u8],
    start: usize,
    end: usize,
    left: u64,
}

impl Read for Exact<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            if self.left == 0 {
                return Ok(0);
            }
            let want = (self.buf.len() as u64).min(self.left) as usize;
            let n = loop {
                match self.file.read(&mut self.buf[..want]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            let n = if n == 0 {
                self.buf[..want].fill(0);
                want
            } else {
                n
            };
            self.start = 0;
            self.end = n;
            self.left -= n as u64;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}
