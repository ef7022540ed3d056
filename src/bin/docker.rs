//! `docker`: the client, and with `-d` the daemon (v0.1.0's one binary, two modes).
//!
//! It drives the library only through its exported C ABI (`docker_runtime_new`,
//! `docker_runtime_restore`, `docker_runtime_call_with`, `docker_runtime_free`,
//! `docker_error_message`), as any C program would. The protocol plumbing (sockets, frames,
//! the accept loop, the pid file, the terminal) comes from the library's `server` module,
//! which never touches a runtime itself.
//!
//! - `docker -d [-D] [-H ADDR]... [-g ROOT] [-b BRIDGE] ...`: serve the rcli protocol.
//! - `docker [-H ADDR] COMMAND ARGS...`: run COMMAND on the daemon at ADDR (`-H`, else
//!   `DOCKER_HOST`, else the default socket); with no daemon there, run it in-process on ROOT.
//!   The exit status is the command's.

use std::ffi::{c_char, c_int, CString};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;
use std::process::ExitCode;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use ::docker_runtime::ffi::error::{docker_error_message, docker_result};
use ::docker_runtime::ffi::runtime::{
    docker_call_options, docker_call_options_init, docker_log_level, docker_runtime,
    docker_runtime_call_with, docker_runtime_free, docker_runtime_new, docker_runtime_options,
    docker_runtime_options_init, docker_runtime_restore,
};
use ::docker_runtime::log::{Level, Logger};
use ::docker_runtime::server::client::{self, ConnectError};
use ::docker_runtime::server::protocol::RequestOptions;
use ::docker_runtime::server::terminal::{wants_raw_terminal, RawTerminal};
use ::docker_runtime::server::{
    daemon, Addr, Call, DaemonConfig, Executor, Listener, RootLock, SocketGroup, StopSignals,
    DEFAULT_ADDR,
};

/// Where the runtime keeps its state unless `-g` says otherwise.
const DEFAULT_ROOT: &str = "/var/lib/docker-runtime";

const USAGE: &str = "\
Usage: docker [OPTIONS] COMMAND [arg...]
       docker -d [OPTIONS]

Options:
  -H, --host ADDR           daemon address: unix:///PATH or tcp://HOST:PORT (the client uses
                            one, else $DOCKER_HOST, else unix:///var/run/docker-runtime.sock;
                            the daemon listens on each one given)
  -g, --graph ROOT          runtime root (default /var/lib/docker-runtime)
  -d, --daemon              run as the daemon
  -D, --debug               debug logging
  -b, --bridge NAME         bridge for container networks
      --bip CIDR            the bridge's address and subnet (GATEWAY/PREFIX)
      --iptables-chain NAME iptables nat chain for port mappings
      --init-path PATH      the docker-init helper
      --ip-forward=false    never turn on net.ipv4.ip_forward (default: turn it on)
  -G, --group GROUP         group of the daemon's unix sockets (default: docker, when it exists)
      --request-timeout S   seconds a client has to send its request line (daemon; default 10)
  -h, --help                this help

Run 'docker help' for the command list, 'docker COMMAND --help' for a command's usage.
";

/// The global options, before the command.
#[derive(Debug, Default)]
struct Options {
    daemon: bool,
    debug: bool,
    help: bool,
    hosts: Vec<String>,
    root: Option<String>,
    bridge: Option<String>,
    bip: Option<String>,
    chain: Option<String>,
    init_path: Option<String>,
    no_ip_forward: bool,
    group: Option<String>,
    request_timeout: Option<Duration>,
}

impl Options {
    fn root(&self) -> &str {
        self.root.as_deref().unwrap_or(DEFAULT_ROOT)
    }
}

