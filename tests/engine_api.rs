//! The Docker Engine API on the daemon's socket: raw HTTP requests for each endpoint and each
//! kind of bad input (the daemon answers clearly and keeps serving), then Debian's docker
//! 20.10 CLI (`/usr/bin/docker`, the client only, always `-H unix://OUR.sock`) against it.

mod common;
mod daemon_support;
mod registry_support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use common::TempDir;
use daemon_support::*;

/// A daemon with a busybox image tagged `busybox:latest` (tagged through the API).
fn daemon() -> Daemon {
    let dir = TempDir::new("engine");
    let sock = dir.join("s.sock");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let id = common::make_busybox_image(&root);
    let mut d = Daemon::spawn(dir, sock, root, &["-D"]);
    d.wait_ready();
    let r = request(
        &d,
        "POST",
        &format!("/v1.41/images/{id}/tag?repo=busybox&tag=latest"),
        None,
    );
    assert_eq!(r.status, 201, "{r:?}");
    d
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// One request with an optional JSON body; the whole answer (the daemon closes after it).
fn request(d: &Daemon, method: &str, path: &str, body: Option<&Value>) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    parse_response(&d.raw(raw.as_bytes()))
}

/// The frames of a multiplexed stream: (stream, bytes).
fn frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let len = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
        assert_eq!(&b[1..4], &[0, 0, 0], "a frame header");
        out.push((b[0], b[8..8 + len].to_vec()));
        b = &b[8 + len..];
    }
    assert!(b.is_empty(), "a partial frame is left: {b:?}");
    out
}

/// The daemon answers a ping and an rcli client (checked after every bad input).
/// The connections' threads have ended (the daemon is back to `before` threads) and it still
/// answers.
fn threads_back_to(d: &Daemon, before: usize) {
    assert!(
        common::eventually(Duration::from_secs(10), || d.thread_count() <= before),
        "threads {} > {before}",
        d.thread_count()
    );
    assert_serving(d);
}

fn assert_serving(d: &Daemon) {
    let r = request(d, "GET", "/_ping", None);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"OK"[..]),
        "{}",
        d.log()
    );
    d.assert_serving();
}

fn create(d: &Daemon, body: Value) -> String {
    let r = request(d, "POST", "/v1.41/containers/create", Some(&body));
    assert_eq!(r.status, 201, "{r:?}");
    r.json()["Id"].as_str().unwrap().to_string()
}

#[test]
fn ping_version_info_and_the_version_prefixes() {
    let d = daemon();
    let r = request(&d, "GET", "/_ping", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"OK");
    assert_eq!(r.header("Api-Version"), Some("1.41"));
    assert_eq!(r.header("Ostype"), Some("linux"));
    assert_eq!(r.header("Docker-Experimental"), Some("false"));
    assert!(r.header("Builder-Version").is_some());
    let r = request(&d, "HEAD", "/v1.41/_ping", None);
    assert_eq!((r.status, r.body.len()), (200, 0), "HEAD has no body");
    let v = request(&d, "GET", "/v1.24/version", None).json();
    assert_eq!(v["ApiVersion"], "1.41");
    assert_eq!(v["Os"], "linux");
    let info = request(&d, "GET", "/v1.41/info", None).json();
    assert_eq!(info["Images"], 1);
    assert_eq!(info["Containers"], 0);
    assert_eq!(info["OSType"], "linux");
    let r = request(&d, "GET", "/v1.99/version", None);
    assert_eq!(r.status, 400);
    assert!(r.message().contains("too new"), "{r:?}");
}

