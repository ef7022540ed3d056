//! `docker_runtime_serve`: the daemon as one call. Only argument conversion lives here; the
//! serving is `crate::server::host::serve`.

use std::ffi::{c_char, c_int};
use std::mem::size_of;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::grow::{self, Growable};
use super::guard::{guard, handle, opt_str_arg, str_arg};
use super::result::{docker_result, FfiError, FfiResult};
use super::runtime::docker_runtime;
use crate::server::{DaemonConfig, ServeOptions, SocketGroup};

/// Options of `docker_runtime_serve`. Initialise with `docker_serve_options_init(&opts,
/// sizeof opts)` (which sets `size` and every default), then change what you need. Strings
/// and the address array are read during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct docker_serve_options {
    /// `sizeof(docker_serve_options)` as the caller knows it, set by
    /// `docker_serve_options_init`, so the struct can grow.
    pub size: usize,
    /// `addresses_len` addresses to listen on, each `unix:///PATH` or `tcp://HOST:PORT`; NULL
    /// and 0: `unix:///var/run/docker-runtime.sock`. A TCP address has no authentication and
    /// no encryption: anyone who can connect can run any command as root (logged loudly).
    pub addresses: *const *const c_char,
    pub addresses_len: usize,
    /// Group (name or number) of the unix sockets, which are mode 0660; NULL: `docker` when
    /// that group exists, else the process's own group.
    pub socket_group: *const c_char,
    /// How long a client has to send its request line, in milliseconds; 0: 10000.
    pub request_timeout_ms: u32,
    /// Connections served at once (more are told to try again); 0: 1024.
    pub max_connections: u32,
    /// After a stop, how long running commands may go on before they are cancelled (their
    /// sockets shut), in milliseconds; 0: 10000.
    pub stop_grace_ms: u32,
    /// How long cancelled commands then get to return, in milliseconds; 0: 5000.
    pub cancel_grace_ms: u32,
    /// The stop descriptor, or -1 for none: serving stops once it is readable. Pass the read
    /// end of a `pipe(2)` (or an `eventfd`) and write one byte to the other end, from any
    /// thread, another process, or a signal handler (`write(2)` is async-signal-safe);
    /// closing every write end stops it too. The library never reads or closes it, so a
    /// descriptor that is still readable stops a later serve at once: use a fresh pipe. It
    /// must stay open until the call returns.
    pub stop_fd: c_int,
    /// A descriptor (e.g. a pipe's write end) to which one byte is written once every address
    /// accepts connections, or -1 for none (then connect until it works). Not closed by the
    /// library; a failed write is only logged.
    pub ready_fd: c_int,
    /// Nonzero: SIGTERM and SIGINT stop serving too. The library installs its handlers for
    /// the call and puts the previous ones back before it returns; only one serve in the
    /// process may ask for this at a time. Default 0.
    pub handle_signals: c_int,
    /// Nonzero (the default): set SIGPIPE to ignored for the process, so a client that leaves
    /// mid-command costs the command an EPIPE instead of killing the process. Set 0 only when
    /// the host ignores or handles SIGPIPE itself.
    pub ignore_sigpipe: c_int,
    /// Nonzero: raise the soft open-files limit to the hard limit (never above it), to hold
    /// many connections. Default 0.
    pub raise_open_files_limit: c_int,
    /// Nonzero (the default): restore the root's containers once the root is locked
    /// (containers the runtime already restored are kept as they are).
    pub restore: c_int,
}

fn ms(v: Duration) -> u32 {
    u32::try_from(v.as_millis()).unwrap_or(u32::MAX)
}

// SAFETY: repr(C), `size` first, integer and pointer fields; the first version is the whole
// struct.
unsafe impl Growable for docker_serve_options {
    const NAME: &'static str = "docker_serve_options";
    const FIRST_SIZE: usize = size_of::<docker_serve_options>();
    fn defaults() -> Self {
        let d = DaemonConfig::default();
        docker_serve_options {
            size: size_of::<docker_serve_options>(),
            addresses: std::ptr::null(),
            addresses_len: 0,
            socket_group: std::ptr::null(),
            request_timeout_ms: ms(d.connection.request_timeout),
            max_connections: u32::try_from(d.max_connections).unwrap_or(u32::MAX),
            stop_grace_ms: ms(d.stop_grace),
            cancel_grace_ms: ms(d.cancel_grace),
            stop_fd: -1,
            ready_fd: -1,
            handle_signals: 0,
            ignore_sigpipe: 1,
            raise_open_files_limit: 0,
            restore: 1,
        }
    }
}

/// Fill the caller's `size` bytes at `opts` (pass `sizeof *opts`) with the defaults (the
/// default socket, no stop descriptor, no signal handling, SIGPIPE ignored, containers
/// restored) and zeros past the fields this library knows, and set `opts->size` to `size`.
/// A size below the first version of the struct is `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_serve_options_init(
    opts: *mut docker_serve_options,
    size: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: opts is NULL or writable for size bytes (caller's contract).
        unsafe { grow::init(opts, size) }
    })
}

