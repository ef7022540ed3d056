//! The rcli wire format (README, "Daemon and client").
//!
//! v0.1.0 (plain): the client sends one line, a JSON array of argument strings, then streams
//! its stdin and half-closes its write side at stdin's end; the server writes the command's
//! output (stdout and stderr mixed) and closes. The exit status is lost.
//!
//! rcli/2 (framed): the first element of the array is [`FRAMED_MAGIC`] (it starts with a NUL
//! byte, which no command line can carry, so no v0.1.0 client ever sends it) and the second a
//! JSON object of options; the command's arguments follow. stdin still streams raw. The server
//! answers with frames: an 8-byte header `[kind, 0, 0, 0, length as u32 big-endian]` and
//! `length` bytes of payload. Kinds: 1 stdout, 2 stderr, 3 exit status (payload: the status as
//! i32 big-endian; always the last frame).
//!
//! Framed stdin (rcli/2 with the option `"stdin_frames": true`): the client frames what it
//! sends after the request line too, with the same header, so that a window change can
//! travel beside the keystrokes. Kinds: 4 stdin data, 5 stdin's end (no payload; the client
//! keeps its write side open to send window sizes after it), 6 a window size (payload: rows
//! and columns, each u16 big-endian), which the server applies to the terminal of the
//! container (`run -t`, `attach`) or exec (`exec -t`) the command is attached to (a stdin
//! frame holds at most [`MAX_INPUT_PAYLOAD`] bytes; a malformed frame ends the command's
//! stdin, as nothing after it can be told apart). Without
//! the option stdin streams raw, as before; the client sends it only for the commands that
//! use a terminal (`run -t`, `attach`, `exec -t`) when its stdin is one. A server that does
//! not know the option (older than it) would take the frames for stdin: the client and
//! daemon of one build always agree.

use serde::Deserialize;

/// First element of a framed request.
pub const FRAMED_MAGIC: &str = "\0rcli/2";
/// What every framed protocol version's magic starts with.
pub const MAGIC_PREFIX: &str = "\0rcli/";
/// The longest request line the server reads (the arguments of one command line; Linux's
/// own limit on a command line is 2 MiB for arguments and environment together).
pub const MAX_REQUEST_LINE: usize = 1 << 20;
/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 8;
/// The largest payload a client accepts in one frame; the server never sends more than 64 KiB.
pub const MAX_FRAME_PAYLOAD: u32 = 1 << 24;

/// The kind of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Stdout = 1,
    Stderr = 2,
    Exit = 3,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Stdout),
            2 => Some(FrameKind::Stderr),
            3 => Some(FrameKind::Exit),
            _ => None,
        }
    }
}

