//! File-system helpers shared by every store: atomic writes (temp file, fsync, rename, fsync the
//! directory), JSON files that are either whole or absent, directories with a fixed mode, and
//! advisory locks between processes sharing one root.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `data` to `path` so that a reader (or a crash) sees either the old file or the whole
/// new one, never a part: a temp file in the same directory, written, fsynced, renamed over
/// `path`, then the directory fsynced so the rename itself is durable.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_replacing(path, data, mode, Durability::Synced)
}

/// Like [`write_atomic`] (a reader sees the old file or the whole new one), but without the
/// fsyncs: for files whose loss in a crash is acceptable (a hint that can be missing).
pub fn write_atomic_unsynced(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_replacing(path, data, mode, Durability::Unsynced)
}

/// How a write reaches the disk (every one is atomic: a reader sees the old file or the
/// whole new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Temp file and rename: after a power loss the file may be the old one or empty.
    Unsynced,
    /// Temp file, rename, fsync of the directory: after a power loss the file is there, its
    /// content maybe lost (empty).
    Listed,
    /// Temp file, fsync, rename, fsync of the directory: it survives a power loss.
    Synced,
}

fn write_replacing(path: &Path, data: &[u8], mode: u32, durability: Durability) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| Error::io_path("creating", &tmp, e))?;
        // The umask may have narrowed the mode; state files must have exactly `mode`.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io_path("setting the mode of", &tmp, e))?;
        f.write_all(data)
            .map_err(|e| Error::io_path("writing", &tmp, e))?;
        if durability == Durability::Synced {
            sync_file(&f).map_err(|e| Error::io_path("syncing", &tmp, e))?;
        }
        fs::rename(&tmp, path).map_err(|e| Error::io_path("renaming into place", path, e))?;
        if durability != Durability::Unsynced {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory so that entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| sync_file(&d))
        .map_err(|e| Error::io_path("syncing directory", dir, e))
}

#[cfg(test)]
thread_local! {
    static SYNCS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// fsync `f`; unit tests count the calls of their thread (`syncs`).
fn sync_file(f: &File) -> io::Result<()> {
    #[cfg(test)]
    SYNCS.with(|n| n.set(n.get() + 1));
    f.sync_all()
}

/// How many fsyncs this thread has made (unit tests: which writes are durable).
#[cfg(test)]
pub(crate) fn syncs() -> u32 {
    SYNCS.with(|n| n.get())
}

/// Serialize `value` as indented JSON and write it atomically.
pub fn write_json_atomic<T: Serialize + ?Sized>(path: &Path, value: &T, mode: u32) -> Result<()> {
    write_atomic(path, &json_bytes(path, value)?, mode)
}

/// [`write_json_atomic`] without the fsyncs (see [`write_atomic_unsynced`]).
pub fn write_json_unsynced<T: Serialize + ?Sized>(path: &Path, value: &T, mode: u32) -> Result<()> {
    write_atomic_unsynced(path, &json_bytes(path, value)?, mode)
}

/// Serialize `value` as indented JSON and write it atomically with `durability`.
pub fn write_json<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
    mode: u32,
    durability: Durability,
) -> Result<()> {
    write_replacing(path, &json_bytes(path, value)?, mode, durability)
}

/// `value` as indented JSON with a final newline, for the file `path`.
fn json_bytes<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<Vec<u8>> {
    let mut data = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::invalid(format!("encoding {}: {e}", path.display())))?;
    data.push(b'\n');
    Ok(data)
}

/// Read and parse a JSON file. A missing file is `NotFound`; a malformed one is `Corrupt` and
/// the message names the file and the parser's complaint.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).map_err(|e| Error::io_path("reading", path, e))?;
    serde_json::from_slice(&data)
        .map_err(|e| Error::corrupt(format!("{} is not valid: {e}", path.display())))
}

/// Read a JSON file when it exists; `Ok(None)` when it does not.
pub fn read_json_opt<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match read_json(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == crate::error::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Make sure `path` is a directory with exactly `mode`, creating it (and missing parents) when
/// absent. A non-directory at `path` is an error naming it.
pub fn ensure_dir(path: &Path, mode: u32) -> Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            if m.permissions().mode() & 0o7777 != mode {
                fs::set_permissions(path, fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io_path("setting the mode of", path, e))?;
            }
            Ok(())
        }
        Ok(_) => Err(Error::invalid(format!(
            "{} exists and is not a directory",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(path)
                .map_err(|e| Error::io_path("creating", path, e))?;
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io_path("setting the mode of", path, e))
        }
        Err(e) => Err(Error::io_path("checking", path, e)),
    }
}

/// An exclusive advisory lock (flock) on a lock file, held until dropped. Serializes
/// read-modify-write cycles of a state file between threads and processes sharing one root.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    pub fn acquire(path: &Path) -> Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::io_path("opening lock file", path, e))?;
        loop {
            // SAFETY: flock on a file descriptor this function owns; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(Error::io_path("locking", path, err));
            }
        }
        Ok(FileLock {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor owned by self; closing it would unlock too.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Bytes of the regular files under `path` (links not followed, each file counted once per
/// name); unreadable parts count as empty.
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fsutil-test-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn atomic_write_replaces_whole_file_with_mode() {
        let d = tempdir();
        let p = d.join("state.json");
        write_atomic(&p, b"old", 0o600).unwrap();
        write_atomic(&p, b"new contents", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new contents");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temp file is left behind.
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn only_the_durable_write_syncs() {
        let d = tempdir();
        let p = d.join("state.json");
        let before = syncs();
        write_json_unsynced(&p, &1, 0o600).unwrap();
        assert_eq!(syncs() - before, 0);
        assert_eq!(fs::read(&p).unwrap(), b"1\n");
        write_json_atomic(&p, &2, 0o600).unwrap();
        // The file and its folder.
        assert_eq!(syncs() - before, 2);
        assert_eq!(fs::read(&p).unwrap(), b"2\n");
        write_json(&p, &3, 0o600, Durability::Listed).unwrap();
        // The folder only.
        assert_eq!(syncs() - before, 3);
        assert_eq!(fs::read(&p).unwrap(), b"3\n");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_json_names_the_file() {
        let d = tempdir();
        let p = d.join("bad.json");
        fs::write(&p, b"{not json").unwrap();
        let e = read_json::<serde_json::Value>(&p).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Corrupt);
        assert!(e.message().contains("bad.json"), "{}", e.message());
        assert!(read_json_opt::<serde_json::Value>(&d.join("missing"))
            .unwrap()
            .is_none());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn ensure_dir_refuses_a_file() {
        let d = tempdir();
        let f = d.join("file");
        fs::write(&f, b"x").unwrap();
        let e = ensure_dir(&f, 0o700).unwrap_err();
        assert!(e.message().contains("not a directory"));
        ensure_dir(&d.join("a/b"), 0o700).unwrap();
        let m = fs::metadata(d.join("a/b")).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o700);
        fs::remove_dir_all(&d).unwrap();
    }
}
