//! `docker`: the command line (v0.1.0's one command, two modes), as a small program that
//! starts fast: it is the client, and runs `docker-engine` (installed beside it) for the rest.
//!
//! - `docker [-H ADDR] COMMAND ARGS...`: run COMMAND on the daemon at ADDR (`-H`, else
//!   `DOCKER_HOST`, else the default socket) with the library's client half
//!   (`server::client`). An address the user named never falls back to in-process.
//! - `docker -d ...`, `docker -H none COMMAND ...`, and a command when no daemon listens at
//!   the default socket: `docker-engine` runs it, by exec with the same arguments (it says
//!   why it runs the command in-process, and does so on ROOT).
//!
//! A client links only the client half of the library: a `docker` command through the daemon
//! does not load or relocate the runtime (see BENCHMARKS.md, the CLI via the daemon).

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use ::docker_runtime::server::client::{self, Turn};

#[path = "shared/options.rs"]
mod options;
use options::Options;

/// The program beside this one that holds the runtime.
const ENGINE: &str = "docker-engine";

fn main() -> ExitCode {
    options::main(|_, _| engine().map(drop), run_client)
}

/// The client: on the daemon when one answers, else (no address named) the engine, which
/// runs the command in-process.
fn run_client(o: &Options, args: &[String]) -> Result<i32, String> {
    options::refuse_daemon_only(o)?;
    let Some((addr, named)) = client::daemon_addr(&o.hosts).map_err(|e| e.to_string())? else {
        return engine();
    };
    match client::run(&addr, args).map_err(|e| e.to_string())? {
        Turn::Ran(status) => Ok(status),
        Turn::Unreachable(why) if named => Err(options::unreachable(o, &addr, &why)),
        Turn::Unreachable(_) => engine(),
    }
}

/// Replace this process with `docker-engine` from this program's folder, with the same
/// arguments (and `argv[0]`, so `ps` shows the command as typed). Returns only on failure.
fn engine() -> Result<i32, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let path = exe.with_file_name(ENGINE);
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "docker".into());
    let err = Command::new(&path).arg0(arg0).args(args).exec();
    Err(format!(
        "running {}: {err} (docker-engine is installed beside docker)",
        path.display()
    ))
}
