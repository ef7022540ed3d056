//! The daemon as one call on a runtime: lock its root, restore its containers, bind the
//! addresses, serve every connection with the command dispatch until a stop, then unbind and
//! unlock. `docker -d` and any C program (`docker_runtime_serve`) host the socket this way.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use super::addr::{Addr, DEFAULT_ADDR};
use super::daemon::{self, DaemonConfig, StopOn, StopSignals, Stopped};
use super::exec::RuntimeExecutor;
use super::listener::{Listener, SocketGroup};
use super::pidfile::RootLock;
use crate::error::{Error, Result};
use crate::log::Logger;
use crate::runtime::Runtime;

/// How [`serve`] hosts the daemon.
#[derive(Debug, Clone)]
pub struct ServeOptions<'a> {
    /// `unix:///PATH` or `tcp://HOST:PORT`, each listened on; empty: [`DEFAULT_ADDR`].
    pub addrs: Vec<String>,
    /// The group of the unix sockets.
    pub group: SocketGroup,
    /// Request timeout, connection limit and stop grace periods.
    pub daemon: DaemonConfig,
    /// Serving stops once this becomes readable (see [`StopOn::fd`]).
    pub stop_fd: Option<BorrowedFd<'a>>,
    /// One byte is written here once every address accepts connections.
    pub ready_fd: Option<BorrowedFd<'a>>,
    /// SIGTERM and SIGINT stop serving (their handlers are put back at the end).
    pub handle_signals: bool,
    /// Set SIGPIPE to ignored for the process, so a client that leaves mid-command costs the
    /// command an EPIPE, never the process its life.
    pub ignore_sigpipe: bool,
    /// Raise the soft open-files limit to the hard one, to hold many connections.
    pub raise_open_files_limit: bool,
    /// Restore the root's containers once the root is locked (a runtime restored already
    /// skips the containers it knows).
    pub restore: bool,
}

impl Default for ServeOptions<'_> {
    fn default() -> Self {
        ServeOptions {
            addrs: Vec::new(),
            group: SocketGroup::Default,
            daemon: DaemonConfig::default(),
            stop_fd: None,
            ready_fd: None,
            handle_signals: false,
            ignore_sigpipe: true,
            raise_open_files_limit: false,
            restore: true,
        }
    }
}

/// Parse the addresses; each may be given once.
fn parse_addrs(addrs: &[String]) -> Result<Vec<Addr>> {
    let addrs = if addrs.is_empty() {
        vec![Addr::parse(DEFAULT_ADDR)?]
    } else {
        addrs
            .iter()
            .map(|a| Addr::parse(a))
            .collect::<Result<Vec<_>>>()?
    };
    if let Some(dup) = addrs
        .iter()
        .enumerate()
        .find_map(|(i, a)| addrs[..i].contains(a).then_some(a))
    {
        return Err(Error::invalid(format!("address {dup} is given twice")));
    }
    Ok(addrs)
}

fn ignore_sigpipe() -> Result<()> {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: setting a signal's disposition to "ignore" is always sound.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) }
        .map(drop)
        .map_err(|e| Error::errno("ignoring SIGPIPE", e))
}

/// Let the process hold many connections: the soft open-files limit up to (never above) the
/// hard one, which needs no privilege. A failure only costs capacity.
fn raise_open_files_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Tell the host that clients may connect now.
fn notify_ready(fd: BorrowedFd<'_>, logger: &Logger) {
    loop {
        match nix::unistd::write(fd.as_fd(), b"r") {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => logger.warn(&format!("writing to the ready descriptor: {e}")),
            Ok(_) => {}
        }
        break;
    }
}

/// Host the daemon on `rt` until a stop (see [`ServeOptions`]). Errors (a bad or duplicate
/// address, a root another daemon holds, a socket in use, a missing group) come before any
/// connection is served, and leave nothing behind. Containers keep running after the stop.
pub fn serve(rt: &Arc<Runtime>, o: &ServeOptions<'_>) -> Result<Stopped> {
    let addrs = parse_addrs(&o.addrs)?;
    if o.ignore_sigpipe {
        ignore_sigpipe()?;
    }
    if o.raise_open_files_limit {
        raise_open_files_limit();
    }
    let signals = o.handle_signals.then(StopSignals::install).transpose()?;
    let logger = rt.logger();
    let lock = RootLock::acquire(rt.root(), true)?;
    let restored = if o.restore {
        rt.restore()?
    } else {
        rt.container_count()
    };
    let listeners = addrs
        .iter()
        .map(|a| Listener::bind(a, &o.group, logger))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = listeners.iter().map(Listener::addr).collect();
    logger.info(&format!(
        "daemon {} (pid {}) serving root {} ({restored} containers restored) on {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        rt.root().display(),
        names.join(", ")
    ));
    if let Some(fd) = o.ready_fd {
        notify_ready(fd, logger);
    }
    let stop = StopOn {
        signals: signals.as_ref(),
        fd: o.stop_fd,
    };
    let exec = Arc::new(RuntimeExecutor(Arc::clone(rt)));
    let stopped = daemon::serve(listeners, exec, &o.daemon, stop, logger);
    if stopped.still_running == 0 {
        logger.info("stopped serving; every command returned");
    } else {
        // Each holds the runtime (RuntimeExecutor), so releasing the handle stays safe.
        logger.warn(&format!(
            "stopped serving with {} command(s) still running; they keep the runtime until they return",
            stopped.still_running
        ));
    }
    drop(signals);
    drop(lock);
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_parse_and_must_differ() {
        assert_eq!(
            parse_addrs(&[]).unwrap(),
            vec![Addr::parse(DEFAULT_ADDR).unwrap()]
        );
        let two = ["unix:///a.sock".to_string(), "tcp://:4242".to_string()];
        assert_eq!(
            parse_addrs(&two).unwrap(),
            vec![
                Addr::Unix("/a.sock".into()),
                Addr::Tcp("127.0.0.1:4242".into())
            ]
        );
        let e = parse_addrs(&["tcp://:1".into(), "tcp://127.0.0.1:1".into()]).unwrap_err();
        assert_eq!(e.message(), "address tcp://127.0.0.1:1 is given twice");
        let e = parse_addrs(&["http://x".into()]).unwrap_err();
        assert!(e.message().contains("unknown scheme"), "{e}");
    }
}
