//! Container commands: run, start, stop, restart, kill, pause, unpause, wait, rm, ps,
//! attach, port, diff, commit, export.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::flags::{no_args, Flag, Flags, Parsed};
use super::streams::{Streams, ERROR_STATUS};
use crate::container::{stream, Container, CreateRequest, Follower, StartOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::ids;
use crate::runtime::Runtime;
use crate::table;
use crate::term::WindowSizes;

/// Parse a memory size: bytes, or a number with b, k, m or g (any case).
pub fn parse_memory(s: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(format!(
            "invalid memory limit {s:?}: use a number of bytes, optionally with k, m or g"
        ))
    };
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('b') => (&t[..t.len() - 1], 1),
        Some('k') => (&t[..t.len() - 1], 1 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let bytes = n.checked_mul(mult).ok_or_else(bad)?;
    if bytes < 6 << 20 {
        return Err(Error::invalid(format!(
            "memory limit {s:?} is below the minimum of 6 MiB"
        )));
    }
    Ok(bytes)
}

fn need_args(f: &Flags, args: &[String], min: usize) -> Result<()> {
    if args.len() < min {
        return Err(f.usage_error(&format!("{min} argument(s) expected")));
    }
    Ok(())
}

/// Resize `c`'s terminal with each of `sizes` until the follower is dropped.
fn follow_window(c: &Arc<Container>, sizes: WindowSizes) -> Result<Follower> {
    let c = c.clone();
    crate::container::follow_window(sizes, move |rows, cols| {
        // A container that has stopped has no terminal left to fit.
        let _ = c.resize(rows, cols);
    })
}

/// Which streams to attach.
struct Attach {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    close_stdin_at_eof: bool,
}

/// Stream the container's output (from the log offsets given, else from now) and feed its
/// stdin until it ends.
/// Stream the run that ends with `done`.
fn attach_streams(
    c: &Arc<Container>,
    io: &mut Streams,
    a: &Attach,
    offsets: (Option<u64>, Option<u64>),
    done: Arc<crate::container::Event>,
) -> Result<()> {
    // A terminal follows the client's window while attached.
    let _follower = match c.record().config.tty {
        true => io
            .window_sizes()?
            .map(|sizes| follow_window(c, sizes))
            .transpose()?,
        false => None,
    };
    let mut feeder = None;
    if a.stdin {
        let client = io
            .stdin
            .try_clone()
            .map_err(|e| Error::io("duplicating stdin", e))?;
        let (c2, d2, close) = (c.clone(), done.clone(), a.close_stdin_at_eof);
        feeder = Some(std::thread::spawn(move || {
            stream::feed_stdin(&c2, client, &[&d2], close)
        }));
    }
    // A client that goes away (a daemon's, whose pipes close) ends the stream even while
    // the container is silent.
    let dup = |f: &std::fs::File| {
        f.try_clone()
            .map_err(|e| Error::io("duplicating a stream", e))
    };
    let outputs = [dup(&io.stdout)?, dup(&io.stderr)?];
    let mut readers = Vec::new();
    let mut clients: Vec<&mut dyn Write> = Vec::new();
    let (out_log, err_log) = (c.stdout_log(), c.stderr_log());
    let out_reader = if a.stdout {
        stream::open_follow(&out_log, offsets.0)?
    } else {
        None
    };
    let err_reader = if a.stderr {
        stream::open_follow(&err_log, offsets.1)?
    } else {
        None
    };
    if let Some(r) = out_reader {
        readers.push(r);
        clients.push(&mut io.stdout);
    }
    if let Some(r) = err_reader {
        readers.push(r);
        clients.push(&mut io.stderr);
    }
    let fds = [outputs[0].as_fd(), outputs[1].as_fd()];
    let result = stream::follow_while_there(&mut readers, &mut clients, &done, None, &fds);
    if let Some(f) = feeder {
        if result.is_ok() {
            let _ = f.join();
        }
    }
    result
}

/// The flags of `run`.
struct RunFlags {
    detach: Flag,
    interactive: Flag,
    tty: Flag,
    user: Flag,
    memory: Flag,
    cpu_shares: Flag,
    env: Flag,
    ports: Flag,
    hostname: Flag,
    workdir: Flag,
    network: Flag,
    rm: Flag,
    cap_add: Flag,
    cap_drop: Flag,
    security_opt: Flag,
    pull: Flag,
    volumes: Flag,
    mounts: Flag,
    name: Flag,
}

impl RunFlags {
    fn declare(f: &mut Flags) -> RunFlags {
        RunFlags {
            detach: f.bool(
                &["d", "detach"],
                "Detached mode: leave the container running in the background",
            ),
            interactive: f.bool(
                &["i", "interactive"],
                "Keep stdin open even if not attached",
            ),
            tty: f.bool(&["t", "tty"], "Allocate a pseudo-tty"),
            user: f.value(&["u", "user"], "USER", "Username or UID"),
            memory: f.value(
                &["m", "memory"],
                "BYTES",
                "Memory limit (in bytes, or with k, m, g)",
            ),
            cpu_shares: f.value(
                &["c", "cpu-shares"],
                "SHARES",
                "CPU shares (relative weight)",
            ),
            env: f.list(&["e", "env"], "KEY=VALUE", "Set environment variables"),
            ports: f.list(
                &["p", "publish"],
                "[PUBLIC:]PRIVATE",
                "Publish a container's TCP port",
            ),
            hostname: f.value(&["h", "hostname"], "NAME", "Container host name"),
            workdir: f.value(
                &["w", "workdir"],
                "DIR",
                "Working directory inside the container",
            ),
            network: f.value(&["network", "net"], "MODE", "bridge (default) or none"),
            rm: f.bool(&["rm"], "Remove the container when it exits (not with -d)"),
            cap_add: f.list(&["cap-add"], "CAP", "Add a Linux capability (or ALL)"),
            cap_drop: f.list(&["cap-drop"], "CAP", "Drop a Linux capability (or ALL)"),
            security_opt: f.list(
                &["security-opt"],
                "OPT",
                "seccomp=unconfined, seccomp=PROFILE.json (docker's format), no-new-privileges",
            ),
            pull: f.value(
                &["pull"],
                "POLICY",
                "Pull the image: missing (default: when it is not here), always, never",
            ),
            volumes: f.list(
                &["v", "volume"],
                "[SOURCE:]PATH[:ro]",
                "Bind a host path (absolute) or mount a named volume, or an anonymous one",
            ),
            mounts: f.list(
                &["mount"],
                "type=bind|volume|tmpfs,[source=SRC,]target=PATH[,readonly][,...]",
                "Attach a mount (also volume-nocopy, tmpfs-size=SIZE, tmpfs-mode=OCTAL)",
            ),
            name: f.value(&["name"], "NAME", "Assign a name to the container"),
        }
    }
}

/// `run --pull POLICY`: pull the image first when it is missing here (docker's default), always,
/// or never.
fn pull_if_asked(rt: &Runtime, io: &mut Streams, image: &str, policy: Option<&str>) -> Result<()> {
    match policy.unwrap_or("missing") {
        "never" => Ok(()),
        "always" => super::registry::pull_for_run(rt, io, image, None),
        "missing" => match rt.image(image) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                super::registry::pull_for_run(rt, io, image, Some(e))
            }
            _ => Ok(()),
        },
        other => Err(Error::usage(format!(
            "invalid --pull {other:?}: want missing, always or never\nSee 'docker run --help'."
        ))),
    }
}

