//! `docker exec` through a typed function: a program run in a running container with the
//! container's confinement, its streams on the caller's descriptors, its exit status back.

use std::ffi::{c_char, c_int};
use std::fs::File;
use std::mem::size_of;

use super::container::{docker_container, list_arg};
use super::grow::{self, Growable};
use super::guard::{dup_fd, guard, handle, opt_str_arg, out_arg};
use super::result::{docker_result, FfiError, FfiResult};
use crate::container::{ExecConfig, ExecIo};

/// What `docker_container_exec` runs. Initialise with `docker_exec_config_init(&cfg, sizeof
/// cfg)` (no command, every descriptor -1), then set `argv` and what you need. Strings and
/// lists are read during the call only. Later versions append fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct docker_exec_config {
    /// `sizeof(docker_exec_config)` as the caller knows it, set by `_init`.
    pub size: usize,
    /// Required: the program and its arguments, NULL-terminated (the program is searched in
    /// the container's `PATH`).
    pub argv: *const *const c_char,
    /// `KEY=VALUE` strings, NULL-terminated, added to the container's environment.
    pub env: *const *const c_char,
    /// User name or uid (`name:group`, `uid:gid` too), looked up in the container; NULL: the
    /// container's.
    pub user: *const c_char,
    /// An absolute path; NULL: the container's working directory.
    pub working_dir: *const c_char,
    /// Nonzero: a terminal from the container's devpts (its output is all on `stdout_fd`).
    pub tty: c_int,
    /// The terminal's size, with `tty` (0: the kernel's default).
    pub tty_rows: u16,
    pub tty_cols: u16,
    /// Nonzero: return once the program runs (status 0), its output discarded, no terminal.
    pub detach: c_int,
    /// Read until its end and fed to the program (its stdin is then closed); -1: the program
    /// reads /dev/null. The library reads a duplicate.
    pub stdin_fd: c_int,
    /// Where the program's stdout and stderr go; -1: discarded. The library writes
    /// duplicates.
    pub stdout_fd: c_int,
    pub stderr_fd: c_int,
}

// SAFETY: repr(C), `size` first, integer and pointer fields; the first version is the whole
// struct.
unsafe impl Growable for docker_exec_config {
    const NAME: &'static str = "docker_exec_config";
    const FIRST_SIZE: usize = size_of::<docker_exec_config>();
    fn defaults() -> Self {
        docker_exec_config {
            size: size_of::<docker_exec_config>(),
            argv: std::ptr::null(),
            env: std::ptr::null(),
            user: std::ptr::null(),
            working_dir: std::ptr::null(),
            tty: 0,
            tty_rows: 0,
            tty_cols: 0,
            detach: 0,
            stdin_fd: -1,
            stdout_fd: -1,
            stderr_fd: -1,
        }
    }
}

/// Fill the caller's `size` bytes at `cfg` (pass `sizeof *cfg`): no command, every descriptor
/// -1, every flag 0. Does not block. Errors: `DOCKER_ERR_NULL_ARGUMENT`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (size).
#[no_mangle]
pub unsafe extern "C" fn docker_exec_config_init(
    cfg: *mut docker_exec_config,
    size: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: cfg is NULL or writable for size bytes (caller's contract).
        unsafe { grow::init(cfg, size) }
    })
}

/// An output descriptor of the config, or /dev/null for -1.
fn output(fd: c_int, name: &str) -> FfiResult<File> {
    match fd {
        -1 => File::options()
            .write(true)
            .open("/dev/null")
            .map_err(|e| crate::error::Error::io("opening /dev/null", e).into()),
        fd => Ok(File::from(dup_fd(fd, name)?)),
    }
}

/// What the caller's config asks for, and its descriptors.
///
/// # Safety
/// `cfg` is NULL or readable for the size it states, its pointers as documented.
unsafe fn exec_of(cfg: *const docker_exec_config) -> FfiResult<(ExecConfig, ExecIo)> {
    // SAFETY: forwarded contract.
    let c = unsafe { grow::read(cfg) }?;
    // SAFETY: each string field is NULL or a NUL-terminated string.
    let opt = |p, name| unsafe { opt_str_arg(p, name) }.map(|s| s.map(str::to_string));
    // SAFETY: the list fields are NULL or NULL-terminated arrays of strings.
    let cmd = unsafe { list_arg(c.argv, "cfg->argv") }?;
    if cmd.is_empty() {
        return Err(FfiError::new(
            docker_result::DOCKER_ERR_INVALID_ARGUMENT,
            "cfg->argv is NULL or empty: give the program to run".to_string(),
        ));
    }
    let stdin = match c.stdin_fd {
        -1 => None,
        fd => Some(File::from(dup_fd(fd, "cfg->stdin_fd")?)),
    };
    let size = (c.tty_rows, c.tty_cols);
    let exec = ExecConfig {
        cmd,
        // SAFETY: as above.
        env: unsafe { list_arg(c.env, "cfg->env") }?,
        user: opt(c.user, "cfg->user")?,
        workdir: opt(c.working_dir, "cfg->working_dir")?,
        tty: c.tty != 0,
        stdin: stdin.is_some(),
        detach: c.detach != 0,
        tty_size: (size != (0, 0)).then_some(size),
    };
    let io = ExecIo {
        stdin,
        stdout: output(c.stdout_fd, "cfg->stdout_fd")?,
        stderr: output(c.stderr_fd, "cfg->stderr_fd")?,
        // The terminal keeps its start size (`docker_container_resize` is for containers).
        sizes: None,
    };
    Ok((exec, io))
}

/// Run `cfg->argv` in the running container `c`, as `docker exec`: in its namespaces and
/// cgroup, with its capabilities, seccomp filter and no-new-privileges, never more. Blocks
/// until the program exits (with `cfg->detach`: until it runs) and writes its exit status to
/// `*status`: the program's, 127 when it is not found, 126 when it cannot be executed or
/// started (a user or working directory that is not there; the reason is written to
/// `stderr_fd` as `exec failed: ...`), 128+N when signal N killed it (137 when its container
/// stopped). Several calls may run at once, on one container or many, from any threads.
/// Errors: `DOCKER_ERR_NULL_ARGUMENT` (c, cfg or status NULL), `DOCKER_ERR_INVALID_UTF8`,
/// `DOCKER_ERR_INVALID_ARGUMENT` (no command, a bad descriptor, a relative working
/// directory), `DOCKER_ERR_IN_USE` (`Container ID is not running`, `Container ID is paused,
/// unpause the container before exec`), `DOCKER_ERR_IO` (a write to `stdout_fd` or
/// `stderr_fd` failed, e.g. its reader left: the program runs on).
#[no_mangle]
pub unsafe extern "C" fn docker_container_exec(
    c: *const docker_container,
    cfg: *const docker_exec_config,
    status: *mut c_int,
) -> docker_result {
    guard(|| {
        // SAFETY: c is NULL or a live handle.
        let h = unsafe { handle(c, "c") }?;
        out_arg(status, "status")?;
        // SAFETY: cfg is NULL or an initialised config (caller's contract).
        let (exec, io) = unsafe { exec_of(cfg) }?;
        let code = h.rt.exec_container(&h.c, &exec, io)?;
        // SAFETY: status is non-NULL (checked) and writable.
        unsafe { *status = code };
        Ok(())
    })
}
