//! Containers through typed functions: create from a config struct, start with the output
//! streamed into descriptors or a callback, wait with a timeout, stop, kill, remove, resize,
//! inspect, and the containers as a JSON list.

use std::ffi::{c_char, c_int, c_void, CString};
use std::fs::File;
use std::io::Write;
use std::mem::{offset_of, size_of};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::grow::{self, Growable};
use super::guard::{dup_fd, guard, guard_void, handle, opt_str_arg, out_arg, str_arg, Userdata};
use super::result::{docker_result, FfiError, FfiResult};
use super::runtime::docker_runtime;
use crate::container::{Attach, Container, CreateRequest, OutputStream, Sink, StartOptions};
use crate::runtime::Runtime;

/// One container. Made by `docker_container_create` or `docker_container_open`, released by
/// `docker_container_free`. It keeps the runtime's core alive, so it may outlive
/// `docker_runtime_free`. Calls on one handle may come from several threads at once, except
/// `docker_container_free`, which must be the handle's last call. Several handles may name
/// the same container; each has its own output stream.
pub struct docker_container {
    pub(super) rt: Arc<Runtime>,
    pub(super) c: Arc<Container>,
    /// The stream of the run started through this handle, until `wait` has collected it.
    stream: Mutex<Option<OutputStream>>,
}

impl docker_container {
    fn new(rt: Arc<Runtime>, c: Arc<Container>) -> *mut docker_container {
        Box::into_raw(Box::new(docker_container {
            rt,
            c,
            stream: Mutex::new(None),
        }))
    }

    fn stream(&self) -> MutexGuard<'_, Option<OutputStream>> {
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a new container runs. Initialise with `docker_container_config_init(&cfg, sizeof
/// cfg)`, then set what you need; `image` is required. Strings and lists (NULL-terminated
/// arrays of strings) are read during `docker_container_create` only. Later versions append
/// fields (`volumes` was the first).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct docker_container_config {
    /// `sizeof(docker_container_config)` as the caller knows it, set by `_init`.
    pub size: usize,
    /// Required: `name[:tag]` or an image id (or a unique prefix of one).
    pub image: *const c_char,
    /// The command, NULL-terminated; NULL or empty: the image's `Cmd`. The image's
    /// `Entrypoint` always comes first.
    pub argv: *const *const c_char,
    /// `KEY=VALUE` strings, NULL-terminated, added after the image's `Env`.
    pub env: *const *const c_char,
    /// User name or uid (`name:group` too); NULL: the image's.
    pub user: *const c_char,
    /// NULL: the image's (else `/`).
    pub working_dir: *const c_char,
    /// NULL: derived from the id.
    pub hostname: *const c_char,
    /// Memory limit in bytes (at least 6 MiB); 0: none.
    pub memory: i64,
    /// Nonzero: a terminal (stdout and stderr are one stream).
    pub tty: c_int,
    /// Nonzero: keep stdin open, so `docker_container_io.stdin_fd` can feed it.
    pub open_stdin: c_int,
    /// Published ports, NULL-terminated, as `-p`: `"80"`, `"8080:80"`, `"127.0.0.1:8080:80"`.
    pub ports: *const *const c_char,
    /// NULL, `"bridge"` or `"default"`: the runtime's bridge; `"none"`: loopback only.
    pub network_mode: *const c_char,
    /// Capabilities added to / dropped from docker's default set, NULL-terminated, docker's
    /// names (`"NET_ADMIN"` or `"CAP_NET_ADMIN"`, or `"ALL"`).
    pub cap_add: *const *const c_char,
    pub cap_drop: *const *const c_char,
    /// As `--security-opt`, NULL-terminated: `"seccomp=unconfined"`,
    /// `"seccomp=/path/profile.json"` (read during the create), `"no-new-privileges"`.
    pub security_opt: *const *const c_char,
    /// Mounts as `run -v`, NULL-terminated: `"/host/path:/path[:ro]"` (a bind),
    /// `"name:/path[:ro]"` (a named volume, made at its first use), `"/path"` (an anonymous
    /// volume). Added in version 2.
    pub volumes: *const *const c_char,
    /// Added in version 3: the container's name (as `run --name`: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`,
    /// unique); NULL: a generated `adjective_surname`.
    pub name: *const c_char,
    /// Added in version 4: the CPU shares (as `run -c`/`--cpu-shares`: a relative weight,
    /// 2 to 262144, 1024 being the default); 0: the default weight.
    pub cpu_shares: i64,
    /// Added in version 5: mounts as `run --mount`, NULL-terminated, docker's comma-separated
    /// keys: `"type=bind,src=/host/dir,dst=/path,readonly"`, `"type=volume,src=name,dst=/path"`,
    /// `"type=tmpfs,dst=/path,tmpfs-size=64m"`.
    pub mounts: *const *const c_char,
}

// SAFETY: repr(C), `size` first, integer and pointer fields; the first version ends with
// `security_opt`.
unsafe impl Growable for docker_container_config {
    const NAME: &'static str = "docker_container_config";
    const FIRST_SIZE: usize = offset_of!(docker_container_config, volumes);
    fn defaults() -> Self {
        docker_container_config {
            size: size_of::<docker_container_config>(),
            image: std::ptr::null(),
            argv: std::ptr::null(),
            env: std::ptr::null(),
            user: std::ptr::null(),
            working_dir: std::ptr::null(),
            hostname: std::ptr::null(),
            memory: 0,
            tty: 0,
            open_stdin: 0,
            ports: std::ptr::null(),
            network_mode: std::ptr::null(),
            cap_add: std::ptr::null(),
            cap_drop: std::ptr::null(),
            security_opt: std::ptr::null(),
            volumes: std::ptr::null(),
            name: std::ptr::null(),
            cpu_shares: 0,
            mounts: std::ptr::null(),
        }
    }
}

/// Fill the caller's `size` bytes at `cfg` (pass `sizeof *cfg`) with the defaults (every
/// pointer NULL, every number 0) and zeros past the fields this library knows, and set
/// `cfg->size`. Does not block. Errors: `DOCKER_ERR_NULL_ARGUMENT` (cfg NULL),
/// `DOCKER_ERR_INVALID_ARGUMENT` (a size that cannot be this struct's).
#[no_mangle]
pub unsafe extern "C" fn docker_container_config_init(
    cfg: *mut docker_container_config,
    size: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: cfg is NULL or writable for size bytes (caller's contract).
        unsafe { grow::init(cfg, size) }
    })
}

