//! The daemon's accept loop: several listeners, one thread per connection, and an orderly stop
//! on SIGTERM/SIGINT or when the host's stop descriptor becomes readable (stop accepting, let
//! in-flight commands finish for a bounded time, then cancel the rest by shutting their
//! sockets, and report whether every command returned).

use std::collections::HashMap;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use super::addr::Stream;
use super::connection::{self, ConnectionConfig, Executor};
use super::listener::Listener;
use crate::error::{Error, Result};
use crate::log::Logger;

/// How the daemon serves.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub connection: ConnectionConfig,
    /// Connections served at once; more are told to try again later.
    pub max_connections: usize,
    /// How long in-flight commands may run on after a stop signal before they are cancelled.
    pub stop_grace: Duration,
    /// How long cancelled commands get to return.
    pub cancel_grace: Duration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            connection: ConnectionConfig::default(),
            max_connections: 1024,
            stop_grace: Duration::from_secs(10),
            cancel_grace: Duration::from_secs(5),
        }
    }
}

/// The write end of the stop pipe, for the signal handler.
static STOP_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    let fd = STOP_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte. The pipe is
        // non-blocking, so a full pipe (a stop already pending) cannot block the handler.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// The signals [`StopSignals`] handles.
const STOP_SIGNALS: [Signal; 2] = [Signal::SIGTERM, Signal::SIGINT];

/// SIGTERM and SIGINT, turned into bytes on a pipe the accept loop watches (the self-pipe
/// trick: the handler only writes one byte). One at a time per process; dropping it puts the
/// previous handlers back.
#[derive(Debug)]
pub struct StopSignals {
    read: OwnedFd,
    write: OwnedFd,
    previous: Vec<(Signal, SigAction)>,
}

impl StopSignals {
    pub fn install() -> Result<StopSignals> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| Error::errno("creating the stop pipe", e))?;
        if STOP_FD
            .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(Error::in_use(
                "SIGTERM and SIGINT already stop another serve loop in this process",
            ));
        }
        let mut s = StopSignals {
            read,
            write,
            previous: Vec::new(),
        };
        let action = SigAction::new(
            SigHandler::Handler(on_stop_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in STOP_SIGNALS {
            // SAFETY: the handler only loads an atomic and calls write(2), both
            // async-signal-safe.
            let old = unsafe { sigaction(sig, &action) }
                .map_err(|e| Error::errno(format!("installing a {sig} handler"), e))?;
            s.previous.push((sig, old));
        }
        Ok(s)
    }

    /// The signal that arrived, if one did (consumes it).
    fn take(&self) -> Option<Signal> {
        let mut b = [0u8; 1];
        match nix::unistd::read(&self.read, &mut b) {
            Ok(1) => Signal::try_from(b[0] as i32).ok(),
            _ => None,
        }
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        for (sig, old) in self.previous.drain(..) {
            // SAFETY: puts back the action that was in place before `install`.
            let _ = unsafe { sigaction(sig, &old) };
        }
        // Only now may the pipe close (a handler already running may still write to it).
        let _ = STOP_FD.compare_exchange(
            self.write.as_raw_fd(),
            -1,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

/// What ends a serve loop: the stop signals, a descriptor of the caller's, or both.
#[derive(Debug, Default, Clone, Copy)]
pub struct StopOn<'a> {
    pub signals: Option<&'a StopSignals>,
    /// Serving stops once this is readable (a byte written to a pipe, every write end closed,
    /// an eventfd signalled). It is never read or closed here.
    pub fd: Option<BorrowedFd<'a>>,
}

/// Why a serve loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Signal(Signal),
    /// The stop descriptor became readable.
    Requested,
    /// Waiting for connections failed.
    Failed,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Signal(s) => write!(f, "received {s}"),
            StopReason::Requested => f.write_str("stop requested"),
            StopReason::Failed => f.write_str("stopping"),
        }
    }
}

/// A connection being served: its socket, and whether its command is running (until then it
/// is only reading its request).
struct Conn {
    sock: Stream,
    running: bool,
}

/// Connections being served, so a stop can wait for them or cancel them.
#[derive(Default)]
struct Active {
    conns: Mutex<HashMap<u64, Conn>>,
    changed: Condvar,
}

impl Active {
    fn set_running(&self, id: u64) {
        if let Some(c) = self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id)
        {
            c.running = true;
        }
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.changed.notify_all();
    }

    /// Wait until no connection is left or `timeout` passes; returns how many are left.
    fn wait_empty(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut g = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        while !g.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = self
                .changed
                .wait_timeout(g, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        g.len()
    }

    /// Cancel connections (all, or those still reading their request): shut their sockets
    /// both ways, so reads see the end and writes fail.
    fn cancel(&self, running_too: bool) {
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| running_too || !c.running)
        {
            let _ = c.sock.shutdown(Shutdown::Both);
        }
    }
}

/// How a stopped daemon ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped {
    pub reason: StopReason,
    /// Commands still running in the library after both grace periods (0: every command
    /// returned).
    pub still_running: usize,
}

