//! What a container changed (`docker diff`): its overlayfs upper directory read against the
//! image's layers.
//!
//! - a whiteout (character device 0/0) in the upper directory is a deletion (`D`);
//! - anything else there is an addition (`A`) when the layers below do not have it, and a
//!   change (`C`) when they do — except a directory whose mode, owner and mtime are those of
//!   the lower one: overlayfs copied it up only to hold a changed child, as v0.1.0 skipped it;
//! - an opaque directory hides everything below it: what the lower layers had there and the
//!   upper directory lacks is deleted.
//!
//! The lower layers are read as overlayfs merges them (topmost first, whiteouts and opaque
//! directories respected), one path component at a time without following symlinks. The upper
//! directory, which a running container changes while we read it, is walked with directory
//! descriptors, each entry stat'ed through a descriptor that holds it (see [`walk`]).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::Mode;

use super::fsat;
use super::layer::OVERLAY_OPAQUE_XATTR;
use crate::error::{Error, Result};

/// The kind of a change, printed as v0.1.0 did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `C`
    Modified,
    /// `A`
    Added,
    /// `D`
    Deleted,
}

/// One changed path (absolute, as seen in the container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path)
    }
}

/// The changes recorded in the upper directory `rw` over `layers` (topmost first, as
/// `Graph::layers` returns them), sorted by path.
pub fn changes(layers: &[PathBuf], rw: &Path) -> Result<Vec<Change>> {
    let root = fcntl::open(
        rw,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(format_args!("opening {}", rw.display()), e))?;
    let proc_fds = fsat::ProcFds::open().map_err(|e| Error::io("reading the changes", e))?;
    let mut out = Vec::new();
    let upper = Upper {
        layers,
        proc_fds: &proc_fds,
    };
    walk(&upper, root.as_fd(), &mut Vec::new(), true, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(dir: &Path) -> Result<bool> {
    Ok(fsat::lget_xattr(dir, OVERLAY_OPAQUE_XATTR)
        .map_err(|e| Error::io_path("reading the attributes of", dir, e))?
        .as_deref()
        == Some(b"y"))
}

/// The path of `comps` in the container (`/` for none).
fn display(comps: &[Vec<u8>]) -> String {
    if comps.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for c in comps {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c));
    }
    s
}

fn lstat(p: &Path) -> Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(p) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
        Err(e) => Err(Error::io_path("reading", p, e)),
    }
}

/// The lower layers' view of `comps`: its metadata when it exists there.
fn lower_lookup(layers: &[PathBuf], comps: &[Vec<u8>]) -> Result<Option<fs::Metadata>> {
    'layers: for layer in layers {
        let mut p = layer.clone();
        let mut opaque_above = false;
        for (i, c) in comps.iter().enumerate() {
            p.push(OsStr::from_bytes(c));
            let Some(m) = lstat(&p)? else {
                // Not in this layer; lower layers may have it unless a directory above it
                // here was opaque.
                if opaque_above {
                    return Ok(None);
                }
                continue 'layers;
            };
            if is_whiteout(&m) {
                return Ok(None);
            }
            if i + 1 == comps.len() {
                return Ok(Some(m));
            }
            if !m.is_dir() {
                // A file (or symlink) here hides whatever lower layers have below its name.
                return Ok(None);
            }
            if is_opaque(&p)? {
                opaque_above = true;
            }
        }
        // The root of a layer (no components): the layer itself.
        return lstat(layer);
    }
    Ok(None)
}

/// The names the lower layers show in directory `comps` (merged, whiteouts applied).
fn lower_children(layers: &[PathBuf], comps: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut present = Vec::new();
    'layers: for layer in layers {
        // The directory must be a directory in this layer, reached through directories.
        let mut p = layer.clone();
        let mut opaque_above = false;
        for c in comps {
            p.push(OsStr::from_bytes(c));
            match lstat(&p)? {
                None if opaque_above => break 'layers,
                None => continue 'layers,
                Some(m) if !m.is_dir() => break 'layers,
                Some(_) => {
                    if is_opaque(&p)? {
                        opaque_above = true;
                    }
                }
            }
        }
        for e in fs::read_dir(&p).map_err(|e| Error::io_path("reading", &p, e))? {
            let e = e.map_err(|e| Error::io_path("reading", &p, e))?;
            let name = e.file_name().as_bytes().to_vec();
            if !seen.insert(name.clone()) {
                continue;
            }
            let m = e
                .metadata()
                .map_err(|err| Error::io_path("reading", &e.path(), err))?;
            if !is_whiteout(&m) {
                present.push(name);
            }
        }
        if opaque_above {
            break;
        }
    }
    Ok(present)
}

