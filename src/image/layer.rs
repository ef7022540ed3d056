//! Unpacking a layer tarball into a directory for overlayfs.
//!
//! The tar stream is parsed by the `tar` crate; every entry is then created by us relative to
//! directory descriptors, so that no entry can write outside the target directory whatever the
//! archive holds:
//! - names are cleaned lexically (`a/./b` is `a/b`, a leading `/` is dropped, `a/../b` is `b`);
//!   a name that climbs above the root is refused;
//! - the last component is never followed (`O_NOFOLLOW`, `O_EXCL`, `*at` calls that do not
//!   follow);
//! - a parent path is resolved with the target directory as its root (`RESOLVE_IN_ROOT`), so a
//!   symlink `a -> /` followed by `a/etc/x` writes the layer's own `etc/x`, as the container
//!   will see it;
//! - hardlink targets are resolved the same way, so they can only name files of the layer.
//!
//! An archive cannot be a bomb: a GNU sparse file is written as sparse (only its data is
//! written; its holes are skipped, so an 8 GiB sparse file in a 10 KiB archive takes a few
//! blocks), and a layer is held within [`LayerLimits`]: bytes of file content (a sparse file
//! counts its full length) and entries. Going past one is an error naming the limit.
//!
//! Whiteouts are translated for overlayfs: `.wh.NAME` becomes a character device 0/0 named
//! NAME, and `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory. Extended
//! attributes that steer overlayfs itself (`trusted.overlay.*`, `user.overlay.*`) are never
//! taken from an archive.
//!
//! Cost per regular file: `openat`, `write`, `futimens`, `close`, plus `fchown`/`fchmod` only
//! when ownership or mode need it. Parent directories stay open between entries (tarballs list
//! a directory's files together), so no path is resolved from the root per entry. Nothing is
//! fsynced here: the caller makes the layer durable once, at the end. Memory is constant in the
//! size of the archive: one buffer, the open directory chain, and the directories whose times
//! are still to be set (ancestors of the current entry only, as GNU tar does).

use std::cell::Cell;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, Gid, Uid};
use tar::EntryType;

use super::fsat;
pub use super::sparse::MAX_SPARSE_SEGMENTS;
use super::sparse::{self, PaxSparse};
use crate::error::{Error, ErrorKind, Result};

/// Longest entry name accepted (the kernel's PATH_MAX): deeper trees could not be used by a
/// container anyway, and this bounds the directories held open.
pub const MAX_NAME_LEN: usize = 4096;

/// Most bytes of tar metadata (long names, pax records, sparse maps) allowed before one
/// entry: the `tar` crate holds them in memory, so a hostile archive must not make them huge.
pub const MAX_METADATA: u64 = 4 << 20;

/// The whiteout prefix of AUFS and the OCI layer format.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The opaque-directory marker.
pub const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
/// overlayfs' opaque attribute.
pub const OVERLAY_OPAQUE_XATTR: &std::ffi::CStr = c"trusted.overlay.opaque";

const COPY_BUF: usize = 1 << 20;

/// What an unpack did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries in the archive (not counting long-name and pax headers).
    pub entries: u64,
    /// Bytes of file content: the files' lengths, holes of sparse files included.
    pub bytes: u64,
    /// Extended attributes the file system refused (not supported there); the rest of the
    /// layer is intact.
    pub xattrs_skipped: u64,
}

/// True when an extended attribute controls overlayfs and must never come from an archive
/// (nor go into one: it describes this host's layers, not the image).
pub fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// Limits on what one layer may unpack to: a runtime's `max_layer_bytes` and
/// `max_layer_entries`. An archive that goes past either is refused (and nothing of it kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerLimits {
    /// Most bytes of file content, counted as the files' lengths (a sparse file counts in
    /// full, holes included, although its holes take no room on disk).
    pub max_bytes: u64,
    /// Most entries: files, directories, links, device nodes, whiteouts.
    pub max_entries: u64,
}

impl LayerLimits {
    /// 1 TiB: far beyond any real layer, yet a bound on what one archive can make us write
    /// (or, for the holes of sparse files, walk over: at memory speed, some 13 s of one core
    /// for 1 TiB of holes, as measured with 64 GiB in 0.8 s).
    pub const DEFAULT_MAX_BYTES: u64 = 1 << 40;
    /// Ten million entries: a large distribution image has a few hundred thousand.
    pub const DEFAULT_MAX_ENTRIES: u64 = 10_000_000;

