//! `docker`: the client, and with `-d` the daemon (v0.1.0's one binary, two modes): flag
//! parsing plus calls of the library's exported C ABI, made as a C program would make them.
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
use ::docker_runtime::commands::RUNTIME_FAILED_STATUS;
use ::docker_runtime::ffi::{error::*, runtime::docker_log_level::*, runtime::*, serve::*};
use ::docker_runtime::server::client::{self, Turn};
use ::docker_runtime::server::{terminal::raw_terminal_for, RootLock};

const USAGE: &str = "\
Usage: docker [OPTIONS] COMMAND [arg...]
       docker -d [OPTIONS]

Options:
  -H, --host ADDR           daemon address: unix:///PATH or tcp://HOST:PORT (the client uses
                            one, else $DOCKER_HOST, else unix:///var/run/docker-runtime.sock,
                            and runs the command in-process on ROOT only when no daemon
                            listens at that default; `none`: no daemon, in-process on ROOT;
                            the daemon listens on each one given)
  -g, --graph ROOT          runtime root (default /var/lib/docker-runtime)
  -d, --daemon              run as the daemon
  -D, --debug               debug logging
  -b, --bridge NAME         bridge for container networks
      --bip CIDR            the bridge's address and subnet (GATEWAY/PREFIX)
      --iptables-chain NAME iptables nat chain for port mappings
      --init-path PATH      the docker-init helper
      --ip-forward=false    never turn on net.ipv4.ip_forward (default: turn it on)
      --insecure-registry HOST[:PORT]
                            a registry whose certificate is not checked, spoken to over
                            plain http when it has no TLS (repeatable)
      --registry-certs-dir DIR
                            per-registry CA folders, DIR/HOST:PORT/ca.crt (default
                            /etc/docker/certs.d)
  -G, --group GROUP         group of the daemon's unix sockets (default: docker, when it exists)
      --request-timeout S   seconds a client has to send its request line (daemon; default 10)
  -h, --help                this help
  -v, --version             print the version

Run 'docker help' for the command list, 'docker COMMAND --help' for a command's usage.
";

/// Where the runtime keeps its state unless `-g` says otherwise.
const DEFAULT_ROOT: &str = "/var/lib/docker-runtime";

/// The global options, before the command. What only the library reads goes straight into
/// the ABI's option structs, as a C program would fill them; `strings` owns their strings.
#[derive(Debug)]
struct Options {
    daemon: bool,
    help: bool,
    version: bool,
    hosts: Vec<String>,
    root: String,
    runtime: docker_runtime_options,
    serve: docker_serve_options,
    strings: Vec<CString>,
    /// Daemon-only flags given (a client refuses them).
    daemon_only: Vec<&'static str>,
    /// `--insecure-registry` values, in order.
    insecure: Vec<String>,
}

/// A boolean flag's value: none (true), or `true`/`false`/`1`/`0` after `=`.
fn boolean(flag: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(format!("flag {flag} takes no value {v:?}")),
    }
}

impl Options {
    /// Keep `v` as a C string for the option structs.
    fn keep(&mut self, flag: &str, v: String) -> Result<*const c_char, String> {
        let c = CString::new(v).map_err(|_| format!("{flag} contains a NUL byte"))?;
        let p = c.as_ptr(); // the bytes stay where they are when `c` moves into the Vec
        self.strings.push(c);
        Ok(p)
    }