/// What the flags of `run` ask for (the image's defaults are merged in by the runtime).
fn run_request(io: &Streams, p: &Parsed, fl: &RunFlags) -> Result<CreateRequest> {
    let owned = |flag: Flag| p.value(flag).map(str::to_string);
    Ok(CreateRequest {
        image: p.args[0].clone(),
        cmd: p.args[1..].to_vec(),
        env: io.resolve_env(p.list(fl.env)),
        user: owned(fl.user),
        working_dir: owned(fl.workdir),
        hostname: owned(fl.hostname),
        memory: p
            .value(fl.memory)
            .map(parse_memory)
            .transpose()?
            .unwrap_or(0),
        cpu_shares: p
            .value(fl.cpu_shares)
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| Error::invalid(format!("invalid CPU shares {s:?}: want a number")))
            })
            .transpose()?
            .unwrap_or(0),
        tty: p.bool(fl.tty),
        open_stdin: p.bool(fl.interactive),
        detach: p.bool(fl.detach),
        ports: p.list(fl.ports).to_vec(),
        network_mode: owned(fl.network),
        cap_add: p.list(fl.cap_add).to_vec(),
        cap_drop: p.list(fl.cap_drop).to_vec(),
        security_opt: p.list(fl.security_opt).to_vec(),
        volumes: p.list(fl.volumes).to_vec(),
        mounts: p.list(fl.mounts).to_vec(),
        name: owned(fl.name),
        auto_remove: p.bool(fl.rm),
    })
}