/// Split the global options from the command line; the rest is the command and its arguments.
fn parse_options(mut args: &[String]) -> Result<(Options, Vec<String>), String> {
    let mut o = Options::default();
    while let Some(a) = args.first() {
        if a == "--" {
            args = &args[1..];
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        args = &args[1..];
        let boolean = match flag {
            "-d" | "--daemon" => Some(&mut o.daemon),
            "-D" | "--debug" => Some(&mut o.debug),
            "-h" | "--help" => Some(&mut o.help),
            _ => None,
        };
        if let Some(b) = boolean {
            *b = match inline.as_deref() {
                None | Some("true") | Some("1") => true,
                Some("false") | Some("0") => false,
                Some(v) => return Err(format!("flag {flag} takes no value {v:?}")),
            };
            continue;
        }
        let known = [
            "-H",
            "--host",
            "-g",
            "--graph",
            "-b",
            "--bridge",
            "--bip",
            "--iptables-chain",
            "--init-path",
            "--ip-forward",
            "-G",
            "--group",
            "--request-timeout",
        ];
        if !known.contains(&flag) {
            return Err(format!("unknown flag {flag}"));
        }
        let value = match inline {
            Some(v) => v,
            None => match args.first() {
                Some(v) => {
                    args = &args[1..];
                    v.clone()
                }
                None => return Err(format!("flag {flag} needs a value")),
            },
        };
        match flag {
            "-H" | "--host" => o.hosts.push(value),
            "-g" | "--graph" => o.root = Some(value),
            "-b" | "--bridge" => o.bridge = Some(value),
            "--bip" => o.bip = Some(value),
            "--iptables-chain" => o.chain = Some(value),
            "--init-path" => o.init_path = Some(value),
            "--ip-forward" => {
                o.no_ip_forward = match value.as_str() {
                    "true" | "1" => false,
                    "false" | "0" => true,
                    v => return Err(format!("--ip-forward takes true or false, not {v:?}")),
                }
            }
            "-G" | "--group" => o.group = Some(value),
            _ => {
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .ok_or_else(|| {
                        format!("--request-timeout {value:?} is not a number of seconds (0-3600)")
                    })?;
                o.request_timeout = Some(Duration::from_secs_f64(secs));
            }
        }
    }
    Ok((o, args.to_vec()))
}

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is writable for its length.
    let n = unsafe { docker_error_message(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(n.min(buf.len() - 1));
    String::from_utf8_lossy(&buf).into_owned()
}

fn cstring(s: &str, what: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{what} contains a NUL byte"))
}

/// A runtime handle made through the ABI, released on drop.
struct AbiRuntime(*mut docker_runtime);

impl AbiRuntime {
    fn new(o: &Options) -> Result<AbiRuntime, String> {
        let root = cstring(o.root(), "the root path")?;
        let opt = |v: &Option<String>, what| v.as_deref().map(|s| cstring(s, what)).transpose();
        let bridge = opt(&o.bridge, "the bridge name")?;
        let bip = opt(&o.bip, "--bip")?;
        let chain = opt(&o.chain, "the iptables chain")?;
        let init = opt(&o.init_path, "the init path")?;
        // SAFETY: zeroed is a valid bit pattern for this plain C struct; init then fills it.
        let mut opts: docker_runtime_options = unsafe { std::mem::zeroed() };
        // SAFETY: opts is a valid, writable options struct.
        unsafe { docker_runtime_options_init(&mut opts) };
        let ptr_of = |c: &Option<CString>| c.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        opts.bridge_name = ptr_of(&bridge);
        opts.bridge_subnet = ptr_of(&bip);
        opts.iptables_chain = ptr_of(&chain);
        opts.init_path = ptr_of(&init);
        opts.disable_ip_forward = c_int::from(o.no_ip_forward);
        if o.debug {
            opts.log_level = docker_log_level::DOCKER_LOG_DEBUG as c_int;
        }
        let mut rt: *mut docker_runtime = ptr::null_mut();
        // SAFETY: every pointer is valid for the call (the strings outlive it); rt receives a
        // handle on success.
        if unsafe { docker_runtime_new(root.as_ptr(), &opts, &mut rt) } != docker_result::DOCKER_OK
        {
            return Err(last_error());
        }
        Ok(AbiRuntime(rt))
    }

    fn restore(&self) -> Result<usize, String> {
        let mut n = 0usize;
        // SAFETY: self.0 is a live handle; n is writable.
        if unsafe { docker_runtime_restore(self.0, &mut n) } != docker_result::DOCKER_OK {
            return Err(last_error());
        }
        Ok(n)
    }

    fn executor(&self) -> AbiExecutor {
        AbiExecutor(self.0)
    }
}

impl Drop for AbiRuntime {
    fn drop(&mut self) {
        // SAFETY: self.0 was made by docker_runtime_new and is released once.
        unsafe { docker_runtime_free(self.0) };
    }
}

/// Runs commands on a runtime handle owned by an [`AbiRuntime`] that outlives every call.
struct AbiExecutor(*mut docker_runtime);

// SAFETY: a docker_runtime handle may be used from several threads at once (the ABI's
// documented contract), and the owner frees it only after every call has returned.
unsafe impl Send for AbiExecutor {}
// SAFETY: as above.
unsafe impl Sync for AbiExecutor {}

/// What `exit_status` holds until the library writes the command's status.
const NO_STATUS: c_int = c_int::MIN;

impl Executor for AbiExecutor {
    fn call(&self, c: Call<'_>) -> Result<i32, String> {
        let args = c
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| cstring(a, &format!("argument {i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let argc = c_int::try_from(argv.len()).map_err(|_| "too many arguments".to_string())?;
        // SAFETY: zeroed is a valid bit pattern for this plain C struct; init fills it.
        let mut call: docker_call_options = unsafe { std::mem::zeroed() };
        // SAFETY: call is a valid, writable struct.
        unsafe { docker_call_options_init(&mut call) };
        call.stdin_fd = c.stdin.as_raw_fd();
        call.stdout_fd = c.stdout.as_raw_fd();
        call.stderr_fd = c.stderr.as_raw_fd();
        if let Some((rows, cols)) = c.tty_size {
            call.tty_rows = rows;
            call.tty_cols = cols;
        }
        let mut status = NO_STATUS;
        // SAFETY: the handle is live (see AbiExecutor), argv holds argc valid strings that
        // outlive the call, the descriptors are open for the call, status is writable.
        let r =
            unsafe { docker_runtime_call_with(self.0, argc, argv.as_ptr(), &call, &mut status) };
        if r != docker_result::DOCKER_OK && status == NO_STATUS {
            // The command never ran (the library wrote nothing to the streams).
            return Err(last_error());
        }
        // A command that failed already wrote "Error: ..." to stderr; its status says so.
        Ok(status)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (o, rest) = match parse_options(&args) {
        Ok(x) => x,
        Err(msg) => {
            eprintln!("docker: {msg}\nSee 'docker --help'.");
            return ExitCode::from(2);
        }
    };
    if o.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let status = if o.daemon {
        match run_daemon(&o, &rest) {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("docker -d: {msg}");
                1
            }
        }
    } else {
        match run_client(&o, &rest) {
            Ok(status) => status,
            Err(msg) => {
                eprintln!("Error: {msg}");
                1
            }
        }
    };
    // A status no process can exit with (negative, or above 255) must not pass for another
    // one, least of all 0: it is reported as a failure.
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// The client: on the daemon when one answers, else in-process.
fn run_client(o: &Options, args: &[String]) -> Result<i32, String> {
    if let Some(flag) = [
        (o.group.is_some(), "--group"),
        (o.request_timeout.is_some(), "--request-timeout"),
    ]
    .iter()
    .find_map(|(set, f)| set.then_some(*f))
    {
        return Err(format!("{flag} is a daemon option: use it with docker -d"));
    }
    let addr = match o.hosts.as_slice() {
        [] => std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_ADDR.to_string()),
        [one] => one.clone(),
        _ => return Err("the client talks to one daemon: give -H once".to_string()),
    };
    let addr = Addr::parse(&addr).map_err(|e| e.to_string())?;
    let raw = wants_raw_terminal(args);
    match client::connect(&addr) {
        Ok(sock) => {
            let stdin = std::io::stdin();
            let options = RequestOptions {
                tty_size: ::docker_runtime::term::window_size(&stdin),
            };
            let _raw = if raw {
                RawTerminal::enable().map_err(|e| e.to_string())?
            } else {
                None
            };
            client::call(sock, args, &options).map_err(|e| e.to_string())
        }
        Err(ConnectError::Unreachable(why)) => {
            eprintln!(
                "docker: {why}; running the command in-process on {}",
                o.root()
            );
            let _raw = if raw {
                RawTerminal::enable().map_err(|e| e.to_string())?
            } else {
                None
            };
            run_in_process(o, args)
        }
        Err(ConnectError::Failed(e)) => Err(e.to_string()),
    }
}

/// v0.1.0's fallback: the command runs in this process on the local root.
fn run_in_process(o: &Options, args: &[String]) -> Result<i32, String> {
    let rt = AbiRuntime::new(o)?;
    let _lock = RootLock::acquire(Path::new(o.root()), false).map_err(|e| e.to_string())?;
    rt.restore()?;
    // SAFETY: descriptors 0, 1 and 2 belong to this process for its whole life.
    let (stdin, stdout, stderr) = unsafe {
        (
            BorrowedFd::borrow_raw(0),
            BorrowedFd::borrow_raw(1),
            BorrowedFd::borrow_raw(2),
        )
    };
    rt.executor().call(Call {
        args,
        stdin,
        stdout,
        stderr,
        // The library reads the size from stdin when it is a terminal.
        tty_size: None,
    })
}

/// Let the daemon hold many connections: raise the soft open-files limit to the hard one.
fn raise_open_files_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass; raising the soft limit
    // up to (never above) the hard limit needs no privilege.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// `docker -d`: create and restore the runtime, lock its root, listen, serve until SIGTERM or
/// SIGINT, then release the runtime (leaving containers running) and exit 0.
fn run_daemon(o: &Options, rest: &[String]) -> Result<(), String> {
    if let Some(a) = rest.first() {
        return Err(format!(
            "unexpected argument {a:?}: the daemon takes no command"
        ));
    }
    let logger = Logger::stderr(if o.debug { Level::Debug } else { Level::Info });
    // A client that leaves mid-command must cost it an EPIPE, never the daemon's life. (Rust
    // programs start with SIGPIPE ignored; say so explicitly, the daemon depends on it.)
    // SAFETY: setting a signal's disposition to "ignore" is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    raise_open_files_limit();
    let stop = StopSignals::install().map_err(|e| e.to_string())?;
    let hosts: Vec<String> = if o.hosts.is_empty() {
        vec![DEFAULT_ADDR.to_string()]
    } else {
        o.hosts.clone()
    };
    let addrs = hosts
        .iter()
        .map(|h| Addr::parse(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if let Some(dup) = addrs
        .iter()
        .enumerate()
        .find_map(|(i, a)| addrs[..i].contains(a).then_some(a))
    {
        return Err(format!("-H {dup} is given twice"));
    }
    let group = match &o.group {
        Some(g) => SocketGroup::Named(g.clone()),
        None => SocketGroup::Default,
    };

    let rt = AbiRuntime::new(o)?;
    let lock = RootLock::acquire(Path::new(o.root()), true).map_err(|e| e.to_string())?;
    let restored = rt.restore()?;
    let listeners = addrs
        .iter()
        .map(|a| Listener::bind(a, &group, &logger))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = listeners.iter().map(Listener::addr).collect();
    logger.info(&format!(
        "daemon {} (pid {}) serving root {} ({restored} containers restored) on {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        o.root(),
        names.join(", ")
    ));

    let mut cfg = DaemonConfig::default();
    if let Some(t) = o.request_timeout {
        cfg.connection.request_timeout = t;
    }
    let stopped = daemon::serve(listeners, Arc::new(rt.executor()), &cfg, &stop, &logger);
    if stopped.still_running == 0 {
        // Every command has returned: release the runtime (its state is saved on disk as it
        // changes; containers keep running and are restored by the next daemon).
        drop(rt);
        logger.info("stopped; the runtime was released");
    } else {
        // Commands are still inside the library: releasing the handle under them would be a
        // use after free. Leave it to the exit; every state file is already complete on disk.
        std::mem::forget(rt);
        logger.warn(&format!(
            "stopped with {} command(s) still running; exiting without waiting for them",
            stopped.still_running
        ));
    }
    drop(lock);
    Ok(())
}
