//! `exec`: run a command in a running container (see [`crate::container::exec`]).

use super::flags::Flags;
use super::streams::Streams;
use crate::container::{ExecConfig, ExecIo};
use crate::error::{Error, Result};
use crate::runtime::Runtime;

pub fn exec(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "exec",
        "[OPTIONS] CONTAINER COMMAND [ARG...]",
        "Run a command in a running container",
    );
    let detach = f.bool(
        &["d", "detach"],
        "Detached mode: run command in the background",
    );
    let interactive = f.bool(
        &["i", "interactive"],
        "Keep STDIN open even if not attached",
    );
    let tty = f.bool(&["t", "tty"], "Allocate a pseudo-TTY");
    let user = f.value(
        &["u", "user"],
        "USER",
        "Username or UID (format: <name|uid>[:<group|gid>])",
    );
    let env = f.list(&["e", "env"], "KEY=VALUE", "Set environment variables");
    let workdir = f.value(
        &["w", "workdir"],
        "DIR",
        "Working directory inside the container",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.len() < 2 {
        return Err(f.usage_error("2 argument(s) expected: CONTAINER COMMAND"));
    }
    let c = rt.container(&p.args[0])?;
    let cfg = ExecConfig {
        cmd: p.args[1..].to_vec(),
        user: p.value(user).map(str::to_string),
        env: io.resolve_env(p.list(env)),
        workdir: p.value(workdir).map(str::to_string),
        tty: p.bool(tty),
        stdin: p.bool(interactive),
        detach: p.bool(detach),
        tty_size: io.tty_size,
    };
    let dup = |f: &std::fs::File, what: &str| {
        f.try_clone()
            .map_err(|e| Error::io(format_args!("duplicating {what}"), e))
    };
    let exec_io = ExecIo {
        stdin: cfg.stdin.then(|| dup(&io.stdin, "stdin")).transpose()?,
        stdout: dup(&io.stdout, "stdout")?,
        stderr: dup(&io.stderr, "stderr")?,
        sizes: match cfg.tty && !cfg.detach {
            true => io.window_sizes()?,
            false => None,
        },
    };
    rt.exec_container(&c, &cfg, exec_io)
}
