//! Terminal helpers: window sizes, read and set, and their changes while a command runs.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use nix::fcntl::OFlag;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The window size (rows, columns) of the terminal on `fd`, or `None` when it is not one.
pub fn window_size(fd: &impl AsFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass; the fd is borrowed.
    let rc = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && (ws.ws_row, ws.ws_col) != (0, 0)).then_some((ws.ws_row, ws.ws_col))
}

/// Set the window size (rows, columns) of the terminal on `fd`.
pub fn set_window_size(fd: &impl AsFd, rows: u16, cols: u16) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize we pass; the fd is borrowed.
    if unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Window sizes that arrive while a command runs: the client's terminal's after each
/// SIGWINCH ([`WindowSizes::watch`]), or those a daemon's client sends ([`WindowSizes::send`]).
/// Its descriptor is readable while a size waits to be [taken](WindowSizes::take); only the
/// latest size is kept (a window dragged wide sends many, and only the last one matters).
#[derive(Debug, Clone)]
pub struct WindowSizes(Arc<Feed>);

#[derive(Debug)]
struct Feed {
    /// An eventfd: non-zero while a size waits.
    wake: OwnedFd,
    latest: Mutex<Option<(u16, u16)>>,
    /// The terminal whose size SIGWINCH reports, for a watch.
    terminal: Option<OwnedFd>,
}

impl WindowSizes {
    /// A feed that sizes are [sent](WindowSizes::send) to.
    pub fn new() -> io::Result<WindowSizes> {
        Self::with_terminal(None)
    }

    fn with_terminal(terminal: Option<OwnedFd>) -> io::Result<WindowSizes> {
        // SAFETY: eventfd creates a new descriptor; no pointers involved.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(WindowSizes(Arc::new(Feed {
            // SAFETY: fd is fresh and owned by nobody else.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
            latest: Mutex::new(None),
            terminal,
        })))
    }

    /// The sizes of the terminal on `fd` each time the process gets SIGWINCH (the kernel
    /// sends it to the terminal's foreground process group when its size changes), and its
    /// size now, so that a change just before the watch began is not lost. The process's
    /// SIGWINCH handler is installed on the first watch; one it had before still runs.
    pub fn watch(fd: &impl AsFd) -> io::Result<WindowSizes> {
        let sizes = Self::with_terminal(Some(fd.as_fd().try_clone_to_owned()?))?;
        winch::subscribe(&sizes.0)?;
        if let Some((rows, cols)) = window_size(fd) {
            sizes.send(rows, cols);
        }
        Ok(sizes)
    }

    /// Deliver a size (it replaces one not taken yet).
    pub fn send(&self, rows: u16, cols: u16) {
        *self.0.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some((rows, cols));
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.0.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// The size waiting, if any; the descriptor is not readable after this until the next.
    pub fn take(&self) -> Option<(u16, u16)> {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
        unsafe { libc::read(self.0.wake.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
        self.0
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl AsFd for WindowSizes {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.wake.as_fd()
    }
}

/// SIGWINCH, process-wide: the handler writes a byte to a pipe (all a handler may do), and a
/// thread reads it and sends each watched terminal's new size to its feed.
mod winch {
    use super::*;

    /// The pipe's write end, for the handler (-1 until installed).
    static PIPE: AtomicI32 = AtomicI32::new(-1);
    /// The handler that was there before ours.
    static PREVIOUS: OnceLock<SigAction> = OnceLock::new();
    static WATCHES: Mutex<Vec<Weak<Feed>>> = Mutex::new(Vec::new());
    static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

    extern "C" fn on_winch(sig: libc::c_int) {
        let fd = PIPE.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = 0u8;
            // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking (a full pipe
            // already holds a wake-up).
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
        if let Some(SigHandler::Handler(f)) = PREVIOUS.get().map(SigAction::handler) {
            f(sig);
        }
    }

    /// Send each live watch its terminal's size; forget the dropped ones.
    fn dispatch(read: OwnedFd) {
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(&read, &mut buf) {
                Ok(0) => return,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
            let mut watches = WATCHES.lock().unwrap_or_else(|e| e.into_inner());
            watches.retain(|w| w.strong_count() > 0);
            for feed in watches.iter().filter_map(Weak::upgrade) {
                let size = feed.terminal.as_ref().and_then(window_size);
                if let Some((rows, cols)) = size {
                    WindowSizes(feed).send(rows, cols);
                }
            }
        }
    }

    fn install() -> std::result::Result<(), String> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| format!("making the SIGWINCH pipe: {e}"))?;
        // The reader blocks; only the handler's end must never.
        nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))
            .map_err(|e| format!("making the SIGWINCH pipe: {e}"))?;
        std::thread::Builder::new()
            .name("sigwinch".into())
            .spawn(move || dispatch(read))
            .map_err(|e| format!("starting the SIGWINCH thread: {e}"))?;
        // The write end is the handler's for the rest of the process: never closed.
        PIPE.store(write.into_raw_fd(), Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_winch),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler uses only async-signal-safe calls, and the one it chains to
        // was installed for this signal by the process.
        let old = unsafe { sigaction(Signal::SIGWINCH, &action) }
            .map_err(|e| format!("installing a SIGWINCH handler: {e}"))?;
        let _ = PREVIOUS.set(old);
        Ok(())
    }

    pub(super) fn subscribe(feed: &Arc<Feed>) -> io::Result<()> {
        INSTALLED
            .get_or_init(install)
            .clone()
            .map_err(io::Error::other)?;
        let mut watches = WATCHES.lock().unwrap_or_else(|e| e.into_inner());
        watches.retain(|w| w.strong_count() > 0);
        watches.push(Arc::downgrade(feed));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn readable(fd: BorrowedFd<'_>, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let mut p = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
            if nix::poll::poll(&mut p, nix::poll::PollTimeout::from(10u8)) == Ok(1) {
                return true;
            }
        }
        false
    }

    #[test]
    fn a_watch_reports_the_size_now_and_after_each_sigwinch() {
        let ws = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None::<&nix::sys::termios::Termios>).unwrap();
        let sizes = WindowSizes::watch(&pty.slave).unwrap();
        assert_eq!(
            sizes.take(),
            Some((24, 80)),
            "the size when the watch began"
        );
        assert_eq!(sizes.take(), None);
        set_window_size(&pty.master, 50, 132).unwrap();
        // The terminal is not this process's controlling one: the signal is sent by hand,
        // as the kernel sends it to a terminal's foreground process group.
        nix::sys::signal::raise(Signal::SIGWINCH).unwrap();
        assert!(readable(sizes.as_fd(), Duration::from_secs(10)));
        assert_eq!(sizes.take(), Some((50, 132)));
        // A feed that is sent to, and a dropped watch, are left alone.
        let sent = WindowSizes::new().unwrap();
        sent.send(1, 2);
        sent.send(3, 4);
        assert_eq!(sent.take(), Some((3, 4)), "only the latest size is kept");
        drop(sizes);
        nix::sys::signal::raise(Signal::SIGWINCH).unwrap();
        assert!(!readable(sent.as_fd(), Duration::from_millis(100)));
    }
}
