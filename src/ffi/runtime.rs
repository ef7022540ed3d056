//! `docker_runtime`: creation, restore, command dispatch, and the runtime's persistent
//! address and port pools.

use std::ffi::{c_char, c_int, c_void, CString};
use std::mem::{offset_of, size_of};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::grow::{self, Growable};
use super::guard::{
    dup_fd, guard, guard_void, handle, ip_arg, opt_str_arg, out_arg, str_arg, write_str_out,
    Userdata,
};
use super::result::{docker_result, FfiError, FfiResult};
use crate::image::LayerLimits;
use crate::log::{Level, Logger};
use crate::runtime::{Runtime, RuntimeOptions};
use crate::server::exec::{run_command, Stdio};

/// A container runtime on one root directory. Made by `docker_runtime_new`, released by
/// `docker_runtime_free`. Calls on one handle may come from several threads at once.
pub struct docker_runtime {
    /// Shared with the daemon's connections (`docker_runtime_serve`): a command still running
    /// when serving stops keeps the runtime alive until it returns, whatever the host frees.
    pub(super) rt: Arc<Runtime>,
    /// Closed when the handle is freed: no log callback runs after `docker_runtime_free`.
    log_gate: LogGate,
}

/// Whether the host's log callback may still be called. A call holds the gate open for its
/// whole length, and closing waits for calls in flight: once `docker_runtime_free` returns, no
/// thread the runtime left behind (a network release after a container's exit, a command
/// still running when serving stopped) calls the host's callback again.
#[derive(Clone, Default)]
struct LogGate(Arc<std::sync::RwLock<bool>>);

impl LogGate {
    fn open() -> LogGate {
        LogGate(Arc::new(std::sync::RwLock::new(true)))
    }

    /// Run `f` unless the gate is closed.
    fn pass(&self, f: impl FnOnce()) {
        if *self.0.read().unwrap_or_else(|e| e.into_inner()) {
            f();
        }
    }

    fn close(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = false;
    }
}

impl Drop for docker_runtime {
    fn drop(&mut self) {
        self.log_gate.close();
    }
}

/// How much a log line matters.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum docker_log_level {
    /// In options: the default (info). Never passed to a callback.
    DOCKER_LOG_DEFAULT = 0,
    DOCKER_LOG_ERROR = 1,
    DOCKER_LOG_WARN = 2,
    DOCKER_LOG_INFO = 3,
    DOCKER_LOG_DEBUG = 4,
}

/// Receives the runtime's log lines. `message` is borrowed for the call only. May be called
/// from any thread the runtime uses; the return value is ignored.
pub type docker_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: docker_log_level,
        message: *const c_char,
    ) -> c_int,
>;

/// Options of `docker_runtime_new`. Initialise with `docker_runtime_options_init(&opts,
/// sizeof opts)` (which sets `size` and every default), then change what you need. Strings
/// are copied during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct docker_runtime_options {
    /// `sizeof(docker_runtime_options)` as the caller knows it, set by
    /// `docker_runtime_options_init`, so the struct can grow (see "Growth" in the README's C
    /// API). The first version ends with `log_userdata`.
    pub size: usize,
    /// The bridge for container networks; NULL: `lxcbr0`.
    pub bridge_name: *const c_char,
    /// The bridge subnet as `GATEWAY/PREFIX` (`10.0.3.1/24`); NULL: the bridge's own address,
    /// or a default.
    pub bridge_subnet: *const c_char,
    /// The iptables nat chain for port mappings; NULL: `DOCKER`.
    pub iptables_chain: *const c_char,
    /// Path of the `docker-init` helper; NULL: found next to the library or the program.
    pub init_path: *const c_char,
    /// First and last public port for mappings; 0 and 0: 49153-65535.
    pub port_first: u16,
    pub port_last: u16,
    /// A `docker_log_level`: lines less severe are dropped; `DOCKER_LOG_DEFAULT`: info. (An
    /// int, so that a value this library does not know is an error, not undefined behaviour.)
    pub log_level: c_int,
    /// Where log lines go; NULL: stderr.
    pub log_callback: docker_log_callback,
    /// Passed to `log_callback` as is; must be usable from any thread.
    pub log_userdata: *mut c_void,
    /// Nonzero: never turn on `net.ipv4.ip_forward` (by default the runtime enables it, as
    /// docker does, so that containers reach other networks).
    pub disable_ip_forward: c_int,
    /// Most bytes of file content one image layer may unpack to (a sparse file counts its
    /// full length); more is an error naming `max_layer_bytes`. 0: 1 TiB.
    pub max_layer_bytes: u64,
    /// Most entries (files, directories, links, ...) in one image layer; more is an error
    /// naming `max_layer_entries`. 0: ten million.
    pub max_layer_entries: u64,
    /// Registries (`HOST` or `HOST:PORT`, separated by commas) spoken to without checking
    /// their certificate, over plain http when they do not speak TLS (docker's
    /// `--insecure-registry`); NULL: none.
    pub insecure_registries: *const c_char,
    /// The per-registry certificate folders (`DIR/HOST:PORT/ca.crt`, `client.cert`,
    /// `client.key`); NULL: `/etc/docker/certs.d`.
    pub registry_certs_dir: *const c_char,
    /// Nonzero: keep one `docker-init` helper started ahead (in cgroup folders made ahead)
    /// for the next container start, which so saves the helper's start (~1 ms of CPU); it
    /// costs one idle process and four empty cgroup folders while the runtime lives. For a
    /// long-lived runtime (the daemon); 0 (the default): each start starts its helper.
    pub warm_start: c_int,
}

