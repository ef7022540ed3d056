//! The client end of rcli/2: connect, send the request, stream stdin, and split the framed
//! answer into stdout, stderr and the exit status.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;

use super::addr::{Addr, Stream};
use super::protocol::{self, FrameKind, RequestOptions, FRAME_HEADER_LEN};
use crate::error::{Error, ErrorKind, Result};

/// The exit status when the client's own stdout is closed under it (as a shell reports a
/// process killed by SIGPIPE).
pub const STATUS_STDOUT_CLOSED: i32 = 128 + libc::SIGPIPE;

/// Why no connection was made.
#[derive(Debug)]
pub enum ConnectError {
    /// No daemon listens there (no socket, or connection refused): the caller may run the
    /// command in-process instead. The message says what was tried and what happened.
    Unreachable(String),
    /// Something else (e.g. permission denied on the socket): an error to show.
    Failed(Error),
}

/// Connect to the daemon at `addr`.
pub fn connect(addr: &Addr) -> std::result::Result<Stream, ConnectError> {
    Stream::connect(addr).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ConnectError::Unreachable(
            Error::io(format!("connecting to {addr}"), e)
                .message()
                .to_string(),
        ),
        _ => ConnectError::Failed(Error::io(format!("connecting to {addr}"), e)),
    })
}

/// The address that asks for no daemon: the command runs in the client's process.
pub const NO_DAEMON: &str = "none";

/// The daemon a client talks to: the one `hosts` names (`-H`, at most one), else
/// `$DOCKER_HOST`, else [`DEFAULT_ADDR`](super::DEFAULT_ADDR); and whether the user named it
/// (`-H` or `DOCKER_HOST`) rather than taking the default. None for [`NO_DAEMON`].
pub fn daemon_addr(hosts: &[String]) -> Result<Option<(Addr, bool)>> {
    let env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let (given, named) = match (hosts, env) {
        ([], None) => (super::addr::DEFAULT_ADDR.to_string(), false),
        ([], Some(env)) => (env, true),
        ([one], _) => (one.clone(), true),
        _ => {
            return Err(Error::invalid(
                "the client talks to one daemon: give -H once",
            ))
        }
    };
    if given == NO_DAEMON {
        return Ok(None);
    }
    Ok(Some((Addr::parse(&given)?, named)))
}

/// What the client's turn with a daemon came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// The daemon ran the command: its exit status.
    Ran(i32),
    /// No daemon listens there; the message says what was tried. The caller may run the
    /// command in-process instead (v0.1.0's fallback).
    Unreachable(String),
}

/// The client's turn: connect to the daemon at `addr` and run `args` there with this
/// process's stdin, stdout and stderr, sending the terminal's size when stdin is one and
/// putting the terminal in raw mode for `run -t` and `attach` (restored on every way out).
pub fn run(addr: &Addr, args: &[String]) -> Result<Turn> {
    let sock = match connect(addr) {
        Ok(sock) => sock,
        Err(ConnectError::Unreachable(why)) => return Ok(Turn::Unreachable(why)),
        Err(ConnectError::Failed(e)) => return Err(e),
    };
    let options = RequestOptions {
        tty_size: crate::term::window_size(&io::stdin()),
        ttys: [
            nix::unistd::isatty(io::stdout()).unwrap_or(false),
            nix::unistd::isatty(io::stderr()).unwrap_or(false),
        ],
    };
    let _raw = super::terminal::raw_terminal_for(args)?;
    call(sock, args, &options).map(Turn::Ran)
}

/// Copy stdin to the daemon until its end, then half-close (v0.1.0's `CloseWrite`). Runs on a
/// detached thread: it may sit in a read of a terminal when the command ends, and the process
/// then exits under it.
fn pump_stdin(sock: Stream) {
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A closed or unreadable stdin is an empty one.
            Err(_) => break,
        };
        if (&sock).write_all(&buf[..n]).is_err() {
            // The daemon is done with us; nothing more to send.
            return;
        }
    }
    let _ = sock.shutdown(Shutdown::Write);
}

fn write_out(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    w.write_all(data)?;
    w.flush()
}

/// Run `args` on the daemon behind `sock` and return the command's exit status. stdout and
/// stderr frames go to this process's stdout and stderr.
pub fn call(sock: Stream, args: &[String], options: &RequestOptions) -> Result<i32> {
    let request = protocol::encode_framed_request(args, options);
    (&sock)
        .write_all(&request)
        .map_err(|e| Error::io("sending the request to the daemon", e))?;
    let writer = sock
        .try_clone()
        .map_err(|e| Error::io("setting up the connection", e))?;
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || pump_stdin(writer))
        .map_err(|e| Error::io("starting the stdin thread", e))?;

    let mut r = BufReader::with_capacity(64 * 1024, &sock);
    let mut payload = Vec::new();
    let mut first = true;
    loop {
        let mut h = [0u8; FRAME_HEADER_LEN];
        let got =
            read_full(&mut r, &mut h).map_err(|e| Error::io("reading the daemon's answer", e))?;
        if got < FRAME_HEADER_LEN && !(first && got > 0) {
            return Err(Error::new(
                ErrorKind::Remote,
                "the daemon closed the connection before sending the command's exit status",
            ));
        }
        let header = if got == FRAME_HEADER_LEN {
            protocol::parse_frame_header(&h)
        } else {
            None
        };
        let Some((kind, len)) = header else {
            if first {
                // Not a frame: a refusal (`Error: ...`) sent before framing could start, or a
                // daemon that does not speak rcli/2. Show it as it is.
                let mut rest = h[..got].to_vec();
                if rest.starts_with(b"HTTP/") {
                    // Its status line, for the message.
                    let _ = (&mut r).take(200).read_until(b'\n', &mut rest);
                    return Err(http_answer(&rest));
                }
                let _ = r.read_to_end(&mut rest);
                let _ = write_out(&mut io::stderr().lock(), &rest);
                return Ok(crate::commands::ERROR_STATUS);
            }
            return Err(Error::new(
                ErrorKind::Remote,
                "the daemon sent a malformed frame",
            ));
        };
        first = false;
        payload.resize(len as usize, 0);
        r.read_exact(&mut payload).map_err(|e| {
            Error::io(
                "reading the daemon's answer (the connection ended mid-frame)",
                e,
            )
        })?;
        match kind {
            FrameKind::Stdout => {
                if write_out(&mut io::stdout().lock(), &payload).is_err() {
                    return Ok(STATUS_STDOUT_CLOSED);
                }
            }
            FrameKind::Stderr => {
                let _ = write_out(&mut io::stderr().lock(), &payload);
            }
            FrameKind::Exit => {
                let b: [u8; 4] = payload[..4].try_into().expect("exit frames hold 4 bytes");
                return Ok(i32::from_be_bytes(b));
            }
        }
    }
}

/// The error for a daemon that answered in HTTP: a Docker Engine (dockerd, or another server of
/// its API), which does not speak this client's protocol.
fn http_answer(start: &[u8]) -> Error {
    let status = String::from_utf8_lossy(start);
    Error::new(
        ErrorKind::Remote,
        format!(
            "the daemon answered in HTTP ({:?}...): it is a Docker Engine API server (such as \
             dockerd), not a docker-runtime daemon; use docker's own client with it, or point \
             -H / DOCKER_HOST at a docker-runtime daemon",
            status.trim_end()
        ),
    )
}

/// Read until `buf` is full or the stream ends; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
