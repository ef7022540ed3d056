//! One connection: read the request line (bounded in size and time), run the command through
//! the [`Executor`] with pipes for stdout and stderr, and copy them to the client, raw for a
//! v0.1.0 client or in frames (then the exit status last) for an rcli/2 client.
//!
//! The command reads its stdin straight from the socket (after the request line, which is read
//! without consuming a byte past its newline). A client that disconnects mid-command is noticed
//! (a failed write, or a hang-up on the socket): the pipes are closed so the command's next
//! write fails with EPIPE (SIGPIPE is ignored by the daemon), its stdin reads see the end, and
//! the connection's threads and descriptors go away when the command returns.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, MsgFlags};

use super::addr::Stream;
use super::protocol::{self, FrameKind, InputKind, Request, RequestOptions, MAX_REQUEST_LINE};
use crate::container::{poll_in, Event};
use crate::log::Logger;
use crate::term::WindowSizes;

/// One command to run: the arguments (command name first) and the descriptors it uses. The
/// descriptors are borrowed for the call; the executor duplicates what it keeps.
#[derive(Debug)]
pub struct Call<'a> {
    pub args: &'a [String],
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
    /// The client's terminal size (rows, columns), when it has one.
    pub tty_size: Option<(u16, u16)>,
    /// Whether the client's stdout and stderr are terminals.
    pub ttys: [bool; 2],
    /// The window sizes the client sends while the command runs (framed stdin).
    pub sizes: Option<WindowSizes>,
}

/// Runs commands. The daemon's is [`RuntimeExecutor`](super::RuntimeExecutor), which runs
/// them on its runtime; the tests below use closures.
pub trait Executor: Send + Sync {
    /// Run the command and return its exit status. An error means it could not be started at
    /// all; the message is shown to the client as `Error: MESSAGE` with status 1.
    fn call(&self, call: Call<'_>) -> std::result::Result<i32, String>;

    /// The runtime Engine API (HTTP) requests are served on; `None`: they are answered 501.
    fn runtime(&self) -> Option<&std::sync::Arc<crate::runtime::Runtime>> {
        None
    }
}

/// Limits of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// How long a client may take to send its whole request line.
    pub request_timeout: Duration,
    /// The longest request line accepted.
    pub max_request_line: usize,
    /// The longest Engine API request head, and body read whole (JSON).
    pub max_http_head: usize,
    pub max_http_body: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            request_timeout: Duration::from_secs(10),
            max_request_line: MAX_REQUEST_LINE,
            max_http_head: 64 * 1024,
            max_http_body: 4 << 20,
        }
    }
}

/// Why a request line could not be read.
#[derive(Debug)]
enum LineError {
    TooLong(usize),
    Timeout(Duration),
    Unfinished(usize),
    Io(io::Error),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::TooLong(max) => write!(
                f,
                "the request line is longer than {max} bytes; it was refused"
            ),
            LineError::Timeout(t) => write!(
                f,
                "the request line was not finished within {} s",
                t.as_secs_f64()
            ),
            LineError::Unfinished(n) => write!(
                f,
                "the connection ended after {n} bytes without finishing the request line"
            ),
            LineError::Io(e) => write!(f, "reading the request: {e}"),
        }
    }
}

/// Read the request line, consuming nothing past its newline (peek first, then read exactly
/// up to it) so the rest of the stream is the command's stdin. `Ok(None)`: the client closed
/// without sending anything.
fn read_request_line(
    sock: &Stream,
    max: usize,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, LineError> {
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LineError::Timeout(timeout));
        }
        sock.set_read_timeout(Some(left)).map_err(LineError::Io)?;
        let want = chunk.len().min(max + 1 - line.len());
        let n = match recv(
            sock.as_fd().as_raw_fd(),
            &mut chunk[..want],
            MsgFlags::MSG_PEEK,
        ) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Err(LineError::Timeout(timeout)),
            Err(e) => return Err(LineError::Io(e.into())),
        };
        if n == 0 {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(LineError::Unfinished(line.len()))
            };
        }
        let take = match chunk[..n].iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => n,
        };
        let mut got = 0;
        while got < take {
            match (&*sock).read(&mut chunk[got..take]) {
                Ok(0) => return Err(LineError::Unfinished(line.len() + got)),
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LineError::Io(e)),
            }
        }
        line.extend_from_slice(&chunk[..take]);
        if line.last() == Some(&b'\n') {
            line.pop();
            return Ok(Some(line));
        }
        if line.len() > max {
            return Err(LineError::TooLong(max));
        }
    }
}