// SAFETY: repr(C), `size` first, integer, pointer and optional function pointer fields; the
// first version ends with `log_userdata`.
unsafe impl Growable for docker_runtime_options {
    const NAME: &'static str = "docker_runtime_options";
    const FIRST_SIZE: usize = offset_of!(docker_runtime_options, log_userdata) + size_of::<usize>();
    fn defaults() -> Self {
        docker_runtime_options {
            size: size_of::<docker_runtime_options>(),
            bridge_name: std::ptr::null(),
            bridge_subnet: std::ptr::null(),
            iptables_chain: std::ptr::null(),
            init_path: std::ptr::null(),
            port_first: 0,
            port_last: 0,
            log_level: docker_log_level::DOCKER_LOG_DEFAULT as c_int,
            log_callback: None,
            log_userdata: std::ptr::null_mut(),
            disable_ip_forward: 0,
            max_layer_bytes: 0,
            max_layer_entries: 0,
            insecure_registries: std::ptr::null(),
            registry_certs_dir: std::ptr::null(),
            warm_start: 0,
        }
    }
}

/// Fill the caller's `size` bytes at `opts` (pass `sizeof *opts`) with the defaults of the
/// fields this library knows and zeros past them, and set `opts->size` to `size`. A size
/// below the first version of the struct is `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_options_init(
    opts: *mut docker_runtime_options,
    size: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: opts is NULL or writable for size bytes (caller's contract).
        unsafe { grow::init(opts, size) }
    })
}

fn level_of(l: Level) -> docker_log_level {
    match l {
        Level::Error => docker_log_level::DOCKER_LOG_ERROR,
        Level::Warn => docker_log_level::DOCKER_LOG_WARN,
        Level::Info => docker_log_level::DOCKER_LOG_INFO,
        Level::Debug => docker_log_level::DOCKER_LOG_DEBUG,
    }
}

