//! Bad requests, each its own test: each gets a clear error on its connection (or is dropped),
//! and the daemon keeps serving a good client afterwards.

mod common;
mod daemon_support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use daemon_support::*;

/// A daemon that gives a client one second to send its request line.
fn daemon() -> Daemon {
    Daemon::start(&["--request-timeout", "1"])
}

/// Send `bytes` raw and return the answer as text.
fn answer(d: &Daemon, bytes: &[u8]) -> String {
    String::from_utf8(d.raw(bytes)).unwrap()
}

#[test]
fn a_first_line_that_is_not_json() {
    let d = daemon();
    let a = answer(&d, b"version please\n");
    assert!(a.starts_with("Error: the request is not JSON ("), "{a}");
    assert!(a.ends_with("send a JSON array of strings\n"), "{a}");
    d.assert_serving();
}

#[test]
fn a_first_line_that_is_not_an_array() {
    let d = daemon();
    assert_eq!(
        answer(&d, b"{\"cmd\": \"version\"}\n"),
        "Error: the request is an object, not a JSON array of strings\n"
    );
    assert_eq!(
        answer(&d, b"\"version\"\n"),
        "Error: the request is a string, not a JSON array of strings\n"
    );
    d.assert_serving();
}

#[test]
fn a_first_line_that_is_not_strings() {
    let d = daemon();
    assert_eq!(
        answer(&d, b"[\"version\", 1]\n"),
        "Error: element 1 of the request is a number, not a string\n"
    );
    assert_eq!(
        answer(&d, b"[[\"version\"]]\n"),
        "Error: element 0 of the request is an array, not a string\n"
    );
    // An argument with a NUL byte cannot reach the C ABI: the command does not run.
    let (out, err, status) = d.framed(&["ver\u{0}sion"]);
    assert_eq!(out, "");
    assert_eq!(err, "Error: argument 0 contains a NUL byte\n");
    assert_eq!(status, Some(1));
    d.assert_serving();
}

#[test]
fn a_ten_megabyte_first_line_is_refused_without_reading_it_all() {
    let d = daemon();
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 10 << 20 {
            match w.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let mut reply = Vec::new();
    // The answer, then the end (or a reset once the daemon closes on unread bytes).
    let _ = s.read_to_end(&mut reply);
    let sent = writer.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "Error: the request line is longer than 1048576 bytes; it was refused\n"
    );
    assert!(
        sent < 10 << 20,
        "the daemon stopped reading: {sent} bytes went out"
    );
    d.assert_serving();
    assert!(d.rss_kib() < 64 * 1024, "RSS {} KiB", d.rss_kib());
}

#[test]
fn a_first_line_never_finished_times_out() {
    let d = daemon();
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"[\"vers").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert_eq!(
        reply,
        "Error: the request line was not finished within 1 s\n"
    );
    d.assert_serving();
}

#[test]
fn an_unknown_command() {
    let d = daemon();
    assert_eq!(
        answer(&d, b"[\"frobnicate\", \"x\"]\n"),
        "Error: \"frobnicate\" is not a docker command. See 'docker help'.\n"
    );
    let (out, err, status) = d.framed(&["frobnicate"]);
    assert_eq!(
        (out.as_str(), err.as_str(), status),
        (
            "",
            "Error: \"frobnicate\" is not a docker command. See 'docker help'.\n",
            Some(1)
        )
    );
    let o = d.client(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(1));
    d.assert_serving();
}

#[test]
fn a_client_that_closes_at_once() {
    let d = Daemon::start(&["--request-timeout", "1", "-D"]);
    for _ in 0..50 {
        drop(UnixStream::connect(&d.sock).unwrap());
    }
    // Or half-closes without a byte.
    let s = UnixStream::connect(&d.sock).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    (&s).read_to_end(&mut reply).unwrap();
    assert!(reply.is_empty(), "dropped without a word");
    d.assert_serving();
    assert!(eventually(Duration::from_secs(10), || d
        .log()
        .matches("closed before sending a request")
        .count()
        >= 51));
}

#[test]
fn binary_garbage() {
    let d = daemon();
    let mut garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    garbage.extend_from_slice(b"\xff\xfe\x00\n\x01\x02");
    let a = answer(&d, &garbage);
    assert!(a.starts_with("Error: the request is not JSON"), "{a:?}");
    // Garbage without a newline, then the end.
    let a = answer(&d, b"\x00\x01\x02\xff\xfe");
    assert_eq!(
        a,
        "Error: the connection ended after 5 bytes without finishing the request line\n"
    );
    // JSON with invalid UTF-8 inside a string.
    let a = answer(&d, b"[\"ver\xffsion\"]\n");
    assert!(a.starts_with("Error: the request is not JSON"), "{a:?}");
    d.assert_serving();
}

#[test]
fn an_unsupported_protocol_version_or_bad_options() {
    let d = daemon();
    assert_eq!(
        answer(&d, b"[\"\\u0000rcli/9\", \"{}\", \"version\"]\n"),
        "Error: unsupported protocol \"rcli/9\": this daemon speaks rcli/2\n"
    );
    assert_eq!(
        answer(&d, b"[\"\\u0000rcli/2\"]\n"),
        "Error: the rcli/2 request has no options element\n"
    );
    let a = answer(
        &d,
        b"[\"\\u0000rcli/2\", \"{\\\"tty_size\\\": [99999, 1]}\", \"version\"]\n",
    );
    assert!(a.starts_with("Error: the rcli/2 options"), "{a}");
    d.assert_serving();
}
