//! A container's output: appended to `ID-stdout.log` / `ID-stderr.log` (by the program itself,
//! or by the monitor for a terminal), and streamed to attached clients by following the files.
//! Following a file needs no per-container copy loop, and survives a restart of the library's
//! process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::event::{poll_in, Event};
use crate::error::{Error, Result};

/// Open a log for appending (created 0600).
pub fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io_path("opening log", path, e))
}

/// Open a log for reading, positioned at `offset` (None: its end). A missing log reads empty.
pub fn open_reader(path: &Path, offset: Option<u64>) -> Result<Option<File>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io_path("opening log", path, e)),
    };
    let pos = match offset {
        Some(o) => SeekFrom::Start(o),
        None => SeekFrom::End(0),
    };
    f.seek(pos)
        .map_err(|e| Error::io_path("seeking in", path, e))?;
    Ok(Some(f))
}

/// Copy what `from` holds now to `to`. A write error means the client is gone.
fn pump(from: &mut File, to: &mut dyn Write, buf: &mut [u8]) -> Result<()> {
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading a log", e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| Error::io("writing to the client", e))?;
    }
}

struct Inotify(OwnedFd);

impl Inotify {
    fn watch(paths: &[&Path]) -> Result<Inotify> {
        // SAFETY: creates a new descriptor.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if fd < 0 {
            return Err(Error::io("inotify_init1", std::io::Error::last_os_error()));
        }
        // SAFETY: fd is fresh and ours.
        let me = Inotify(unsafe { OwnedFd::from_raw_fd(fd) });
        for p in paths {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
                .map_err(|_| Error::invalid("log path contains NUL"))?;
            // SAFETY: c is a valid NUL-terminated path for the call.
            let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_MODIFY) };
            if wd < 0 {
                return Err(Error::io_path(
                    "watching",
                    p,
                    std::io::Error::last_os_error(),
                ));
            }
        }
        Ok(me)
    }

    fn drain(&self) {
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a live buffer from our non-blocking descriptor.
        while unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}

/// Stream each `(log, client)` pair until `done` is signalled, then copy what is left.
/// Returns early with an error when a client goes away.
pub fn follow(
    logs: &[&Path],
    readers: &mut [File],
    clients: &mut [&mut dyn Write],
    done: &Event,
) -> Result<()> {
    let ino = Inotify::watch(logs)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let finished = done.is_set();
        for (r, c) in readers.iter_mut().zip(clients.iter_mut()) {
            pump(r, &mut **c, &mut buf)?;
        }
        if finished {
            return Ok(());
        }
        poll_in(&[ino.0.as_fd(), done.as_fd()], -1)?;
        ino.drain();
    }
}

/// Copy a whole log to `to` (for `docker logs`).
pub fn copy_log(path: &Path, to: &mut dyn Write) -> Result<()> {
    if let Some(mut f) = open_reader(path, Some(0))? {
        let mut buf = vec![0u8; 64 * 1024];
        pump(&mut f, to, &mut buf)?;
    }
    Ok(())
}