/// The most strings a list argument may hold (a missing NULL terminator, most likely).
const MAX_LIST: usize = 1 << 16;

/// Collect a NULL-terminated list of strings named `name`; NULL is the empty list.
///
/// # Safety
/// `p` is NULL or a NULL-terminated array of NUL-terminated strings.
pub(super) unsafe fn list_arg(p: *const *const c_char, name: &str) -> FfiResult<Vec<String>> {
    let mut out = Vec::new();
    if p.is_null() {
        return Ok(out);
    }
    for i in 0.. {
        // SAFETY: the array is NULL-terminated and we stop at its NULL.
        let s = unsafe { *p.add(i) };
        if s.is_null() {
            break;
        }
        if i == MAX_LIST {
            return Err(FfiError::new(
                docker_result::DOCKER_ERR_INVALID_ARGUMENT,
                format!("{name} holds more than {MAX_LIST} strings (is it NULL-terminated?)"),
            ));
        }
        // SAFETY: each element is a NUL-terminated string.
        out.push(unsafe { str_arg(s, &format!("{name}[{i}]")) }?.to_string());
    }
    Ok(out)
}

/// The request a caller's config makes.
///
/// # Safety
/// `cfg` is NULL or readable for the size it states, its pointers as documented.
unsafe fn request_of(cfg: *const docker_container_config) -> FfiResult<CreateRequest> {
    // SAFETY: forwarded contract.
    let c = unsafe { grow::read(cfg) }?;
    let opt = |p, name| -> FfiResult<Option<String>> {
        // SAFETY: each string field is NULL or a NUL-terminated string.
        Ok(unsafe { opt_str_arg(p, name) }?.map(str::to_string))
    };
    // SAFETY: the list fields are NULL or NULL-terminated arrays of strings.
    let list = |p, name| unsafe { list_arg(p, name) };
    Ok(CreateRequest {
        // SAFETY: a NUL-terminated string or NULL (refused).
        image: unsafe { str_arg(c.image, "cfg->image") }?.to_string(),
        cmd: list(c.argv, "cfg->argv")?,
        env: list(c.env, "cfg->env")?,
        user: opt(c.user, "cfg->user")?,
        working_dir: opt(c.working_dir, "cfg->working_dir")?,
        hostname: opt(c.hostname, "cfg->hostname")?,
        memory: c.memory,
        cpu_shares: c.cpu_shares,
        tty: c.tty != 0,
        open_stdin: c.open_stdin != 0,
        detach: false,
        ports: list(c.ports, "cfg->ports")?,
        network_mode: opt(c.network_mode, "cfg->network_mode")?,
        cap_add: list(c.cap_add, "cfg->cap_add")?,
        cap_drop: list(c.cap_drop, "cfg->cap_drop")?,
        security_opt: list(c.security_opt, "cfg->security_opt")?,
        volumes: list(c.volumes, "cfg->volumes")?,
        mounts: list(c.mounts, "cfg->mounts")?,
        name: opt(c.name, "cfg->name")?,
        auto_remove: false,
    })
}

