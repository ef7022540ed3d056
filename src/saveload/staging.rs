//! An image archive read whole before any of it is trusted: `docker load` may get its input
//! from a pipe, and the manifest it needs may be the archive's last entry, so every file is
//! copied into one anonymous temporary file (`O_TMPFILE` in the graph's `:tmp:`, gone with the
//! last descriptor, even after a crash) and indexed by its archive path, with its sha256.
//!
//! Nothing is ever created under an archive's names: paths are only keys. An entry escaping
//! the archive (absolute, `..` above its top), an entry under a symlink entry, a symlink or
//! hardlink pointing outside, a device node, a blob under `blobs/sha256/` whose content has
//! another digest, too many entries or too many bytes: each is an error naming the entry.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use sha2::{Digest as _, Sha256};
use tar::EntryType;

use crate::error::{Error, ErrorKind, Result};
use crate::image::archive;
use crate::registry::{digest, Digest};

/// Most entries an image archive may have (one per layer, config and manifest, and a few
/// folders: a save of dozens of images has a few hundred).
pub const MAX_ENTRIES: usize = 100_000;
/// Most symlinks followed to reach a file.
const MAX_HOPS: usize = 16;
const BUF_SIZE: usize = 1 << 20;

/// A file of the archive, in the staging file.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its path in the archive.
    pub path: String,
    offset: u64,
    pub size: u64,
    /// The sha256 of its content.
    pub digest: Digest,
}

#[derive(Debug)]
enum Entry {
    Dir,
    File(Blob),
    /// A symlink or hardlink, its target as a clean archive path.
    Link(String),
}

/// The files of an archive, staged.
#[derive(Debug)]
pub struct Staged {
    file: File,
    entries: BTreeMap<String, Entry>,
}

/// `name` as a clean archive path (no `.`, empty or trailing components), or `None` when it
/// is absolute or climbs above the archive's top.
pub fn clean(name: &str) -> Option<String> {
    if name.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Where the symlink `name` with `target` points, as a clean archive path.
fn link_target(name: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// An anonymous file in `dir` (on the graph's file system, so staged layers take room where
/// the layers will).
pub fn anonymous_file(dir: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .mode(0o600)
        .open(dir)
        .map_err(|e| Error::io_path("creating an anonymous staging file in", dir, e))
}

/// Read the archive `input` (plain or compressed) into an anonymous file in `dir`, holding
/// at most `max_bytes` of file content.
pub fn stage(input: impl Read, dir: &Path, max_bytes: u64) -> Result<Staged> {
    let (_, plain) =
        archive::decompress(input).map_err(|e| Error::io("reading the image archive", e))?;
    let mut staged = Staged {
        file: anonymous_file(dir)?,
        entries: BTreeMap::new(),
    };
    let mut out = BufWriter::with_capacity(
        BUF_SIZE,
        staged
            .file
            .try_clone()
            .map_err(|e| Error::io("opening the staging file", e))?,
    );
    let mut offset = 0u64;
    let mut tar = tar::Archive::new(plain);
    let entries = tar
        .entries()
        .map_err(|e| Error::corrupt(format!("the image archive is not a tar archive: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::corrupt(format!(
                "the image archive is not a tar archive, or is cut short: {e}"
            ))
        })?;
        if staged.entries.len() >= MAX_ENTRIES {
            return Err(Error::corrupt(format!(
                "the image archive has more than {MAX_ENTRIES} entries"
            )));
        }
        offset = staged.add(entry, &mut out, offset, max_bytes)?;
    }
    out.flush()
        .map_err(|e| Error::io("writing the staging file", e))?;
    Ok(staged)
}