    /// The limits of a runtime's options, where 0 means the default.
    pub fn new(max_bytes: u64, max_entries: u64) -> LayerLimits {
        let or = |v: u64, d: u64| if v == 0 { d } else { v };
        LayerLimits {
            max_bytes: or(max_bytes, Self::DEFAULT_MAX_BYTES),
            max_entries: or(max_entries, Self::DEFAULT_MAX_ENTRIES),
        }
    }
}

impl Default for LayerLimits {
    fn default() -> LayerLimits {
        LayerLimits::new(0, 0)
    }
}

/// Unpack the plain (already decompressed) tar stream `tar` into the existing directory
/// `dest`, translating whiteouts for overlayfs, within `limits`. On error, `dest` may hold part
/// of the layer; the caller removes it.
pub fn unpack_layer<R: Read>(tar: R, dest: &Path, limits: &LayerLimits) -> Result<UnpackStats> {
    let root = fcntl::open(
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(format_args!("opening {}", dest.display()), e))?;
    let counts = Rc::new(SourceCounts::default());
    let source = Source {
        inner: tar,
        counts: counts.clone(),
    };
    let mut archive = tar::Archive::new(source);
    let mut u = Unpacker::new(root, counts.clone(), *limits);
    let mut entries = archive
        .entries()
        .map_err(|e| Error::corrupt(format!("reading the layer archive: {e}")))?;
    loop {
        counts.metadata_left.set(Some(MAX_METADATA));
        let next = entries.next();
        counts.metadata_left.set(None);
        let mut entry = match next {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => return Err(archive_error(e)),
        };
        if u.stats.entries == limits.max_entries {
            return Err(Error::new(
                ErrorKind::Exhausted,
                format!(
                    "the layer has more than {} entries, the limit of entries per layer (max_layer_entries)",
                    limits.max_entries
                ),
            ));
        }
        let name = entry.path_bytes().into_owned();
        let start = counts.read.get();
        check_sparse_map(&entry, start)
            .and_then(|()| u.entry(&mut entry))
            .map_err(|e| {
                e.context(format_args!(
                    "layer entry {:?}",
                    String::from_utf8_lossy(&name)
                ))
            })?;
        // Whatever the entry type, its data is consumed here, outside the metadata budget; an
        // archive that ends before the data does (a sparse file's included: its holes are not
        // in the archive) is truncated.
        u.drain(&mut entry)?;
        let stored = entry
            .header()
            .entry_size()
            .map_err(|e| Error::corrupt(format!("bad size: {e}")))?;
        if counts.read.get() - start < stored {
            return Err(truncated());
        }
    }
    u.finish()?;
    Ok(u.stats)
}

/// Refuse a GNU sparse entry whose map has more than [`MAX_SPARSE_SEGMENTS`] segments: the
/// tar parser keeps the map as a list that it shifts at every segment, so a long map would cost
/// time quadratic in its length. `data_pos`: where the entry's data starts in the archive (all
/// the parser has read so far).
fn check_sparse_map<R: Read>(entry: &tar::Entry<'_, R>, data_pos: u64) -> Result<()> {
    if entry.header().entry_type() != EntryType::GNUSparse {
        return Ok(());
    }
    // The map's extension blocks lie between the header and the data, 21 segments each; the
    // header itself holds 4.
    let blocks = (data_pos - entry.raw_header_position()) / 512 - 1;
    if 4 + 21 * blocks > MAX_SPARSE_SEGMENTS {
        return Err(Error::corrupt(format!(
            "the sparse file's map has more than {MAX_SPARSE_SEGMENTS} segments"
        )));
    }
    Ok(())
}

fn truncated() -> Error {
    Error::corrupt("the layer archive is truncated: it ends in the middle of an entry")
}

fn archive_error(e: io::Error) -> Error {
    let msg = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof
        || msg.contains("unexpected EOF")
        || msg.contains("failed to read entire block")
    {
        truncated()
    } else if e.raw_os_error().is_some() {
        Error::io("reading the layer archive", e)
    } else {
        Error::corrupt(format!(
            "the layer archive is not a valid tar stream: {msg}"
        ))
    }
}