/// Create a container as `cfg` says (the image's defaults fill what it leaves out) and
/// write a new handle to `*out` (release it with `docker_container_free`; the container
/// itself stays until `docker_container_remove`). Blocks while the container's folder is
/// made (milliseconds); safe from any thread. Announced as a `create` event. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT` (rt, cfg, cfg->image or out NULL), `DOCKER_ERR_INVALID_UTF8`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (bad size, environment entry, memory, network mode,
/// capability, security option, volume or mount spec or missing bind source, container name, no
/// command in the config nor the image),
/// `DOCKER_ERR_NOT_FOUND` (no such image), `DOCKER_ERR_IN_USE` (the name is taken: the message
/// names the container holding it), `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_create(
    rt: *const docker_runtime,
    cfg: *const docker_container_config,
    out: *mut *mut docker_container,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(out, "out")?;
        // SAFETY: cfg is NULL or an initialised config (caller's contract).
        let req = unsafe { request_of(cfg) }?.prepare()?;
        let c = r.rt.create(&req)?;
        // SAFETY: out is non-NULL (checked) and writable.
        unsafe { *out = docker_container::new(r.rt.clone(), c) };
        Ok(())
    })
}

/// A new handle on the existing container named by its id or a unique prefix of it, in
/// `*out` (release with `docker_container_free`). Does not block. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_UTF8`, `DOCKER_ERR_NOT_FOUND`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (an ambiguous prefix).
#[no_mangle]
pub unsafe extern "C" fn docker_container_open(
    rt: *const docker_runtime,
    name_or_id_prefix: *const c_char,
    out: *mut *mut docker_container,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle; the name NULL or a string.
        let (r, name) = unsafe { (handle(rt, "rt")?, str_arg(name_or_id_prefix, "name")?) };
        out_arg(out, "out")?;
        let c = r.rt.container(name)?;
        // SAFETY: out is non-NULL (checked) and writable.
        unsafe { *out = docker_container::new(r.rt.clone(), c) };
        Ok(())
    })
}

/// Release a handle (NULL does nothing). The container keeps running. The handle's output
/// stream is ended first and a callback in progress is waited for: once this returns, the
/// output callback is not called again. Must not be called from inside that callback.
#[no_mangle]
pub unsafe extern "C" fn docker_container_free(c: *mut docker_container) {
    guard_void(|| {
        if !c.is_null() {
            // SAFETY: made by this library, released once.
            drop(unsafe { Box::from_raw(c) });
        }
    })
}

/// Write the container's full id (64 hex digits and a NUL: 65 bytes suffice) to `buf`
/// (`len` bytes). Does not block; safe from any thread. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_BUFFER_TOO_SMALL` (nothing written).
#[no_mangle]
pub unsafe extern "C" fn docker_container_id(
    c: *const docker_container,
    buf: *mut c_char,
    len: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c, "c") }?;
        // SAFETY: buf is NULL or writable for len bytes.
        unsafe { super::guard::write_str_out(&h.c.id, buf, len, "buf") }
    })
}

/// Which of the container's streams a callback's bytes come from.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum docker_stream {
    DOCKER_STREAM_STDOUT = 1,
    DOCKER_STREAM_STDERR = 2,
}