impl Staged {
    /// Index one tar entry (copying a file's content to `out` at `offset`); returns the offset
    /// after it.
    fn add<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        out: &mut impl Write,
        offset: u64,
        max_bytes: u64,
    ) -> Result<u64> {
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| Error::corrupt("an entry of the image archive has a non-UTF-8 name"))?;
        let name = clean(&raw).ok_or_else(|| {
            Error::corrupt(format!(
                "archive entry {raw:?} escapes the archive (an absolute path or one with ..)"
            ))
        })?;
        let kind = entry.header().entry_type();
        if name.is_empty() {
            return match kind {
                EntryType::Directory => Ok(offset),
                _ => Err(Error::corrupt(format!(
                    "archive entry {raw:?} names the archive's top as a file"
                ))),
            };
        }
        self.check_parents(&name)?;
        if self.entries.contains_key(&name) && !matches!(kind, EntryType::Directory) {
            return Err(Error::corrupt(format!(
                "the image archive has two entries named {name}"
            )));
        }
        let (entry_value, next) = match kind {
            EntryType::Directory => (Entry::Dir, offset),
            EntryType::Symlink | EntryType::Link => (self.link(&name, &entry)?, offset),
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size().unwrap_or(0);
                if offset.saturating_add(size) > max_bytes {
                    return Err(Error::new(
                        ErrorKind::Exhausted,
                        format!("the image archive holds more than {max_bytes} bytes of files"),
                    ));
                }
                let blob = copy_blob(&mut entry, out, &name, offset, size)?;
                (Entry::File(blob), offset + size)
            }
            other => {
                return Err(Error::corrupt(format!(
                    "archive entry {name} is a {other:?}, which an image archive does not hold"
                )))
            }
        };
        self.entries.insert(name, entry_value);
        Ok(next)
    }

    /// The symlink or hardlink entry `name`: where it points, inside the archive, and no
    /// entry already under it.
    fn link<R: Read>(&self, name: &str, entry: &tar::Entry<'_, R>) -> Result<Entry> {
        let prefix = format!("{name}/");
        if let Some((under, _)) = self.entries.range(prefix.clone()..).next() {
            if under.starts_with(&prefix) {
                return Err(Error::corrupt(format!(
                    "archive entry {under} lies under the symlink {name}"
                )));
            }
        }
        let t = (entry.link_name_bytes())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let resolved = if entry.header().entry_type() == EntryType::Link {
            clean(&t)
        } else {
            link_target(name, &t)
        };
        match resolved.filter(|r| !r.is_empty()) {
            Some(r) => Ok(Entry::Link(r)),
            None => Err(Error::corrupt(format!(
                "archive entry {name} links to {t:?}, outside the archive"
            ))),
        }
    }

    /// An entry under a symlink entry would be reached through it by a reader that follows
    /// links on disk: refused.
    fn check_parents(&self, name: &str) -> Result<()> {
        let mut end = 0;
        while let Some(i) = name[end..].find('/') {
            end += i;
            let parent = &name[..end];
            if let Some(Entry::Link(_)) = self.entries.get(parent) {
                return Err(Error::corrupt(format!(
                    "archive entry {name} lies under the symlink {parent}"
                )));
            }
            end += 1;
        }
        Ok(())
    }

    /// True when the archive has an entry `name`.
    pub fn has(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The file `name` (following links within the archive) that `what` (`manifest.json`)
    /// names.
    pub fn blob(&self, name: &str, what: &str) -> Result<&Blob> {
        let mut path = clean(name).filter(|p| !p.is_empty()).ok_or_else(|| {
            Error::corrupt(format!(
                "{what} names {name:?}, which is outside the archive"
            ))
        })?;
        for _ in 0..MAX_HOPS {
            match self.entries.get(&path) {
                Some(Entry::File(b)) => return Ok(b),
                Some(Entry::Link(t)) => path = t.clone(),
                Some(Entry::Dir) => {
                    return Err(Error::corrupt(format!(
                        "{what} names {name}, which is a folder of the archive"
                    )))
                }
                None => {
                    return Err(Error::corrupt(format!(
                        "{what} names {name}, which is not in the archive"
                    )))
                }
            }
        }
        Err(Error::corrupt(format!(
            "{what} names {name}, reached through more than {MAX_HOPS} links"
        )))
    }

    /// The blob `digest` of an OCI layout (`blobs/sha256/HEX`), checked to have `size` bytes.
    pub fn blob_by_digest(&self, digest: &Digest, size: u64, what: &str) -> Result<&Blob> {
        let b = self.blob(&format!("blobs/sha256/{}", digest.hex()), what)?;
        if b.size != size {
            return Err(Error::corrupt(format!(
                "{what}: blob {digest} has {} bytes, not the {size} its descriptor gives",
                b.size
            )));
        }
        Ok(b)
    }

    /// A reader of `blob`'s content.
    pub fn reader<'s>(&'s self, blob: &Blob) -> FileSlice<'s> {
        FileSlice::new(&self.file, blob.offset, blob.size)
    }

    /// The content of `blob` (a JSON document), at most `max` bytes.
    pub fn small(&self, blob: &Blob, max: u64) -> Result<Vec<u8>> {
        if blob.size > max {
            return Err(Error::corrupt(format!(
                "{} is {} bytes, more than the {max} accepted",
                blob.path, blob.size
            )));
        }
        let mut out = Vec::with_capacity(blob.size as usize);
        self.reader(blob)
            .read_to_end(&mut out)
            .map_err(|e| Error::io("reading the staging file", e))?;
        Ok(out)
    }
}

