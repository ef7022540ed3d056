//! The streaming endpoints: `wait` (the head at once, the body at the exit), `logs`,
//! `attach` (a hijacked connection: output multiplexed with 8-byte headers unless the
//! container has a terminal, stdin from the client), `events`.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::containers::find;
use super::ctx::{Ctx, Reply};
use super::wire::{self, ApiError, ApiResult};
use crate::container::logtimes::{tail_offsets, LogWriter};
use crate::container::{stream, Container, Event};
use crate::events::Subscription;
use crate::server::addr::Stream;

fn io_err(e: std::io::Error) -> ApiError {
    ApiError::new(500, format!("writing to the client: {e}"))
}

/// What tells that the client left: a hang-up or an error, and with `half` its half-close too
/// (a TCP peer's close is only a half-close until we write). An attached client half-closes
/// when its input ends (or at once without one) and still reads: attach asks `half` false,
/// so over TCP it notices a client that left at its next write or the run's end.
fn gone_flags(half: bool) -> nix::poll::PollFlags {
    if half {
        nix::poll::PollFlags::from_bits_retain(libc::POLLRDHUP)
    } else {
        nix::poll::PollFlags::empty()
    }
}

/// Whether the client left (see [`gone_flags`]).
fn hung_up(sock: &Stream, timeout_ms: u16, half: bool) -> bool {
    use nix::poll::{poll, PollFd, PollTimeout};
    let mut fds = [PollFd::new(sock.as_fd(), gone_flags(half))];
    match poll(&mut fds, PollTimeout::from(timeout_ms)) {
        Ok(0) => false,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// Events of the runtime about container `id` with one of `actions`, from now on.
fn watch(
    ctx: &Ctx<'_>,
    id: &str,
    actions: &'static [&'static str],
) -> ApiResult<(Subscription, mpsc::Receiver<&'static str>)> {
    let (tx, rx) = mpsc::channel();
    let id = id.to_string();
    let sub = Subscription::start(ctx.rt.events(), move |e| {
        if e.kind == "container" && e.actor.id == id && actions.contains(&e.action) {
            return tx.send(e.action).is_ok();
        }
        true
    })?;
    Ok((sub, rx))
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`: the head at once
/// (the CLI sends it before the start and waits for the head), `{"StatusCode": N}` at the
/// exit (or removal).
pub fn wait(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let condition = ctx.req.query("condition").unwrap_or("").to_string();
    let actions: &'static [&'static str] = match condition.as_str() {
        "" | "not-running" => &["die"],
        "next-exit" => &["die"],
        "removed" => &["destroy"],
        other => {
            return Err(ApiError::bad(format!(
                "invalid condition {other:?}: want not-running, next-exit or removed"
            )))
        }
    };
    let c = find(ctx.rt, id)?;
    let (sub, rx) = watch(ctx, &c.id, actions)?;
    let mut sock = ctx.sock;
    sock.write_all(&wire::head(
        200,
        &[("Content-Type", "application/json")],
        None,
    ))
    .map_err(io_err)?;
    let done_already = match condition.as_str() {
        "" | "not-running" => !c.is_running(),
        "removed" => ctx.rt.container(&c.id).is_err(),
        _ => false,
    };
    if !done_already {
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(_) => break,
                Err(mpsc::RecvTimeoutError::Timeout) if !hung_up(ctx.sock, 0, true) => {}
                // The client left (or the bus ended the subscription): nothing to answer.
                Err(_) => return Ok(Reply::Sent),
            }
        }
    }
    drop(sub);
    let code = c.inspect().state.exit_code;
    let body = json!({"StatusCode": code, "Error": null});
    let _ = sock.write_all(format!("{body}\n").as_bytes());
    Ok(Reply::Sent)
}

/// One of the container's streams to the client: each write one frame of the multiplexed
/// format (`[kind, 0, 0, 0, len BE]` then the bytes), or raw for a terminal.
struct Framed<'a> {
    sock: &'a Stream,
    kind: Option<u8>,
}

impl Write for Framed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut s = self.sock;
        match self.kind {
            None => s.write_all(buf)?,
            Some(k) => {
                let mut frame = Vec::with_capacity(8 + buf.len());
                frame.extend_from_slice(&[k, 0, 0, 0]);
                frame.extend_from_slice(&(buf.len() as u32).to_be_bytes());
                frame.extend_from_slice(buf);
                s.write_all(&frame)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Follow `readers` into `sinks` until `done`, or the client leaves (a watcher signals
/// `cancel`; `half` as in [`gone_flags`]).
fn follow_until(
    sock: &Stream,
    readers: &mut [std::fs::File],
    clients: &mut [&mut dyn Write],
    done: &Event,
    half: bool,
) -> ApiResult<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let cancel = Event::new()?;
    let over = Event::new()?;
    std::thread::scope(|s| {
        s.spawn(|| loop {
            let mut fds = [
                PollFd::new(sock.as_fd(), gone_flags(half)),
                PollFd::new(over.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
                Ok(_) => {}
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                cancel.signal();
            }
            return;
        });
        let _ = stream::follow(readers, clients, done, Some(&cancel));
        over.signal();
    });
    Ok(())
}

/// The log readers and sinks for the streams asked, and each one's log file.
#[allow(clippy::type_complexity)]
fn outputs<'a>(
    c: &Container,
    sock: &'a Stream,
    want: [bool; 2],
    offsets: [Option<u64>; 2],
) -> ApiResult<(Vec<std::fs::File>, Vec<Framed<'a>>, Vec<std::path::PathBuf>)> {
    let tty = c.record().config.tty;
    let mut readers = Vec::new();
    let mut sinks = Vec::new();
    let mut paths = Vec::new();
    let logs = [(c.stdout_log(), 1u8), (c.stderr_log(), 2u8)];
    for (i, (path, kind)) in logs.into_iter().enumerate() {
        if !want[i] {
            continue;
        }
        if let Some(r) = stream::open_follow(&path, offsets[i])? {
            readers.push(r);
            sinks.push(Framed {
                sock,
                kind: (!tty).then_some(kind),
            });
            paths.push(path);
        }
    }
    Ok((readers, sinks, paths))
}

/// An event already signalled: a stream that copies what there is and ends.
fn finished() -> ApiResult<Arc<Event>> {
    let e = Event::new()?;
    e.signal();
    Ok(Arc::new(e))
}

/// `GET /containers/{id}/logs` (`stdout`, `stderr`, `follow`, `tail`, `timestamps`: each
/// line stamped from the logs' time index, as `docker logs -t`).
pub fn logs(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    let stamp = ctx.req.flag("timestamps");
    let want = [ctx.req.flag("stdout"), ctx.req.flag("stderr")];
    if !want[0] && !want[1] {
        return Err(ApiError::bad(
            "you must choose at least one stream: stdout or stderr",
        ));
    }
    let tail = match ctx.req.query("tail") {
        None | Some("" | "all") => -1,
        Some(_) => ctx.req.int("tail", -1)?,
    };
    // As docker: the last lines of the whole log, whichever streams are then sent.
    let offsets = match usize::try_from(tail) {
        Ok(n) => tail_offsets([&c.stdout_log(), &c.stderr_log()], n)?.map(Some),
        Err(_) => [Some(0), Some(0)],
    };
    let (mut readers, mut sinks, paths) = outputs(&c, ctx.sock, want, offsets)?;
    let starts: Vec<u64> = readers
        .iter_mut()
        .map(|r| std::io::Seek::stream_position(r).unwrap_or(0))
        .collect();
    let done = match c.exit_event().filter(|_| ctx.req.flag("follow")) {
        Some(done) => done,
        None => finished()?,
    };
    let mut sock = ctx.sock;
    sock.write_all(&wire::head(
        200,
        &[("Content-Type", "application/vnd.docker.raw-stream")],
        None,
    ))
    .map_err(io_err)?;
    let mut writers: Vec<LogWriter<'_>> = sinks
        .iter_mut()
        .zip(paths.iter().zip(&starts))
        .map(|(s, (p, &at))| LogWriter::new(s, p, at, stamp))
        .collect();
    let mut clients: Vec<&mut dyn Write> =
        writers.iter_mut().map(|w| w as &mut dyn Write).collect();
    follow_until(ctx.sock, &mut readers, &mut clients, &done, true)?;
    drop(clients);
    for w in &mut writers {
        let _ = w.finish();
    }
    Ok(Reply::Sent)
}

/// The container's state when an attach began: whether it ran, and when its run started.
struct Before {
    running: bool,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The run's end once the container runs: its exit event, or a finished one when the run
/// attached to ended already (the one that was running at the attach, or a later one). Waits
/// for a start when it was not running; None when it was removed first or the client left.
fn run_end(ctx: &Ctx<'_>, c: &Container, before: &Before) -> ApiResult<Option<Arc<Event>>> {
    let (sub, rx) = watch(ctx, &c.id, &["start", "destroy"])?;
    loop {
        // A stopped container may still hold its last run's (signalled) exit event.
        if c.is_running() {
            if let Some(done) = c.exit_event() {
                return Ok(Some(done));
            }
        }
        let now = c.inspect().state;
        if !now.running && (before.running || now.started_at != before.started_at) {
            drop(sub);
            return finished().map(Some);
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok("destroy") => return Ok(None),
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) if !hung_up(ctx.sock, 0, false) => {}
            Err(_) => return Ok(None),
        }
    }
}

/// `POST /containers/{id}/attach` (`stream`, `stdin`, `stdout`, `stderr`; `logs` refused):
/// `101 UPGRADED` when the client asks `Upgrade: tcp`, else 200, then the raw stream.
pub fn attach(ctx: &mut Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let c = find(ctx.rt, id)?;
    if ctx.req.flag("logs") {
        return Err(ApiError::bad(
            "attach with logs=1 is not supported: use /logs",
        ));
    }
    let want = [ctx.req.flag("stdout"), ctx.req.flag("stderr")];
    let stdin = ctx.req.flag("stdin");
    let rec = c.record();
    if stdin && !rec.config.open_stdin {
        return Err(ApiError::new(
            409,
            format!(
                "container {} was created without an open stdin (OpenStdin)",
                c.id
            ),
        ));
    }
    let state = c.inspect().state;
    let before = Before {
        running: state.running,
        started_at: state.started_at,
    };
    // From now: what the container writes after the attach.
    let offsets = crate::container::output::offsets(&c);
    let (mut readers, mut sinks, _) =
        outputs(&c, ctx.sock, want, [Some(offsets.0), Some(offsets.1)])?;
    let upgrade = ctx
        .req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("tcp"));
    let ctype = ("Content-Type", "application/vnd.docker.raw-stream");
    let head = if upgrade {
        wire::head(
            101,
            &[ctype, ("Connection", "Upgrade"), ("Upgrade", "tcp")],
            None,
        )
    } else {
        wire::head(200, &[ctype], None)
    };
    let mut sock = ctx.sock;
    sock.write_all(&head).map_err(io_err)?;
    let pending = ctx.input.take_pending();
    let Some(done) = run_end(ctx, &c, &before)? else {
        return Ok(Reply::Sent);
    };
    if stdin {
        feed(ctx.sock, &c, pending, &done)?;
    }
    let mut clients: Vec<&mut dyn Write> = sinks.iter_mut().map(|w| w as &mut dyn Write).collect();
    follow_until(ctx.sock, &mut readers, &mut clients, &done, false)?;
    Ok(Reply::Sent)
}

/// Feed the client's bytes (those read with the head first) to the container's stdin on a
/// thread of its own; it ends with the client's input or the run.
fn feed(sock: &Stream, c: &Arc<Container>, pending: Vec<u8>, done: &Arc<Event>) -> ApiResult<()> {
    if let Some(target) = c.stdin() {
        if !pending.is_empty() {
            let _ = (&*target).write_all(&pending);
        }
    }
    let client = std::fs::File::from(
        sock.as_fd()
            .try_clone_to_owned()
            .map_err(|e| ApiError::new(500, format!("duplicating the connection: {e}")))?,
    );
    let (c, done) = (c.clone(), done.clone());
    std::thread::Builder::new()
        .name("docker-attach-stdin".into())
        .spawn(move || stream::feed_stdin(&c, client, &[&done], true))
        .map_err(|e| ApiError::new(500, format!("starting the stdin thread: {e}")))?;
    Ok(())
}

/// `GET /events`: one JSON object per line as they happen, until the client leaves (`since`
/// and `until` are refused: the runtime keeps no history).
pub fn events(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    for q in ["since", "until"] {
        if ctx.req.query(q).is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::bad(format!(
                "{q} is not supported: the runtime keeps no event history"
            )));
        }
    }
    let (tx, rx) = mpsc::channel::<String>();
    let sub = Subscription::start(ctx.rt.events(), move |e| {
        let mut v = serde_json::to_value(e).unwrap_or_default();
        // The older fields the CLI still reads.
        v["status"] = json!(e.action);
        v["id"] = json!(e.actor.id);
        v["from"] = json!(e.actor.attributes.get("image").cloned().unwrap_or_default());
        tx.send(v.to_string()).is_ok()
    })?;
    let mut sock = ctx.sock;
    sock.write_all(&wire::head(
        200,
        &[("Content-Type", "application/json")],
        None,
    ))
    .map_err(io_err)?;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if sock.write_all(format!("{line}\n").as_bytes()).is_err() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !hung_up(ctx.sock, 0, true) => {}
            Err(_) => break,
        }
    }
    drop(sub);
    Ok(Reply::Sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_stream_and_length() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let sock = Stream::Unix(a);
        Framed {
            sock: &sock,
            kind: Some(2),
        }
        .write_all(b"err")
        .unwrap();
        Framed {
            sock: &sock,
            kind: None,
        }
        .write_all(b"raw")
        .unwrap();
        drop(sock);
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut &b, &mut got).unwrap();
        assert_eq!(got, b"\x02\x00\x00\x00\x00\x00\x00\x03errraw");
    }
}
