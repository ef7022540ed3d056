//! A container's output: appended to `ID-stdout.log` / `ID-stderr.log` (by the program itself,
//! or by the monitor for a terminal), and streamed to attached clients by following the files.
//! Following a file needs no per-container copy loop, and survives a restart of the library's
//! process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::event::{poll_in, Event};
use super::lifecycle::Container;
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

/// Copy what `from` holds now to `to`, stopping early once `cancel` (when given) is set;
/// true when something was copied. A write error means the client is gone.
fn pump(
    from: &mut File,
    to: &mut dyn Write,
    buf: &mut [u8],
    cancel: Option<&Event>,
) -> Result<bool> {
    let mut moved = false;
    loop {
        if moved && cancel.is_some_and(Event::is_set) {
            return Ok(moved);
        }
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

/// Stream each `(log, client)` pair until `done` is signalled, then copy what is left; or
/// until `cancel` (when given) is signalled, leaving the rest. Returns early with an error
/// when a client goes away.
pub fn follow(
    readers: &mut [File],
    clients: &mut [&mut dyn Write],
    done: &Event,
    cancel: Option<&Event>,
) -> Result<()> {
    follow_while_there(readers, clients, done, cancel, &[])
}

/// Whether the reader of one of `outputs` (a pipe's or a socket's other end) has gone: the
/// kernel reports an error or a hang-up on it without a write.
fn gone(outputs: &[BorrowedFd<'_>]) -> bool {
    let mut pfds: Vec<libc::pollfd> = outputs
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: 0,
            revents: 0,
        })
        .collect();
    // SAFETY: pfds is a live array of pollfd of the given length; no wait.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0) };
    n > 0
        && pfds
            .iter()
            .any(|p| p.revents & (libc::POLLERR | libc::POLLHUP) != 0)
}

/// [`follow`], also ending (with an error) when a client whose descriptor is among
/// `outputs` goes away, even while nothing is written to it (a silent `logs -f`).
pub fn follow_while_there(
    readers: &mut [File],
    clients: &mut [&mut dyn Write],
    done: &Event,
    cancel: Option<&Event>,
    outputs: &[BorrowedFd<'_>],
) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut nap = 1;
    let mut watched = vec![done.as_fd()];
    watched.extend(cancel.map(|c| c.as_fd()));
    loop {
        if cancel.is_some_and(Event::is_set) {
            return Ok(());
        }
        if gone(outputs) {
            return Err(Error::io(
                "writing to the client",
                std::io::Error::from_raw_os_error(libc::EPIPE),
            ));
        }
        let finished = done.is_set();
        let mut moved = false;
        for (r, c) in readers.iter_mut().zip(clients.iter_mut()) {
            moved |= pump(r, &mut **c, &mut buf, cancel)?;
        }
        if finished {
            return Ok(());
        }
        nap = if moved { 1 } else { (nap * 2).min(MAX_NAP_MS) };
        poll_in(&watched, nap)?;
    }
}

/// The length of a log now: where a stream of what comes next starts.
pub fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Open a log to follow from `offset` (None: its end), creating it when the container has not
/// written it yet.
pub fn open_follow(path: &Path, offset: Option<u64>) -> Result<Option<File>> {
    if !path.exists() {
        open_log(path)?;
    }
    open_reader(path, offset)
}

/// Copy `client` to the container's stdin until either ends or one of `stops` is signalled.
/// With `close_at_eof`, the container's stdin is closed when the client's ends (so `echo x |
/// docker run -i ... cat` finishes).
pub fn feed_stdin(c: &Container, client: File, stops: &[&Event], close_at_eof: bool) {
    let Some(target) = c.stdin() else {
        return;
    };
    let mut buf = [0u8; 16 * 1024];
    let mut fds = vec![client.as_fd()];
    fds.extend(stops.iter().map(|e| e.as_fd()));
    while let Ok(ready) = poll_in(&fds, -1) {
        if !ready[0] && ready[1..].iter().any(|r| *r) {
            break;
        }
        let n = match (&client).read(&mut buf) {
            Ok(0) | Err(_) => {
                drop(target);
                if close_at_eof {
                    c.close_stdin();
                }
                return;
            }
            Ok(n) => n,
        };
        if (&*target).write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Copy a whole log to `to` (for `docker logs`).
pub fn copy_log(path: &Path, to: &mut dyn Write) -> Result<()> {
    if let Some(mut f) = open_reader(path, Some(0))? {
        let mut buf = vec![0u8; 64 * 1024];
        pump(&mut f, to, &mut buf, None)?;
    }
    Ok(())
}