pub fn run(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "run",
        "[OPTIONS] IMAGE COMMAND [ARG...]",
        "Run a command in a new container",
    );
    let fl = RunFlags::declare(&mut f);
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let (rm, detach) = (p.bool(fl.rm), p.bool(fl.detach));
    // Checked before anything is made.
    let req = run_request(io, &p, &fl)?.prepare()?;
    if rm && detach {
        return Err(Error::invalid("--rm cannot be combined with -d"));
    }
    pull_if_asked(rt, io, &p.args[0], p.value(fl.pull))?;
    let c = rt.create(&req)?;
    let offsets = crate::container::output::offsets(&c);
    let opts = StartOptions {
        tty_size: io.tty_size,
    };
    let done = match rt.start_container(&c, &opts) {
        Ok(done) => done,
        Err(e) => {
            if rm {
                let _ = rt.remove_container_with(&c, true);
            }
            return Err(e);
        }
    };
    if detach {
        io.out(&format!("{}\n", c.id))?;
        return Ok(0);
    }
    let attach = Attach {
        stdin: p.bool(fl.interactive),
        stdout: true,
        stderr: !p.bool(fl.tty),
        close_stdin_at_eof: true,
    };
    attach_streams(&c, io, &attach, (Some(offsets.0), Some(offsets.1)), done)?;
    let status = c.wait();
    if rm {
        // As docker: the container's anonymous volumes go with it.
        rt.remove_container_with(&c, true)?;
    }
    Ok(status)
}

/// Run `op` on every container named in `names`, printing each name after it succeeded; the
/// first failure is reported after trying them all.
fn each(
    rt: &Runtime,
    io: &mut Streams,
    names: &[String],
    mut op: impl FnMut(&Arc<Container>) -> Result<()>,
) -> Result<i32> {
    let mut first_err = None;
    for name in names {
        match rt.container(name).and_then(|c| op(&c)) {
            Ok(()) => io.out(&format!("{name}\n"))?,
            Err(e) => {
                io.err(&format!("Error: {e}\n"))?;
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        None => Ok(0),
        Some(_) => Ok(ERROR_STATUS),
    }
}

fn timeout_flag(f: &mut Flags) -> Flag {
    f.value(
        &["t", "time"],
        "SECONDS",
        "Seconds to wait for stop before killing it (default 10)",
    )
}

fn parse_timeout(v: Option<&str>) -> Result<Duration> {
    match v {
        None => Ok(Duration::from_secs(10)),
        Some(s) => s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| Error::invalid(format!("invalid timeout {s:?}: want whole seconds"))),
    }
}

pub fn start(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "start",
        "CONTAINER [CONTAINER...]",
        "Start a stopped container",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let opts = StartOptions {
        tty_size: io.tty_size,
    };
    each(rt, io, &p.args, |c| rt.start_container(c, &opts).map(drop))
}

pub fn stop(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "stop",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Stop a running container (SIGTERM, then SIGKILL after a grace period)",
    );
    let t = timeout_flag(&mut f);
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let timeout = parse_timeout(p.value(t))?;
    each(rt, io, &p.args, |c| c.stop(timeout))
}

