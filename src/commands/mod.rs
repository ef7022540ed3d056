//! Command dispatch (v0.1.0 `commands.go`): one table from command name to handler, used by
//! `docker_runtime_call`, the CLI and the daemon alike. v0.1.0 found handlers by reflection
//! (`Cmd` + capitalised name); a table says at a glance what exists.

mod containers;
pub mod flags;
pub mod images;
mod registry;
mod system;
pub mod table;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, ErrorKind, Result};
use crate::runtime::Runtime;

/// The three streams of one command: stdin, stdout, stderr. Each is owned (a dup of what the
/// caller passed), so a command may hand them to threads.
#[derive(Debug)]
pub struct Streams {
    pub stdin: File,
    pub stdout: File,
    pub stderr: File,
    /// The client's terminal size (rows, columns) when it has one.
    pub tty_size: Option<(u16, u16)>,
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
        })
    }

    /// Streams over owned descriptors.
    pub fn new(stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd) -> Streams {
        Streams {
            stdin: stdin.into(),
            stdout: stdout.into(),
            stderr: stderr.into(),
            tty_size: None,
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

/// A command handler: the runtime, the streams, the arguments after the command name; returns
/// the exit status.
pub type Handler = fn(&Runtime, &mut Streams, &[String]) -> Result<i32>;

/// One row of the dispatch table.
pub struct Command {
    pub name: &'static str,
    pub description: &'static str,
    pub handler: Handler,
}

/// Every command, sorted by name.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "attach",
        description: "Attach to a running container",
        handler: containers::attach,
    },
    Command {
        name: "commit",
        description: "Create a new image from a container's changes",
        handler: containers::commit,
    },
    Command {
        name: "diff",
        description: "Inspect changes on a container's filesystem",
        handler: containers::diff,
    },
    Command {
        name: "export",
        description: "Stream the contents of a container as a tar archive",
        handler: containers::export,
    },
    Command {
        name: "help",
        description: "Show the command list",
        handler: system::help,
    },
    Command {
        name: "history",
        description: "Show the history of an image",
        handler: images::history,
    },
    Command {
        name: "images",
        description: "List images",
        handler: images::images,
    },
    Command {
        name: "import",
        description: "Create a new filesystem image from the contents of a tarball",
        handler: images::import,
    },
    Command {
        name: "info",
        description: "Display system-wide information",
        handler: system::info,
    },
    Command {
        name: "inspect",
        description: "Return low-level information on a container or an image",
        handler: images::inspect,
    },
    Command {
        name: "kill",
        description: "Kill a running container",
        handler: containers::kill,
    },
    Command {
        name: "login",
        description: "Register or log in to a registry server",
        handler: registry::login,
    },
    Command {
        name: "logs",
        description: "Fetch the logs of a container",
        handler: containers::logs,
    },
    Command {
        name: "port",
        description: "Lookup the public-facing port which is NAT-ed to PRIVATE_PORT",
        handler: containers::port,
    },
    Command {
        name: "ps",
        description: "List containers",
        handler: containers::ps,
    },
    Command {
        name: "pull",
        description: "Pull an image from a registry",
        handler: registry::pull,
    },
    Command {
        name: "push",
        description: "Push an image to a registry",
        handler: registry::push,
    },
    Command {
        name: "restart",
        description: "Restart a running container",
        handler: containers::restart,
    },
    Command {
        name: "rm",
        description: "Remove a container",
        handler: containers::rm,
    },
    Command {
        name: "rmi",
        description: "Remove images",
        handler: images::rmi,
    },
    Command {
        name: "run",
        description: "Run a command in a new container",
        handler: containers::run,
    },
    Command {
        name: "start",
        description: "Start a stopped container",
        handler: containers::start,
    },
    Command {
        name: "stop",
        description: "Stop a running container",
        handler: containers::stop,
    },
    Command {
        name: "tag",
        description: "Tag an image into a repository",
        handler: images::tag,
    },
    Command {
        name: "version",
        description: "Show the docker version information",
        handler: system::version,
    },
    Command {
        name: "wait",
        description: "Block until a container stops, then print its exit code",
        handler: containers::wait,
    },
];

/// Find a command by name.
pub fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Run `args` (command name first) as the CLI would. No arguments prints the help.
pub fn dispatch(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let Some(name) = args.first() else {
        return system::help(rt, io, &[]);
    };
    let cmd = lookup(name).ok_or_else(|| {
        Error::new(
            ErrorKind::UnknownCommand,
            format!("{name:?} is not a docker command. See 'docker help'."),
        )
    })?;
    (cmd.handler)(rt, io, &args[1..])
}

/// The exit status of a failed command.
pub const ERROR_STATUS: i32 = 1;

/// [`dispatch`], with a failure written to stderr as `Error: MESSAGE` and turned into exit
/// status 1. Returns the status and the error, if any.
pub fn run(rt: &Runtime, io: &mut Streams, args: &[String]) -> (i32, Option<Error>) {
    match dispatch(rt, io, args) {
        Ok(status) => (status, None),
        Err(e) => {
            // The client may be gone; the error still reaches the caller through the result.
            let _ = io.err(&format!("Error: {e}\n"));
            (ERROR_STATUS, Some(e))
        }
    }
}

/// Refuse positional arguments for a command that takes none.
pub fn no_args(f: &flags::Flags, args: &[String]) -> Result<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "unexpected argument {:?}\n{}",
            args[0],
            f.usage().trim_end()
        )))
    }
}