/// Read the caller's options, honouring its `size`.
unsafe fn read_options(
    opts: *const docker_runtime_options,
) -> FfiResult<(RuntimeOptions, LogGate)> {
    let mut o = RuntimeOptions::default();
    if opts.is_null() {
        return Ok((o, LogGate::default()));
    }
    // SAFETY: opts is readable for the size it states (caller's contract).
    let c = unsafe { grow::read(opts) }?;
    // SAFETY: each string field is NULL or a NUL-terminated string (documented contract).
    unsafe {
        if let Some(s) = opt_str_arg(c.bridge_name, "opts->bridge_name")? {
            o.network.bridge_name = s.to_string();
        }
        if let Some(s) = opt_str_arg(c.bridge_subnet, "opts->bridge_subnet")? {
            o.network.bridge_subnet = Some(s.to_string());
        }
        if let Some(s) = opt_str_arg(c.iptables_chain, "opts->iptables_chain")? {
            o.network.iptables_chain = s.to_string();
        }
        if let Some(s) = opt_str_arg(c.init_path, "opts->init_path")? {
            o.init_path = Some(PathBuf::from(s));
        }
        if let Some(s) = opt_str_arg(c.insecure_registries, "opts->insecure_registries")? {
            o.registry.insecure = s
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect();
        }
        if let Some(s) = opt_str_arg(c.registry_certs_dir, "opts->registry_certs_dir")? {
            o.registry.certs_dir = PathBuf::from(s);
        }
    }
    o.network.ip_forward = c.disable_ip_forward == 0;
    o.warm_start = c.warm_start != 0;
    o.layer_limits = LayerLimits::new(c.max_layer_bytes, c.max_layer_entries);
    if (c.port_first, c.port_last) != (0, 0) {
        o.network.port_range = (c.port_first, c.port_last);
    }
    let max = match c.log_level {
        1 => Level::Error,
        2 => Level::Warn,
        0 | 3 => Level::Info,
        4 => Level::Debug,
        n => {
            return Err(FfiError::new(
                docker_result::DOCKER_ERR_INVALID_ARGUMENT,
                format!("opts->log_level {n} is not a docker_log_level"),
            ))
        }
    };
    let gate = LogGate::open();
    o.logger = match c.log_callback {
        None => Logger::stderr(max),
        Some(cb) => {
            let ud = Userdata(c.log_userdata);
            let gate = gate.clone();
            Logger::with_sink(max, move |level, msg| {
                let text = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: the host registered cb with this userdata; text lives for the call,
                // and the gate is open: the handle has not been freed.
                gate.pass(|| {
                    // SAFETY: as above.
                    unsafe { cb(ud.ptr(), level_of(level), text.as_ptr()) };
                });
            })
        }
    };
    Ok((o, gate))
}

/// Create a runtime on `root` (created when missing: `containers/`, `graph/` mode 0700,
/// `repositories` mode 0600). `opts` may be NULL for the defaults. On success `*out` receives a
/// handle to release with `docker_runtime_free`. A root holding a Docker engine's data, a
/// corrupt `repositories` or `.dockercfg`, or bad options are errors; nothing is changed then.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_new(
    root: *const c_char,
    opts: *const docker_runtime_options,
    out: *mut *mut docker_runtime,
) -> docker_result {
    guard(|| {
        // SAFETY: root is NULL or a NUL-terminated string (caller's contract).
        let root = unsafe { str_arg(root, "root") }?;
        out_arg(out, "out")?;
        // SAFETY: opts is NULL or points to an initialised options struct.
        let (o, log_gate) = unsafe { read_options(opts) }?;
        let rt = Runtime::new(Path::new(root), o)?;
        let handle = docker_runtime {
            rt: Arc::new(rt),
            log_gate,
        };
        // SAFETY: out is non-NULL (checked) and writable.
        unsafe { *out = Box::into_raw(Box::new(handle)) };
        Ok(())
    })
}

/// Release a runtime. NULL does nothing. Running containers keep running. Once it returns,
/// the log callback is never called again (a call in flight on another thread is waited for;
/// so do not free the runtime from inside its own log callback).
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_free(runtime: *mut docker_runtime) {
    guard_void(|| {
        if !runtime.is_null() {
            // SAFETY: runtime was made by docker_runtime_new and is released once.
            drop(unsafe { Box::from_raw(runtime) });
        }
    })
}

/// Load every container folder of the root. Folders that cannot be loaded are logged and
/// skipped. `*loaded` (may be NULL) receives how many containers are registered.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_restore(
    runtime: *const docker_runtime,
    loaded: *mut usize,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        let n = r.rt.restore()?;
        if !loaded.is_null() {
            // SAFETY: non-NULL and writable (caller's contract).
            unsafe { *loaded = n };
        }
        Ok(())
    })
}

/// Streams and terminal of `docker_runtime_call_with`. Initialise with
/// `docker_call_options_init(&opts, sizeof opts)`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct docker_call_options {
    /// `sizeof(docker_call_options)` as the caller knows it, set by `docker_call_options_init`,
    /// so the struct can grow.
    pub size: usize,
    /// The command's stdin; -1: none (reads see end of file).
    pub stdin_fd: c_int,
    /// The command's stdout.
    pub stdout_fd: c_int,
    /// The command's stderr; -1: same as stdout.
    pub stderr_fd: c_int,
    /// The client's terminal size; 0 and 0: none, or read from `stdin_fd` when it is a tty.
    pub tty_rows: u16,
    pub tty_cols: u16,
}