/// The header of a frame of `kind` carrying `len` bytes.
pub fn frame_header(kind: FrameKind, len: u32) -> [u8; FRAME_HEADER_LEN] {
    let l = len.to_be_bytes();
    [kind as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// The kind of a frame the client sends with framed stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Stdin = 4,
    StdinEnd = 5,
    WindowSize = 6,
}

/// The largest stdin payload a server accepts in one frame (the client sends at most 256 KiB).
pub const MAX_INPUT_PAYLOAD: u32 = 1 << 20;

/// The header of an input frame of `kind` carrying `len` bytes.
pub fn input_header(kind: InputKind, len: u32) -> [u8; FRAME_HEADER_LEN] {
    let l = len.to_be_bytes();
    [kind as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// A window-size frame, whole.
pub fn window_size_frame(rows: u16, cols: u16) -> [u8; FRAME_HEADER_LEN + 4] {
    let mut f = [0u8; FRAME_HEADER_LEN + 4];
    f[..FRAME_HEADER_LEN].copy_from_slice(&input_header(InputKind::WindowSize, 4));
    f[FRAME_HEADER_LEN..FRAME_HEADER_LEN + 2].copy_from_slice(&rows.to_be_bytes());
    f[FRAME_HEADER_LEN + 2..].copy_from_slice(&cols.to_be_bytes());
    f
}

/// Decode an input frame's header; the error says what is wrong with it.
pub fn parse_input_header(h: &[u8; FRAME_HEADER_LEN]) -> Result<(InputKind, u32), String> {
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let kind = match h[0] {
        4 => InputKind::Stdin,
        5 => InputKind::StdinEnd,
        6 => InputKind::WindowSize,
        k => return Err(format!("unknown stdin frame kind {k}")),
    };
    let want = match kind {
        InputKind::Stdin => None,
        InputKind::StdinEnd => Some(0),
        InputKind::WindowSize => Some(4),
    };
    if h[1..4] != [0, 0, 0] || want.is_some_and(|w| w != len) || len > MAX_INPUT_PAYLOAD {
        return Err(format!("malformed stdin frame header {h:?}"));
    }
    Ok((kind, len))
}

/// Decode a frame header; `None` when the bytes are not one (a server that does not frame).
pub fn parse_frame_header(h: &[u8; FRAME_HEADER_LEN]) -> Option<(FrameKind, u32)> {
    let kind = FrameKind::from_byte(h[0])?;
    if h[1..4] != [0, 0, 0] {
        return None;
    }
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_FRAME_PAYLOAD || (kind == FrameKind::Exit && len != 4) {
        return None;
    }
    Some((kind, len))
}

/// The options of a framed request (the JSON object in its second element). Unknown keys are
/// ignored, so a newer client can send more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RequestOptions {
    /// The client's terminal size as `[rows, columns]`, when its stdin is a terminal.
    #[serde(default)]
    pub tty_size: Option<(u16, u16)>,
    /// Whether the client's stdout and stderr are terminals (progress bars, not lines).
    #[serde(default)]
    pub ttys: [bool; 2],
    /// Whether the client frames its stdin (and sends window sizes).
    #[serde(default)]
    pub stdin_frames: bool,
}

/// A parsed request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A v0.1.0 request: raw output, no exit status.
    Plain { args: Vec<String> },
    /// An rcli/2 request: framed output and the exit status.
    Framed {
        options: RequestOptions,
        args: Vec<String>,
    },
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Parse one request line (without or with its newline). The error says what is wrong in
/// words a client can show.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| format!("the request is not JSON ({e}); send a JSON array of strings"))?;
    let serde_json::Value::Array(items) = value else {
        return Err(format!(
            "the request is {}, not a JSON array of strings",
            json_type(&value)
        ));
    };
    let mut args = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            serde_json::Value::String(s) => args.push(s),
            other => {
                return Err(format!(
                    "element {i} of the request is {}, not a string",
                    json_type(&other)
                ))
            }
        }
    }
    if args.first().map(String::as_str) == Some(FRAMED_MAGIC) {
        let Some(opts) = args.get(1) else {
            return Err("the rcli/2 request has no options element".to_string());
        };
        let options: RequestOptions = serde_json::from_str(opts)
            .map_err(|e| format!("the rcli/2 options {opts:?} are not valid: {e}"))?;
        return Ok(Request::Framed {
            options,
            args: args.split_off(2),
        });
    }
    if let Some(first) = args.first().filter(|a| a.starts_with(MAGIC_PREFIX)) {
        return Err(format!(
            "unsupported protocol {:?}: this daemon speaks rcli/2",
            first.trim_start_matches('\0')
        ));
    }
    Ok(Request::Plain { args })
}

/// The line of a v0.1.0 request for `args`, newline included.
pub fn encode_plain_request(args: &[String]) -> Vec<u8> {
    let mut line = serde_json::to_vec(args).expect("strings always serialize");
    line.push(b'\n');
    line
}

