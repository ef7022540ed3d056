//! Running one command on a runtime with the caller's descriptors: the one core shared by
//! `docker_runtime_call*` (the C ABI) and the daemon's connections ([`RuntimeExecutor`]).

use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::connection::{Call, Executor};
use crate::commands::{self, Streams};
use crate::error::Error;
use crate::runtime::Runtime;
use crate::term::WindowSizes;

/// The descriptors and terminal of one command. The descriptors are the command's own
/// (duplicates of the caller's), closed when it returns.
#[derive(Debug)]
pub struct Stdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// The client's terminal size; `None`: read from `stdin` when it is a terminal.
    pub tty_size: Option<(u16, u16)>,
    /// Whether the client's stdout and stderr are terminals (for a daemon's client, whose
    /// streams here are pipes).
    pub ttys: [bool; 2],
    /// The window sizes the client sends while the command runs (a daemon's client);
    /// `None`: those of `stdin` when it is a terminal.
    pub sizes: Option<WindowSizes>,
    /// Whether this process's environment is the user's (`-e NAME` takes its value from it):
    /// false for a daemon's client, which sends `-e NAME=VALUE`.
    pub local_env: bool,
}

/// Run `args` (the command name first) as the CLI would. Returns the exit status and, when
/// the command failed, why (the `Error: ...` line is already written to its stderr).
pub fn run_command(rt: &Runtime, args: &[String], stdio: Stdio) -> (i32, Option<Error>) {
    let mut io = Streams::new(stdio.stdin, stdio.stdout, stdio.stderr);
    io.tty_size = stdio
        .tty_size
        .or_else(|| crate::term::window_size(&io.stdin));
    io.client_ttys = stdio.ttys;
    io.sizes = stdio.sizes;
    io.local_env = stdio.local_env;
    commands::run(rt, &mut io, args)
}

/// The daemon's executor: every connection's command runs on this runtime, directly in Rust.
/// It holds the runtime, so a command that outlives the serve loop (one that did not return
/// within the stop's grace periods) keeps it alive until it returns.
#[derive(Debug, Clone)]
pub struct RuntimeExecutor(pub Arc<Runtime>);

impl Executor for RuntimeExecutor {
    fn call(&self, c: Call<'_>) -> Result<i32, String> {
        // The C ABI takes arguments as C strings; the daemon refuses what no C caller could
        // pass, so both faces of the runtime accept the same commands.
        if let Some(i) = c.args.iter().position(|a| a.contains('\0')) {
            return Err(format!("argument {i} contains a NUL byte"));
        }
        let dup = |fd: std::os::fd::BorrowedFd<'_>, what: &str| {
            fd.try_clone_to_owned()
                .map_err(|e| format!("duplicating the command's {what}: {e}"))
        };
        let stdio = Stdio {
            stdin: dup(c.stdin, "stdin")?,
            stdout: dup(c.stdout, "stdout")?,
            stderr: dup(c.stderr, "stderr")?,
            tty_size: c.tty_size,
            ttys: c.ttys,
            sizes: c.sizes,
            local_env: false,
        };
        Ok(run_command(&self.0, c.args, stdio).0)
    }

    fn runtime(&self) -> Option<&Arc<Runtime>> {
        Some(&self.0)
    }
}