/// Receives a container's output: `len` bytes at `bytes` (borrowed for the call) from
/// `stream`. Runs on a library thread, one call at a time per handle, in the order written
/// per stream. Return 0 to go on; nonzero stops the stream (the container keeps running;
/// the next `docker_container_wait` returns normally).
pub type docker_output_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        stream: docker_stream,
        bytes: *const u8,
        len: usize,
    ) -> c_int,
>;

/// Where a run's streams go. Initialise with `docker_container_io_init(&io, sizeof io)`
/// (every descriptor -1, no callback).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct docker_container_io {
    /// `sizeof(docker_container_io)` as the caller knows it, set by `_init`.
    pub size: usize,
    /// Read until end of file, then the container's stdin is closed; -1: none. The library
    /// reads a duplicate: the caller may close its own after the start.
    pub stdin_fd: c_int,
    /// Where stdout goes; -1: nowhere. The library writes a duplicate.
    pub stdout_fd: c_int,
    /// Where stderr goes; -1: nowhere (with a terminal everything is on stdout).
    pub stderr_fd: c_int,
    /// Set: stdout and stderr go here (then `stdout_fd` and `stderr_fd` must be -1).
    pub output: docker_output_callback,
    /// Passed to `output` as is; must be usable from the library's thread.
    pub userdata: *mut c_void,
}

// SAFETY: repr(C), `size` first, integer, pointer and optional function pointer fields; the
// first version is the whole struct.
unsafe impl Growable for docker_container_io {
    const NAME: &'static str = "docker_container_io";
    const FIRST_SIZE: usize = size_of::<docker_container_io>();
    fn defaults() -> Self {
        docker_container_io {
            size: size_of::<docker_container_io>(),
            stdin_fd: -1,
            stdout_fd: -1,
            stderr_fd: -1,
            output: None,
            userdata: std::ptr::null_mut(),
        }
    }
}

/// Fill the caller's `size` bytes at `io` (pass `sizeof *io`): every descriptor -1, no
/// callback. Errors: `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_ARGUMENT` (size).
#[no_mangle]
pub unsafe extern "C" fn docker_container_io_init(
    io: *mut docker_container_io,
    size: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: io is NULL or writable for size bytes (caller's contract).
        unsafe { grow::init(io, size) }
    })
}

/// One stream of a run into the host's callback; a nonzero return is a write error, which
/// ends the stream.
struct CallbackSink {
    cb: unsafe extern "C" fn(*mut c_void, docker_stream, *const u8, usize) -> c_int,
    userdata: Userdata,
    stream: docker_stream,
}