/// An open descriptor argument, or -1 for none.
///
/// # Safety
/// A descriptor that is open now stays open for the call (the caller's contract).
unsafe fn fd_arg<'a>(fd: c_int, name: &str) -> FfiResult<Option<BorrowedFd<'a>>> {
    if fd == -1 {
        return Ok(None);
    }
    let invalid = |why: String| FfiError::new(docker_result::DOCKER_ERR_INVALID_ARGUMENT, why);
    if fd < 0 {
        return Err(invalid(format!("{name} {fd} is not a file descriptor")));
    }
    // SAFETY: F_GETFD only reads the descriptor table; a closed fd fails with EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        let e = std::io::Error::last_os_error();
        let mut err: FfiError = crate::error::Error::io(format!("{name} {fd}"), e).into();
        err.code = docker_result::DOCKER_ERR_INVALID_ARGUMENT;
        return Err(err);
    }
    // SAFETY: open (checked), and kept open for the call by the caller.
    Ok(Some(unsafe { BorrowedFd::borrow_raw(fd) }))
}

/// Collect the address strings.
///
/// # Safety
/// `addrs` is NULL or holds `len` string pointers.
unsafe fn addresses(addrs: *const *const c_char, len: usize) -> FfiResult<Vec<String>> {
    if len > 0 && addrs.is_null() {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_NULL_ARGUMENT,
            format!("opts->addresses is NULL but opts->addresses_len is {len}"),
        ));
    }
    (0..len)
        .map(|i| {
            // SAFETY: addrs holds len pointers (caller's contract).
            let p = unsafe { *addrs.add(i) };
            // SAFETY: each is NULL or a NUL-terminated string.
            unsafe { str_arg(p, &format!("opts->addresses[{i}]")) }.map(str::to_string)
        })
        .collect()
}

/// A duration in milliseconds, 0 meaning `default`.
fn ms_or(v: u32, default: Duration) -> Duration {
    if v == 0 {
        default
    } else {
        Duration::from_millis(u64::from(v))
    }
}

/// Read the caller's options, honouring its `size`.
///
/// # Safety
/// As `docker_runtime_serve`.
unsafe fn read_options<'a>(opts: *const docker_serve_options) -> FfiResult<ServeOptions<'a>> {
    // SAFETY: opts is NULL or readable for the size it states (caller's contract).
    let c = unsafe { grow::read(opts) }?;
    let mut d = DaemonConfig::default();
    d.connection.request_timeout = ms_or(c.request_timeout_ms, d.connection.request_timeout);
    if c.max_connections != 0 {
        d.max_connections = c.max_connections as usize;
    }
    d.stop_grace = ms_or(c.stop_grace_ms, d.stop_grace);
    d.cancel_grace = ms_or(c.cancel_grace_ms, d.cancel_grace);
    // SAFETY: the string, array and descriptor fields follow the documented contract.
    let (addrs, group, stop_fd, ready_fd) = unsafe {
        (
            addresses(c.addresses, c.addresses_len)?,
            opt_str_arg(c.socket_group, "opts->socket_group")?,
            fd_arg(c.stop_fd, "opts->stop_fd")?,
            fd_arg(c.ready_fd, "opts->ready_fd")?,
        )
    };
    Ok(ServeOptions {
        addrs,
        group: group.map_or(SocketGroup::Default, |g| SocketGroup::Named(g.to_string())),
        daemon: d,
        stop_fd,
        ready_fd,
        handle_signals: c.handle_signals != 0,
        ignore_sigpipe: c.ignore_sigpipe != 0,
        raise_open_files_limit: c.raise_open_files_limit != 0,
        restore: c.restore != 0,
    })
}

/// Serve the rcli protocol (the `docker` client's) on the addresses of `opts`, running every
/// connection's command on `runtime`, one thread per connection; blocks until stopped.
///
/// In order: the root is locked for this daemon (`ROOT/docker.pid`; a root another daemon
/// holds is `DOCKER_ERR_IN_USE`), its containers are restored (`opts->restore`), every
/// address is bound (unix sockets mode 0660; a live daemon's socket or a path that is not a
/// socket is refused), `opts->ready_fd` is told, and connections are served until
/// `opts->stop_fd` becomes readable or, with `opts->handle_signals`, SIGTERM or SIGINT
/// arrives. Then accepting stops, connections still sending their request are dropped,
/// running commands get `stop_grace_ms` and, cancelled, `cancel_grace_ms` more; the sockets
/// and the pid file are removed and `DOCKER_OK` is returned. A command still running after
/// that keeps the runtime alive until it returns, so `docker_runtime_free` stays safe.
/// Containers keep running; the next serve restores them.
///
/// Errors (bad options, a bad or repeated address, a missing group, a root or socket in use)
/// come before anything is served and leave no socket behind. `opts` may not be NULL: make
/// it with `docker_serve_options_init`. The runtime stays the caller's: free it only after
/// the call returned. `ROOT/docker.pid` holds the calling process's pid while it serves.
/// Several serves may run at once in one process, on different roots and addresses. Log
/// lines (the addresses served, the stop) go to the runtime's logger.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_serve(
    runtime: *const docker_runtime,
    opts: *const docker_serve_options,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        // SAFETY: opts is NULL or an initialised struct whose pointers follow its contract.
        let o = unsafe { read_options(opts) }?;
        crate::server::serve(&r.rt, &o)?;
        Ok(())
    })
}