/// Copy the file entry `name` of `size` bytes to `out`, where it lands at `offset`.
fn copy_blob(
    entry: &mut impl Read,
    out: &mut impl Write,
    name: &str,
    offset: u64,
    size: u64,
) -> Result<Blob> {
    let (digest, copied) = copy_hashed(entry, out, name)?;
    if copied != size {
        return Err(Error::corrupt(format!(
            "archive entry {name} is cut short: {copied} of its {size} bytes"
        )));
    }
    let blob = Blob {
        path: name.to_string(),
        offset,
        size,
        digest,
    };
    check_blob_name(&blob)?;
    Ok(blob)
}

/// A file under `blobs/sha256/` is named by its digest: another content is refused.
fn check_blob_name(b: &Blob) -> Result<()> {
    match b.path.strip_prefix("blobs/sha256/") {
        Some(hex) if hex != b.digest.hex() => Err(Error::corrupt(format!(
            "archive entry {} does not match its digest: its content has digest {}",
            b.path, b.digest
        ))),
        _ => Ok(()),
    }
}

/// Copy an entry's content to `out`, returning its digest and length.
fn copy_hashed(entry: &mut impl Read, out: &mut impl Write, name: &str) -> Result<(Digest, u64)> {
    let mut h = Sha256::new();
    let mut copied = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("reading archive entry {name}"), e)),
        };
        h.update(&buf[..n]);
        copied += n as u64;
        out.write_all(&buf[..n])
            .map_err(|e| Error::io("writing the staging file", e))?;
    }
    let digest = Digest::parse(&format!("sha256:{}", digest::hex(&h.finalize())))?;
    Ok((digest, copied))
}

/// Reads `size` bytes of a file from `offset` (positioned reads: several may share a file).
pub struct FileSlice<'s> {
    file: &'s File,
    pos: u64,
    end: u64,
}

impl<'s> FileSlice<'s> {
    pub fn new(file: &'s File, offset: u64, size: u64) -> FileSlice<'s> {
        FileSlice {
            file,
            pos: offset,
            end: offset + size,
        }
    }
}

impl Read for FileSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.pos;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended early",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_kept_inside() {
        assert_eq!(clean("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(clean("a/../b"), None);
        assert_eq!(clean("/etc/passwd"), None);
        assert_eq!(
            link_target("x/layer.tar", "../y/layer.tar").as_deref(),
            Some("y/layer.tar")
        );
        assert_eq!(link_target("x/layer.tar", "../../etc/passwd"), None);
        assert_eq!(link_target("x/layer.tar", "/etc/passwd"), None);
    }
}
