//! `docker-engine`: the half of the `docker` command line that holds the runtime: the daemon
//! (`docker -d`), and a command run in-process (`-H none`, or no daemon at the default
//! socket). `docker` (the client, a small program) runs it by exec with the same arguments;
//! run by itself it behaves as `docker` does. Flag parsing plus calls of the library's
//! exported C ABI, made as a C program would make them.
//!
//! - `docker -d [-D] [-H ADDR]... [-g ROOT] ...`: the daemon is one call,
//!   `docker_runtime_serve` (SIGTERM/SIGINT stop it), on a runtime from `docker_runtime_new`.
//! - `docker [-H ADDR] COMMAND ARGS...`: run COMMAND on the daemon at ADDR (`-H`, else
//!   `DOCKER_HOST`, else the default socket) with the library's client half
//!   (`server::client`); with no daemon at the default socket, run it in-process on ROOT with
//!   `docker_runtime_call_with` (an address the user named never falls back: acting on
//!   another root than the one meant would be worse than failing; `-H none` asks for
//!   in-process explicitly). The exit status is the command's; a bad global flag is
//!   docker's 125.

use std::ffi::{c_char, c_int, CString};
use std::process::ExitCode;
use std::ptr;

// The ABI, as a C program includes `docker_runtime.h`.
use ::docker_runtime::ffi::{error::*, runtime::*, serve::*};
use ::docker_runtime::server::client::{self, Turn};
use ::docker_runtime::server::{terminal::raw_terminal_for, RootLock};

#[path = "shared/options.rs"]
mod options;
use options::{init_options, Options};

/// `Ok` when `r` is, else the message of the call that failed.
fn check(r: docker_result) -> Result<(), String> {
    if r == docker_result::DOCKER_OK {
        return Ok(());
    }
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is writable for its length.
    let n = unsafe { docker_error_message(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(n.min(buf.len() - 1));
    Err(String::from_utf8_lossy(&buf).into_owned())
}

/// The strings as C strings, and the array of their pointers (valid while the first lives).
fn cstrings(v: &[String]) -> Result<(Vec<CString>, Vec<*const c_char>), String> {
    let owned: Vec<CString> = (v.iter().map(|a| CString::new(a.as_str())))
        .collect::<Result<_, _>>()
        .map_err(|_| "an argument contains a NUL byte".to_string())?;
    let ptrs = owned.iter().map(|c| c.as_ptr()).collect();
    Ok((owned, ptrs))
}

/// A runtime handle made through the ABI, released on drop.
struct AbiRuntime(*mut docker_runtime);

impl AbiRuntime {
    /// The runtime of `o`; `warm_start` for a long-lived one (the daemon).
    fn new(o: &Options, warm_start: bool) -> Result<AbiRuntime, String> {
        let root = CString::new(o.root.as_str()).map_err(|_| "-g contains a NUL byte")?;
        let mut rt: *mut docker_runtime = ptr::null_mut();
        let mut opts = o.runtime;
        opts.warm_start = c_int::from(warm_start);
        // SAFETY: the strings outlive the call; rt receives a handle on success.
        check(unsafe { docker_runtime_new(root.as_ptr(), &opts, &mut rt) })?;
        Ok(AbiRuntime(rt))
    }
}

impl Drop for AbiRuntime {
    fn drop(&mut self) {
        // SAFETY: self.0 was made by docker_runtime_new and is released once.
        unsafe { docker_runtime_free(self.0) };
    }
}

fn main() -> ExitCode {
    options::main(run_daemon, run_client)
}

/// The client: on the daemon when one answers, else in-process (v0.1.0's fallback).
fn run_client(o: &Options, args: &[String]) -> Result<i32, String> {
    options::refuse_daemon_only(o)?;
    let Some((addr, named)) = client::daemon_addr(&o.hosts).map_err(|e| e.to_string())? else {
        return run_in_process(o, args);
    };
    let why = match client::run(&addr, args).map_err(|e| e.to_string())? {
        Turn::Ran(status) => return Ok(status),
        Turn::Unreachable(why) if named => return Err(options::unreachable(o, &addr, &why)),
        Turn::Unreachable(why) => why,
    };
    eprintln!(
        "docker: {why}; running the command in-process on {}",
        o.root
    );
    run_in_process(o, args)
}

/// The command run in this process on `-g ROOT`, through the ABI.
fn run_in_process(o: &Options, args: &[String]) -> Result<i32, String> {
    let _raw = raw_terminal_for(args).map_err(|e| e.to_string())?;
    // One command: a helper started ahead would be wasted.
    let rt = AbiRuntime::new(o, false)?;
    let _lock = RootLock::acquire(o.root.as_ref(), false).map_err(|e| e.to_string())?;
    // SAFETY: rt.0 is a live handle; the count may be NULL.
    check(unsafe { docker_runtime_restore(rt.0, ptr::null_mut()) })?;
    let (_args, argv) = cstrings(args)?;
    let argc = c_int::try_from(argv.len()).map_err(|_| "too many arguments")?;
    // Stdout 1 and stderr 2 by default; the library reads the terminal size from stdin.
    let mut call = init_options(docker_call_options_init);
    call.stdin_fd = 0;
    let mut status = c_int::MIN;
    // SAFETY: the handle is live, argv holds argc strings that outlive the call, descriptors
    // 0-2 are this process's, status is writable.
    let r = unsafe { docker_runtime_call_with(rt.0, argc, argv.as_ptr(), &call, &mut status) };
    if status == c_int::MIN {
        check(r)?; // The command never ran. (One that failed wrote "Error: ..." itself.)
    }
    Ok(status)
}

/// `docker -d`: the runtime, then one serve call until SIGTERM or SIGINT; the runtime is
/// released when it returns (containers keep running; the next daemon restores them).
fn run_daemon(o: &Options, rest: &[String]) -> Result<(), String> {
    if let Some(a) = rest.first() {
        return Err(format!(
            "unexpected argument {a:?}: the daemon takes no command"
        ));
    }
    // Long-lived: each start finds a docker-init started ahead.
    let rt = AbiRuntime::new(o, true)?;
    let (_hosts, addrs) = cstrings(&o.hosts)?;
    let mut so = o.serve;
    (so.addresses, so.addresses_len) = (addrs.as_ptr(), addrs.len());
    // SAFETY: the handle is live; the strings and the array outlive the call.
    check(unsafe { docker_runtime_serve(rt.0, &so) })
}