/// How long, and for how many bytes, a finished connection waits for the client to close.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// End the connection gently: send the end of the output, then read and drop what the client
/// still sends (stdin the command did not read) until it closes, for a bounded time and
/// amount. Closing a socket with unread input makes the kernel reset the connection, and the
/// client would see `connection reset` instead of the end of its output.
fn linger_close(sock: &Stream) {
    if sock.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TIME;
    let mut scratch = [0u8; 16 * 1024];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&*sock).read(&mut scratch) {
            Ok(0) => break,
            Ok(n) => dropped += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = sock.shutdown(Shutdown::Both);
}

/// Best effort: tell a client what went wrong before the command could run, in v0.1.0's
/// words (`Error: ...`), raw, since the request may not even say which framing it wants.
fn refuse(sock: &Stream, msg: &str) {
    let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&*sock).write_all(format!("Error: {msg}\n").as_bytes());
    linger_close(sock);
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// What happened to one connection, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The client closed without a request.
    Empty,
    /// The request was refused before a command ran.
    Refused(String),
    /// The command ran; its status, and whether the client left before the end.
    Ran { status: i32, client_gone: bool },
    /// An Engine API (HTTP) request, and the status answered (None: none was sent).
    Http { status: Option<u16> },
}

/// Whether the connection speaks HTTP: its first byte starts a method token (an rcli
/// request starts with `[`). Waits for that byte within `timeout`; false when none comes.
fn is_http(sock: &Stream, timeout: Duration) -> bool {
    let mut first = [0u8; 1];
    if sock.set_read_timeout(Some(timeout)).is_err() {
        return false;
    }
    loop {
        match recv(sock.as_fd().as_raw_fd(), &mut first, MsgFlags::MSG_PEEK) {
            Ok(1) => return first[0].is_ascii_uppercase(),
            Err(Errno::EINTR) => continue,
            _ => return false,
        }
    }
}

/// Serve one connection to its end. `id` names it in log lines; `starting` is called once the
/// request is read and the command is about to run (until then a stopping daemon may simply
/// drop the connection).
pub fn serve(
    id: u64,
    sock: Stream,
    exec: &dyn Executor,
    cfg: &ConnectionConfig,
    logger: &Logger,
    starting: &dyn Fn(),
) -> Outcome {
    let started = Instant::now();
    if is_http(&sock, cfg.request_timeout) {
        let limits = super::http::Limits {
            head_bytes: cfg.max_http_head,
            body_bytes: cfg.max_http_body,
            timeout: cfg.request_timeout.saturating_sub(started.elapsed()),
        };
        let status = super::http::serve(id, &sock, exec.runtime(), &limits, logger, starting);
        return Outcome::Http { status };
    }
    // The wait for the first byte counts against the request's time (a timeout is still
    // reported as the whole of it).
    let left = cfg.request_timeout.saturating_sub(started.elapsed());
    let read = read_request_line(&sock, cfg.max_request_line, left).map_err(|e| match e {
        LineError::Timeout(_) => LineError::Timeout(cfg.request_timeout),
        e => e,
    });
    let line = match read {
        Ok(Some(line)) => line,
        Ok(None) => {
            logger.debug(&format!("connection {id}: closed before sending a request"));
            return Outcome::Empty;
        }
        Err(e) => {
            let msg = e.to_string();
            logger.debug(&format!("connection {id}: refused: {msg}"));
            refuse(&sock, &msg);
            return Outcome::Refused(msg);
        }
    };
    let (framed, options, args) = match protocol::parse_request(&line) {
        Ok(Request::Plain { args }) => (false, Default::default(), args),
        Ok(Request::Framed { options, args }) => (true, options, args),
        Err(msg) => {
            logger.debug(&format!("connection {id}: refused: {msg}"));
            refuse(&sock, &msg);
            return Outcome::Refused(msg);
        }
    };
    starting();
    if let Err(e) = sock.set_read_timeout(None) {
        let msg = format!("setting up the connection: {e}");
        refuse(&sock, &msg);
        return Outcome::Refused(msg);
    }
    if logger.enabled(crate::log::Level::Debug) {
        logger.debug(&format!(
            "connection {id} ({}): {} {args:?}",
            sock.peer(),
            if framed { "rcli/2" } else { "plain" },
        ));
    }
    let outcome = match run(&sock, exec, &args, &options, framed) {
        Ok(o) => o,
        Err(e) => {
            let msg = format!("setting up the command's streams: {e}");
            logger.warn(&format!("connection {id}: {msg}"));
            refuse(&sock, &msg);
            return Outcome::Refused(msg);
        }
    };
    if let Outcome::Ran {
        status,
        client_gone,
    } = &outcome
    {
        logger.debug(&format!(
            "connection {id}: exit status {status} in {:.1} ms{}",
            started.elapsed().as_secs_f64() * 1000.0,
            if *client_gone {
                " (the client left early)"
            } else {
                ""
            }
        ));
    }
    outcome
}