#[test]
fn bad_input_gets_a_clear_answer_and_the_daemon_keeps_serving() {
    let d = daemon();
    // Not an endpoint of the subset.
    let r = request(&d, "GET", "/v1.41/networks", None);
    assert_eq!(r.status, 404);
    assert!(
        r.message().contains("GET /networks is not supported"),
        "{r:?}"
    );
    // Malformed request lines: 400, then the connection is closed.
    for raw in [
        &b"GET\x01 / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\n\r\n",
    ] {
        let r = parse_response(&d.raw(raw));
        assert_eq!(r.status, 400, "{raw:?}: {r:?}");
        assert!(!r.message().is_empty());
        assert_serving(&d);
    }
    // Headers past 64 KiB.
    let big = format!(
        "GET /_ping HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let r = parse_response(&d.raw(big.as_bytes()));
    assert_eq!(r.status, 431, "{r:?}");
    assert_serving(&d);
    // A body past the limit (4 MiB).
    let body = "x".repeat(5 << 20);
    let raw = format!(
        "POST /containers/create HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = parse_response(&d.raw(raw.as_bytes()));
    assert_eq!(r.status, 413, "{r:?}");
    assert_serving(&d);
    // A head that never ends is cut at the request timeout (10 s by default): covered by
    // the unit tests of the rcli line; here a client that stops mid-head and leaves.
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHo").unwrap();
    drop(s);
    assert_serving(&d);
    // Wrong JSON, wrong types, unsupported fields: 400 naming the cause.
    for (body, word) in [
        (json!({"Image": 5}), "Config"),
        (json!({"Image": "busybox", "Cmd": {"a": 1}}), "Config"),
        (
            json!({"Image": "busybox", "HostConfig": {"Privileged": true}}),
            "HostConfig.Privileged",
        ),
        (
            json!({"Image": "busybox", "HostConfig": {"Memory": 1024}}),
            "memory limit",
        ),
        (json!({"Image": "busybox", "Env": ["=x"]}), "environment"),
    ] {
        let r = request(&d, "POST", "/containers/create", Some(&body));
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert!(r.message().contains(word), "{body}: {}", r.message());
    }
    let raw = b"POST /containers/create HTTP/1.1\r\nContent-Length: 5\r\n\r\n{nope";
    let r = parse_response(&d.raw(raw));
    assert_eq!(r.status, 400);
    assert!(r.message().contains("not valid JSON"), "{r:?}");
    // A name (`name=`): shown in the list and inspect; a bad or taken one is refused.
    let r = request(
        &d,
        "POST",
        "/containers/create?name=web",
        Some(&json!({"Image": "busybox", "Cmd": ["true"]})),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = request(&d, "GET", "/containers/web/json", None);
    assert_eq!(
        (r.status, r.json()["Name"].as_str()),
        (200, Some("/web")),
        "{r:?}"
    );
    let r = request(&d, "GET", "/containers/json?all=1", None);
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["Names"][0] == "/web"),
        "{r:?}"
    );
    let r = request(
        &d,
        "POST",
        "/containers/create?name=web",
        Some(&json!({"Image": "busybox", "Cmd": ["true"]})),
    );
    assert_eq!(r.status, 409, "{r:?}");
    assert!(r.message().contains("is already in use"), "{r:?}");
    let r = request(&d, "DELETE", "/containers/web", None);
    assert_eq!(r.status, 204, "{r:?}");
    // An anonymous volume (`Volumes`) goes with `v=1`.
    let vid = create(
        &d,
        json!({"Image": "busybox", "Cmd": ["true"], "Volumes": {"/data": {}}}),
    );
    let vols = || std::fs::read_dir(d.root.join("volumes")).map_or(0, |r| r.count());
    assert_eq!(vols(), 1);
    let r = request(&d, "DELETE", &format!("/containers/{vid}?v=1"), None);
    assert_eq!((r.status, vols()), (204, 0), "{r:?}");
    // Things that do not exist.
    let r = request(
        &d,
        "POST",
        "/containers/create",
        Some(&json!({"Image": "nothere"})),
    );
    assert_eq!(r.status, 404);
    assert!(r.message().contains("No such image: nothere"), "{r:?}");
    let r = request(&d, "GET", "/containers/0123abc/json", None);
    assert_eq!(
        (r.status, r.message().as_str()),
        (404, "No such container: 0123abc")
    );
    let r = request(&d, "GET", "/images/nothere/json", None);
    assert_eq!(r.status, 404);
    let r = request(
        &d,
        "GET",
        "/containers/json?filters=%7B%22label%22%3A%5B%22a%22%5D%7D",
        None,
    );
    assert_eq!(r.status, 400);
    assert!(r.message().contains("label"), "{r:?}");
    assert_eq!(
        request(&d, "GET", "/containers/json?limit=x", None).status,
        400
    );
    assert_serving(&d);
}

#[test]
fn a_chunked_body_is_read() {
    let d = daemon();
    let body = json!({"Image": "busybox", "Cmd": ["true"]}).to_string();
    let (a, b) = body.split_at(10);
    let raw = format!(
        "POST /containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let r = parse_response(&d.raw(raw.as_bytes()));
    assert_eq!(r.status, 201, "{r:?}");
}

#[test]
fn a_container_s_life_over_raw_http() {
    let d = daemon();
    let id = create(
        &d,
        json!({"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; sleep 30"], "Env": ["A=1"]}),
    );
    let v = request(&d, "GET", &format!("/containers/{id}/json"), None).json();
    assert_eq!(v["State"]["Status"], "created");
    assert_eq!(v["Config"]["Image"], "busybox");
    let r = request(&d, "POST", &format!("/v1.41/containers/{id}/start"), None);
    assert_eq!(r.status, 204, "{r:?}");
    let r = request(&d, "POST", &format!("/v1.41/containers/{id}/start"), None);
    assert_eq!(r.status, 304, "already started");
    let v = request(&d, "GET", &format!("/containers/{}/json", &id[..12]), None).json();
    assert_eq!(v["State"]["Running"], true);
    assert!(v["State"]["Pid"].as_i64().unwrap() > 0);
    assert!(v["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .starts_with("10.213."));
    let list = request(&d, "GET", "/containers/json", None).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["Id"], id.as_str());
    assert_eq!(list[0]["State"], "running");
    assert!(common::eventually(Duration::from_secs(10), || {
        let r = request(
            &d,
            "GET",
            &format!("/containers/{id}/logs?stdout=1&stderr=1"),
            None,
        );
        let f = frames(&r.body);
        f.contains(&(1, b"out\n".to_vec())) && f.contains(&(2, b"err\n".to_vec()))
    }));
    let r = request(&d, "GET", &format!("/containers/{id}/logs?stderr=1"), None);
    assert_eq!(frames(&r.body), vec![(2, b"err\n".to_vec())]);
    // timestamps=1: docker's RFC 3339 stamp (nanoseconds, UTC) before each line.
    let r = request(
        &d,
        "GET",
        &format!("/containers/{id}/logs?stderr=1&timestamps=1"),
        None,
    );
    let f = frames(&r.body);
    let line = String::from_utf8(f[0].1.clone()).unwrap();
    let (stamp, rest) = line.split_once(' ').unwrap();
    assert_eq!(rest, "err\n", "{line:?}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok()
            && stamp.ends_with('Z')
            && stamp.len() == 30,
        "{stamp}"
    );
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/pause"), None).status,
        204
    );
    let v = request(&d, "GET", &format!("/containers/{id}/json"), None).json();
    assert_eq!(v["State"]["Status"], "paused");
    assert_eq!(v["State"]["Paused"], true);
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/pause"), None).status,
        409
    );
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/unpause"), None).status,
        204
    );
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/unpause"), None).status,
        409
    );
    let r = request(
        &d,
        "POST",
        &format!("/containers/{id}/kill?signal=NOPE"),
        None,
    );
    assert_eq!(r.status, 400);
    let r = request(&d, "DELETE", &format!("/containers/{id}"), None);
    assert_eq!(r.status, 409, "running: {r:?}");
    let r = request(&d, "POST", &format!("/containers/{id}/stop?t=1"), None);
    assert_eq!(r.status, 204);
    let r = request(&d, "POST", &format!("/containers/{id}/stop"), None);
    assert_eq!(r.status, 304, "stopped already");
    let r = request(&d, "POST", &format!("/containers/{id}/kill"), None);
    assert_eq!(r.status, 409);
    let r = request(&d, "POST", &format!("/containers/{id}/wait"), None);
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["StatusCode"],
        137
    );
    assert_eq!(
        request(&d, "GET", "/containers/json", None).json(),
        json!([])
    );
    let all = request(&d, "GET", "/containers/json?all=1", None).json();
    assert_eq!(all[0]["State"], "exited");
    let exited = request(
        &d,
        "GET",
        "/containers/json?filters=%7B%22status%22%3A%5B%22exited%22%5D%7D",
        None,
    )
    .json();
    assert_eq!(exited.as_array().unwrap().len(), 1);
    let r = request(&d, "GET", &format!("/containers/{id}/changes"), None);
    assert_eq!(r.status, 200);
    let r = request(&d, "GET", &format!("/containers/{id}/export"), None);
    assert_eq!(r.status, 200);
    let mut names = Vec::new();
    for e in tar::Archive::new(&r.body[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.iter().any(|n| n.ends_with("bin/busybox")),
        "{names:?}"
    );
    let r = request(&d, "DELETE", &format!("/containers/{id}"), None);
    assert_eq!(r.status, 204);
    assert_eq!(
        request(&d, "GET", &format!("/containers/{id}/json"), None).status,
        404
    );
}