/// What a walk of the upper directory reads against: the lower layers, and `/proc/self/fd`.
struct Upper<'a> {
    layers: &'a [PathBuf],
    proc_fds: &'a fsat::ProcFds,
}

/// The changes in the upper directory `dir` (open), at `comps`. The upper directory may be a
/// running container's: each entry is held (`O_PATH`, not followed) and stat'ed through what is
/// held, and a directory is entered through that same descriptor, so a name swapped for a
/// symlink between two steps never leads the walk out of the upper directory.
fn walk(
    upper: &Upper<'_>,
    dir: BorrowedFd<'_>,
    comps: &mut Vec<Vec<u8>>,
    lower_exists: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let names = fsat::sorted_names(dir)
        .map_err(|e| Error::io(format_args!("reading {}", display(comps)), e))?;
    // An opaque directory hides the lower layers' entries it does not have itself.
    if lower_exists && !comps.is_empty() && is_opaque_fd(dir, comps)? {
        let here: HashSet<&Vec<u8>> = names.iter().collect();
        for n in lower_children(upper.layers, comps)? {
            if !here.contains(&n) {
                comps.push(n);
                out.push(Change {
                    path: display(comps),
                    kind: ChangeKind::Deleted,
                });
                comps.pop();
            }
        }
    }
    for name in names {
        comps.push(name);
        let r = entry(upper, dir, comps, lower_exists, out);
        comps.pop();
        r?;
    }
    Ok(())
}

fn is_opaque_fd(dir: BorrowedFd<'_>, comps: &[Vec<u8>]) -> Result<bool> {
    Ok(fsat::fget_xattr(dir, OVERLAY_OPAQUE_XATTR)
        .map_err(|e| {
            Error::io(
                format_args!("reading the attributes of {}", display(comps)),
                e,
            )
        })?
        .as_deref()
        == Some(b"y"))
}

/// The entry `comps` (its last component in `dir`).
fn entry(
    upper: &Upper<'_>,
    dir: BorrowedFd<'_>,
    comps: &mut Vec<Vec<u8>>,
    lower_exists: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let name = comps.last().expect("an entry has a name").clone();
    let (held, st) = match fsat::hold_at(dir, &name) {
        Ok(h) => h,
        // Removed while we walk (a running container).
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::errno(format_args!("reading {}", display(comps)), e)),
    };
    let kind = st.st_mode & libc::S_IFMT;
    if kind == libc::S_IFCHR && st.st_rdev == 0 {
        // A whiteout.
        out.push(Change {
            path: display(comps),
            kind: ChangeKind::Deleted,
        });
        return Ok(());
    }
    let lower = if lower_exists {
        lower_lookup(upper.layers, comps)?
    } else {
        None
    };
    let is_dir = kind == libc::S_IFDIR;
    let change = match &lower {
        None => Some(ChangeKind::Added),
        Some(l) if l.is_dir() && is_dir => {
            let same = l.mode() == st.st_mode
                && l.uid() == st.st_uid
                && l.gid() == st.st_gid
                && l.mtime() == st.st_mtime
                && l.mtime_nsec() == st.st_mtime_nsec;
            (!same).then_some(ChangeKind::Modified)
        }
        Some(_) => Some(ChangeKind::Modified),
    };
    if let Some(kind) = change {
        out.push(Change {
            path: display(comps),
            kind,
        });
    }
    if is_dir {
        let fd = upper
            .proc_fds
            .reopen(held.as_fd(), &st, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| Error::io(format_args!("opening {}", display(comps)), e))?;
        let below = lower.as_ref().is_some_and(|l| l.is_dir());
        walk(upper, fd.as_fd(), comps, below, out)?;
    }
    Ok(())
}