impl Write for CallbackSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: the host registered cb with this userdata; buf lives for the call.
        let rc = unsafe { (self.cb)(self.userdata.ptr(), self.stream, buf.as_ptr(), buf.len()) };
        if rc != 0 {
            return Err(std::io::Error::other(format!(
                "the output callback returned {rc}: streaming stopped"
            )));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fd_sink(fd: c_int, name: &str) -> FfiResult<Option<Sink>> {
    if fd == -1 {
        return Ok(None);
    }
    Ok(Some(Box::new(File::from(dup_fd(fd, name)?))))
}

/// What the caller's io asks to attach.
///
/// # Safety
/// `io` is readable for the size it states.
unsafe fn attach_of(io: *const docker_container_io) -> FfiResult<Attach> {
    // SAFETY: forwarded contract.
    let io = unsafe { grow::read(io) }?;
    let invalid = |m: String| FfiError::new(docker_result::DOCKER_ERR_INVALID_ARGUMENT, m);
    for (fd, name) in [
        (io.stdin_fd, "io->stdin_fd"),
        (io.stdout_fd, "io->stdout_fd"),
        (io.stderr_fd, "io->stderr_fd"),
    ] {
        if fd < -1 {
            return Err(invalid(format!("{name} {fd} is not a descriptor nor -1")));
        }
    }
    let mut a = Attach {
        stdin: match io.stdin_fd {
            -1 => None,
            fd => Some(File::from(dup_fd(fd, "io->stdin_fd")?)),
        },
        ..Attach::default()
    };
    match io.output {
        Some(cb) => {
            if io.stdout_fd != -1 || io.stderr_fd != -1 {
                return Err(invalid(
                    "io->output is set, so io->stdout_fd and io->stderr_fd must be -1".into(),
                ));
            }
            let sink = |stream| -> Sink {
                Box::new(CallbackSink {
                    cb,
                    userdata: Userdata(io.userdata),
                    stream,
                })
            };
            a.stdout = Some(sink(docker_stream::DOCKER_STREAM_STDOUT));
            a.stderr = Some(sink(docker_stream::DOCKER_STREAM_STDERR));
        }
        None => {
            a.stdout = fd_sink(io.stdout_fd, "io->stdout_fd")?;
            a.stderr = fd_sink(io.stderr_fd, "io->stderr_fd")?;
        }
    }
    Ok(a)
}

/// Start the container. `io` NULL: detached (the output only goes to its logs). Otherwise
/// its output from this start on is streamed, from a library thread, into `io`'s callback or
/// descriptors (the log offsets are taken before the start, so nothing is lost), and
/// `io->stdin_fd` is fed to it. Returns once the container runs (tens of milliseconds); the
/// stream goes on until the container ends and everything is delivered, the callback
/// returns nonzero, a descriptor fails, or the handle is freed. One stream per handle at a
/// time. Announced as a `start` event. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (bad io: size, descriptors with a callback, a stdin for a
/// container without `open_stdin`), `DOCKER_ERR_IO` (a closed descriptor: EBADF; the start
/// itself), `DOCKER_ERR_IN_USE` (already running, or this handle still streams a run that
/// has not been waited for), `DOCKER_ERR_NOT_FOUND` (removed), `DOCKER_ERR_EXHAUSTED` (no
/// address or port left).
#[no_mangle]
pub unsafe extern "C" fn docker_container_start(
    c: *mut docker_container,
    io: *const docker_container_io,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        let attach = if io.is_null() {
            None
        } else {
            // SAFETY: io is readable for the size it states (caller's contract).
            Some(unsafe { attach_of(io) }?)
        };
        let mut slot = h.stream();
        if let Some(s) = slot.as_ref() {
            if !OutputStream::wait_finished(&s.finished(), Some(Duration::ZERO))? {
                return Err(FfiError::new(
                    docker_result::DOCKER_ERR_IN_USE,
                    "this handle still streams the previous run: wait for it first",
                ));
            }
            drop(slot.take());
        }
        let opts = StartOptions::default();
        match attach {
            None => drop(h.rt.start_container(&h.c, &opts)?),
            Some(a) => *slot = Some(h.rt.start_attached(&h.c, &opts, a)?),
        }
        Ok(())
    })
}

fn timed_out(ms: i64) -> FfiError {
    FfiError::new(
        docker_result::DOCKER_ERR_TIMED_OUT,
        format!("the container did not stop within {ms} ms"),
    )
}

/// Wait until the container is not running and this handle's stream (if any) has delivered
/// everything (its last callback has returned), then write the exit code to `*exit_code`.
/// A container that is not running gives its last exit code at once (0 when never run).
/// `timeout_ms` < 0: no limit; otherwise `DOCKER_ERR_TIMED_OUT` after that long (`*exit_code`
/// untouched; the stream goes on). Blocks; safe from any thread. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_TIMED_OUT`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_wait(
    c: *mut docker_container,
    timeout_ms: i64,
    exit_code: *mut c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        out_arg(exit_code, "exit_code")?;
        let deadline =
            (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let stopped = match left() {
            None => {
                h.c.wait();
                true
            }
            Some(t) => h.c.wait_timeout(t),
        };
        if !stopped {
            return Err(timed_out(timeout_ms));
        }
        let finished = h.stream().as_ref().map(OutputStream::finished);
        if let Some(f) = finished {
            if !OutputStream::wait_finished(&f, left())? {
                return Err(timed_out(timeout_ms));
            }
            let stream = h.stream().take();
            if let Some(Err(e)) = stream.map(OutputStream::end) {
                h.rt.logger().debug(&format!("container {}: {e}", h.c.id));
            }
        }
        // SAFETY: exit_code is non-NULL (checked) and writable.
        unsafe { *exit_code = h.c.record().state.exit_code };
        Ok(())
    })
}

/// SIGTERM, then SIGKILL after `timeout_s` seconds; returns once the container has stopped
/// (blocks at most `timeout_s` + 30 s; to cut it short, `docker_container_kill(c, 0)` from
/// another thread). Not running is fine. Safe from any thread. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_stop(
    c: *mut docker_container,
    timeout_s: u32,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        Ok(h.c.stop(Duration::from_secs(timeout_s.into()))?)
    })
}