/// Open a hijacked attach; returns the stream after the 101 head.
fn attach(d: &Daemon, id: &str, query: &str) -> UnixStream {
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /v1.41/containers/{id}/attach?{query} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "the head ended early: {head:?}");
        head.push(b[0]);
    }
    let r = parse_response(&head);
    assert_eq!(r.status, 101, "{r:?}");
    assert_eq!(r.header("Upgrade"), Some("tcp"));
    s
}

#[test]
fn attach_streams_stdin_and_output_and_survives_a_client_leaving_early() {
    let d = daemon();
    let id = create(
        &d,
        json!({"Image": "busybox", "Cmd": ["sh", "-c", "cat; echo done >&2"], "OpenStdin": true, "StdinOnce": true, "AttachStdin": true}),
    );
    // A first client attaches and leaves at once: nothing of it stays behind.
    let early = attach(&d, &id, "stream=1&stdout=1&stderr=1");
    drop(early);
    // The attach is made before the start, as the CLI does.
    let mut s = attach(&d, &id, "stream=1&stdin=1&stdout=1&stderr=1");
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/start"), None).status,
        204
    );
    s.write_all(b"hello\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let f = frames(&out);
    assert!(f.contains(&(1, b"hello\n".to_vec())), "{f:?}");
    assert!(f.contains(&(2, b"done\n".to_vec())), "{f:?}");
    let r = request(&d, "POST", &format!("/containers/{id}/wait"), None);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["StatusCode"],
        0
    );
    // An attach to a container without an open stdin that asks for one is refused.
    let other = create(&d, json!({"Image": "busybox", "Cmd": ["true"]}));
    let r = request(
        &d,
        "POST",
        &format!("/containers/{other}/attach?stream=1&stdin=1"),
        None,
    );
    assert_eq!(r.status, 409);
    assert!(r.message().contains("OpenStdin"), "{r:?}");
    // A follower of a silent container that leaves costs nothing: the daemon's threads
    // come back to what they were.
    let silent = create(&d, json!({"Image": "busybox", "Cmd": ["sleep", "60"]}));
    assert_eq!(
        request(&d, "POST", &format!("/containers/{silent}/start"), None).status,
        204
    );
    let before = d.thread_count();
    for _ in 0..5 {
        let s = attach(&d, &silent, "stream=1&stdout=1&stderr=1");
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    }
    threads_back_to(&d, before);
}

