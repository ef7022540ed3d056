//! The client end of rcli/2: connect, send the request, stream stdin, and split the framed
//! answer into stdout, stderr and the exit status.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::path::Path;

use super::addr::{Addr, Stream};
use super::protocol::{self, FrameKind, InputKind, RequestOptions, FRAME_HEADER_LEN};
use crate::container::poll_in;
use crate::error::{Error, ErrorKind, Result};
use crate::term::WindowSizes;

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
/// `save -o FILE` and `load -i FILE` name the client's files: it writes and reads them
/// itself, and refuses an archive to or from a terminal.
pub fn run(addr: &Addr, args: &[String]) -> Result<Turn> {
    let sock = match connect(addr) {
        Ok(sock) => sock,
        Err(ConnectError::Unreachable(why)) => return Ok(Turn::Unreachable(why)),
        Err(ConnectError::Failed(e)) => return Err(e),
    };
    let args = &resolve_env_flags(args, |name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    });
    let files = ClientFiles::of(args)?;
    let tty_size = crate::term::window_size(&io::stdin());
    let options = RequestOptions {
        tty_size,
        ttys: [
            nix::unistd::isatty(io::stdout()).unwrap_or(false),
            nix::unistd::isatty(io::stderr()).unwrap_or(false),
        ],
        // A terminal's window changes travel beside its keystrokes.
        stdin_frames: tty_size.is_some()
            && files.input.is_none()
            && super::terminal::wants_raw_terminal(args),
    };
    let _raw = super::terminal::raw_terminal_for(args)?;
    let command = files.args.first().map(String::as_str);
    let input: Box<dyn Read + Send> = match &files.input {
        Some(path) => {
            Box::new(File::open(path).map_err(|e| Error::io_path("opening", Path::new(path), e))?)
        }
        None if command == Some("load") && io::stdin().is_terminal() => {
            return Err(Error::invalid(
                "requested load from stdin, but stdin is a terminal: use -i FILE or redirect",
            ))
        }
        None => Box::new(io::stdin()),
    };
    let Some(path) = &files.output else {
        if command == Some("save") && io::stdout().is_terminal() {
            return Err(Error::invalid(
                "cowardly refusing to save to a terminal: use the -o flag or redirect",
            ));
        }
        return call(sock, &files.args, &options, input, &mut io::stdout()).map(Turn::Ran);
    };
    call_into_file(sock, &files.args, &options, input, Path::new(path)).map(Turn::Ran)
}

/// [`call`] with stdout going to the client's file `path`: written beside it, renamed into
/// place once the command succeeded, removed otherwise.
fn call_into_file(
    sock: Stream,
    args: &[String],
    options: &RequestOptions,
    input: Box<dyn Read + Send>,
    path: &Path,
) -> Result<i32> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let mut out = File::create(&tmp).map_err(|e| Error::io_path("creating", &tmp, e))?;
    let status = call(sock, args, options, input, &mut out);
    let kept = match status {
        Ok(0) => out
            .sync_all()
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::io_path("writing", path, e)),
        _ => Ok(()),
    };
    if !matches!((&status, &kept), (Ok(0), Ok(()))) {
        let _ = std::fs::remove_file(&tmp);
    }
    kept?;
    status
}

/// The files a command names that are the client's to read or write: `save -o FILE` and
/// `load -i FILE`. The daemon gets the command without them and streams the archive.
#[derive(Debug, PartialEq, Eq)]
struct ClientFiles {
    args: Vec<String>,
    input: Option<String>,
    output: Option<String>,
}

impl ClientFiles {
    fn of(args: &[String]) -> Result<ClientFiles> {
        let mut files = ClientFiles {
            args: args.to_vec(),
            input: None,
            output: None,
        };
        let (short, long) = match args.first().map(String::as_str) {
            Some("save") => ("-o", "--output"),
            Some("load") => ("-i", "--input"),
            _ => return Ok(files),
        };
        let mut kept = vec![args[0].clone()];
        let mut rest = args[1..].iter();
        let mut file = None;
        while let Some(a) = rest.next() {
            if a == "--" {
                kept.push(a.clone());
                kept.extend(rest.cloned());
                break;
            }
            let inline = (a.strip_prefix(&format!("{short}=")))
                .or_else(|| a.strip_prefix(&format!("{long}=")));
            if let Some(v) = inline {
                file = Some(v.to_string());
            } else if a == short || a == long {
                let v = rest
                    .next()
                    .ok_or_else(|| Error::invalid(format!("flag {a} needs a value")))?;
                file = Some(v.clone());
            } else {
                kept.push(a.clone());
            }
        }
        files.args = kept;
        if short == "-o" {
            files.output = file;
        } else {
            files.input = file;
        }
        Ok(files)
    }
}