/// What the tar parser has taken from the archive, shared between [`Source`] and the
/// unpacker.
#[derive(Default)]
struct SourceCounts {
    /// Bytes read from the archive so far. A read of an entry's data that takes nothing from
    /// the archive is a hole of a sparse file, which the parser fills with zeros.
    read: Cell<u64>,
    /// While the parser looks for the next entry: how many more bytes of headers (long names,
    /// pax records, sparse maps) it may read. Our own reads of file contents have no budget.
    metadata_left: Cell<Option<u64>>,
}

/// The archive as the tar parser reads it, counted (see [`SourceCounts`]).
struct Source<R> {
    inner: R,
    counts: Rc<SourceCounts>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let c = &self.counts;
        c.read.set(c.read.get() + n as u64);
        if let Some(left) = c.metadata_left.get() {
            let left = left.checked_sub(n as u64).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "an entry's headers (long names, pax records, sparse map) exceed {MAX_METADATA} bytes"
                    ),
                )
            })?;
            c.metadata_left.set(Some(left));
        }
        Ok(n)
    }
}

/// Split and clean an entry name: empty and `.` components dropped, `..` removes the one
/// before it; climbing above the root is an error.
pub fn clean_path(raw: &[u8]) -> Result<Vec<&[u8]>> {
    if raw.len() > MAX_NAME_LEN {
        return Err(Error::corrupt(format!(
            "name longer than {MAX_NAME_LEN} bytes"
        )));
    }
    if raw.contains(&0) {
        return Err(Error::corrupt("name contains a NUL byte"));
    }
    let mut out: Vec<&[u8]> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err(Error::corrupt(
                        "name leads outside the layer (too many \"..\")",
                    ));
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

/// One open directory on the path of the current entry.
struct Dir {
    name: Vec<u8>,
    fd: OwnedFd,
    /// Whether it has the set-group-id bit (new files inherit its group); read on demand.
    sgid: Option<bool>,
}

/// A directory whose times are set once nothing more is written into it.
struct PendingDir {
    path: Vec<u8>,
    fd: OwnedFd,
    atime: TimeSpec,
    mtime: TimeSpec,
}

struct Unpacker {
    root: OwnedFd,
    /// The directories of the last parent path, from the root down.
    stack: Vec<Dir>,
    /// Set when something was removed: cached directories may no longer be what their path
    /// names, so the cache is dropped before the next entry.
    stale: bool,
    pending: Vec<PendingDir>,
    umask: u32,
    euid: u32,
    egid: u32,
    buf: Vec<u8>,
    stats: UnpackStats,
    counts: Rc<SourceCounts>,
    limits: LayerLimits,
}

/// Times of an entry: the pax record (sub-second) when present, else the header's seconds.
/// Without an access time, it is left alone.
fn entry_times(header: &tar::Header, pax: &[(String, Vec<u8>)]) -> Result<(TimeSpec, TimeSpec)> {
    let find = |k: &str| pax.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_slice());
    let mtime = match find("mtime").and_then(parse_pax_time) {
        Some(t) => t,
        None => TimeSpec::new(
            header
                .mtime()
                .map_err(|e| Error::corrupt(format!("bad modification time: {e}")))?
                .min(i64::MAX as u64) as i64,
            0,
        ),
    };
    let atime = match find("atime").and_then(parse_pax_time) {
        Some(t) => t,
        None => match header.as_gnu().and_then(|g| g.atime().ok()) {
            Some(a) if a > 0 => TimeSpec::new(a.min(i64::MAX as u64) as i64, 0),
            _ => TimeSpec::UTIME_OMIT,
        },
    };
    Ok((atime, mtime))
}

/// A pax time: decimal seconds with an optional fraction (`1700000000.123456789`).
fn parse_pax_time(v: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut sec: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let mut nsec: i64 = digits.parse().ok()?;
    if neg {
        sec = -sec;
        if nsec > 0 {
            sec -= 1;
            nsec = 1_000_000_000 - nsec;
        }
    }
    Some(TimeSpec::new(sec, nsec))
}