fn run(
    sock: &Stream,
    exec: &dyn Executor,
    args: &[String],
    options: &RequestOptions,
    framed: bool,
) -> io::Result<Outcome> {
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // Framed stdin: a thread takes the frames apart into a pipe and the window sizes.
    let (mut in_w, framed_in) = match options.stdin_frames && framed {
        true => {
            let (r, w) = pipe()?;
            let stop = Event::new().map_err(io::Error::other)?;
            (Some(w), Some((r, WindowSizes::new()?, stop)))
        }
        false => (None, None),
    };
    // The command's status, set before it says it returned: the answer does not wait for its
    // thread to be torn down (the scope joins it after the client has the answer).
    let returned = std::sync::OnceLock::new();
    let returned_ref = &returned;
    std::thread::scope(|scope| {
        let mut stdin = sock.as_fd();
        let mut sizes = None;
        let mut unframer = None;
        if let (Some((in_r, feed, stop)), Some(w)) = (&framed_in, in_w.take()) {
            stdin = in_r.as_fd();
            sizes = Some(feed.clone());
            unframer = Some(scope.spawn(move || unframe_stdin(sock, w, feed, stop)));
        }
        scope.spawn(move || {
            let result = exec.call(Call {
                args,
                stdin,
                stdout: out_w.as_fd(),
                stderr: err_w.as_fd(),
                tty_size: options.tty_size,
                ttys: options.ttys,
                sizes,
            });
            let status = match result {
                Ok(status) => status,
                Err(msg) => {
                    // A short message fits in an empty pipe; a failure means the client left.
                    let _ = nix::unistd::write(&err_w, format!("Error: {msg}\n").as_bytes());
                    crate::commands::ERROR_STATUS
                }
            };
            let _ = returned_ref.set(status);
            // Dropping the write ends and `done_w` tells the pump the command returned.
            drop((out_w, err_w, done_w));
        });
        let mut pump = Pump {
            sock,
            framed,
            gone: false,
        };
        pump.run(out_r, err_r, done_r);
        // None: the command's thread panicked.
        let status = returned
            .get()
            .copied()
            .unwrap_or(crate::commands::ERROR_STATUS);
        if let (Some((_, _, stop)), Some(t)) = (&framed_in, unframer) {
            // The command is done with its stdin: the socket is the connection's again.
            stop.signal();
            let _ = t.join();
        }
        if framed && !pump.gone {
            let mut frame = protocol::frame_header(FrameKind::Exit, 4).to_vec();
            frame.extend_from_slice(&status.to_be_bytes());
            pump.send(&frame);
        }
        if pump.gone {
            let _ = sock.shutdown(Shutdown::Both);
        } else {
            linger_close(sock);
        }
        Ok(Outcome::Ran {
            status,
            client_gone: pump.gone,
        })
    })
}

