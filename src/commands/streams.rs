//! What a command works with: its three streams, and the exit status of a failure.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::term::WindowSizes;

/// The exit status of a failed command.
pub const ERROR_STATUS: i32 = 1;

/// docker's status for a command line that does not fit the usage (any command), and for a
/// `run` that failed itself (no such image, a bad flag, a failed start), so that it is not
/// taken for the program's own status. (126 and 127 are the program's: it could not be
/// executed, or was not found.)
pub const RUNTIME_FAILED_STATUS: i32 = 125;

/// The three streams of one command: stdin, stdout, stderr. Each is owned (a dup of what the
/// caller passed), so a command may hand them to threads.
#[derive(Debug)]
pub struct Streams {
    pub stdin: File,
    pub stdout: File,
    pub stderr: File,
    /// The client's terminal size (rows, columns) when it has one.
    pub tty_size: Option<(u16, u16)>,
    /// Whether the client's stdout and stderr are terminals, as it said (its streams reach
    /// the command through pipes when it is a daemon's client).
    pub client_ttys: [bool; 2],
    /// The window sizes a daemon's client sends while the command runs; `None`: those of
    /// stdin's terminal when it is one ([`Streams::window_sizes`]).
    pub sizes: Option<WindowSizes>,
    /// Whether this process's environment is the user's, for `-e NAME` without a value: true
    /// in the client's process, false in a daemon (its client sends `-e NAME=VALUE`).
    pub local_env: bool,
}

fn dup(fd: BorrowedFd<'_>, name: &str) -> Result<File> {
    fd.try_clone_to_owned()
        .map(File::from)
        .map_err(|e| Error::io(format!("{name} is not an open file descriptor"), e))
}

impl Streams {
    /// Duplicate the three descriptors so the command owns its copies.
    pub fn dup_from(
        stdin: BorrowedFd<'_>,
        stdout: BorrowedFd<'_>,
        stderr: BorrowedFd<'_>,
    ) -> Result<Streams> {
        Ok(Streams {
            stdin: dup(stdin, "stdin")?,
            stdout: dup(stdout, "stdout")?,
            stderr: dup(stderr, "stderr")?,
            tty_size: None,
            client_ttys: [false; 2],
            sizes: None,
            local_env: true,
        })
    }

    /// Streams over owned descriptors.
    pub fn new(stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd) -> Streams {
        Streams {
            stdin: stdin.into(),
            stdout: stdout.into(),
            stderr: stderr.into(),
            tty_size: None,
            client_ttys: [false; 2],
            sizes: None,
            local_env: true,
        }
    }

    /// Write `s` to stdout.
    pub fn out(&mut self, s: &str) -> Result<()> {
        self.stdout
            .write_all(s.as_bytes())
            .map_err(|e| Error::io("writing to stdout", e))
    }

    /// Write `s` to stderr.
    pub fn err(&mut self, s: &str) -> Result<()> {
        self.stderr
            .write_all(s.as_bytes())
            .map_err(|e| Error::io("writing to stderr", e))
    }

    /// The client's window sizes while the command runs: those its daemon's client sends, or
    /// those of stdin's terminal (SIGWINCH); `None` when there are none to follow.
    pub fn window_sizes(&self) -> Result<Option<WindowSizes>> {
        if self.sizes.is_some() || !self.stdin_is_tty() {
            return Ok(self.sizes.clone());
        }
        WindowSizes::watch(&self.stdin)
            .map(Some)
            .map_err(|e| Error::io("watching the terminal's size", e))
    }

    /// `-e` entries with `NAME` alone given the value of `NAME` in the user's environment
    /// (left out when it is unset there), as docker's client does. In a daemon, whose
    /// environment is not the user's, such an entry is left out: its client resolves them.
    pub fn resolve_env(&self, env: &[String]) -> Vec<String> {
        let lookup = |name: &str| {
            self.local_env
                .then(|| std::env::var_os(name))
                .flatten()
                .map(|v| format!("{name}={}", v.to_string_lossy()))
        };
        env.iter()
            .filter_map(|e| match e.contains('=') || e.is_empty() {
                true => Some(e.clone()),
                false => lookup(e),
            })
            .collect()
    }

    /// True when stdin is a terminal.
    pub fn stdin_is_tty(&self) -> bool {
        nix::unistd::isatty(self.stdin.as_fd()).unwrap_or(false)
    }
}