// SAFETY: repr(C), `size` first, integer fields; the first version is the whole struct.
unsafe impl Growable for docker_call_options {
    const NAME: &'static str = "docker_call_options";
    const FIRST_SIZE: usize = size_of::<docker_call_options>();
    fn defaults() -> Self {
        docker_call_options {
            size: size_of::<docker_call_options>(),
            stdin_fd: -1,
            stdout_fd: 1,
            stderr_fd: 2,
            tty_rows: 0,
            tty_cols: 0,
        }
    }
}

/// Fill the caller's `size` bytes at `opts` (pass `sizeof *opts`) with the defaults (no
/// stdin, stdout 1, stderr 2, no terminal size) and zeros past the fields this library knows,
/// and set `opts->size` to `size`. A size below the first version of the struct is
/// `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_call_options_init(
    opts: *mut docker_call_options,
    size: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: opts is NULL or writable for size bytes (caller's contract).
        unsafe { grow::init(opts, size) }
    })
}

fn null_stdin() -> FfiResult<OwnedFd> {
    std::fs::File::open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| crate::error::Error::io("opening /dev/null", e).into())
}

/// Collect `argc` strings of `argv`.
unsafe fn args_of(argc: c_int, argv: *const *const c_char) -> FfiResult<Vec<String>> {
    if argc < 0 {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_INVALID_ARGUMENT,
            format!("argc {argc} is negative"),
        ));
    }
    if argc > 0 && argv.is_null() {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_NULL_ARGUMENT,
            "argv is NULL",
        ));
    }
    (0..argc as usize)
        .map(|i| {
            // SAFETY: argv holds argc pointers (caller's contract).
            let p = unsafe { *argv.add(i) };
            // SAFETY: each is NULL or a NUL-terminated string.
            unsafe { str_arg(p, &format!("argv[{i}]")) }.map(str::to_string)
        })
        .collect()
}

fn call(
    rt: &Runtime,
    args: Vec<String>,
    c: &docker_call_options,
    exit_status: *mut c_int,
) -> FfiResult<()> {
    out_arg(exit_status, "exit_status")?;
    let stdin = if c.stdin_fd < 0 {
        null_stdin()?
    } else {
        dup_fd(c.stdin_fd, "stdin_fd")?
    };
    let stdout = dup_fd(c.stdout_fd, "stdout_fd")?;
    let stderr = if c.stderr_fd < 0 {
        dup_fd(c.stdout_fd, "stdout_fd")?
    } else {
        dup_fd(c.stderr_fd, "stderr_fd")?
    };
    let tty_size = ((c.tty_rows, c.tty_cols) != (0, 0)).then_some((c.tty_rows, c.tty_cols));
    let stdio = Stdio {
        stdin,
        stdout,
        stderr,
        tty_size,
        // The descriptors are the caller's own: whether they are terminals is read from them.
        ttys: [false; 2],
        // Those of stdin's terminal, when it is one.
        sizes: None,
        // The caller's process is the user's.
        local_env: true,
    };
    let (status, err) = run_command(rt, &args, stdio);
    // SAFETY: exit_status is non-NULL (checked) and writable.
    unsafe { *exit_status = status };
    match err {
        None => Ok(()),
        Some(e) => Err(e.into()),
    }
}

/// Run a command as the CLI would (`argv[0]` is the command name, e.g. `{"info"}`; no
/// arguments prints the help). Output and errors go to `stdout_fd`; `stdin_fd` may be -1.
/// `*exit_status` receives the command's exit status whenever the command ran, also when it
/// failed (then the result says why, and `Error: ...` was written to the output). The
/// descriptors stay the caller's: the library works on duplicates.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_call(
    runtime: *const docker_runtime,
    argc: c_int,
    argv: *const *const c_char,
    stdin_fd: c_int,
    stdout_fd: c_int,
    exit_status: *mut c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        // SAFETY: argv holds argc strings (caller's contract).
        let args = unsafe { args_of(argc, argv) }?;
        let c = docker_call_options {
            size: size_of::<docker_call_options>(),
            stdin_fd,
            stdout_fd,
            stderr_fd: -1,
            tty_rows: 0,
            tty_cols: 0,
        };
        call(&r.rt, args, &c, exit_status)
    })
}

/// `docker_runtime_call` with separate stdout and stderr and a terminal size. `opts` must be
/// initialised with `docker_call_options_init(&opts, sizeof opts)`.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_call_with(
    runtime: *const docker_runtime,
    argc: c_int,
    argv: *const *const c_char,
    opts: *const docker_call_options,
    exit_status: *mut c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        // SAFETY: opts is NULL or readable for the size it states.
        let c = unsafe { grow::read(opts) }?;
        // SAFETY: argv holds argc strings (caller's contract).
        let args = unsafe { args_of(argc, argv) }?;
        call(&r.rt, args, &c, exit_status)
    })
}

