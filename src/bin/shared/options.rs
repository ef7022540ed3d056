//! The global options of the `docker` command line, shared by its two programs: `docker`
//! (the client) and `docker-engine` (the daemon, and commands run in-process). Included by
//! each with `#[path]`, as a C program would share a source file.

use std::ffi::{c_char, c_int, CString};
use std::process::ExitCode;

// The ABI, as a C program includes `docker_runtime.h`.
use ::docker_runtime::commands::RUNTIME_FAILED_STATUS;
use ::docker_runtime::ffi::{error::*, runtime::docker_log_level::*, runtime::*, serve::*};

pub const USAGE: &str = "\
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
pub const DEFAULT_ROOT: &str = "/var/lib/docker-runtime";

/// The global options, before the command. What only the library reads goes straight into
/// the ABI's option structs, as a C program would fill them; `strings` owns their strings.
#[derive(Debug)]
pub struct Options {
    pub daemon: bool,
    pub help: bool,
    pub version: bool,
    pub hosts: Vec<String>,
    pub root: String,
    pub runtime: docker_runtime_options,
    pub serve: docker_serve_options,
    pub strings: Vec<CString>,
    /// Daemon-only flags given (a client refuses them).
    pub daemon_only: Vec<&'static str>,
    /// `--insecure-registry` values, in order.
    pub insecure: Vec<String>,
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
pub fn parse_options(mut args: &[String]) -> Result<(Options, Vec<String>), String> {
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

/// An options struct filled with its defaults by its ABI `_init` function.
pub fn init_options<T>(init: unsafe extern "C" fn(*mut T, usize) -> docker_result) -> T {
    let mut o = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: the `_init` functions fill the `size` bytes they are given, here the whole
    // writable struct, and fail only on NULL or a bad size, which these are not.
    unsafe {
        assert!(init(o.as_mut_ptr(), std::mem::size_of::<T>()) == docker_result::DOCKER_OK);
        o.assume_init()
    }
}

/// The program's main: the options parsed, then `daemon` for `-d`, else `client` with the
/// command; help, version and a bad global flag (docker's 125) are answered here. The exit
/// status is the command's.
pub fn main(
    daemon: fn(&Options, &[String]) -> Result<(), String>,
    client: fn(&Options, &[String]) -> Result<i32, String>,
) -> ExitCode {
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
            daemon(&o, &rest).map_or_else(|m| fail("docker -d", m), |()| 0)
        }
        Ok((o, rest)) => client(&o, &rest).unwrap_or_else(|m| {
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

/// A client refuses the daemon's own flags.
pub fn refuse_daemon_only(o: &Options) -> Result<(), String> {
    let daemon_only = ["--group", "--request-timeout"];
    match daemon_only.iter().find(|f| o.daemon_only.contains(f)) {
        Some(flag) => Err(format!("{flag} is a daemon option: use it with docker -d")),
        None => Ok(()),
    }
}

/// The error for an address the user named (`-H`, `DOCKER_HOST`) where no daemon listens.
pub fn unreachable(o: &Options, addr: &impl std::fmt::Display, why: &str) -> String {
    format!(
        "Cannot connect to the daemon at {addr} ({why}). Is the daemon running? (An address \
         given with -H or DOCKER_HOST is never replaced by running the command in-process on \
         {}.)",
        o.root
    )
}