#[test]
fn wait_answers_its_head_first_and_removed_waits_for_auto_remove() {
    let d = daemon();
    let id = create(
        &d,
        json!({"Image": "busybox", "Cmd": ["sh", "-c", "exit 7"], "HostConfig": {"AutoRemove": true}}),
    );
    let shown = request(&d, "GET", &format!("/containers/{id}/json"), None).json();
    assert_eq!(shown["HostConfig"]["AutoRemove"], true, "{shown}");
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /containers/{id}/wait?condition=removed HTTP/1.1\r\n\r\n"
    )
    .unwrap();
    // The head comes before the start (the CLI waits for it before starting).
    let mut head = [0u8; 15];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/start"), None).status,
        204
    );
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let r = parse_response(&[&head[..], &rest].concat());
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["StatusCode"],
        7
    );
    assert_eq!(
        request(&d, "GET", &format!("/containers/{id}/json"), None).status,
        404
    );
    let r = request(&d, "POST", "/containers/x/wait?condition=sometime", None);
    assert_eq!(r.status, 400);
}

#[test]
fn images_over_raw_http() {
    let d = daemon();
    let list = request(&d, "GET", "/images/json", None).json();
    assert_eq!(list[0]["RepoTags"], json!(["busybox:latest"]));
    let v = request(&d, "GET", "/images/busybox/json", None).json();
    assert!(v["Id"].as_str().unwrap().starts_with("sha256:"));
    let h = request(&d, "GET", "/images/busybox:latest/history", None).json();
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(
        request(&d, "POST", "/images/busybox/tag?repo=other&tag=v1", None).status,
        201
    );
    let r = request(&d, "POST", "/images/busybox/tag?repo=Bad%20Name", None);
    assert_eq!(r.status, 400, "{r:?}");
    let r = request(&d, "DELETE", "/images/other:v1", None);
    assert_eq!(r.json(), json!([{"Untagged": "other:v1"}]));
    // Import from the body, then commit a container of it.
    let mut tar = tar::Builder::new(Vec::new());
    let mut hdr = tar::Header::new_gnu();
    hdr.set_size(3);
    hdr.set_mode(0o644);
    hdr.set_uid(0);
    hdr.set_gid(0);
    hdr.set_mtime(0);
    hdr.set_cksum();
    tar.append_data(&mut hdr, "hello.txt", &b"hi\n"[..])
        .unwrap();
    let data = tar.into_inner().unwrap();
    let mut raw = format!(
        "POST /images/create?fromSrc=-&repo=imported&tag=t HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    raw.extend_from_slice(&data);
    let r = parse_response(&d.raw(&raw));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(String::from_utf8_lossy(&r.body).contains("sha256:"));
    assert_eq!(
        request(&d, "GET", "/images/imported:t/json", None).status,
        200
    );
    let id = create(&d, json!({"Image": "busybox", "Cmd": ["touch", "/made"]}));
    assert_eq!(
        request(&d, "POST", &format!("/containers/{id}/start"), None).status,
        204
    );
    request(&d, "POST", &format!("/containers/{id}/wait"), None);
    let r = request(
        &d,
        "POST",
        &format!("/commit?container={id}&repo=committed&tag=c"),
        None,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = request(&d, "DELETE", "/images/busybox", None);
    assert_eq!(r.status, 409, "used by a container: {r:?}");
    // A pull from nowhere reports its error in the stream.
    let r = request(
        &d,
        "POST",
        "/images/create?fromImage=127.0.0.1:1/none&tag=x",
        None,
    );
    assert_eq!(r.status, 200);
    assert!(
        String::from_utf8_lossy(&r.body).contains("\"error\""),
        "{r:?}"
    );
}

#[test]
fn events_stream_while_another_client_works() {
    let d = daemon();
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /v1.41/events HTTP/1.1\r\n\r\n").unwrap();
    let mut head = [0u8; 15];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    let id = create(&d, json!({"Image": "busybox", "Cmd": ["true"]}));
    let mut seen = String::new();
    let mut b = [0u8; 4096];
    while !seen.contains("\"create\"") {
        let n = s.read(&mut b).unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&b[..n]));
    }
    let line = seen.lines().find(|l| l.contains("\"create\"")).unwrap();
    let e: Value = serde_json::from_str(line).unwrap();
    assert_eq!(e["Type"], "container");
    assert_eq!(e["Actor"]["ID"], id.as_str());
    assert_eq!(e["status"], "create");
    drop(s);
    assert_serving(&d);
}

// --- Debian's docker 20.10 CLI against our socket ---

const CLI: &str = "/usr/bin/docker";

