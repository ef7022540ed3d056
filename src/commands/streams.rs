//! What a command works with: its three streams, and the exit status of a failure.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};

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

    /// True when stdin is a terminal.
    pub fn stdin_is_tty(&self) -> bool {
        nix::unistd::isatty(self.stdin.as_fd()).unwrap_or(false)
    }
}