pub fn restart(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "restart",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Restart a running container",
    );
    let t = timeout_flag(&mut f);
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let timeout = parse_timeout(p.value(t))?;
    let opts = StartOptions {
        tty_size: io.tty_size,
    };
    each(rt, io, &p.args, |c| {
        c.stop(timeout)?;
        rt.start_container(c, &opts).map(drop)
    })
}

pub fn kill(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "kill",
        "CONTAINER [CONTAINER...]",
        "Kill a running container",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    each(rt, io, &p.args, |c| c.kill())
}

pub fn pause(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "pause",
        "CONTAINER [CONTAINER...]",
        "Pause all processes within a container (cgroup freezer)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    each(rt, io, &p.args, |c| c.pause())
}

pub fn unpause(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "unpause",
        "CONTAINER [CONTAINER...]",
        "Unpause all processes within a container",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    each(rt, io, &p.args, |c| c.unpause())
}

pub fn wait(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "wait",
        "CONTAINER [CONTAINER...]",
        "Block until a container stops, then print its exit code",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let mut first_err = None;
    for name in &p.args {
        match rt.container(name) {
            Ok(c) => io.out(&format!("{}\n", c.wait()))?,
            Err(e) => {
                io.err(&format!("Error: {e}\n"))?;
                first_err.get_or_insert(e);
            }
        }
    }
    Ok(if first_err.is_some() { ERROR_STATUS } else { 0 })
}

pub fn rm(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "rm",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Remove a container",
    );
    let force = f.bool(
        &["f", "force"],
        "Kill a running container before removing it",
    );
    let volumes = f.bool(
        &["v", "volumes"],
        "Remove the anonymous volumes of the container (named ones stay)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let (force, volumes) = (p.bool(force), p.bool(volumes));
    each(rt, io, &p.args, |c| {
        if force {
            c.kill()?;
        }
        rt.remove_container_with(c, volumes)
    })
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect()
    }
}

pub fn ps(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new("ps", "[OPTIONS]", "List containers");
    let quiet = f.bool(&["q", "quiet"], "Only display numeric IDs");
    let all = f.bool(
        &["a", "all"],
        "Show all containers; only running ones by default",
    );
    let notrunc = f.bool(&["notrunc", "no-trunc"], "Don't truncate output");
    let latest = f.bool(&["l", "latest"], "Show only the latest created container");
    let last = f.value(&["n", "last"], "N", "Show the N last created containers");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    no_args(&f, &p.args)?;
    let mut limit = match p.value(last) {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| Error::invalid(format!("invalid -n {n:?}: want a number")))?,
        ),
        None => None,
    };
    if p.bool(latest) {
        limit = Some(1);
    }
    let show_all = p.bool(all) || limit.is_some();
    let now = Utc::now();
    let mut rows = Vec::new();
    if !p.bool(quiet) {
        rows.push(
            [
                "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "COMMENT", "NAMES",
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    let mut ids_only = String::new();
    let listed = crate::summary::containers(rt, show_all, now);
    for c in listed.into_iter().take(limit.unwrap_or(usize::MAX)) {
        let id = if p.bool(notrunc) {
            c.id
        } else {
            ids::short(&c.id).to_string()
        };
        if p.bool(quiet) {
            ids_only.push_str(&id);
            ids_only.push('\n');
            continue;
        }
        let command = if p.bool(notrunc) {
            c.command
        } else {
            truncate(&c.command, 20)
        };
        rows.push(vec![
            id,
            c.image,
            command,
            format!("{} ago", crate::humanize::duration(now - c.created)),
            c.status,
            String::new(),
            c.names.join(","),
        ]);
    }
    if p.bool(quiet) {
        io.out(&ids_only)?;
    } else {
        io.out(&table::render(&rows))?;
    }
    Ok(0)
}

pub fn attach(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "attach",
        "[OPTIONS] CONTAINER",
        "Attach to a running container (stdout and stderr, and stdin when it is open, unless -i/-o/-e choose)",
    );
    let i = f.bool(&["i"], "Attach to stdin");
    let o = f.bool(&["o"], "Attach to stdout");
    let e = f.bool(&["e"], "Attach to stderr");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let c = rt.container(&p.args[0])?;
    let rec = c.record();
    let chosen = p.bool(i) || p.bool(o) || p.bool(e);
    let a = if chosen {
        Attach {
            stdin: p.bool(i),
            stdout: p.bool(o),
            stderr: p.bool(e),
            close_stdin_at_eof: false,
        }
    } else {
        Attach {
            stdin: rec.config.open_stdin || rec.config.tty,
            stdout: true,
            stderr: !rec.config.tty,
            close_stdin_at_eof: false,
        }
    };
    if a.stdin && c.stdin().is_none() {
        return Err(Error::invalid(format!(
            "the stdin of container {} is not open (run it with -i)",
            ids::short(&c.id)
        )));
    }
    if let Some((rows, cols)) = io.tty_size.filter(|_| rec.config.tty) {
        c.resize(rows, cols)?;
    }
    let done = c
        .exit_event()
        .ok_or_else(|| Error::invalid(format!("container {} is not running", ids::short(&c.id))))?;
    attach_streams(&c, io, &a, (None, None), done)?;
    // As docker: the container's status when it ended while attached.
    let state = c.record().state;
    Ok(if state.running { 0 } else { state.exit_code })
}

pub fn port(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "port",
        "CONTAINER PRIVATE_PORT",
        "Lookup the public-facing port which is NAT-ed to PRIVATE_PORT",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 2)?;
    let c = rt.container(&p.args[0])?;
    let private = p.args[1].trim_end_matches("/tcp");
    match c.record().network_settings.port_mapping.get(private) {
        Some(public) => {
            io.out(&format!("{public}\n"))?;
            Ok(0)
        }
        None => Err(Error::not_found(format!(
            "no public port is mapped to private port {private} of container {}",
            p.args[0]
        ))),
    }
}

