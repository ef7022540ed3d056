//! Exec instances, as the Engine API has them: `POST /containers/{id}/exec` makes one (the
//! command and its options, checked against a running container), `POST /exec/{id}/start`
//! runs it with [`Runtime::exec_container`] — detached, or on the hijacked connection
//! (multiplexed 8-byte frames unless it has a terminal, the client's bytes to its stdin) —
//! and `GET /exec/{id}/json` reports it (`Running`, `ExitCode`), which is how the docker CLI
//! and docker-py read an exec's status. The instances live in this process, as dockerd's do.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use serde_json::json;

use super::containers::find;
use super::ctx::{Ctx, Reply};
use super::wire::{self, ApiError, ApiResult};
use crate::container::{ExecConfig, ExecIo};
use crate::runtime::Runtime;
use crate::term::WindowSizes;

/// At most this many exec instances are kept (the oldest finished ones go first).
const MAX_INSTANCES: usize = 1024;

/// `POST /containers/{id}/exec`'s body (the fields read; the rest must be zero).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Create {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: String,
    working_dir: String,
    privileged: bool,
    detach_keys: String,
}

/// One exec instance.
#[derive(Debug, Clone)]
struct Instance {
    /// The runtime's root (an instance is only for the runtime it was made on).
    root: std::path::PathBuf,
    container: String,
    cfg: ExecConfig,
    attach: [bool; 2],
    running: bool,
    exit_code: Option<i32>,
    started: bool,
    /// Where `POST /exec/{id}/resize` sends window sizes while it runs with a terminal.
    sizes: Option<WindowSizes>,
}

fn instances() -> &'static Mutex<HashMap<String, Instance>> {
    static ALL: OnceLock<Mutex<HashMap<String, Instance>>> = OnceLock::new();
    ALL.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, Instance>> {
    instances().lock().unwrap_or_else(|e| e.into_inner())
}

/// The instance `id` of runtime `rt` (404 when none).
fn get(rt: &Runtime, id: &str) -> ApiResult<Instance> {
    lock()
        .get(id)
        .filter(|i| i.root == rt.root())
        .cloned()
        .ok_or_else(|| ApiError::new(404, format!("No such exec instance: {id}")))
}

fn update(id: &str, f: impl FnOnce(&mut Instance)) {
    if let Some(i) = lock().get_mut(id) {
        f(i);
    }
}

/// `POST /containers/{id}/exec`.
pub fn create(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    let body: Create = ctx.json()?;
    if body.privileged {
        return Err(ApiError::bad(
            "Privileged: an exec has exactly its container's confinement here, never more",
        ));
    }
    if !body.detach_keys.is_empty() {
        return Err(ApiError::bad("DetachKeys are not supported"));
    }
    let cmd = body.cmd.unwrap_or_default();
    if cmd.is_empty() {
        return Err(ApiError::bad("No exec command specified"));
    }
    if !c.inspect().state.running {
        return Err(ApiError::new(
            409,
            format!("Container {} is not running", c.id),
        ));
    }
    let none_if_empty = |s: String| (!s.is_empty()).then_some(s);
    let cfg = ExecConfig {
        cmd,
        user: none_if_empty(body.user),
        env: body.env.unwrap_or_default(),
        workdir: none_if_empty(body.working_dir),
        tty: body.tty,
        stdin: body.attach_stdin,
        detach: false,
        tty_size: None,
    };
    let exec_id = crate::ids::generate()?;
    let mut all = lock();
    if all.len() >= MAX_INSTANCES {
        let done: Vec<String> = all
            .iter()
            .filter(|(_, i)| !i.running)
            .map(|(k, _)| k.clone())
            .collect();
        for k in done.iter().take(all.len() + 1 - MAX_INSTANCES) {
            all.remove(k);
        }
    }
    all.insert(
        exec_id.clone(),
        Instance {
            root: ctx.rt.root().to_path_buf(),
            container: c.id.clone(),
            cfg,
            attach: [body.attach_stdout, body.attach_stderr],
            running: false,
            exit_code: None,
            started: false,
            sizes: None,
        },
    );
    Ok(Reply::Json(201, json!({"Id": exec_id})))
}

/// `POST /exec/{id}/start` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Start {
    detach: bool,
    tty: bool,
    console_size: Option<[u16; 2]>,
}

/// `POST /exec/{id}/start`: detached (200 once started), or on the hijacked connection until
/// the program exits.
pub fn start(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let mut inst = get(ctx.rt, id)?;
    let body: Start = ctx.json()?;
    if inst.started {
        return Err(ApiError::new(
            409,
            format!("Exec {id} has already been started"),
        ));
    }
    let c = find(ctx.rt, &inst.container)?;
    inst.cfg.tty |= body.tty;
    inst.cfg.detach = body.detach;
    if let Some([h, w]) = body.console_size {
        inst.cfg.tty_size = Some((h, w));
    }
    // An attached terminal follows `POST /exec/{id}/resize` while it runs.
    let sizes = (inst.cfg.tty && !body.detach)
        .then(WindowSizes::new)
        .transpose()
        .map_err(|e| ApiError::new(500, format!("making the exec's resize feed: {e}")))?;
    inst.sizes = sizes.clone();
    update(id, |i| {
        (i.started, i.running, i.sizes) = (true, true, sizes)
    });
    if body.detach {
        return detached(ctx, &c, &inst, id);
    }
    let ctype = if inst.cfg.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let upgrade = ctx
        .req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("tcp"));
    let head = if upgrade {
        wire::head(
            101,
            &[
                ("Content-Type", ctype),
                ("Connection", "Upgrade"),
                ("Upgrade", "tcp"),
            ],
            None,
        )
    } else {
        wire::head(200, &[("Content-Type", ctype)], None)
    };
    let mut sock = ctx.sock;
    sock.write_all(&head).map_err(io_err)?;
    let pending = ctx.input.take_pending();
    let status = attached(ctx, &c, &inst, pending);
    if let Err(e) = &status {
        // The head is sent: the error goes on the program's stderr (docker's exec prints
        // the same), and its code is 126.
        let msg = format!("{e}\n");
        let mut frame = Vec::new();
        if !inst.cfg.tty {
            frame.extend_from_slice(&[2, 0, 0, 0]);
            frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        }
        frame.extend_from_slice(msg.as_bytes());
        let _ = sock.write_all(&frame);
    }
    let code = status.unwrap_or(126);
    update(id, |i| (i.running, i.exit_code) = (false, Some(code)));
    Ok(Reply::Sent)
}

