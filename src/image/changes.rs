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
//! directories respected), one path component at a time without following symlinks.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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
    let mut out = Vec::new();
    walk(layers, rw, &mut Vec::new(), true, &mut out)?;
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

fn display(comps: &[Vec<u8>]) -> String {
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

fn walk(
    layers: &[PathBuf],
    dir: &Path,
    comps: &mut Vec<Vec<u8>>,
    lower_exists: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io_path("reading", dir, e))? {
        let e = e.map_err(|e| Error::io_path("reading", dir, e))?;
        names.push(e.file_name().as_bytes().to_vec());
    }
    names.sort();
    // An opaque directory hides the lower layers' entries it does not have itself.
    if lower_exists && !comps.is_empty() && is_opaque(dir)? {
        let here: HashSet<&Vec<u8>> = names.iter().collect();
        for n in lower_children(layers, comps)? {
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
        let p = dir.join(OsStr::from_bytes(&name));
        comps.push(name);
        let r = entry(layers, &p, comps, lower_exists, out);
        comps.pop();
        r?;
    }
    Ok(())
}

fn entry(
    layers: &[PathBuf],
    p: &Path,
    comps: &mut Vec<Vec<u8>>,
    lower_exists: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let Some(m) = lstat(p)? else {
        return Ok(());
    };
    if is_whiteout(&m) {
        out.push(Change {
            path: display(comps),
            kind: ChangeKind::Deleted,
        });
        return Ok(());
    }
    let lower = if lower_exists {
        lower_lookup(layers, comps)?
    } else {
        None
    };
    let kind = match &lower {
        None => Some(ChangeKind::Added),
        Some(l) if l.is_dir() && m.is_dir() => {
            let same = l.mode() == m.mode()
                && l.uid() == m.uid()
                && l.gid() == m.gid()
                && l.mtime() == m.mtime()
                && l.mtime_nsec() == m.mtime_nsec();
            (!same).then_some(ChangeKind::Modified)
        }
        Some(_) => Some(ChangeKind::Modified),
    };
    if let Some(kind) = kind {
        out.push(Change {
            path: display(comps),
            kind,
        });
    }
    if m.is_dir() {
        let below = lower.as_ref().is_some_and(|l| l.is_dir());
        walk(layers, p, comps, below, out)?;
    }
    Ok(())
}