pub fn diff(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "diff",
        "CONTAINER",
        "Inspect changes on a container's filesystem (A added, C changed, D deleted)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let c = rt.container(&p.args[0])?;
    let rw = c.rw_dir();
    if !rw.exists() {
        return Ok(0);
    }
    let layers = rt.image_layers(&c.record().image)?;
    let mut out = String::new();
    for change in crate::image::changes(&layers, &rw)? {
        out.push_str(&format!("{change}\n"));
    }
    io.out(&out)?;
    Ok(0)
}

pub fn commit(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "commit",
        "[OPTIONS] CONTAINER [REPOSITORY [TAG]]",
        "Create a new image from a container's changes",
    );
    let message = f.value(&["m", "message"], "MESSAGE", "Commit message");
    let pause = f.bool_on(
        &["p", "pause"],
        "Freeze the container while its changes are packed (--pause=false: do not)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    if p.args.len() > 3 {
        return Err(f.usage_error("commit takes a container and an optional name"));
    }
    // The name is checked before any work.
    let name = p
        .args
        .get(1)
        .map(|r| super::images::repo_and_tag(r, p.args.get(2).map(String::as_str)))
        .transpose()?;
    let c = rt.container(&p.args[0])?;
    let comment = p.value(message).unwrap_or_default().to_string();
    let image = rt.commit_container(&c, comment, name.as_ref(), p.bool(pause))?;
    io.out(&format!("{}\n", image.id))?;
    Ok(0)
}

pub fn export(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "export",
        "CONTAINER",
        "Export the contents of a filesystem as a tar archive to stdout",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    need_args(&f, &p.args, 1)?;
    let c = rt.container(&p.args[0])?;
    let out = &mut io.stdout;
    rt.with_rootfs(&c, |root| crate::image::pack_dir(root, &mut *out))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("512m").unwrap(), 512 << 20);
        assert_eq!(parse_memory("1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory("8388608").unwrap(), 8 << 20);
        for bad in ["abc", "", "12x", "-5m", "1k", "99999999999999999g"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }
}
