//! HTTP/1.1 on one connection: the request head read with `httparse` (bounded in bytes and
//! time), the body (Content-Length or chunked, bounded when it is read whole), and responses
//! with the Engine API's headers. One request per connection: every response says
//! `Connection: close`.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::addr::Stream;

/// The daemon's version, as `version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The API version answered, and the oldest accepted in a `/v1.NN/` prefix.
pub const API_VERSION: &str = "1.41";
const MIN_MINOR: u32 = 12;
const MAX_MINOR: u32 = 41;

/// How much a request may be.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The request line and headers together.
    pub head_bytes: usize,
    /// A body read whole (JSON).
    pub body_bytes: usize,
    /// The time to send the whole head.
    pub timeout: Duration,
}

const MAX_HEADERS: usize = 100;

/// A request head.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path without the `/v1.NN` prefix and the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// An answer that is an error: a status and a message, sent as `{"message": ...}`.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> ApiError {
        use crate::error::ErrorKind as K;
        let status = match e.kind() {
            K::InvalidArgument | K::UnknownCommand => 400,
            K::NotFound => 404,
            K::AlreadyExists | K::InUse | K::Exhausted => 409,
            K::PermissionDenied => 403,
            K::Unsupported => 501,
            K::Corrupt | K::Io | K::Remote => 500,
        };
        ApiError::new(status, e.message().to_string())
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter as docker reads them: absent, empty, `0`, `false`, `no`:
    /// false; anything else true.
    pub fn flag(&self, name: &str) -> bool {
        !matches!(
            self.query(name),
            None | Some("" | "0" | "false" | "False" | "no")
        )
    }

    /// An integer query parameter; `default` when absent or empty.
    pub fn int(&self, name: &str, default: i64) -> ApiResult<i64> {
        match self.query(name) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ApiError::bad(format!("query parameter {name}={v:?} is not an integer"))
            }),
        }
    }
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The client closed before sending anything.
    Empty,
    /// Answer with this status and message, then close.
    Refuse(u16, String),
}

/// What the socket has past the head: bytes already read, then the socket.
#[derive(Debug)]
pub struct Input<'a> {
    pending: Vec<u8>,
    pos: usize,
    sock: &'a Stream,
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.pending.len() {
            let n = buf.len().min(self.pending.len() - self.pos);
            buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        let mut s = self.sock;
        s.read(buf)
    }
}

impl Input<'_> {
    /// Bytes read past the head that nobody consumed yet (taken).
    pub fn take_pending(&mut self) -> Vec<u8> {
        let rest = self.pending.split_off(self.pos);
        self.pending.clear();
        self.pos = 0;
        rest
    }
}

/// Read the head of a request, within `limits`. Returns the request and the input after it.
pub fn read_head<'a>(
    sock: &'a Stream,
    limits: &Limits,
) -> std::result::Result<(Request, Input<'a>), HeadError> {
    let deadline = Instant::now() + limits.timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(n)) if n <= limits.head_bytes => {
                let request = to_request(&req)?;
                let pending = buf[n..].to_vec();
                return Ok((
                    request,
                    Input {
                        pending,
                        pos: 0,
                        sock,
                    },
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(HeadError::Refuse(
                    400,
                    format!("malformed HTTP request: {e}"),
                ))
            }
        }
        if buf.len() > limits.head_bytes {
            return Err(HeadError::Refuse(
                431,
                format!(
                    "the request line and headers are longer than {} bytes",
                    limits.head_bytes
                ),
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return Err(timeout(limits));
        }
        let mut s = sock;
        match s.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Err(HeadError::Empty),
            Ok(0) => {
                return Err(HeadError::Refuse(
                    400,
                    format!(
                        "the connection ended after {} bytes, inside the request head",
                        buf.len()
                    ),
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timeout(limits))
            }
            Err(e) => return Err(HeadError::Refuse(400, format!("reading the request: {e}"))),
        }
    }
}

fn timeout(limits: &Limits) -> HeadError {
    HeadError::Refuse(
        408,
        format!(
            "the request head was not finished within {} s",
            limits.timeout.as_secs_f64()
        ),
    )
}

fn to_request(req: &httparse::Request<'_, '_>) -> std::result::Result<Request, HeadError> {
    let bad = |m: String| HeadError::Refuse(400, m);
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default();
    if req.version != Some(1) && req.version != Some(0) {
        return Err(bad("only HTTP/1.0 and HTTP/1.1 are served".into()));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for h in req.headers.iter() {
        let v = std::str::from_utf8(h.value)
            .map_err(|_| bad(format!("header {} is not UTF-8", h.name)))?;
        headers.push((h.name.to_string(), v.trim().to_string()));
    }
    let path = decode(raw_path).map_err(|m| bad(format!("the path {raw_path:?}: {m}")))?;
    let path = strip_version(&path).map_err(|m| HeadError::Refuse(400, m))?;
    let mut query = Vec::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(&k.replace('+', " ")).map_err(|m| bad(format!("query {k:?}: {m}")))?;
        let v = decode(&v.replace('+', " ")).map_err(|m| bad(format!("query {k}: {m}")))?;
        query.push((k, v));
    }
    Ok(Request {
        method,
        path,
        query,
        headers,
    })
}

/// Percent-decoding, to UTF-8.
fn decode(s: &str) -> std::result::Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "not UTF-8 once decoded".to_string())
}

