//! `ROOT/docker.pid`: one daemon per runtime root.
//!
//! The daemon holds an exclusive `flock` on the file for its whole life and writes its pid in
//! it; a second daemon on the same root fails to take the lock and is refused, naming the
//! first one's pid. A command the client runs in-process (no daemon reachable) holds a shared
//! lock for its duration, so it never runs beside a daemon that owns the root but listens
//! elsewhere. The file is removed, while still locked, by the last holder; a holder checks
//! after locking that the path still names the file it locked (else it tries again), so
//! removal never lets two daemons in.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The pid file's name inside the root.
pub const PID_FILE: &str = "docker.pid";

/// A held lock on a root.
#[derive(Debug)]
pub struct RootLock {
    file: File,
    path: PathBuf,
    exclusive: bool,
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor the caller owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

impl RootLock {
    /// Lock `root` for a daemon (exclusive, writes the pid) or for an in-process command
    /// (shared). Never waits: a root in use is an error saying by whom.
    pub fn acquire(root: &Path, exclusive: bool) -> Result<RootLock> {
        let path = root.join(PID_FILE);
        // A holder without a pid is an in-process command; it may be just leaving (a last
        // shared holder briefly takes the lock exclusively to remove the file), so such a
        // conflict is retried for a moment before it is reported.
        let mut error = None;
        for _ in 0..40 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|e| Error::io_path("opening", &path, e))?;
            let op = if exclusive {
                libc::LOCK_EX
            } else {
                libc::LOCK_SH
            };
            match flock(&file, op | libc::LOCK_NB) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let (daemon, e) = in_use(root, &path, &mut file);
                    if daemon {
                        return Err(e);
                    }
                    error = Some(e);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                Err(e) => return Err(Error::io_path("locking", &path, e)),
            }
            if !same_file(&file, &path) {
                // The previous holder removed it between our open and our lock.
                continue;
            }
            if exclusive {
                file.set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| writeln!(file, "{}", std::process::id()))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::io_path("writing", &path, e))?;
            }
            return Ok(RootLock {
                file,
                path,
                exclusive,
            });
        }
        Err(error.unwrap_or_else(|| {
            Error::in_use(format!(
                "{} keeps changing; is another daemon starting and stopping?",
                path.display()
            ))
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The error for a root locked by someone else, and whether that is a daemon.
fn in_use(root: &Path, path: &Path, file: &mut File) -> (bool, Error) {
    let mut s = String::new();
    let _ = file.read_to_string(&mut s);
    match s.trim().parse::<u32>() {
        Ok(pid) => (
            true,
            Error::in_use(format!(
                "root {} is in use by another daemon (pid {pid}, see {})",
                root.display(),
                path.display()
            )),
        ),
        Err(_) => (
            false,
            Error::in_use(format!(
                "root {} is in use by a docker command running in-process ({} is locked)",
                root.display(),
                path.display()
            )),
        ),
    }
}

impl Drop for RootLock {
    fn drop(&mut self) {
        // Remove the file if we are the last holder (a shared holder upgrades without waiting
        // to find out), and only while it is still the file we locked.
        let last = self.exclusive || flock(&self.file, libc::LOCK_EX | libc::LOCK_NB).is_ok();
        if last && same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pidfile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn one_exclusive_holder_and_shared_holders_exclude_it() {
        let d = tempdir("a");
        let a = RootLock::acquire(&d, true).unwrap();
        let pid = std::fs::read_to_string(d.join(PID_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        let e = RootLock::acquire(&d, true).unwrap_err();
        assert!(
            e.message()
                .contains(&format!("another daemon (pid {},", std::process::id())),
            "{e}"
        );
        assert!(RootLock::acquire(&d, false).is_err());
        drop(a);
        assert!(!d.join(PID_FILE).exists(), "the last holder removes it");

        let s1 = RootLock::acquire(&d, false).unwrap();
        let s2 = RootLock::acquire(&d, false).unwrap();
        let e = RootLock::acquire(&d, true).unwrap_err();
        assert!(e.message().contains("running in-process"), "{e}");
        drop(s1);
        assert!(d.join(PID_FILE).exists(), "s2 still holds it");
        drop(s2);
        assert!(!d.join(PID_FILE).exists());
        RootLock::acquire(&d, true).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
