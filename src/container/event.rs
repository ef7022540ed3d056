//! A one-shot event on an eventfd: once signalled it stays readable, so any number of threads
//! can `poll` it alongside their other descriptors.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Event(OwnedFd);

impl Event {
    pub fn new() -> Result<Event> {
        // SAFETY: eventfd creates a new descriptor; no pointers involved.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(Error::io("eventfd", std::io::Error::last_os_error()));
        }
        // SAFETY: fd is fresh and owned by nobody else.
        Ok(Event(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Make the event readable (for good).
    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn is_set(&self) -> bool {
        poll_in(&[self.0.as_fd()], 0).map(|r| r[0]).unwrap_or(false)
    }
}

impl AsFd for Event {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Wait until one of `fds` is readable (or hung up), at most `timeout_ms` (-1: forever).
/// Returns, per descriptor, whether it is ready.
pub fn poll_in(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: pfds is a live array of pollfd of the given length.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io("poll", e));
        }
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}
