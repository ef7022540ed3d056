//! The `autoremove` marker of a `run --rm` container (docker's `AutoRemove`): an empty file in
//! its folder, made before the record's first (durable) write, so that the folder's fsync
//! covers it. Its two uses:
//!
//! - The record's later saves (the start, the exit) are not fsynced (see
//!   [`super::record::ContainerRecord::run_durability`]); after a power loss such a save may
//!   leave an empty `config.json`. A folder with the marker whose record cannot be loaded is
//!   removed by the next restore instead of being skipped forever.
//! - The runtime that will remove the container holds an exclusive `flock` on the marker (its
//!   claim) from the creation, or from the restore that adopted it, until the removal. A
//!   restore in another process (several in-process commands may share a root) removes only
//!   a container nobody claims: never one that its `run --rm` is about to start or remove.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::{Error, Result};

/// The marker's name in the container's folder.
pub const MARKER: &str = "autoremove";

/// Whether the folder `dir` has the marker.
pub fn marked(dir: &Path) -> bool {
    dir.join(MARKER).exists()
}

fn try_lock(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor the caller owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => return Ok(false),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}

/// Make the marker in the new container folder `dir`, claimed: locked under a temporary name,
/// then renamed into place, so that no restore ever sees it unclaimed. The claim lasts as
/// long as the returned file is open.
pub fn mark(dir: &Path) -> Result<File> {
    let tmp = dir.join(format!(".{MARKER}.tmp"));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| Error::io_path("creating", &tmp, e))?;
    match try_lock(&file) {
        Ok(true) => {}
        Ok(false) => return Err(Error::in_use(format!("{} is locked", tmp.display()))),
        Err(e) => return Err(Error::io_path("locking", &tmp, e)),
    }
    let marker = dir.join(MARKER);
    fs::rename(&tmp, &marker).map_err(|e| Error::io_path("creating", &marker, e))?;
    Ok(file)
}

/// Claim the marked container folder `dir`: `Some` (held while the file is open) when no
/// live runtime claims it, `None` when one does.
pub fn claim(dir: &Path) -> Result<Option<File>> {
    let marker = dir.join(MARKER);
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&marker)
        .map_err(|e| Error::io_path("opening", &marker, e))?;
    match try_lock(&file) {
        Ok(true) => Ok(Some(file)),
        Ok(false) => Ok(None),
        Err(e) => Err(Error::io_path("locking", &marker, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_excludes_others_until_it_is_dropped() {
        let dir = std::env::temp_dir().join(format!("dr-autoremove-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert!(!marked(&dir));
        let held = mark(&dir).unwrap();
        assert!(marked(&dir));
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file left");
        // flock locks belong to the open file: a second open is another claimant, as
        // another process's restore is.
        assert!(claim(&dir).unwrap().is_none());
        drop(held);
        let again = claim(&dir).unwrap();
        assert!(again.is_some());
        assert!(claim(&dir).unwrap().is_none());
        drop(again);
        fs::remove_dir_all(&dir).unwrap();
    }
}