/// A detached start: 200 once the program runs, its output discarded.
fn detached(
    ctx: &Ctx<'_>,
    c: &Arc<crate::container::Container>,
    inst: &Instance,
    id: &str,
) -> ApiResult<Reply> {
    let null = File::options()
        .write(true)
        .open("/dev/null")
        .map_err(|e| ApiError::new(500, format!("opening /dev/null: {e}")))?;
    let io = ExecIo {
        stdin: None,
        stdout: null.try_clone().map_err(io_err)?,
        stderr: null,
        sizes: None,
    };
    let status = ctx.rt.exec_container(c, &inst.cfg, io);
    // Started: its end is not watched (docker reports a detached exec's code later).
    update(id, |i| i.running = false);
    status?;
    Ok(Reply::Empty(200))
}

/// The program's run on the hijacked connection: its output framed (or raw with a terminal)
/// through pipes, the client's bytes (those read with the head first) to its stdin.
fn attached(
    ctx: &Ctx<'_>,
    c: &Arc<crate::container::Container>,
    inst: &Instance,
    pending: Vec<u8>,
) -> crate::error::Result<i32> {
    let pipe = || -> crate::error::Result<(File, File)> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| crate::error::Error::errno("making a pipe", e))?;
        Ok((File::from(r), File::from(w)))
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let stdin = if inst.cfg.stdin {
        let (in_r, mut in_w) = pipe()?;
        let client = ctx
            .sock
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| crate::error::Error::io("duplicating the connection", e))?;
        std::thread::spawn(move || {
            let _ = in_w.write_all(&pending);
            let _ = std::io::copy(&mut File::from(client), &mut in_w);
        });
        Some(in_r)
    } else {
        None
    };
    let io = ExecIo {
        stdin,
        stdout: out_w,
        stderr: err_w,
        sizes: inst.sizes.clone(),
    };
    let tty = inst.cfg.tty;
    let [want_out, want_err] = inst.attach;
    let sock = ctx.sock;
    std::thread::scope(|s| {
        let relay = |r: File, kind: u8, wanted: bool| {
            s.spawn(move || relay(r, sock, (!tty).then_some(kind), wanted))
        };
        let a = relay(out_r, 1, want_out);
        let b = relay(err_r, 2, want_err);
        let status = ctx.rt.exec_container(c, &inst.cfg, io);
        let _ = (a.join(), b.join());
        status
    })
}

/// Copy one of the program's streams to the client, framed as `kind` (raw when None); a
/// stream the client did not attach is read and dropped.
fn relay(mut from: File, sock: &crate::server::addr::Stream, kind: Option<u8>, wanted: bool) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut to = sock;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !wanted {
            continue;
        }
        let sent = match kind {
            None => to.write_all(&buf[..n]),
            Some(k) => {
                let mut frame = Vec::with_capacity(8 + n);
                frame.extend_from_slice(&[k, 0, 0, 0]);
                frame.extend_from_slice(&(n as u32).to_be_bytes());
                frame.extend_from_slice(&buf[..n]);
                to.write_all(&frame)
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

fn io_err(e: std::io::Error) -> ApiError {
    ApiError::new(500, format!("writing to the client: {e}"))
}

/// `GET /exec/{id}/json`.
pub fn inspect(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let i = get(ctx.rt, id)?;
    Ok(Reply::Json(
        200,
        json!({
            "ID": id,
            "Running": i.running,
            "ExitCode": i.exit_code,
            "ProcessConfig": {
                "tty": i.cfg.tty,
                "entrypoint": i.cfg.cmd[0],
                "arguments": &i.cfg.cmd[1..],
                "privileged": false,
                "user": i.cfg.user.clone().unwrap_or_default(),
            },
            "OpenStdin": i.cfg.stdin,
            "OpenStdout": i.attach[0],
            "OpenStderr": i.attach[1],
            "CanRemove": false,
            "ContainerID": i.container,
            "DetachKeys": "",
            "Pid": 0,
        }),
    ))
}

/// `POST /exec/{id}/resize`: the size for an exec not started yet, or the new size of a
/// running one's terminal (applied by the exec as its client's window changes).
pub fn resize(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let i = get(ctx.rt, id)?;
    let num = |k: &str| ctx.req.query(k).and_then(|v| v.parse::<u16>().ok());
    let (Some(h), Some(w)) = (num("h"), num("w")) else {
        return Err(ApiError::bad("resize needs h and w"));
    };
    if !i.started {
        update(id, |i| i.cfg.tty_size = Some((h, w)));
        return Ok(Reply::Empty(200));
    }
    match (&i.sizes, i.running) {
        (Some(sizes), true) => {
            sizes.send(h, w);
            Ok(Reply::Empty(200))
        }
        (None, true) => Err(ApiError::bad(format!(
            "exec {id} has no terminal to resize"
        ))),
        (_, false) => Err(ApiError::new(409, format!("exec {id} is not running"))),
    }
}
