//! Command dispatch (v0.1.0 `commands.go`): one table from command name to handler, used by
//! `docker_runtime_call`, the CLI and the daemon alike. v0.1.0 found handlers by reflection
//! (`Cmd` + capitalised name); a table says at a glance what exists.

mod completion;
mod containers;
mod exec;
pub mod flags;
pub mod images;
mod logs;
mod registry;
mod rename;
mod stats;
mod streams;
mod system;
mod volumes;

pub use streams::{Streams, ERROR_STATUS, RUNTIME_FAILED_STATUS};

use crate::error::{Error, ErrorKind, Result};
use crate::runtime::Runtime;

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
        name: "completion",
        description: "Print a shell completion script (bash)",
        handler: completion,
    },
    Command {
        name: "diff",
        description: "Inspect changes on a container's filesystem",
        handler: containers::diff,
    },
    Command {
        name: "exec",
        description: "Run a command in a running container",
        handler: exec::exec,
    },
    Command {
        name: "export",
        description: "Stream the contents of a container as a tar archive",
        handler: containers::export,
    },
    Command {
        name: "help",
        description: "Show the command list",
        handler: help,
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
        name: "load",
        description: "Load images from a tar archive",
        handler: images::load,
    },
    Command {
        name: "login",
        description: "Register or log in to a registry server",
        handler: registry::login,
    },
    Command {
        name: "logs",
        description: "Fetch the logs of a container",
        handler: logs::logs,
    },
    Command {
        name: "pause",
        description: "Pause all processes within a container",
        handler: containers::pause,
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
        name: "rename",
        description: "Rename a container",
        handler: rename::rename,
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
        name: "save",
        description: "Save images to a tar archive",
        handler: images::save,
    },
    Command {
        name: "start",
        description: "Start a stopped container",
        handler: containers::start,
    },
    Command {
        name: "stats",
        description: "Display a live stream of container(s) resource usage statistics",
        handler: stats::stats,
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
        name: "top",
        description: "Lookup the running processes of a container",
        handler: stats::top,
    },
    Command {
        name: "unpause",
        description: "Unpause all processes within a container",
        handler: containers::unpause,
    },
    Command {
        name: "version",
        description: "Show the docker version information",
        handler: system::version,
    },
    Command {
        name: "volume",
        description: "Manage volumes (create, inspect, ls, prune, rm)",
        handler: volumes::volume,
    },
    Command {
        name: "wait",
        description: "Block until a container stops, then print its exit code",
        handler: containers::wait,
    },
];

/// v0.1.0's help: the usage line and the command list.
fn help(_rt: &Runtime, io: &mut Streams, _args: &[String]) -> Result<i32> {
    let mut s = String::from(
        "Usage: docker COMMAND [arg...]\n\nA self-sufficient runtime for linux containers.\n\nCommands:\n",
    );
    for c in COMMANDS {
        s.push_str(&format!("    {:<10}{}\n", c.name, c.description));
    }
    io.out(&s)?;
    Ok(0)
}

/// `completion bash`, over this table.
fn completion(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let table: Vec<completion::Entry> = COMMANDS.iter().map(|c| (c.name, c.handler)).collect();
    completion::completion(rt, io, args, &table)
}

/// Find a command by name.
pub fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Run `args` (command name first) as the CLI would. No arguments prints the help.
pub fn dispatch(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let Some(name) = args.first() else {
        return help(rt, io, &[]);
    };
    let cmd = lookup(name).ok_or_else(|| {
        Error::new(
            ErrorKind::UnknownCommand,
            format!("{name:?} is not a docker command. See 'docker help'."),
        )
    })?;
    (cmd.handler)(rt, io, &args[1..])
}

/// [`dispatch`], with a failure written to stderr as `Error: MESSAGE` and turned into docker's
/// exit status: 125 for a usage error and for any failure of `run` (so that it is never taken
/// for the container's own status), else 1. Returns the status and the error, if any.
pub fn run(rt: &Runtime, io: &mut Streams, args: &[String]) -> (i32, Option<Error>) {
    match dispatch(rt, io, args) {
        Ok(status) => (status, None),
        Err(e) => {
            // The client may be gone; the error still reaches the caller through the result.
            let _ = io.err(&format!("Error: {e}\n"));
            let run = args.first().is_some_and(|c| c == "run");
            let status = if e.is_usage() || run {
                RUNTIME_FAILED_STATUS
            } else {
                ERROR_STATUS
            };
            (status, Some(e))
        }
    }
}