    /// Set `flag`, given as `flag=inline` or followed by the value `next` takes.
    fn set(
        &mut self,
        flag: &str,
        inline: Option<&str>,
        next: impl FnOnce() -> Option<String>,
    ) -> Result<(), String> {
        let value = || {
            (inline.map(str::to_string).or_else(next)).ok_or(format!("flag {flag} needs a value"))
        };
        match flag {
            "-d" | "--daemon" => self.daemon = boolean(flag, inline)?,
            "-h" | "--help" => self.help = boolean(flag, inline)?,
            "-v" | "--version" => self.version = boolean(flag, inline)?,
            "-D" | "--debug" => {
                self.runtime.log_level = match boolean(flag, inline)? {
                    true => DOCKER_LOG_DEBUG as c_int,
                    false => DOCKER_LOG_DEFAULT as c_int,
                }
            }
            "-H" | "--host" => self.hosts.push(value()?),
            "-g" | "--graph" => self.root = value()?,
            "-b" | "--bridge" => self.runtime.bridge_name = self.keep(flag, value()?)?,
            "--bip" => self.runtime.bridge_subnet = self.keep(flag, value()?)?,
            "--iptables-chain" => self.runtime.iptables_chain = self.keep(flag, value()?)?,
            "--init-path" => self.runtime.init_path = self.keep(flag, value()?)?,
            "--insecure-registry" => {
                let host = value()?;
                if host.is_empty() || host.contains(',') || host.contains('/') {
                    return Err(format!(
                        "--insecure-registry {host:?}: give HOST or HOST:PORT"
                    ));
                }
                self.insecure.push(host);
                let all = self.insecure.join(",");
                self.runtime.insecure_registries = self.keep(flag, all)?;
            }
            "--registry-certs-dir" => {
                self.runtime.registry_certs_dir = self.keep(flag, value()?)?
            }
            "-G" | "--group" => {
                self.serve.socket_group = self.keep(flag, value()?)?;
                self.daemon_only.push("--group");
            }
            "--ip-forward" => {
                let v = value()?;
                let on = boolean(flag, Some(&v))
                    .map_err(|_| format!("--ip-forward takes true or false, not {v:?}"))?;
                self.runtime.disable_ip_forward = c_int::from(!on);
            }
            "--request-timeout" => {
                let v = value()?;
                let secs = (v.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .ok_or(format!(
                        "--request-timeout {v:?} is not a number of seconds (0-3600)"
                    ))?;
                self.serve.request_timeout_ms = ((secs * 1000.0).ceil() as u32).max(1);
                self.daemon_only.push("--request-timeout");
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
        Ok(())
    }
}

/// Split the global options from the command line; the rest is the command and its arguments.
fn parse_options(mut args: &[String]) -> Result<(Options, Vec<String>), String> {
    let mut o = Options {
        daemon: false,
        help: false,
        version: false,
        hosts: Vec::new(),
        root: DEFAULT_ROOT.to_string(),
        runtime: init_options(docker_runtime_options_init),
        serve: init_options(docker_serve_options_init),
        strings: Vec::new(),
        daemon_only: Vec::new(),
        insecure: Vec::new(),
    };
    // The daemon ends on SIGTERM and SIGINT, and may hold many connections.
    (o.serve.handle_signals, o.serve.raise_open_files_limit) = (1, 1);
    while let Some((a, more)) = args.split_first() {
        if a == "--" {
            args = more;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        args = more;
        let (flag, inline) = a
            .split_once('=')
            .map_or((a.as_str(), None), |(f, v)| (f, Some(v)));
        o.set(flag, inline, || {
            let (v, more) = args.split_first()?;
            args = more;
            Some(v.clone())
        })?;
    }
    Ok((o, args.to_vec()))
}

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

/// An options struct filled with its defaults by its ABI `_init` function.
fn init_options<T>(init: unsafe extern "C" fn(*mut T, usize) -> docker_result) -> T {
    let mut o = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: the `_init` functions fill the `size` bytes they are given, here the whole
    // writable struct, and fail only on NULL or a bad size, which these are not.
    unsafe {
        assert!(init(o.as_mut_ptr(), std::mem::size_of::<T>()) == docker_result::DOCKER_OK);
        o.assume_init()
    }
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let status = match parse_options(&args) {
        Err(msg) => {
            eprintln!("docker: {msg}\nSee 'docker --help'.");
            RUNTIME_FAILED_STATUS
        }
        Ok((o, _)) if o.help => {
            print!("{USAGE}");
            0
        }
        Ok((o, _)) if o.version => {
            println!(
                "Docker version {}, build {}",
                env!("CARGO_PKG_VERSION"),
                option_env!("DOCKER_RUNTIME_COMMIT").unwrap_or("unknown")
            );
            0
        }
        Ok((o, rest)) if o.daemon => {
            run_daemon(&o, &rest).map_or_else(|m| fail("docker -d", m), |()| 0)
        }
        Ok((o, rest)) => run_client(&o, &rest).unwrap_or_else(|m| {
            fail("Error", m);
            // `run`'s own failure is docker's 125, never a status its program could give.
            match rest.first().map(String::as_str) {
                Some("run") => RUNTIME_FAILED_STATUS,
                _ => 1,
            }
        }),
    };
    // A status no process can exit with (negative, or above 255) must not pass for another
    // one, least of all 0: it is reported as a failure.
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// Show a failure of the client (`Error`) or the daemon (`docker -d`); the status is 1.
fn fail(who: &str, msg: String) -> i32 {
    eprintln!("{who}: {msg}");
    1
}

/// The client: on the daemon when one answers, else in-process (v0.1.0's fallback).
fn run_client(o: &Options, args: &[String]) -> Result<i32, String> {
    let daemon_only = ["--group", "--request-timeout"];
    if let Some(flag) = daemon_only.iter().find(|f| o.daemon_only.contains(f)) {
        return Err(format!("{flag} is a daemon option: use it with docker -d"));
    }
    let Some((addr, named)) = client::daemon_addr(&o.hosts).map_err(|e| e.to_string())? else {
        return run_in_process(o, args);
    };
    let why = match client::run(&addr, args).map_err(|e| e.to_string())? {
        Turn::Ran(status) => return Ok(status),
        Turn::Unreachable(why) if named => {
            return Err(format!(
                "Cannot connect to the daemon at {addr} ({why}). Is the daemon running? \
                 (An address given with -H or DOCKER_HOST is never replaced by running the \
                 command in-process on {}.)",
                o.root
            ))
        }
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