/// Run the real docker CLI against `d` (its config in a temp dir, never the user's).
fn cli(d: &Daemon, cfg: &TempDir, args: &[&str], input: Option<&[u8]>) -> Output {
    assert!(
        std::path::Path::new(CLI).exists(),
        "{CLI} is missing: scripts/setup.sh installs Debian's docker.io (the client is used, never its daemon)"
    );
    let mut child = Command::new(CLI)
        .env("DOCKER_CONFIG", cfg.path())
        .env_remove("DOCKER_HOST")
        .arg("-H")
        .arg(d.addr())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn cli_ok(d: &Daemon, cfg: &TempDir, args: &[&str]) -> String {
    let out = cli(d, cfg, args, None);
    assert!(
        out.status.success(),
        "docker {args:?}: {out:?}\n{}",
        d.log()
    );
    stdout(&out)
}

#[test]
fn the_docker_cli_runs_against_the_daemon() {
    let d = daemon();
    let cfg = TempDir::new("docker-config");
    let v = cli_ok(&d, &cfg, &["version"]);
    assert!(
        v.contains("Server: docker-runtime") && v.contains("API version:      1.41"),
        "{v}"
    );
    let info = cli_ok(&d, &cfg, &["info"]);
    assert!(info.contains("Images: 1"), "{info}");
    assert_eq!(
        cli_ok(&d, &cfg, &["run", "--rm", "busybox", "echo", "hi"]),
        "hi\n"
    );
    let out = cli(
        &d,
        &cfg,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo oops >&2; exit 3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stderr(&out), "oops\n");
    assert_eq!(cli_ok(&d, &cfg, &["ps", "-aq"]), "", "--rm removed them");
    let id = cli_ok(
        &d,
        &cfg,
        &["run", "-d", "busybox", "sh", "-c", "echo started; sleep 60"],
    );
    let id = id.trim();
    let ps = cli_ok(&d, &cfg, &["ps"]);
    assert!(ps.contains(&id[..12]) && ps.contains("Up "), "{ps}");
    assert!(common::eventually(Duration::from_secs(10), || {
        cli_ok(&d, &cfg, &["logs", id]) == "started\n"
    }));
    assert_eq!(cli_ok(&d, &cfg, &["stop", "-t", "1", id]).trim(), id);
    let ps = cli_ok(&d, &cfg, &["ps", "-a"]);
    assert!(ps.contains("Exited (137)"), "{ps}");
    assert_eq!(cli_ok(&d, &cfg, &["rm", "-f", id]).trim(), id);
    // An exited container started again with its output attached (attach, then start).
    let id = cli_ok(&d, &cfg, &["create", "busybox", "echo", "again"]);
    let id = id.trim();
    assert_eq!(cli_ok(&d, &cfg, &["start", "-a", id]), "again\n");
    assert_eq!(cli_ok(&d, &cfg, &["start", "-a", id]), "again\n");
    cli_ok(&d, &cfg, &["rm", id]);
    let images = cli_ok(&d, &cfg, &["images"]);
    assert!(
        images.contains("busybox") && images.contains("latest"),
        "{images}"
    );
    let out = cli(
        &d,
        &cfg,
        &["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo end"],
        Some(b"from stdin\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "from stdin\nend\n");
    let out = cli(&d, &cfg, &["inspect", "nothere"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("No such object: nothere") || stderr(&out).contains("No such"),
        "{out:?}"
    );
    let out = cli(&d, &cfg, &["run", "--privileged", "busybox", "true"], None);
    assert!(
        stderr(&out).contains("HostConfig.Privileged is not supported"),
        "{out:?}"
    );
}

/// docker 20.10's `run --mount` sends `HostConfig.Mounts`: binds, volumes and tmpfs mounts
/// become ours; what the runtime cannot do (another propagation) is refused by name.
#[test]
fn the_docker_cli_s_mounts() {
    let d = daemon();
    let cfg = TempDir::new("docker-config-mount");
    let host = TempDir::new("cli-mount-host");
    std::fs::write(host.join("in"), "from the host\n").unwrap();
    let bind = format!("type=bind,src={},dst=/data,readonly", host.path().display());
    let out = cli_ok(
        &d,
        &cfg,
        &[
            "run", "--rm", "--network", "none", "--mount", &bind, "--mount",
            "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", "--mount", "src=clivol,dst=/v",
            "busybox", "sh", "-c",
            "cat /data/in; touch /data/x 2>/dev/null || echo refused; grep -c ' /t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770' /proc/mounts",
        ],
    );
    assert_eq!(out, "from the host\nrefused\n1\n");
    assert!(d.root.join("volumes/clivol/_data").is_dir());
    let shared = format!(
        "type=bind,src={},dst=/data,bind-propagation=shared",
        host.path().display()
    );
    let out = cli(
        &d,
        &cfg,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--mount",
            &shared,
            "busybox",
            "true",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Propagation \"shared\" is not supported"),
        "{out:?}"
    );
    assert_eq!(cli_ok(&d, &cfg, &["ps", "-aq"]), "", "nothing was made");
}

/// docker 20.10's `volume create/ls/inspect/rm/prune` against the daemon: a volume in use
/// is refused (409, naming the container) and kept by a prune.
#[test]
fn the_docker_cli_s_volumes() {
    let d = daemon();
    let cfg = TempDir::new("docker-config-vol");
    assert_eq!(
        cli_ok(&d, &cfg, &["volume", "create", "--label", "a=b", "cv1"]),
        "cv1\n"
    );
    assert_eq!(cli_ok(&d, &cfg, &["volume", "create", "cv2"]), "cv2\n");
    assert_eq!(cli_ok(&d, &cfg, &["volume", "ls", "-q"]), "cv1\ncv2\n");
    let v: Value = serde_json::from_str(&cli_ok(&d, &cfg, &["volume", "inspect", "cv1"])).unwrap();
    assert_eq!(v[0]["Labels"], json!({"a": "b"}));
    assert_eq!(v[0]["Driver"], "local");
    let id = cli_ok(
        &d,
        &cfg,
        &[
            "create",
            "--network",
            "none",
            "-v",
            "cv1:/data",
            "busybox",
            "true",
        ],
    );
    let id = id.trim();
    let out = cli(&d, &cfg, &["volume", "rm", "cv1"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("remove cv1: volume is in use - [{id}]")),
        "{out:?}"
    );
    let out = cli(&d, &cfg, &["volume", "rm", "nosuch"], None);
    assert!(stderr(&out).contains("No such volume: nosuch"), "{out:?}");
    let out = cli(&d, &cfg, &["volume", "create", "-d", "nfs", "cv3"], None);
    assert!(stderr(&out).contains("volume driver \"nfs\""), "{out:?}");
    assert_eq!(
        cli_ok(&d, &cfg, &["volume", "prune", "-f"]),
        "Deleted Volumes:\ncv2\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(cli_ok(&d, &cfg, &["volume", "ls", "-q"]), "cv1\n");
    cli_ok(&d, &cfg, &["rm", id]);
    assert_eq!(cli_ok(&d, &cfg, &["volume", "rm", "cv1"]), "cv1\n");
    assert_eq!(cli_ok(&d, &cfg, &["volume", "ls", "-q"]), "");
}

#[test]
fn the_docker_cli_ports_export_commit_save_and_load() {
    let d = daemon();
    let cfg = TempDir::new("docker-config");
    let id = cli_ok(&d, &cfg, &["run", "-d", "-p", "8080", "busybox", "sh", "-c", "echo hello > /www/index.html || (mkdir /www; echo hello > /www/index.html); httpd -f -p 8080 -h /www"]);
    let id = id.trim();
    let port = cli_ok(&d, &cfg, &["port", id, "8080"]);
    let public = port
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert!(
        common::eventually(Duration::from_secs(10), || {
            let mut s = match std::net::TcpStream::connect(format!("127.0.0.1:{public}")) {
                Ok(s) => s,
                Err(_) => return false,
            };
            let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out.ends_with("hello\n")
        }),
        "fetching through the mapped port {port}"
    );
    let diff = cli_ok(&d, &cfg, &["diff", id]);
    assert!(diff.contains("A /www"), "{diff}");
    cli_ok(&d, &cfg, &["commit", id, "web:v1"]);
    let hist = cli_ok(&d, &cfg, &["history", "web:v1"]);
    assert_eq!(hist.lines().count(), 3, "{hist}");
    let export = cli(&d, &cfg, &["export", id], None);
    let mut names = Vec::new();
    for e in tar::Archive::new(&export.stdout[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.iter().any(|n| n.ends_with("www/index.html")),
        "{names:?}"
    );
    cli_ok(&d, &cfg, &["rm", "-f", id]);
    let saved = cli(&d, &cfg, &["save", "web:v1"], None);
    assert!(saved.status.success(), "{saved:?}");
    cli_ok(&d, &cfg, &["rmi", "web:v1"]);
    let out = cli(&d, &cfg, &["load"], Some(&saved.stdout));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "Loaded image: web:v1\n");
    assert_eq!(
        cli_ok(
            &d,
            &cfg,
            &["run", "--rm", "web:v1", "cat", "/www/index.html"]
        ),
        "hello\n"
    );
}

#[test]
fn the_docker_cli_pushes_to_and_pulls_from_a_local_registry() {
    let reg = registry_support::Registry::start("engine", registry_support::Auth::None);
    let d = daemon();
    let cfg = TempDir::new("docker-config");
    let name = format!("{}/bb:v1", reg.host());
    cli_ok(&d, &cfg, &["tag", "busybox", &name]);
    let out = cli_ok(&d, &cfg, &["push", &name]);
    assert!(out.contains("v1: digest: sha256:"), "{out}");
    cli_ok(&d, &cfg, &["rmi", &name]);
    let out = cli_ok(&d, &cfg, &["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(
        cli_ok(&d, &cfg, &["run", "--rm", &name, "echo", "pulled"]),
        "pulled\n"
    );
    // The tag in fromImage itself, as some clients send it.
    let r = request(
        &d,
        "POST",
        &format!("/images/create?fromImage={name}"),
        None,
    );
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        text.contains("Status: Downloaded newer image for"),
        "{text}"
    );
    // A name nobody has: the pull fails with the registry's answer.
    let out = cli(
        &d,
        &cfg,
        &["pull", &format!("{}/nothere:x", reg.host())],
        None,
    );
    assert!(!out.status.success());
    assert!(!stderr(&out).is_empty(), "{out:?}");
}

/// docker-py from PyPI in a virtualenv under the test's temp dir; skipped (saying so) when
/// PyPI cannot be reached.
#[test]
fn docker_py_drives_the_daemon() {
    let venv = TempDir::new("docker-py");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv.path())
        .status()
        .unwrap();
    assert!(made.success(), "python3 -m venv failed");
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check", "docker"])
        .output()
        .unwrap();
    if !pip.status.success() {
        eprintln!(
            "SKIPPED docker_py_drives_the_daemon: pip install docker failed (PyPI unreachable?):\n{}",
            String::from_utf8_lossy(&pip.stderr)
        );
        return;
    }
    let reg = registry_support::Registry::start("engine-py", registry_support::Auth::None);
    let d = daemon();
    let script = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
host = sys.argv[2]
assert c.version()["ApiVersion"] == "1.41"
assert c.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
ct = c.containers.run("busybox", ["sh", "-c", "echo a; sleep 0.3; echo b; exit 3"], detach=True)
assert b"".join(ct.logs(stream=True, follow=True)) == b"a\nb\n"
assert ct.wait()["StatusCode"] == 3
ct.reload()
assert ct.status == "exited", ct.status
ct.remove()
ct = c.containers.run("busybox", ["sleep", "60"], detach=True, name="py-exec")
assert c.containers.get("py-exec").id == ct.id
code, out = ct.exec_run(["sh", "-c", "echo in-exec; exit 4"])
assert (code, out) == (4, b"in-exec\n"), (code, out)
ct.remove(force=True)
assert c.containers.list(all=True) == []
assert [i.tags for i in c.images.list()] == [["busybox:latest"]]
img = c.images.get("busybox")
img.tag("again", "t")
c.images.remove("again:t")
img.tag(host + "/py", "v1")
out = c.images.push(host + "/py", tag="v1")
assert "v1: digest: sha256:" in out, out
c.images.remove(host + "/py:v1")
pulled = c.images.pull(host + "/py", tag="v1")
assert pulled.tags == [host + "/py:v1"], pulled.tags
c.images.remove(host + "/py:v1")
try:
    c.images.get("nothere")
    raise SystemExit("no ImageNotFound")
except docker.errors.ImageNotFound:
    pass
try:
    c.containers.get("nothere")
    raise SystemExit("no NotFound")
except docker.errors.NotFound as e:
    assert "No such container: nothere" in str(e), e
try:
    c.containers.run("busybox", "true", privileged=True)
    raise SystemExit("no APIError")
except docker.errors.APIError as e:
    assert e.status_code == 400 and "HostConfig.Privileged" in str(e), e
print("ok")
"#;
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(d.addr())
        .arg(reg.host())
        .output()
        .unwrap();
    assert!(
        out.status.success() && stdout(&out) == "ok\n",
        "{out:?}\n{}",
        d.log()
    );
}

#[test]
fn a_request_that_stalls_is_cut_at_the_request_timeout() {
    let d = Daemon::start(&["--request-timeout", "1"]);
    // A head that never ends (slowloris), then a body that stops short of its length.
    for (raw, status) in [
        (&b"GET /_ping HTTP/1.1\r\nHost: x\r\n"[..], 408),
        (
            b"POST /containers/create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"Ima",
            408,
        ),
    ] {
        let mut s = UnixStream::connect(&d.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(raw).unwrap();
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let r = parse_response(&out);
        assert_eq!(r.status, status, "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_serving(&d);
    }
}

#[test]
fn streaming_clients_that_leave_cost_nothing_also_over_tcp() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Daemon::start(&["-H", &format!("tcp://127.0.0.1:{port}")]);
    // The unix socket answers first; wait for the TCP one too.
    assert!(common::eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }));
    let before = d.thread_count();
    // Over TCP a peer's close is only a half-close until the daemon writes: an events
    // stream with no events would keep its threads forever if only hang-ups were watched.
    for path in ["/events", "/events?filters=%7B%7D"] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        // The whole head is read: closing with unread bytes would send a reset, which the
        // daemon sees at once; a plain close is a FIN, a half-close on its side.
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200 OK"));
        drop(s);
    }
    let mut s = UnixStream::connect(&d.sock).unwrap();
    write!(s, "GET /events HTTP/1.1\r\n\r\n").unwrap();
    let mut head = [0u8; 15];
    s.read_exact(&mut head).unwrap();
    drop(s);
    threads_back_to(&d, before);
}

#[test]
fn the_docker_cli_with_a_terminal_events_and_logs_follow() {
    let d = daemon();
    let cfg = TempDir::new("docker-config");
    // `run -it` under a pseudo-terminal (script(1) gives the CLI one): the shell reads the
    // typed lines through the terminal and its status comes back.
    let cmd = format!(
        "{CLI} -H {} run -it --rm busybox sh -c 'tty; read line; echo got:$line; exit 5'",
        d.addr()
    );
    let mut child = Command::new("script")
        .args(["-eqc", &cmd, "/dev/null"])
        .env("DOCKER_CONFIG", cfg.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stdin.write_all(b"typed\n").unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let text = stdout(&out);
    assert!(text.contains("/dev/pts/"), "a terminal inside: {text:?}");
    assert!(text.contains("got:typed"), "{text:?}");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // `events` while another client runs a container.
    let mut events = Command::new(CLI)
        .env("DOCKER_CONFIG", cfg.path())
        .args(["-H", &d.addr(), "events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let id = cli_ok(
        &d,
        &cfg,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo n$i; sleep 0.2; done",
        ],
    );
    let id = id.trim();
    // `logs -f` follows to the end of the run.
    assert_eq!(cli_ok(&d, &cfg, &["logs", "-f", id]), "n1\nn2\nn3\n");
    cli_ok(&d, &cfg, &["rm", id]);
    std::thread::sleep(Duration::from_millis(300));
    events.kill().unwrap();
    let out = events.wait_with_output().unwrap();
    let text = stdout(&out);
    for action in ["create", "start", "die", "destroy"] {
        assert!(
            text.contains(&format!("container {action} {id}")),
            "{action}: {text}"
        );
    }
}

#[test]
fn docker_login_then_push_and_pull_with_the_saved_login() {
    let reg = registry_support::Registry::start(
        "engine-auth",
        registry_support::Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        },
    );
    let d = daemon();
    let cfg = TempDir::new("docker-config");
    let host = reg.host();
    let out = cli(
        &d,
        &cfg,
        &["login", "-u", "alice", "-p", "wrong", &host],
        None,
    );
    assert!(!out.status.success(), "{out:?}");
    let out = cli(
        &d,
        &cfg,
        &["login", "-u", "alice", "-p", "s3cret", &host],
        None,
    );
    assert!(stdout(&out).contains("Login Succeeded"), "{out:?}");
    let name = format!("{host}/private:v1");
    cli_ok(&d, &cfg, &["tag", "busybox", &name]);
    // The CLI now sends the login in X-Registry-Auth: it is the daemon's, so it is served.
    let out = cli_ok(&d, &cfg, &["push", &name]);
    assert!(out.contains("v1: digest: sha256:"), "{out}");
    cli_ok(&d, &cfg, &["rmi", &name]);
    cli_ok(&d, &cfg, &["pull", &name]);
    // Other credentials than the daemon's are refused, not silently replaced.
    use base64::Engine;
    let other = base64::engine::general_purpose::URL_SAFE
        .encode(json!({"username": "mallory", "password": "x", "serveraddress": host}).to_string());
    let raw = format!(
        "POST /images/create?fromImage={name} HTTP/1.1\r\nX-Registry-Auth: {other}\r\n\r\n"
    );
    let r = parse_response(&d.raw(raw.as_bytes()));
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.message().contains("not this daemon's saved login"),
        "{r:?}"
    );
}