/// A header's uid or gid (`what`), which must be readable and fit in 32 bits.
fn id32(v: io::Result<u64>, what: &str) -> Result<u32> {
    let v = v.map_err(|e| Error::corrupt(format!("bad {what}: {e}")))?;
    u32::try_from(v).map_err(|_| Error::corrupt(format!("{what} {v} is out of range")))
}

fn cname(name: &[u8]) -> Result<CString> {
    CString::new(name).map_err(|_| Error::corrupt("name contains a NUL byte"))
}

/// An entry's owner, mode, times and extended attributes, from its header and pax records.
fn entry_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta> {
    // pax records: extended attributes and precise times.
    let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(exts) = entry
        .pax_extensions()
        .map_err(|e| Error::corrupt(format!("bad pax header: {e}")))?
    {
        for ext in exts {
            let ext = ext.map_err(|e| Error::corrupt(format!("bad pax record: {e}")))?;
            if let Ok(k) = ext.key() {
                if k.starts_with("SCHILY.xattr.")
                    || k.starts_with("GNU.sparse.")
                    || k == "mtime"
                    || k == "atime"
                {
                    pax.push((k.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    let header = entry.header();
    let mode = header
        .mode()
        .map_err(|e| Error::corrupt(format!("bad mode: {e}")))?
        & 0o7777;
    let uid = id32(header.uid(), "uid")?;
    let gid = id32(header.gid(), "gid")?;
    let (atime, mtime) = entry_times(header, &pax)?;
    Ok(Meta {
        sparse: PaxSparse::from_records(&pax)?,
        mode,
        uid,
        gid,
        atime,
        mtime,
        xattrs: pax
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("SCHILY.xattr.")
                    .map(|n| (n.as_bytes().to_vec(), v.clone()))
            })
            .filter(|(n, _)| !is_overlay_xattr(n))
            .collect(),
    })
}

/// The file type and device number of a character device, block device or fifo entry.
fn device_node(header: &tar::Header) -> Result<(SFlag, libc::dev_t)> {
    let kind = header.entry_type();
    if kind == EntryType::Fifo {
        return Ok((SFlag::S_IFIFO, 0));
    }
    let major = header
        .device_major()
        .map_err(|e| Error::corrupt(format!("bad device number: {e}")))?
        .unwrap_or(0);
    let minor = header
        .device_minor()
        .map_err(|e| Error::corrupt(format!("bad device number: {e}")))?
        .unwrap_or(0);
    let sflag = if kind == EntryType::Char {
        SFlag::S_IFCHR
    } else {
        SFlag::S_IFBLK
    };
    Ok((sflag, libc::makedev(major, minor)))
}

impl Unpacker {
    fn new(root: OwnedFd, counts: Rc<SourceCounts>, limits: LayerLimits) -> Unpacker {
        Unpacker {
            root,
            stack: Vec::new(),
            stale: false,
            pending: Vec::new(),
            // Unknown: assume every bit may be masked, so modes are always set explicitly.
            umask: fsat::current_umask().unwrap_or(0o7777),
            euid: unistd::geteuid().as_raw(),
            egid: unistd::getegid().as_raw(),
            buf: vec![0u8; COPY_BUF],
            stats: UnpackStats::default(),
            counts,
            limits,
        }
    }

    /// Read and drop what is left of an entry's data (through the large buffer).
    fn drain<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        loop {
            match entry.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(archive_error(e)),
            }
        }
    }

    /// Create one entry: clean its name, read its metadata, then make what its type says
    /// (whiteouts first, whatever their type).
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        self.stats.entries += 1;
        if self.stale {
            self.stack.clear();
            self.stale = false;
        }
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(());
        }
        let meta = entry_meta(entry)?;
        let raw = match meta.sparse.as_ref().and_then(|s| s.name.clone()) {
            Some(name) => name,
            None => entry.path_bytes().into_owned(),
        };
        let comps = clean_path(&raw)?;
        self.apply_pending(&comps)?;

        let Some((&name, parent)) = comps.split_last() else {
            // The root itself (`./`): only a directory entry may describe it.
            if kind == EntryType::Directory {
                let fd = self.root.try_clone().map_err(|e| Error::io("dup", e))?;
                return self.finish_dir(Vec::new(), fd, &meta);
            }
            return Err(Error::corrupt("a non-directory entry names the layer root"));
        };
        if name == WHITEOUT_OPAQUE {
            let dir = self.dir(parent)?;
            return fsat::fset_xattr(dir, OVERLAY_OPAQUE_XATTR, b"y")
                .map_err(|e| Error::io("marking the directory opaque", e));
        }
        if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(parent, target, &meta);
        }
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(parent, name, entry, &meta)
            }
            EntryType::Directory => self.directory(parent, name, &meta),
            EntryType::Symlink => self.symlink(parent, name, entry, &meta),
            EntryType::Link => self.hardlink(parent, name, entry),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (sflag, dev) = device_node(entry.header())?;
                let dir = self.owned_dir(parent)?;
                self.create(dir.as_fd(), name, |d, n| {
                    stat::mknodat(d, n, sflag, Mode::from_bits_truncate(meta.mode), dev)
                })?;
                self.finish_at(dir.as_fd(), name, &meta, true)
            }
            other => Err(Error::corrupt(format!(
                "unsupported tar entry type {:?}",
                other.as_byte() as char
            ))),
        }
    }

    /// `.wh.TARGET` in `parent`: a character device 0/0 named TARGET, for overlayfs.
    fn whiteout(&mut self, parent: &[&[u8]], target: &[u8], meta: &Meta) -> Result<()> {
        if target.starts_with(WHITEOUT_PREFIX) {
            // Other AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the image.
            return Ok(());
        }
        if target.is_empty() || target == b"." || target == b".." {
            return Err(Error::corrupt(
                "a whiteout must name a file in its directory",
            ));
        }
        let dir = self.owned_dir(parent)?;
        self.create(dir.as_fd(), target, |d, n| {
            stat::mknodat(d, n, SFlag::S_IFCHR, Mode::empty(), 0)
        })?;
        // Owner and times as recorded; the mode stays overlayfs' 0.
        self.finish_at(dir.as_fd(), target, meta, false)
    }

    fn directory(&mut self, parent: &[&[u8]], name: &[u8], meta: &Meta) -> Result<()> {
        let dir = self.owned_dir(parent)?;
        self.create(dir.as_fd(), name, |d, n| {
            fsat::mkdir_at(d, n, 0o700).map(drop)
        })?;
        let fd = fsat::open_dir_at(dir.as_fd(), name)
            .map_err(|e| Error::errno("opening the directory", e))?;
        let mut path = join(parent);
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        self.finish_dir(path, fd, meta)
    }

    fn symlink<R: Read>(
        &mut self,
        parent: &[&[u8]],
        name: &[u8],
        entry: &tar::Entry<'_, R>,
        meta: &Meta,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| Error::corrupt("symlink without a target"))?
            .into_owned();
        if target.is_empty() || target.contains(&0) {
            return Err(Error::corrupt("symlink target is empty or has a NUL byte"));
        }
        let dir = self.owned_dir(parent)?;
        self.create(dir.as_fd(), name, |d, n| {
            unistd::symlinkat(target.as_slice(), d, n)
        })?;
        self.finish_at(dir.as_fd(), name, meta, false)
    }

    /// A hard link to a file of the layer, its target resolved inside the layer.
    fn hardlink<R: Read>(
        &mut self,
        parent: &[&[u8]],
        name: &[u8],
        entry: &tar::Entry<'_, R>,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| Error::corrupt("hardlink without a target"))?
            .into_owned();
        let tcomps = clean_path(&target).map_err(|e| e.context("hardlink target"))?;
        let Some((&tname, tparent)) = tcomps.split_last() else {
            return Err(Error::corrupt("hardlink to the layer root"));
        };
        if tparent == parent && tname == name {
            // A link to itself: already there.
            return Ok(());
        }
        let tdir = fsat::open_dir_in_root(self.root.as_fd(), &join(tparent))
            .map_err(|e| Error::io("resolving the hardlink target's directory", e))?;
        let dir = self.owned_dir(parent)?;
        self.create(dir.as_fd(), name, |d, n| {
            unistd::linkat(tdir.as_fd(), tname, d, n, AtFlags::empty())
        })
        .map_err(|e| {
            e.context(format_args!(
                "linking to {:?}",
                String::from_utf8_lossy(&target)
            ))
        })
    }

    /// The directory at `comps`, opened (and created when missing, as tar does) through the
    /// cache of the previous entry's directories.
    fn dir(&mut self, comps: &[&[u8]]) -> Result<BorrowedFd<'_>> {
        let mut k = 0;
        while k < self.stack.len() && k < comps.len() && self.stack[k].name == comps[k] {
            k += 1;
        }
        self.stack.truncate(k);
        for i in k..comps.len() {
            let c = comps[i];
            let parent = match self.stack.last() {
                Some(d) => d.fd.as_fd(),
                None => self.root.as_fd(),
            };
            let fd = match fsat::open_dir_at(parent, c) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    fsat::mkdir_at(parent, c, 0o755).map_err(|e| {
                        Error::errno(
                            format_args!(
                                "creating directory {:?}",
                                String::from_utf8_lossy(&join(&comps[..=i]))
                            ),
                            e,
                        )
                    })?;
                    fsat::open_dir_at(parent, c)
                        .map_err(|e| Error::errno("opening a new directory", e))?
                }
                Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                    // A symlink (resolved inside the layer) or not a directory at all.
                    fsat::open_dir_in_root(self.root.as_fd(), &join(&comps[..=i])).map_err(|e| {
                        Error::io(
                            format_args!(
                                "{:?} is not a directory inside the layer",
                                String::from_utf8_lossy(&join(&comps[..=i]))
                            ),
                            e,
                        )
                    })?
                }
                Err(e) => return Err(Error::errno("opening a directory", e)),
            };
            self.stack.push(Dir {
                name: c.to_vec(),
                fd,
                sgid: None,
            });
        }
        Ok(match self.stack.last() {
            Some(d) => d.fd.as_fd(),
            None => self.root.as_fd(),
        })
    }

    /// [`Self::dir`], as an owned descriptor (for entries that also need `&mut self`).
    fn owned_dir(&mut self, comps: &[&[u8]]) -> Result<OwnedFd> {
        self.dir(comps)?
            .try_clone_to_owned()
            .map_err(|e| Error::io("dup", e))
    }

    /// Whether files created in the current parent (the top of the cache) inherit its group.
    fn parent_sgid(&mut self) -> Result<bool> {
        let Some(top) = self.stack.last_mut() else {
            return Ok(false);
        };
        if let Some(s) = top.sgid {
            return Ok(s);
        }
        let st = stat::fstat(&top.fd).map_err(|e| Error::errno("reading a directory's mode", e))?;
        let s = st.st_mode & libc::S_ISGID != 0;
        top.sgid = Some(s);
        Ok(s)
    }

    /// Run `make(dir, name)`; when something is already there, remove it and try once more.
    fn create(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        make: impl Fn(BorrowedFd<'_>, &[u8]) -> nix::Result<()>,
    ) -> Result<()> {
        match make(dir, name) {
            Err(Errno::EEXIST) => {
                fsat::remove_all_at(dir, name).map_err(|e| Error::io("replacing", e))?;
                self.stale = true;
                make(dir, name).map_err(|e| Error::errno("creating", e))
            }
            r => r.map_err(|e| Error::errno("creating", e)),
        }
    }

    fn regular<R: Read>(
        &mut self,
        parent: &[&[u8]],
        name: &[u8],
        entry: &mut tar::Entry<'_, R>,
        meta: &Meta,
    ) -> Result<()> {
        // Refused before anything is created: the length is in the header (a sparse file's
        // full length, for GNU sparse entries) or the pax records.
        let length = meta.sparse.as_ref().map_or(entry.size(), |s| s.size);
        if length > self.limits.max_bytes - self.stats.bytes {
            return Err(Error::new(
                ErrorKind::Exhausted,
                format!(
                    "the layer's files add up to more than {} bytes, the limit of bytes per layer (max_layer_bytes)",
                    self.limits.max_bytes
                ),
            ));
        }
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let perm = Mode::from_bits_truncate(meta.mode);
        let mut replaced = false;
        let fd = {
            let dir = self.dir(parent)?;
            match fcntl::openat(dir, name, flags, perm) {
                Err(Errno::EEXIST) => {
                    fsat::remove_all_at(dir, name).map_err(|e| Error::io("replacing", e))?;
                    replaced = true;
                    fcntl::openat(dir, name, flags, perm)
                }
                r => r,
            }
            .map_err(|e| Error::errno("creating", e))?
        };
        if replaced {
            self.stale = true;
        }
        let sgid = if meta.uid == self.euid && meta.gid == self.egid {
            self.parent_sgid()?
        } else {
            false
        };
        // SAFETY: fd is a freshly opened descriptor that we own; File takes it over.
        let mut file = unsafe { File::from_raw_fd(fd.into_raw_fd()) };
        match &meta.sparse {
            Some(s) => self.copy_pax_sparse(entry, &mut file, s)?,
            None => self.copy_data(entry, &mut file)?,
        }
        let chown = meta.uid != self.euid || meta.gid != self.egid || sgid;
        self.apply_fd(file.as_fd(), meta, chown, true)
    }

    /// Write the entry's data into `file`. The holes of a sparse entry (reads that take nothing
    /// from the archive) are skipped, not written, so they take no room on disk.
    fn copy_data<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>, file: &mut File) -> Result<()> {
        // Bytes of the entry read so far, where the file's offset is, and whether the last
        // read was a hole.
        let mut read = 0;
        let mut pos = 0;
        let mut hole = false;
        loop {
            let before = self.counts.read.get();
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(archive_error(e)),
            };
            let at = read;
            self.stats.bytes += n as u64;
            read += n as u64;
            hole = self.counts.read.get() == before;
            if hole {
                continue;
            }
            if pos != at {
                file.seek(SeekFrom::Start(at))
                    .map_err(|e| Error::io("seeking past a hole", e))?;
            }
            file.write_all(&self.buf[..n])
                .map_err(|e| Error::io("writing", e))?;
            pos = at + n as u64;
        }
        if hole {
            // The file ends with a hole: give it its length.
            file.set_len(read)
                .map_err(|e| Error::io("extending the sparse file", e))?;
        }
        Ok(())
    }

    /// Write a pax sparse file's runs where its map puts them, and give it its length; the
    /// holes are never written.
    fn copy_pax_sparse<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        file: &mut File,
        desc: &PaxSparse,
    ) -> Result<()> {
        let stored = entry.size();
        let (map, taken) = match &desc.map {
            Some(map) => (map.clone(), 0),
            None => sparse::read_map(entry)?,
        };
        let data = stored
            .checked_sub(taken)
            .ok_or_else(|| Error::corrupt("the sparse map is longer than the entry"))?;
        sparse::check_map(&map, desc.size, data)?;
        for (off, len) in map {
            file.seek(SeekFrom::Start(off))
                .map_err(|e| Error::io("seeking past a hole", e))?;
            let mut left = len;
            while left > 0 {
                let want = left.min(self.buf.len() as u64) as usize;
                let n = match entry.read(&mut self.buf[..want]) {
                    Ok(0) => return Err(truncated()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(archive_error(e)),
                };
                file.write_all(&self.buf[..n])
                    .map_err(|e| Error::io("writing", e))?;
                left -= n as u64;
            }
        }
        file.set_len(desc.size)
            .map_err(|e| Error::io("extending the sparse file", e))?;
        self.stats.bytes += desc.size;
        Ok(())
    }

    /// Ownership, mode, xattrs and times through an open descriptor. `chown`: whether the owner
    /// must be set (files we create belong to us already). `times`: set them now (directories
    /// get theirs later).
    fn apply_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        meta: &Meta,
        chown: bool,
        times: bool,
    ) -> Result<()> {
        if chown {
            unistd::fchown(
                fd,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .map_err(|e| Error::errno("setting the owner", e))?;
        }
        // The umask may have cleared bits, and fchown clears set-id bits.
        if meta.mode & self.umask != 0 || (chown && meta.mode & 0o6000 != 0) || !times {
            stat::fchmod(fd, Mode::from_bits_truncate(meta.mode))
                .map_err(|e| Error::errno("setting the mode", e))?;
        }
        for (n, v) in &meta.xattrs {
            let n = cname(n)?;
            if let Err(e) = fsat::fset_xattr(fd, &n, v) {
                self.xattr_error(&n, e)?;
            }
        }
        if times {
            stat::futimens(fd, &meta.atime, &meta.mtime)
                .map_err(|e| Error::errno("setting the times", e))?;
        }
        Ok(())
    }

    /// Ownership, mode (not for symlinks), xattrs and times of `name` in `dir`, not followed.
    fn finish_at(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        chmod: bool,
    ) -> Result<()> {
        unistd::fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::errno("setting the owner", e))?;
        if chmod {
            // A device node or fifo that we just made: never a symlink, so following is moot.
            stat::fchmodat(
                dir,
                name,
                Mode::from_bits_truncate(meta.mode),
                stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| Error::errno("setting the mode", e))?;
        }
        for (n, v) in &meta.xattrs {
            let n = cname(n)?;
            if let Err(e) = fsat::lset_xattr_at(dir, name, &n, v) {
                self.xattr_error(&n, e)?;
            }
        }
        stat::utimensat(
            dir,
            name,
            &meta.atime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| Error::errno("setting the times", e))
    }

    fn xattr_error(&mut self, name: &CString, e: io::Error) -> Result<()> {
        match e.raw_os_error() {
            // Not supported by this file system (or this attribute namespace): the layer is
            // still usable, as docker does.
            Some(libc::ENOTSUP) | Some(libc::EPERM) => {
                self.stats.xattrs_skipped += 1;
                Ok(())
            }
            _ => Err(Error::io(
                format_args!("setting extended attribute {}", name.to_string_lossy()),
                e,
            )),
        }
    }

    /// Owner, mode and xattrs of a directory now; its times once nothing more goes into it.
    fn finish_dir(&mut self, path: Vec<u8>, fd: OwnedFd, meta: &Meta) -> Result<()> {
        self.apply_fd(fd.as_fd(), meta, true, false)?;
        if let Some(top) = self.pending.last_mut() {
            if top.path == path {
                top.atime = meta.atime;
                top.mtime = meta.mtime;
                return Ok(());
            }
        }
        self.pending.push(PendingDir {
            path,
            fd,
            atime: meta.atime,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// Set the times of pending directories that are not ancestors of `comps` (the archive
    /// has left them).
    fn apply_pending(&mut self, comps: &[&[u8]]) -> Result<()> {
        let cur = join(comps);
        while let Some(top) = self.pending.last() {
            let p = &top.path;
            let ancestor = p.is_empty()
                || (cur.starts_with(p) && (cur.len() == p.len() || cur[p.len()] == b'/'));
            if ancestor {
                break;
            }
            let d = self.pending.pop().expect("checked");
            stat::futimens(&d.fd, &d.atime, &d.mtime)
                .map_err(|e| Error::errno("setting a directory's times", e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        while let Some(d) = self.pending.pop() {
            stat::futimens(&d.fd, &d.atime, &d.mtime)
                .map_err(|e| Error::errno("setting a directory's times", e))?;
        }
        Ok(())
    }
}

struct Meta {
    /// A GNU sparse file of a pax archive.
    sparse: Option<PaxSparse>,
    mode: u32,
    uid: u32,
    gid: u32,
    atime: TimeSpec,
    mtime: TimeSpec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_escapes_refused() {
        assert_eq!(
            clean_path(b"./a//b/./c").unwrap(),
            vec![&b"a"[..], b"b", b"c"]
        );
        assert_eq!(
            clean_path(b"/etc/passwd").unwrap(),
            vec![&b"etc"[..], b"passwd"]
        );
        assert_eq!(clean_path(b"a/../b").unwrap(), vec![&b"b"[..]]);
        assert!(clean_path(b"./").unwrap().is_empty());
        assert!(clean_path(b"../x").is_err());
        assert!(clean_path(b"a/../../x").is_err());
        assert!(clean_path(&vec![b'a'; MAX_NAME_LEN + 1]).is_err());
    }

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (1_700_000_000, 500_000_000));
        let t = parse_pax_time(b"12").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (12, 0));
        let t = parse_pax_time(b"-1.25").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (-2, 750_000_000));
        assert!(parse_pax_time(b"x").is_none());
    }
}