/// Take an address from the runtime's persistent pool (the bridge subnet) and write it,
/// dotted and NUL-terminated, to `buf` (`len` bytes; 16 always suffice).
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_ip_acquire(
    runtime: *const docker_runtime,
    buf: *mut c_char,
    len: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        out_arg(buf, "buf")?;
        if len < 16 {
            return Err(FfiError::new(
                docker_result::DOCKER_ERR_BUFFER_TOO_SMALL,
                format!("buf holds {len} bytes; 16 are needed"),
            ));
        }
        let ip = r.rt.ipam()?.acquire_ip()?;
        // SAFETY: buf is writable for len >= 16 bytes.
        unsafe { write_str_out(&ip.to_string(), buf, len, "buf") }
    })
}

/// Take a specific address from the runtime's pool.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_ip_acquire_specific(
    runtime: *const docker_runtime,
    ip: *const c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle; ip NULL or a string.
        let (r, ip) = unsafe { (handle(runtime, "runtime")?, str_arg(ip, "ip")?) };
        Ok(r.rt.ipam()?.acquire_ip_specific(ip_arg(ip)?)?)
    })
}

/// Give an address back to the runtime's pool.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_ip_release(
    runtime: *const docker_runtime,
    ip: *const c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle; ip NULL or a string.
        let (r, ip) = unsafe { (handle(runtime, "runtime")?, str_arg(ip, "ip")?) };
        Ok(r.rt.ipam()?.release_ip(ip_arg(ip)?)?)
    })
}

/// Take a public port from the runtime's persistent pool into `*port`.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_port_acquire(
    runtime: *const docker_runtime,
    port: *mut u16,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        out_arg(port, "port")?;
        let p = r.rt.ipam()?.acquire_port()?;
        // SAFETY: port is non-NULL and writable.
        unsafe { *port = p };
        Ok(())
    })
}

/// Take a specific public port from the runtime's pool.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_port_acquire_specific(
    runtime: *const docker_runtime,
    port: u16,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        Ok(r.rt.ipam()?.acquire_port_specific(port)?)
    })
}

/// Give a public port back to the runtime's pool.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_port_release(
    runtime: *const docker_runtime,
    port: u16,
) -> docker_result {
    guard(|| {
        // SAFETY: runtime is NULL or a live handle.
        let r = unsafe { handle(runtime, "runtime") }?;
        Ok(r.rt.ipam()?.release_port(port)?)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::ffi::guard::guard_value;

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count(_: *mut c_void, _: docker_log_level, _: *const c_char) -> c_int {
        guard_value(0, || {
            CALLS.fetch_add(1, Ordering::SeqCst);
            0
        })
    }

    /// A thread the runtime left behind (a network release after a container's exit) holds
    /// the runtime's logger; once the handle is freed, its lines no longer reach the host.
    #[test]
    fn no_log_callback_after_free() {
        let dir = std::env::temp_dir().join(format!("dr-logfree-{}", std::process::id()));
        let root = CString::new(dir.to_str().unwrap()).unwrap();
        let mut opts = std::mem::MaybeUninit::<docker_runtime_options>::uninit();
        let size = std::mem::size_of::<docker_runtime_options>();
        // SAFETY: opts is writable for its size.
        let rc = unsafe { docker_runtime_options_init(opts.as_mut_ptr(), size) };
        assert_eq!(rc, docker_result::DOCKER_OK);
        // SAFETY: initialised by _init.
        let mut opts = unsafe { opts.assume_init() };
        opts.log_callback = Some(count);
        let mut rt = std::ptr::null_mut();
        // SAFETY: valid strings and pointers.
        assert_eq!(
            unsafe { docker_runtime_new(root.as_ptr(), &opts, &mut rt) },
            docker_result::DOCKER_OK
        );
        // SAFETY: a live handle.
        let left_behind = unsafe { &*rt }.rt.logger().clone();
        left_behind.warn("before the free");
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        // SAFETY: made by docker_runtime_new, freed once.
        unsafe { docker_runtime_free(rt) };
        left_behind.warn("after the free");
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            1,
            "a callback ran after the free"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