/// The line of an rcli/2 request for `args` with `options`, newline included.
pub fn encode_framed_request(args: &[String], options: &RequestOptions) -> Vec<u8> {
    let mut opts = serde_json::Map::new();
    if let Some((rows, cols)) = options.tty_size {
        opts.insert("tty_size".into(), serde_json::json!([rows, cols]));
    }
    if options.ttys != [false, false] {
        opts.insert("ttys".into(), serde_json::json!(options.ttys));
    }
    if options.stdin_frames {
        opts.insert("stdin_frames".into(), serde_json::json!(true));
    }
    let mut all = Vec::with_capacity(args.len() + 2);
    all.push(FRAMED_MAGIC.to_string());
    all.push(serde_json::Value::Object(opts).to_string());
    all.extend(args.iter().cloned());
    encode_plain_request(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn plain_requests_round_trip() {
        let line = encode_plain_request(&s(&["run", "-i", "busybox", "sh"]));
        assert_eq!(line, b"[\"run\",\"-i\",\"busybox\",\"sh\"]\n");
        assert_eq!(
            parse_request(&line).unwrap(),
            Request::Plain {
                args: s(&["run", "-i", "busybox", "sh"])
            }
        );
        assert_eq!(
            parse_request(b"[]").unwrap(),
            Request::Plain { args: vec![] }
        );
    }

    #[test]
    fn framed_requests_round_trip_with_options() {
        let opts = RequestOptions {
            tty_size: Some((24, 80)),
            ..Default::default()
        };
        let line = encode_framed_request(&s(&["run", "-t", "x"]), &opts);
        assert!(line.starts_with(b"[\"\\u0000rcli/2\",\"{\\\"tty_size\\\":[24,80]}\""));
        // The client's stdout and stderr terminals, sent only when one is.
        let ttys = RequestOptions {
            ttys: [true, false],
            ..Default::default()
        };
        let tline = encode_framed_request(&s(&["pull", "x"]), &ttys);
        assert!(String::from_utf8_lossy(&tline).contains(r#"ttys\":[true,false]"#));
        assert!(matches!(
            parse_request(&tline).unwrap(),
            Request::Framed { options, .. } if options == ttys
        ));
        assert_eq!(
            parse_request(&line).unwrap(),
            Request::Framed {
                options: opts,
                args: s(&["run", "-t", "x"])
            }
        );
        let none = encode_framed_request(&[], &RequestOptions::default());
        assert_eq!(
            parse_request(&none).unwrap(),
            Request::Framed {
                options: RequestOptions::default(),
                args: vec![]
            }
        );
        // Unknown option keys are ignored, so newer clients can send more.
        let line = br#"["\u0000rcli/2","{\"future\":1}","version"]"#;
        assert!(matches!(
            parse_request(line).unwrap(),
            Request::Framed { .. }
        ));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let e = parse_request(b"hello\n").unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = parse_request(b"{\"a\":1}").unwrap_err();
        assert!(e.contains("is an object, not a JSON array"), "{e}");
        let e = parse_request(b"[\"version\", 3]").unwrap_err();
        assert!(e.contains("element 1 of the request is a number"), "{e}");
        let e = parse_request(b"[\"\\u0000rcli/2\"]").unwrap_err();
        assert!(e.contains("no options element"), "{e}");
        let e = parse_request(b"[\"\\u0000rcli/2\", \"{\\\"tty_size\\\":[1]}\"]").unwrap_err();
        assert!(e.contains("options"), "{e}");
        let e = parse_request(b"[\"\\u0000rcli/9\", \"{}\"]").unwrap_err();
        assert!(e.contains("unsupported protocol \"rcli/9\""), "{e}");
    }

    #[test]
    fn stdin_frames_are_asked_for_and_parsed() {
        let opts = RequestOptions {
            tty_size: Some((24, 80)),
            stdin_frames: true,
            ..Default::default()
        };
        let line = encode_framed_request(&s(&["attach", "x"]), &opts);
        assert!(String::from_utf8_lossy(&line).contains(r#"stdin_frames\":true"#));
        assert!(matches!(
            parse_request(&line).unwrap(),
            Request::Framed { options, .. } if options == opts
        ));
        let f = window_size_frame(50, 200);
        assert_eq!(f, [6, 0, 0, 0, 0, 0, 0, 4, 0, 50, 0, 200]);
        assert_eq!(
            parse_input_header(f[..8].try_into().unwrap()),
            Ok((InputKind::WindowSize, 4))
        );
        let data = input_header(InputKind::Stdin, 3);
        assert_eq!(parse_input_header(&data), Ok((InputKind::Stdin, 3)));
        let end = input_header(InputKind::StdinEnd, 0);
        assert_eq!(parse_input_header(&end), Ok((InputKind::StdinEnd, 0)));
        // Output kinds, a window size of another length, a huge payload: refused.
        for bad in [
            [1, 0, 0, 0, 0, 0, 0, 1],
            [6, 0, 0, 0, 0, 0, 0, 2],
            [5, 0, 0, 0, 0, 0, 0, 1],
            [4, 0, 0, 0, 0x7f, 0, 0, 0],
            [4, 1, 0, 0, 0, 0, 0, 1],
        ] {
            assert!(parse_input_header(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn frame_headers() {
        let h = frame_header(FrameKind::Stderr, 300);
        assert_eq!(h, [2, 0, 0, 0, 0, 0, 1, 44]);
        assert_eq!(parse_frame_header(&h), Some((FrameKind::Stderr, 300)));
        assert_eq!(parse_frame_header(b"Error: n"), None);
        assert_eq!(parse_frame_header(&[3, 0, 0, 0, 0, 0, 0, 5]), None);
        assert_eq!(parse_frame_header(&[1, 0, 0, 0, 0xff, 0, 0, 0]), None);
    }
}