/// Send `signal` to the container's first process and return; 0: SIGKILL, returning once
/// the container has stopped (blocks at most 30 s). Not running is fine. Safe from any
/// thread. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_INVALID_ARGUMENT` (not a signal number),
/// `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_kill(
    c: *mut docker_container,
    signal: c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        match signal {
            0 => Ok(h.c.kill()?),
            1..=64 => Ok(h.c.signal(signal)?),
            _ => Err(FfiError::new(
                docker_result::DOCKER_ERR_INVALID_ARGUMENT,
                format!("{signal} is not a signal number (1-64, or 0 for SIGKILL)"),
            )),
        }
    })
}

/// Remove the container (its folder and registration); `force`: kill it first when it runs.
/// The handle stays valid (for `_id`, `_free`). Announced as a `destroy` event. With force,
/// blocks until the kill took effect (at most 30 s). Safe from any thread. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`, `DOCKER_ERR_IN_USE` (running or starting, without force),
/// `DOCKER_ERR_NOT_FOUND` (removed already), `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_remove(
    c: *mut docker_container,
    force: c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        remove(h, force != 0, false)
    })
}

/// `docker_container_remove`, and with `volumes` the container's anonymous volumes that no
/// other container uses (as `docker rm -v`; named volumes stay). Errors: as
/// `docker_container_remove`; `DOCKER_ERR_IO` also when a volume could not be removed (the
/// container is gone then).
#[no_mangle]
pub unsafe extern "C" fn docker_container_remove_with(
    c: *mut docker_container,
    force: c_int,
    volumes: c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        remove(h, force != 0, volumes != 0)
    })
}

fn remove(h: &docker_container, force: bool, volumes: bool) -> FfiResult<()> {
    h.rt.container(&h.c.id)?;
    if force {
        h.c.kill()?;
    }
    Ok(h.rt.remove_container_with(&h.c, volumes)?)
}

/// Set the window size of the container's terminal. Does not block; safe from any thread.
/// Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (no terminal, or not running), `DOCKER_ERR_IO`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_resize(
    c: *mut docker_container,
    rows: u16,
    cols: u16,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c.cast_const(), "c") }?;
        Ok(h.c.resize(rows, cols)?)
    })
}

/// Hand a string to the caller (freed with `docker_string_free`).
pub(super) fn give_string(s: String, out: *mut *mut c_char) -> FfiResult<()> {
    let s = CString::new(s).map_err(|_| {
        FfiError::new(
            docker_result::DOCKER_ERR_PANIC,
            "a returned string holds a NUL byte",
        )
    })?;
    // SAFETY: out is non-NULL (the callers check) and writable.
    unsafe { *out = s.into_raw() };
    Ok(())
}

/// The container as `docker inspect` prints one (indented JSON), in `*json`: a string the
/// caller frees with `docker_string_free`. Does not block; safe from any thread. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_container_inspect_json(
    c: *const docker_container,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c, "c") }?;
        out_arg(json, "json")?;
        let v = crate::summary::Inspected::Container(Box::new(h.c.record()));
        give_string(crate::summary::pretty_json(&v)?, json)
    })
}

/// Free a string this library returned (NULL does nothing); from any thread, once.
#[no_mangle]
pub unsafe extern "C" fn docker_string_free(s: *mut c_char) {
    guard_void(|| {
        if !s.is_null() {
            // SAFETY: s was made by CString::into_raw in this library and is freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// The containers as a JSON array, newest first (only running ones unless `all`), each
/// `{"Id","Image","Command","Created" (unix s),"Status" (as ps prints it),"State"
/// ("running"|"paused"|"exited"|"created"),"ExitCode","Ports":[{"IP","PrivatePort","PublicPort",
/// "Type"}],"Names":["web"]}`, in `*json` (free with `docker_string_free`). Does not block; safe from any
/// thread. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_containers_json(
    rt: *const docker_runtime,
    all: c_int,
    json: *mut *mut c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(json, "json")?;
        let list = crate::summary::containers(&r.rt, all != 0, chrono::Utc::now());
        give_string(crate::summary::json(&list)?, json)
    })
}