/// `run` and `exec` with `-e NAME` (no `=`): docker's client sends the value `NAME` has in
/// its environment (`lookup`), and leaves the flag out when it is unset there; the daemon's
/// environment is not the user's. Other arguments go as they are.
fn resolve_env_flags(args: &[String], lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
    if !matches!(args.first().map(String::as_str), Some("run" | "exec")) {
        return args.to_vec();
    }
    let mut out = vec![args[0].clone()];
    let mut rest = args[1..].iter();
    while let Some(a) = rest.next() {
        if a == "--" || a == "-" || !a.starts_with('-') {
            out.push(a.clone());
            out.extend(rest.cloned());
            break;
        }
        let body = a.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let is_inline = inline.is_some();
        let value = match inline {
            None if super::terminal::takes_value(name) => rest.next().cloned(),
            v => v,
        };
        let is_env = name == "env" || (name == "e" && !a.starts_with("--"));
        match value {
            Some(v) if is_env && !v.contains('=') && !v.is_empty() => {
                if let Some(val) = lookup(&v) {
                    let flag = a.split('=').next().unwrap_or(a);
                    out.extend([flag.to_string(), format!("{v}={val}")]);
                }
            }
            Some(v) if !is_inline => out.extend([a.clone(), v]),
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Copy stdin (or the file read instead) to the daemon until its end, then half-close (v0.1.0's `CloseWrite`). Runs on a
/// detached thread: it may sit in a read of a terminal when the command ends, and the process
/// then exits under it.
fn pump_stdin(mut input: Box<dyn Read + Send>, sock: Stream) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
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

/// [`pump_stdin`] with framed stdin: stdin's data and end, and the terminal's window sizes
/// as `sizes` delivers them, until the daemon is gone (the process exits under it at the
/// command's end, like [`pump_stdin`]'s). `input` is the terminal on stdin, whose descriptor
/// is polled; reads ask for more than its buffer holds, so they never leave bytes there.
fn pump_framed(mut input: Box<dyn Read + Send>, sizes: WindowSizes, sock: Stream) {
    let stdin = io::stdin();
    let h = FRAME_HEADER_LEN;
    let mut buf = vec![0u8; h + 256 * 1024];
    let mut open = true;
    loop {
        let mut fds = vec![sizes.as_fd()];
        if open {
            fds.push(stdin.as_fd());
        }
        let Ok(ready) = poll_in(&fds, -1) else {
            return;
        };
        let mut frame = Vec::new();
        if ready[0] {
            if let Some((rows, cols)) = sizes.take() {
                frame.extend_from_slice(&protocol::window_size_frame(rows, cols));
            }
        }
        if open && ready[1] {
            match input.read(&mut buf[h..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A closed or unreadable stdin is an empty one.
                Ok(0) | Err(_) => {
                    open = false;
                    frame.extend_from_slice(&protocol::input_header(InputKind::StdinEnd, 0));
                }
                Ok(n) => {
                    buf[..h].copy_from_slice(&protocol::input_header(InputKind::Stdin, n as u32));
                    frame.extend_from_slice(&buf[..h + n]);
                }
            }
        }
        if (&sock).write_all(&frame).is_err() {
            return;
        }
    }
}

fn write_out(w: &mut (impl Write + ?Sized), data: &[u8]) -> io::Result<()> {
    w.write_all(data)?;
    w.flush()
}

/// Send `input` to the daemon on a thread: raw, or framed with the terminal's window sizes
/// when `options` say so.
fn start_stdin(sock: &Stream, options: &RequestOptions, input: Box<dyn Read + Send>) -> Result<()> {
    let writer = sock
        .try_clone()
        .map_err(|e| Error::io("setting up the connection", e))?;
    let sizes = match options.stdin_frames {
        true => Some(
            WindowSizes::watch(&io::stdin())
                .map_err(|e| Error::io("watching the terminal's size", e))?,
        ),
        false => None,
    };
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || match sizes {
            Some(sizes) => pump_framed(input, sizes, writer),
            None => pump_stdin(input, writer),
        })
        .map_err(|e| Error::io("starting the stdin thread", e))?;
    Ok(())
}

/// Run `args` on the daemon behind `sock` with `input` as its stdin and return the command's
/// exit status. stdout frames go to `output`, stderr frames to this process's stderr.
pub fn call(
    sock: Stream,
    args: &[String],
    options: &RequestOptions,
    input: Box<dyn Read + Send>,
    output: &mut dyn Write,
) -> Result<i32> {
    let request = protocol::encode_framed_request(args, options);
    (&sock)
        .write_all(&request)
        .map_err(|e| Error::io("sending the request to the daemon", e))?;
    start_stdin(&sock, options, input)?;

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
                if write_out(output, &payload).is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn of(args: &[&str]) -> ClientFiles {
        ClientFiles::of(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn env_names_without_values_are_resolved_by_the_client() {
        let lookup = |n: &str| (n == "SET").then(|| "a b".to_string());
        let r = |a: &[&str]| {
            let v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            resolve_env_flags(&v, lookup)
        };
        assert_eq!(
            r(&[
                "exec",
                "-e",
                "SET",
                "-e",
                "UNSET",
                "--env=SET",
                "-eK=V",
                "c",
                "env"
            ]),
            ["exec", "-e", "SET=a b", "--env", "SET=a b", "-eK=V", "c", "env"]
        );
        assert_eq!(
            r(&["run", "-u", "SET", "--env", "K=V", "-t", "img", "-e", "SET"]),
            ["run", "-u", "SET", "--env", "K=V", "-t", "img", "-e", "SET"],
            "other flags' values, and the program's own arguments, stay"
        );
        assert_eq!(r(&["ps", "-e", "SET"]), ["ps", "-e", "SET"]);
    }

    #[test]
    fn save_and_load_files_stay_with_the_client() {
        let f = of(&["save", "-o", "x.tar", "busybox"]);
        assert_eq!(f.args, ["save", "busybox"]);
        assert_eq!(f.output.as_deref(), Some("x.tar"));
        assert_eq!(
            of(&["save", "--output=y", "a"]).output.as_deref(),
            Some("y")
        );
        let f = of(&["load", "-q", "--input", "z.tar"]);
        assert_eq!(
            (f.args, f.input.as_deref()),
            (vec!["load".into(), "-q".into()], Some("z.tar"))
        );
        // Other commands, and what follows `--`, are left alone.
        assert_eq!(of(&["run", "-o", "x"]).args, ["run", "-o", "x"]);
        assert_eq!(of(&["save", "--", "-o"]).output, None);
        let e = ClientFiles::of(&["load".to_string(), "-i".to_string()]).unwrap_err();
        assert!(e.message().contains("-i needs a value"), "{e}");
    }
}