/// Exec instances over raw HTTP (create, start on a hijacked connection with its frames,
/// inspect's exit code, the errors) and with the real docker CLI (`exec`, `exec -i`, the
/// program's status, a stopped container).
#[test]
fn exec_over_raw_http_and_with_the_docker_cli() {
    let d = daemon();
    let id = create(&d, json!({"Image": "busybox", "Cmd": ["sleep", "300"]}));
    let r = request(&d, "POST", &format!("/v1.41/containers/{id}/start"), None);
    assert_eq!(r.status, 204, "{r:?}");
    let make = |body: Value| {
        let r = request(
            &d,
            "POST",
            &format!("/v1.41/containers/{id}/exec"),
            Some(&body),
        );
        assert_eq!(r.status, 201, "{r:?}");
        r.json()["Id"].as_str().unwrap().to_string()
    };
    let exec = make(json!({"AttachStdout": true, "AttachStderr": true,
                           "Cmd": ["sh", "-c", "echo out; echo err >&2; hostname; exit 7"]}));
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = json!({"Detach": false, "Tty": false}).to_string();
    write!(
        s,
        "POST /v1.41/exec/{exec}/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(parse_response(&all[..split]).status, 101);
    let got = frames(&all[split..]);
    let text = |k: u8| -> String {
        got.iter()
            .filter(|(s, _)| *s == k)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect()
    };
    assert_eq!(text(1), format!("out\n{}\n", &id[..12]), "{got:?}");
    assert_eq!(text(2), "err\n");
    let r = request(&d, "GET", &format!("/v1.41/exec/{exec}/json"), None);
    assert_eq!(
        (r.json()["ExitCode"].as_i64(), r.json()["Running"].as_bool()),
        (Some(7), Some(false))
    );
    // Started twice, unknown, no command, more rights than the container's.
    let r = request(
        &d,
        "POST",
        &format!("/v1.41/exec/{exec}/start"),
        Some(&json!({})),
    );
    assert_eq!(r.status, 409, "{r:?}");
    let r = request(&d, "GET", "/v1.41/exec/nosuch/json", None);
    assert_eq!(r.status, 404, "{r:?}");
    for (body, want) in [
        (json!({"Cmd": []}), "No exec command"),
        (json!({"Cmd": ["true"], "Privileged": true}), "Privileged"),
    ] {
        let r = request(
            &d,
            "POST",
            &format!("/v1.41/containers/{id}/exec"),
            Some(&body),
        );
        assert_eq!(r.status, 400, "{r:?}");
        assert!(r.message().contains(want), "{r:?}");
    }

    let cfg = TempDir::new("docker-config-exec");
    assert_eq!(
        cli_ok(&d, &cfg, &["exec", &id, "cat", "/proc/1/comm"]),
        "sleep\n"
    );
    // `top`: the container's processes as ps -ef's columns (the CLI prints them).
    let top = cli_ok(&d, &cfg, &["top", &id]);
    assert!(top.starts_with("UID") && top.contains("sleep 300"), "{top}");
    let out = cli(&d, &cfg, &["exec", &id, "sh", "-c", "exit 5"], None);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let out = cli(
        &d,
        &cfg,
        &["exec", "-i", &id, "tr", "a-z", "A-Z"],
        Some(b"shout\n"),
    );
    assert_eq!(stdout(&out), "SHOUT\n", "{out:?}");
    let out = cli(&d, &cfg, &["exec", &id, "nosuchprogram"], None);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    cli_ok(&d, &cfg, &["exec", "-d", &id, "sleep", "1"]);
    cli_ok(&d, &cfg, &["kill", &id]);
    let out = cli(&d, &cfg, &["exec", &id, "true"], None);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("is not running"), "{out:?}");
    cli_ok(&d, &cfg, &["rm", "-f", &id]);
}