/// `/v1.41/containers/json` -> `/containers/json`; a version outside what is served is an
/// error naming it.
fn strip_version(path: &str) -> std::result::Result<String, String> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path.to_string());
    };
    let (ver, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some((major, minor)) = ver.split_once('.') else {
        return Ok(path.to_string());
    };
    let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
        return Ok(path.to_string());
    };
    if major != 1 || minor > MAX_MINOR {
        return Err(format!(
            "client version {major}.{minor} is too new. Maximum supported API version is {API_VERSION}"
        ));
    }
    if minor < MIN_MINOR {
        return Err(format!(
            "client version {major}.{minor} is too old. Minimum supported API version is 1.{MIN_MINOR}, please upgrade your client to a newer version"
        ));
    }
    Ok(if tail.is_empty() { "/" } else { tail }.to_string())
}

/// How the body of a request comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
}

fn framing(req: &Request) -> ApiResult<Framing> {
    if let Some(te) = req.header("transfer-encoding") {
        if te.eq_ignore_ascii_case("chunked") {
            return Ok(Framing::Chunked);
        }
        return Err(ApiError::new(
            501,
            format!("transfer encoding {te:?} is not supported; use chunked"),
        ));
    }
    match req.header("content-length") {
        None => Ok(Framing::Length(0)),
        Some(v) => v
            .parse()
            .map(Framing::Length)
            .map_err(|_| ApiError::bad(format!("Content-Length {v:?} is not a number"))),
    }
}

/// The body of a request as a stream (Content-Length or chunked).
pub struct Body<'a, 'b> {
    input: &'b mut Input<'a>,
    framing: Framing,
    /// Bytes left in the body (Length) or in the current chunk (Chunked).
    left: u64,
    done: bool,
}

impl<'a, 'b> Body<'a, 'b> {
    pub fn new(req: &Request, input: &'b mut Input<'a>) -> ApiResult<Body<'a, 'b>> {
        let framing = framing(req)?;
        let left = match framing {
            Framing::Length(n) => n,
            Framing::Chunked => 0,
        };
        Ok(Body {
            input,
            framing,
            left,
            done: framing == Framing::Length(0),
        })
    }

    /// Read one CRLF-terminated line of at most 1 KiB (a chunk size line).
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        loop {
            if self.input.read(&mut b)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the chunked body ended early",
                ));
            }
            if b[0] == b'\n' {
                break;
            }
            line.push(b[0]);
            if line.len() > 1024 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a chunk size line is longer than 1 KiB",
                ));
            }
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let line = self.line()?;
        let size = line.split(';').next().unwrap_or("").trim();
        let n = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {size:?}"),
            )
        })?;
        if n == 0 {
            // Trailers, up to the empty line.
            while !self.line()?.is_empty() {}
            self.done = true;
        }
        self.left = n;
        Ok(())
    }

    /// The whole body, refused past `max` bytes.
    pub fn read_all(&mut self, max: usize) -> ApiResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut limited = (&mut *self).take(max as u64 + 1);
        limited.read_to_end(&mut out).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ApiError::new(
                408,
                "the request body stalled: no bytes came within the request timeout",
            ),
            _ => ApiError::bad(format!("reading the request body: {e}")),
        })?;
        if out.len() > max {
            return Err(ApiError::new(
                413,
                format!("the request body is larger than {max} bytes"),
            ));
        }
        Ok(out)
    }

    /// The body as JSON of type `T` (an empty body: `null`).
    pub fn json<T: serde::de::DeserializeOwned>(&mut self, max: usize) -> ApiResult<T> {
        let bytes = self.read_all(max)?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map_err(|e| ApiError::bad(format!("the request body is not valid JSON here: {e}")))
    }
}

