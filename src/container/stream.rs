//! A container's output: appended to `ID-stdout.log` / `ID-stderr.log` (by the program itself,
//! or by the monitor for a terminal), and streamed to attached clients by following the files.
//! Following a file needs no per-container copy loop, and survives a restart of the library's
//! process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
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

/// Copy what `from` holds now to `to`; true when something was copied. A write error means
/// the client is gone.
fn pump(from: &mut File, to: &mut dyn Write, buf: &mut [u8]) -> Result<bool> {
    let mut moved = false;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(moved),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading a log", e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| Error::io("writing to the client", e))?;
        moved = true;
    }
}

/// How long a follower sleeps between looks at the logs: it starts short after output and
/// doubles while nothing comes, up to this. (Watching the files with inotify would wake it at
/// once, but closing an inotify instance waits for an SRCU grace period, ~15 ms here, on the
/// path of every attached `run`.)
const MAX_NAP_MS: i32 = 25;

/// Stream each `(log, client)` pair until `done` is signalled, then copy what is left.
/// Returns early with an error when a client goes away.
pub fn follow(readers: &mut [File], clients: &mut [&mut dyn Write], done: &Event) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut nap = 1;
    loop {
        let finished = done.is_set();
        let mut moved = false;
        for (r, c) in readers.iter_mut().zip(clients.iter_mut()) {
            moved |= pump(r, &mut **c, &mut buf)?;
        }
        if finished {
            return Ok(());
        }
        nap = if moved { 1 } else { (nap * 2).min(MAX_NAP_MS) };
        poll_in(&[done.as_fd()], nap)?;
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