/// Take the client's framed stdin apart: data to `to` (the command's stdin), whose end (or
/// the client's, or a malformed frame) closes it, and window sizes to `sizes`; until the
/// client closes or `stop` says the command returned.
fn unframe_stdin(sock: &Stream, to: OwnedFd, sizes: &WindowSizes, stop: &Event) {
    let mut to = Some(to);
    if let Some(t) = &to {
        if fcntl(t, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err() {
            return;
        }
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let h = protocol::FRAME_HEADER_LEN;
    loop {
        let Ok(ready) = poll_in(&[sock.as_fd(), stop.as_fd()], -1) else {
            return;
        };
        if ready[1] {
            return;
        }
        let n = match (&*sock).read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= h {
            let header: [u8; 8] = buf[..h].try_into().expect("eight bytes");
            let Ok((kind, len)) = protocol::parse_input_header(&header) else {
                // Nothing more can be told apart: the command's stdin ends here.
                return;
            };
            let end = h + len as usize;
            if buf.len() < end {
                break;
            }
            let payload = &buf[h..end];
            match kind {
                InputKind::Stdin => {
                    if let Some(t) = &to {
                        if !write_or_stop(t, payload, stop) {
                            to = None;
                        }
                    }
                }
                InputKind::StdinEnd => to = None,
                InputKind::WindowSize => sizes.send(
                    u16::from_be_bytes([payload[0], payload[1]]),
                    u16::from_be_bytes([payload[2], payload[3]]),
                ),
            }
            buf.drain(..end);
        }
    }
}

/// Write all of `data` to the non-blocking `to`, waiting for room; false when it failed (the
/// command closed its stdin) or `stop` was signalled first.
fn write_or_stop(to: &OwnedFd, mut data: &[u8], stop: &Event) -> bool {
    while !data.is_empty() {
        match nix::unistd::write(to, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EAGAIN) => {
                let mut fds = [
                    PollFd::new(to.as_fd(), PollFlags::POLLOUT),
                    PollFd::new(stop.as_fd(), PollFlags::POLLIN),
                ];
                if poll(&mut fds, PollTimeout::NONE).is_err() && Errno::last() != Errno::EINTR {
                    return false;
                }
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    return false;
                }
            }
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Copies the command's stdout and stderr to the client.
struct Pump<'a> {
    sock: &'a Stream,
    framed: bool,
    /// The client went away (a write failed or the socket hung up).
    gone: bool,
}

const CHUNK: usize = 64 * 1024;

impl Pump<'_> {
    fn send(&mut self, bytes: &[u8]) {
        if !self.gone && (&*self.sock).write_all(bytes).is_err() {
            self.gone = true;
        }
    }

    /// Read what `fd` has and forward it. Returns false at its end (or on an error).
    fn forward(&mut self, fd: &OwnedFd, kind: FrameKind, buf: &mut [u8]) -> bool {
        let h = protocol::FRAME_HEADER_LEN;
        let n = loop {
            match nix::unistd::read(fd, &mut buf[h..]) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(_) => return false,
            }
        };
        if n == 0 {
            return false;
        }
        if self.framed {
            buf[..h].copy_from_slice(&protocol::frame_header(kind, n as u32));
            let frame = &buf[..h + n];
            self.send(frame);
        } else {
            let data = &buf[h..h + n];
            self.send(data);
        }
        true
    }

    /// Forward both pipes until `done` says the command returned, then drain what is left.
    /// When the client goes away the pipes are closed at once so the command sees EPIPE.
    fn run(&mut self, out: OwnedFd, err: OwnedFd, done: OwnedFd) {
        let mut buf = vec![0u8; protocol::FRAME_HEADER_LEN + CHUNK];
        let mut pipes = [
            Some((out, FrameKind::Stdout)),
            Some((err, FrameKind::Stderr)),
        ];
        let mut watch_sock = true;
        loop {
            if self.gone {
                pipes = [None, None];
                watch_sock = false;
            }
            let mut fds = vec![PollFd::new(done.as_fd(), PollFlags::POLLIN)];
            let mut which = Vec::new();
            for (i, p) in pipes.iter().enumerate() {
                if let Some((fd, _)) = p {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    which.push(i);
                }
            }
            if watch_sock {
                // No events asked: only a hang-up or an error is reported.
                fds.push(PollFd::new(self.sock.as_fd(), PollFlags::empty()));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
            let revents: Vec<PollFlags> = fds
                .iter()
                .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                .collect();
            drop(fds);
            let done_now = !revents[0].is_empty();
            for (k, &i) in which.iter().enumerate() {
                if revents[1 + k].is_empty() {
                    continue;
                }
                let (fd, kind) = pipes[i].take().expect("polled pipe");
                if self.forward(&fd, kind, &mut buf) {
                    pipes[i] = Some((fd, kind));
                }
            }
            if watch_sock {
                let r = revents[revents.len() - 1];
                if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
                    self.gone = true;
                    let _ = self.sock.shutdown(Shutdown::Both);
                }
            }
            if done_now {
                break;
            }
        }
        // The command has returned: everything it wrote is in the pipes. Drain without
        // waiting, so a descriptor some stray thread still holds cannot keep us here.
        for (fd, kind) in pipes.into_iter().flatten() {
            if fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err() {
                continue;
            }
            while self.forward(&fd, kind, &mut buf) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex;

    /// An executor made of a closure.
    struct FnExec<F>(F);

    impl<F: Fn(Call<'_>) -> std::result::Result<i32, String> + Send + Sync> Executor for FnExec<F> {
        fn call(&self, call: Call<'_>) -> std::result::Result<i32, String> {
            (self.0)(call)
        }
    }

    fn file(fd: BorrowedFd<'_>) -> File {
        File::from(fd.try_clone_to_owned().unwrap())
    }

    /// Serve one connection on a socketpair in a thread; returns the client end and the
    /// thread's outcome handle.
    fn serve_pair(exec: impl Executor + 'static) -> (UnixStream, std::thread::JoinHandle<Outcome>) {
        let (client, server) = UnixStream::pair().unwrap();
        let h = std::thread::spawn(move || {
            serve(
                1,
                Stream::Unix(server),
                &exec,
                &ConnectionConfig::default(),
                &Logger::stderr(crate::log::Level::Error),
                &|| {},
            )
        });
        (client, h)
    }

    fn frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let len = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
            v.push((b[0], b[8..8 + len].to_vec()));
            b = &b[8 + len..];
        }
        v
    }

    #[test]
    fn framed_run_gets_args_tty_stdin_and_returns_frames_then_status() {
        let seen = std::sync::Arc::new(Mutex::new(None));
        let seen2 = seen.clone();
        let (mut c, h) = serve_pair(FnExec(move |call: Call<'_>| {
            let mut input = String::new();
            file(call.stdin).read_to_string(&mut input).unwrap();
            *seen2.lock().unwrap() = Some((call.args.to_vec(), call.tty_size, input));
            file(call.stdout).write_all(b"out").unwrap();
            file(call.stderr).write_all(b"err").unwrap();
            Ok(5)
        }));
        let opts = protocol::RequestOptions {
            tty_size: Some((24, 80)),
            ttys: [true, false],
            ..Default::default()
        };
        c.write_all(&protocol::encode_framed_request(&["run".into()], &opts))
            .unwrap();
        c.write_all(b"line 1\nline 2").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut b = Vec::new();
        c.read_to_end(&mut b).unwrap();
        let mut f = frames(&b);
        assert_eq!(f.pop().unwrap(), (3, 5i32.to_be_bytes().to_vec()));
        f.sort();
        assert_eq!(f, vec![(1, b"out".to_vec()), (2, b"err".to_vec())]);
        assert_eq!(
            h.join().unwrap(),
            Outcome::Ran {
                status: 5,
                client_gone: false
            }
        );
        assert_eq!(
            seen.lock().unwrap().take().unwrap(),
            (
                vec!["run".to_string()],
                Some((24, 80)),
                "line 1\nline 2".to_string()
            )
        );
    }

    #[test]
    fn framed_stdin_reaches_the_command_with_its_window_sizes() {
        let (mut c, h) = serve_pair(FnExec(|call: Call<'_>| {
            let sizes = call
                .sizes
                .clone()
                .expect("framed stdin brings window sizes");
            let mut out = file(call.stdout);
            // The size sent before the keystrokes is there once they are read.
            let mut input = String::new();
            file(call.stdin).read_to_string(&mut input).unwrap();
            // One write each, so each is one frame.
            let first = format!("{input:?} {:?}\n", sizes.take());
            out.write_all(first.as_bytes()).unwrap();
            // A size sent after stdin's end still arrives.
            poll_in(&[sizes.as_fd()], -1).unwrap();
            out.write_all(format!("{:?}\n", sizes.take()).as_bytes())
                .unwrap();
            Ok(0)
        }));
        let opts = protocol::RequestOptions {
            stdin_frames: true,
            ..Default::default()
        };
        c.write_all(&protocol::encode_framed_request(&["attach".into()], &opts))
            .unwrap();
        let mut input = protocol::window_size_frame(30, 100).to_vec();
        for part in [&b"ls "[..], b"-l\n"] {
            input.extend_from_slice(&protocol::input_header(InputKind::Stdin, part.len() as u32));
            input.extend_from_slice(part);
        }
        input.extend_from_slice(&protocol::input_header(InputKind::StdinEnd, 0));
        // Byte by byte: frames split across reads are put together.
        for b in input {
            c.write_all(&[b]).unwrap();
        }
        let read_frame = |c: &mut UnixStream| {
            let mut header = [0u8; 8];
            c.read_exact(&mut header).unwrap();
            let mut out = vec![0u8; u32::from_be_bytes(header[4..].try_into().unwrap()) as usize];
            c.read_exact(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(read_frame(&mut c), "\"ls -l\\n\" Some((30, 100))\n");
        c.write_all(&protocol::window_size_frame(50, 200)).unwrap();
        assert_eq!(read_frame(&mut c), "Some((50, 200))\n");
        drop(c);
        assert!(matches!(h.join().unwrap(), Outcome::Ran { status: 0, .. }));
    }

    #[test]
    fn a_malformed_stdin_frame_ends_the_commands_stdin() {
        let (mut c, h) = serve_pair(FnExec(|call: Call<'_>| {
            let mut input = Vec::new();
            file(call.stdin).read_to_end(&mut input).unwrap();
            Ok(input.len() as i32)
        }));
        let opts = protocol::RequestOptions {
            stdin_frames: true,
            ..Default::default()
        };
        c.write_all(&protocol::encode_framed_request(&["attach".into()], &opts))
            .unwrap();
        c.write_all(&protocol::input_header(InputKind::Stdin, 2))
            .unwrap();
        c.write_all(b"ok").unwrap();
        // Raw bytes where a frame should be: the command reads the end, not garbage.
        c.write_all(b"raw bytes").unwrap();
        let mut b = Vec::new();
        c.read_to_end(&mut b).unwrap();
        assert_eq!(frames(&b), vec![(3, 2i32.to_be_bytes().to_vec())]);
        assert!(matches!(h.join().unwrap(), Outcome::Ran { status: 2, .. }));
    }

    #[test]
    fn plain_run_mixes_stdout_and_stderr_raw() {
        let (mut c, h) = serve_pair(FnExec(|call: Call<'_>| {
            file(call.stdout).write_all(b"a\n").unwrap();
            file(call.stderr).write_all(b"Error: b\n").unwrap();
            Ok(1)
        }));
        c.write_all(b"[\"x\"]\n").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut b = String::new();
        c.read_to_string(&mut b).unwrap();
        assert!(b == "a\nError: b\n" || b == "Error: b\na\n", "{b:?}");
        assert!(matches!(h.join().unwrap(), Outcome::Ran { status: 1, .. }));
    }

    #[test]
    fn a_client_leaving_mid_command_gives_the_command_epipe() {
        let (mut c, h) = serve_pair(FnExec(|call: Call<'_>| {
            let mut out = file(call.stdout);
            let chunk = vec![b'x'; 64 * 1024];
            // Writes until the client is gone; then the write fails instead of blocking.
            loop {
                if let Err(e) = out.write_all(&chunk) {
                    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
                    return Ok(141);
                }
            }
        }));
        c.write_all(&protocol::encode_framed_request(
            &["logs".into()],
            &Default::default(),
        ))
        .unwrap();
        let mut first = [0u8; 8];
        c.read_exact(&mut first).unwrap();
        assert_eq!(first[0], 1, "output started");
        drop(c);
        assert_eq!(
            h.join().unwrap(),
            Outcome::Ran {
                status: 141,
                client_gone: true
            }
        );
    }

    #[test]
    fn a_client_leaving_a_silent_command_ends_its_stdin() {
        let (mut c, h) = serve_pair(FnExec(|call: Call<'_>| {
            // An attached command that only reads: the client's departure is its stdin's end.
            let mut sink = Vec::new();
            file(call.stdin).read_to_end(&mut sink).unwrap();
            Ok(0)
        }));
        c.write_all(&protocol::encode_framed_request(
            &["attach".into()],
            &Default::default(),
        ))
        .unwrap();
        c.write_all(b"typed").unwrap();
        drop(c);
        assert!(matches!(h.join().unwrap(), Outcome::Ran { status: 0, .. }));
    }

    #[test]
    fn an_executor_error_is_shown_as_error_with_status_1() {
        let (mut c, h) = serve_pair(FnExec(|_: Call<'_>| Err("no runtime".to_string())));
        c.write_all(&protocol::encode_framed_request(&[], &Default::default()))
            .unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut b = Vec::new();
        c.read_to_end(&mut b).unwrap();
        assert_eq!(
            frames(&b),
            vec![
                (2, b"Error: no runtime\n".to_vec()),
                (3, 1i32.to_be_bytes().to_vec())
            ]
        );
        h.join().unwrap();
    }

    #[test]
    fn an_http_request_goes_to_the_engine_api_not_to_a_command() {
        let (mut c, h) = serve_pair(FnExec(|_: Call<'_>| -> std::result::Result<i32, String> {
            panic!("an HTTP request must not run a command")
        }));
        c.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut b = String::new();
        c.read_to_string(&mut b).unwrap();
        // This executor has no runtime: the Engine API says so.
        assert!(b.starts_with("HTTP/1.1 501 "), "{b}");
        assert!(b.contains("does not serve the Engine API"), "{b}");
        assert_eq!(h.join().unwrap(), Outcome::Http { status: Some(501) });
    }

    #[test]
    fn a_silent_client_is_refused_once_at_the_request_timeout() {
        let (mut c, server) = UnixStream::pair().unwrap();
        let cfg = ConnectionConfig {
            request_timeout: Duration::from_secs(1),
            ..Default::default()
        };
        let h = std::thread::spawn(move || {
            let log = Logger::stderr(crate::log::Level::Error);
            serve(
                1,
                Stream::Unix(server),
                &FnExec(|_: Call<'_>| Ok(0)),
                &cfg,
                &log,
                &|| {},
            )
        });
        let started = Instant::now();
        let mut b = String::new();
        c.read_to_string(&mut b).unwrap();
        assert_eq!(b, "Error: the request line was not finished within 1 s\n");
        // The wait for the first byte (HTTP or rcli?) is part of the timeout, not added to it.
        assert!(
            started.elapsed() < Duration::from_millis(1800),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(h.join().unwrap(), Outcome::Refused(_)));
    }

    #[test]
    fn the_request_line_is_read_without_eating_stdin() {
        let (mut c, s) = UnixStream::pair().unwrap();
        let s = Stream::Unix(s);
        c.write_all(b"[\"a\"]\nSTDIN").unwrap();
        let line = read_request_line(&s, 100, Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(line, b"[\"a\"]");
        let mut rest = [0u8; 5];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"STDIN");
        // Too long: refused once the limit is passed.
        c.write_all(&[b'x'; 300]).unwrap();
        assert!(matches!(
            read_request_line(&s, 100, Duration::from_secs(5)),
            Err(LineError::TooLong(100))
        ));
    }
}