impl Read for Body<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if self.left == 0 {
                if self.framing == Framing::Chunked {
                    self.next_chunk()?;
                    continue;
                }
                self.done = true;
                return Ok(0);
            }
            let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
            let n = self.input.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the request body ended early",
                ));
            }
            self.left -= n as u64;
            if self.left == 0 && self.framing == Framing::Chunked {
                // The CRLF after the chunk's data.
                self.line()?;
            }
            return Ok(n);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "UPGRADED",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        _ => "Internal Server Error",
    }
}

/// The head of a response: status, the Engine API's headers, `extra`, `Connection: close`.
/// `length`: a Content-Length (None: the body runs to the close).
pub fn head(status: u16, extra: &[(&str, &str)], length: Option<usize>) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nApi-Version: {API_VERSION}\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/{} (linux)\r\n",
        reason(status),
        VERSION
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = length {
        h.push_str(&format!("Content-Length: {n}\r\n"));
    }
    if status != 101 {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// Send a whole response.
pub fn send(sock: &Stream, status: u16, extra: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
    let mut out = head(status, extra, Some(body.len()));
    out.extend_from_slice(body);
    let mut s = sock;
    s.write_all(&out)
}

pub fn send_json(sock: &Stream, status: u16, v: &Value) -> io::Result<()> {
    let body = v.to_string();
    send(
        sock,
        status,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

pub fn send_error(sock: &Stream, e: &ApiError) -> io::Result<()> {
    send_json(sock, e.status, &serde_json::json!({ "message": e.message }))
}

/// End the connection gently: shut the writing half, then read and drop what the client
/// still sends for a bounded time (closing with unread input would reset the connection
/// before the client read the answer).
pub fn linger_close(sock: &Stream) {
    if sock.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut scratch = [0u8; 16 * 1024];
    let mut dropped = 0;
    while dropped < (1 << 20) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            break;
        }
        let mut s = sock;
        match s.read(&mut scratch) {
            Ok(0) => break,
            Ok(n) => dropped += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = sock.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn limits() -> Limits {
        Limits {
            head_bytes: 1024,
            body_bytes: 64,
            timeout: Duration::from_secs(5),
        }
    }

    fn pair(bytes: &[u8]) -> Stream {
        let (mut c, s) = UnixStream::pair().unwrap();
        c.write_all(bytes).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        // The client end is kept open by leaking it into the thread-less test: dropping it
        // after the half-close is fine, the data stays in the socket.
        drop(c);
        Stream::Unix(s)
    }

    #[test]
    fn heads_versions_and_queries() {
        let s = pair(
            b"GET /v1.41/containers/json?all=1&filters=%7B%7D HTTP/1.1\r\nHost: x\r\n\r\nrest",
        );
        let (r, mut input) = read_head(&s, &limits()).unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "/containers/json")
        );
        assert!(r.flag("all"));
        assert_eq!(r.query("filters"), Some("{}"));
        assert_eq!(r.header("HOST"), Some("x"));
        let mut rest = String::new();
        input.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "rest");
        for (bad, status) in [
            (&b"GET /v1.99/_ping HTTP/1.1\r\n\r\n"[..], 400),
            (b"GET /v1.5/_ping HTTP/1.1\r\n\r\n", 400),
            (b"G\x01T / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost", 400),
        ] {
            match read_head(&pair(bad), &limits()) {
                Err(HeadError::Refuse(st, _)) => assert_eq!(st, status, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(4000));
        assert!(matches!(
            read_head(&pair(long.as_bytes()), &limits()),
            Err(HeadError::Refuse(431, _))
        ));
        assert_eq!(
            read_head(&pair(b""), &limits()).unwrap_err(),
            HeadError::Empty
        );
    }

    #[test]
    fn bodies_by_length_and_chunks_with_a_limit() {
        let s = pair(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n");
        let (r, mut input) = read_head(&s, &limits()).unwrap();
        let v: Value = Body::new(&r, &mut input).unwrap().json(64).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1}));
        let s = pair(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloEXTRA");
        let (r, mut input) = read_head(&s, &limits()).unwrap();
        assert_eq!(
            Body::new(&r, &mut input).unwrap().read_all(64).unwrap(),
            b"hello"
        );
        let big = format!(
            "POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n{}",
            "x".repeat(100)
        );
        let s = pair(big.as_bytes());
        let (r, mut input) = read_head(&s, &limits()).unwrap();
        assert_eq!(
            Body::new(&r, &mut input)
                .unwrap()
                .read_all(64)
                .unwrap_err()
                .status,
            413
        );
        let s = pair(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        let (r, mut input) = read_head(&s, &limits()).unwrap();
        assert_eq!(
            Body::new(&r, &mut input)
                .unwrap()
                .read_all(64)
                .unwrap_err()
                .status,
            400
        );
    }
}