/// Serve `listeners` until `stop` says so. Each connection runs on its own thread and calls
/// `exec`. Then stop accepting, drop connections still sending their request, give running
/// commands `cfg.stop_grace`, cancel the rest and give them `cfg.cancel_grace`.
pub fn serve(
    listeners: Vec<Listener>,
    exec: Arc<dyn Executor>,
    cfg: &DaemonConfig,
    stop: StopOn<'_>,
    logger: &Logger,
) -> Stopped {
    let active = Arc::new(Active::default());
    let mut next_id: u64 = 0;
    let reason = loop {
        let ready = match wait_ready(&listeners, stop) {
            Ok(r) => r,
            Err(e) => {
                logger.error(&format!("waiting for connections: {e}; stopping"));
                break StopReason::Failed;
            }
        };
        if let Some(reason) = ready.stop {
            break reason;
        }
        for (l, _) in listeners.iter().zip(&ready.listeners).filter(|(_, r)| **r) {
            // Take every waiting connection of this listener.
            while let Some(sock) = accept_one(l, logger) {
                next_id += 1;
                start_connection(next_id, sock, &exec, cfg, &active, logger);
            }
        }
    };
    let n = listeners.len();
    drop(listeners);
    logger.info(&format!("{reason}: stopped accepting on {n} listener(s)"));
    // A connection still sending its request has no command to finish: drop it now.
    active.cancel(false);
    let mut left = active.wait_empty(cfg.stop_grace);
    if left > 0 {
        logger.warn(&format!(
            "cancelling {left} command(s) still running after {} s",
            cfg.stop_grace.as_secs_f64()
        ));
        active.cancel(true);
        left = active.wait_empty(cfg.cancel_grace);
    }
    Stopped {
        reason,
        still_running: left,
    }
}

/// What one wait found: a reason to stop, and which listeners have connections waiting.
struct Ready {
    stop: Option<StopReason>,
    listeners: Vec<bool>,
}

/// Wait until a stop source or a listener is ready.
fn wait_ready(listeners: &[Listener], stop: StopOn<'_>) -> std::result::Result<Ready, Errno> {
    let mut fds = Vec::with_capacity(listeners.len() + 2);
    if let Some(s) = stop.signals {
        fds.push(PollFd::new(s.read.as_fd(), PollFlags::POLLIN));
    }
    if let Some(fd) = stop.fd {
        fds.push(PollFd::new(fd, PollFlags::POLLIN));
    }
    let first_listener = fds.len();
    fds.extend(
        listeners
            .iter()
            .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN)),
    );
    match poll(&mut fds, PollTimeout::NONE) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(e) => return Err(e),
    }
    // Any event on a stop source counts: POLLIN, and also POLLHUP (every write end closed)
    // or POLLNVAL (the caller closed it under us), which would otherwise spin.
    let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
    drop(fds);
    let mut i = 0;
    let mut reason = None;
    if let Some(s) = stop.signals {
        if ready[i] {
            reason = s.take().map(StopReason::Signal);
        }
        i += 1;
    }
    if stop.fd.is_some() && ready[i] && reason.is_none() {
        reason = Some(StopReason::Requested);
    }
    Ok(Ready {
        stop: reason,
        listeners: ready[first_listener..].to_vec(),
    })
}

/// Accept one waiting connection of `l`; `None` when none is waiting (or accepting failed:
/// EMFILE and friends are logged, and poll tells us again).
fn accept_one(l: &Listener, logger: &Logger) -> Option<Stream> {
    match l.accept() {
        Ok(s) => s,
        Err(e) => {
            logger.warn(&format!("accepting on {}: {e}", l.addr()));
            std::thread::sleep(Duration::from_millis(10));
            None
        }
    }
}

fn start_connection(
    id: u64,
    sock: Stream,
    exec: &Arc<dyn Executor>,
    cfg: &DaemonConfig,
    active: &Arc<Active>,
    logger: &Logger,
) {
    let handle = match sock.try_clone() {
        Ok(h) => h,
        Err(e) => {
            logger.warn(&format!("connection {id}: {e}; dropped"));
            return;
        }
    };
    {
        let mut conns = active.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() >= cfg.max_connections {
            drop(conns);
            logger.warn(&format!(
                "connection {id}: refused, {} connections are being served",
                cfg.max_connections
            ));
            let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = std::io::Write::write_all(
                &mut &sock,
                format!(
                    "Error: the daemon is serving {} connections already; try again later\n",
                    cfg.max_connections
                )
                .as_bytes(),
            );
            return;
        }
        conns.insert(
            id,
            Conn {
                sock: handle,
                running: false,
            },
        );
    }
    let (exec, active2, logger2, ccfg) = (
        Arc::clone(exec),
        Arc::clone(active),
        logger.clone(),
        cfg.connection.clone(),
    );
    let spawned = std::thread::Builder::new()
        .name(format!("conn-{id}"))
        .spawn(move || {
            connection::serve(id, sock, &*exec, &ccfg, &logger2, &|| {
                active2.set_running(id)
            });
            active2.remove(id);
        });
    if let Err(e) = spawned {
        logger.warn(&format!("connection {id}: no thread for it ({e}); dropped"));
        active.remove(id);
    }
}
