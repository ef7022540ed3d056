//! Helpers of the registry tests: a real registry (Debian's `docker-registry`, distribution
//! 2.8) started on a free 127.0.0.1 port with a temporary storage directory, optionally behind
//! htpasswd (bcrypt) or token authentication; a token server issuing RS256 JWTs signed with a
//! key made by `openssl`; a fault-injecting HTTP proxy in front of a registry; a forwarding
//! proxy that records request heads and may answer some requests itself (an authenticating
//! front, or another host); and a fake registry serving canned answers. Everything listens on
//! 127.0.0.0/8 only (127.0.0.1 unless a test names another address) and stops on drop.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::common::TempDir;

/// How a test registry authenticates.
pub enum Auth {
    None,
    /// htpasswd (bcrypt) with one user.
    Basic {
        user: String,
        password: String,
    },
    /// Token authentication through a [`TokenServer`].
    Token(Arc<TokenServer>),
}

/// A running `docker-registry serve`, killed on drop.
pub struct Registry {
    pub port: u16,
    pub dir: TempDir,
    child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 request to 127.0.0.1:`port`; the status code, or `None` when nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Registry {
    pub fn start(tag: &str, auth: Auth) -> Registry {
        Self::start_with(tag, auth, None)
    }

    /// A registry serving https with the certificate and key at `tls` (PEM files).
    pub fn start_tls(tag: &str, cert: &Path, key: &Path) -> Registry {
        Self::start_with(tag, Auth::None, Some((cert, key)))
    }

    fn start_with(tag: &str, auth: Auth, tls: Option<(&Path, &Path)>) -> Registry {
        let dir = TempDir::new(&format!("reg-{tag}"));
        let tls_yaml = tls.map_or(String::new(), |(c, k)| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                c.display(),
                k.display()
            )
        });
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Basic { user, password } => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd (apache2-utils) is needed: scripts/setup.sh installs it");
                assert!(out.status.success());
                let path = dir.join("htpasswd");
                std::fs::write(&path, out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token(ts) => format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                ts.port,
                TokenServer::SERVICE,
                TokenServer::ISSUER,
                ts.cert.display()
            ),
        };
        for _ in 0..10 {
            let port = free_port();
            let config = dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n{tls_yaml}{auth_yaml}",
                    dir.join("storage").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join("registry.log")).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry is needed: scripts/setup.sh installs it");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                // An https registry answers plain http with 400.
                let up = match http_status(port, "/v2/") {
                    Some(200 | 401) => true,
                    Some(400) => tls.is_some(),
                    _ => false,
                };
                if up {
                    return Registry { port, dir, child };
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps the data of blob `digest` (`sha256:HEX`).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.join(&format!(
            "storage/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Accept connections on `ip` (a loopback address) until dropped, handing each to `handle`
/// on its own thread.
struct Acceptor {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Acceptor {
    fn start(ip: &str, handle: Arc<dyn Fn(TcpStream) + Send + Sync>) -> Acceptor {
        assert!(ip.starts_with("127."), "tests listen on 127.0.0.0/8 only");
        let l = TcpListener::bind((ip, 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(30)))
                            .unwrap();
                        let h = handle.clone();
                        thread::spawn(move || h(conn));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Acceptor {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP request head as read from a connection.
#[derive(Clone)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub raw: Vec<u8>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read a request or response head (up to the blank line).
fn read_head(r: &mut impl BufRead) -> Option<Head> {
    let mut raw = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        raw.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Head {
        method,
        path,
        headers,
        raw,
    })
}

/// A head with `Connection: close` in place of any Connection header, and `extra` headers.
fn closing(head: &Head, extra: &[(String, String)]) -> Vec<u8> {
    let text = String::from_utf8_lossy(&head.raw);
    let mut out = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Answer this status with a registry error body, without asking the registry.
    Status(u16),
    /// Forward, but close the connection after this many bytes of the response body.
    CutAfter(u64),
}

/// A proxy in front of a registry that injects faults: `decide(method, path)` chooses per
/// request. Every connection is closed after one exchange.
pub struct FaultProxy {
    acceptor: Acceptor,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FaultProxy {
    pub fn start(
        upstream: u16,
        decide: impl Fn(&str, &str) -> Fault + Send + Sync + 'static,
    ) -> FaultProxy {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reqs = requests.clone();
        let handle = move |conn: TcpStream| {
            let mut client = BufReader::new(conn);
            let Some(head) = read_head(&mut client) else {
                return;
            };
            reqs.lock()
                .unwrap()
                .push(format!("{} {}", head.method, head.path));
            let len: u64 = head
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len as usize];
            if client.read_exact(&mut body).is_err() {
                return;
            }
            let mut out = client.get_ref().try_clone().unwrap();
            match decide(&head.method, &head.path) {
                Fault::Status(code) => {
                    let msg = br#"{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}"#;
                    let _ = write!(
                        out,
                        "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        msg.len()
                    );
                    let _ = out.write_all(msg);
                }
                fault => {
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    up.write_all(&closing(&head, &[])).unwrap();
                    up.write_all(&body).unwrap();
                    let mut upr = BufReader::new(up);
                    let Some(resp) = read_head(&mut upr) else {
                        return;
                    };
                    if out.write_all(&closing(&resp, &[])).is_err() {
                        return;
                    }
                    let limit = match fault {
                        Fault::CutAfter(n) => n,
                        _ => u64::MAX,
                    };
                    let _ = std::io::copy(&mut upr.take(limit), &mut out);
                }
            }
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Both);
        };
        FaultProxy {
            acceptor: Acceptor::start("127.0.0.1", Arc::new(handle)),
            requests,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.acceptor.port)
    }
}

/// What a [`Forwarder`] does with one request.
pub enum Route {
    /// Forward it to the upstream, with these headers added.
    Forward(Vec<(String, String)>),
    /// Answer it without forwarding: this status and these headers, an empty body.
    Answer(u16, Vec<(String, String)>),
}

/// A proxy on `ip` in front of a registry on 127.0.0.1: records every request head, and
/// `route(head)` chooses per request. Bodies stream both ways (chunked uploads too); every
/// connection is closed after one exchange.
pub struct Forwarder {
    acceptor: Acceptor,
    ip: String,
    pub heads: Arc<Mutex<Vec<Head>>>,
}

impl Forwarder {
    pub fn start(
        ip: &str,
        upstream: u16,
        route: impl Fn(&Head) -> Route + Send + Sync + 'static,
    ) -> Forwarder {
        let heads: Arc<Mutex<Vec<Head>>> = Default::default();
        let seen = heads.clone();
        let handle = move |conn: TcpStream| {
            let mut client = BufReader::new(conn);
            let Some(head) = read_head(&mut client) else {
                return;
            };
            seen.lock().unwrap().push(head.clone());
            let mut out = client.get_ref().try_clone().unwrap();
            match route(&head) {
                Route::Answer(code, headers) => {
                    let mut text = format!("HTTP/1.1 {code} X\r\n");
                    for (k, v) in headers {
                        text.push_str(&format!("{k}: {v}\r\n"));
                    }
                    text.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = out.write_all(text.as_bytes());
                }
                Route::Forward(extra) => {
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    up.write_all(&closing(&head, &extra)).unwrap();
                    // The request body (what the reader holds, then the socket) streams up
                    // while the answer streams back.
                    let mut up_w = up.try_clone().unwrap();
                    let body = thread::spawn(move || {
                        let _ = std::io::copy(&mut client, &mut up_w);
                    });
                    let mut upr = BufReader::new(up);
                    if let Some(resp) = read_head(&mut upr) {
                        if out.write_all(&closing(&resp, &[])).is_ok() {
                            let _ = std::io::copy(&mut upr, &mut out);
                        }
                    }
                    let _ = out.shutdown(Shutdown::Both);
                    let _ = upr.get_ref().shutdown(Shutdown::Both);
                    let _ = body.join();
                }
            }
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Both);
        };
        Forwarder {
            acceptor: Acceptor::start(ip, Arc::new(handle)),
            ip: ip.to_string(),
            heads,
        }
    }

    pub fn host(&self) -> String {
        format!("{}:{}", self.ip, self.acceptor.port)
    }

    /// `METHOD PATH` of the requests that came with an `Authorization` header.
    pub fn authorized(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.header("authorization").is_some())
            .map(|h| format!("{} {}", h.method, h.path))
            .collect()
    }
}

/// A canned answer of the fake registry.
#[derive(Clone)]
pub enum Canned {
    /// Status, content type, body.
    Body(u16, String, Vec<u8>),
    /// A body announced as `length` bytes, of which `send` are sent (zeros).
    Announced { length: u64, send: u64 },
    /// A chunked body that never ends (until the client goes away or 1 GiB was sent).
    Endless,
}

/// A fake registry: GET/HEAD answered from a table of paths; anything else is a 404. Counts
/// the body bytes it has sent.
pub struct FakeRegistry {
    acceptor: Acceptor,
    pub routes: Arc<Mutex<HashMap<String, Canned>>>,
    pub sent: Arc<AtomicU64>,
    pub hits: Arc<AtomicUsize>,
}

impl FakeRegistry {
    pub fn start() -> FakeRegistry {
        let routes: Arc<Mutex<HashMap<String, Canned>>> = Default::default();
        let sent = Arc::new(AtomicU64::new(0));
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, s, h) = (routes.clone(), sent.clone(), hits.clone());
        let handle = move |conn: TcpStream| {
            let mut client = BufReader::new(conn);
            let Some(head) = read_head(&mut client) else {
                return;
            };
            h.fetch_add(1, Ordering::SeqCst);
            let mut out = client.get_ref().try_clone().unwrap();
            let canned = r
                .lock()
                .unwrap()
                .get(&head.path)
                .cloned()
                .unwrap_or_else(|| {
                    Canned::Body(
                        404,
                        "application/json".into(),
                        br#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#.to_vec(),
                    )
                });
            let head_only = head.method == "HEAD";
            match canned {
                Canned::Body(code, ct, body) => {
                    let _ = write!(
                        out,
                        "HTTP/1.1 {code} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if !head_only && out.write_all(&body).is_ok() {
                        s.fetch_add(body.len() as u64, Ordering::SeqCst);
                    }
                }
                Canned::Announced { length, send } => {
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
                    );
                    let chunk = vec![b' '; 64 << 10];
                    let mut left = send;
                    while left > 0 && !head_only {
                        let n = left.min(chunk.len() as u64) as usize;
                        if out.write_all(&chunk[..n]).is_err() {
                            break;
                        }
                        s.fetch_add(n as u64, Ordering::SeqCst);
                        left -= n as u64;
                    }
                }
                Canned::Endless => {
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    );
                    let chunk = vec![b' '; 64 << 10];
                    let mut total = 0u64;
                    while total < (1 << 30) {
                        if write!(out, "{:x}\r\n", chunk.len()).is_err()
                            || out.write_all(&chunk).is_err()
                            || out.write_all(b"\r\n").is_err()
                        {
                            break;
                        }
                        total += chunk.len() as u64;
                        s.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    }
                }
            }
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Both);
        };
        FakeRegistry {
            acceptor: Acceptor::start("127.0.0.1", Arc::new(handle)),
            routes,
            sent,
            hits,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.acceptor.port)
    }

    pub fn route(&self, path: &str, canned: Canned) {
        self.routes.lock().unwrap().insert(path.to_string(), canned);
    }

    /// Serve `body` as blob `digest` of `repo`.
    pub fn blob(&self, repo: &str, digest: &str, body: Vec<u8>) {
        self.route(
            &format!("/v2/{repo}/blobs/{digest}"),
            Canned::Body(200, "application/octet-stream".into(), body),
        );
    }

    /// Serve `body` as manifest `reference` of `repo` (Docker schema 2).
    pub fn manifest(&self, repo: &str, reference: &str, body: Vec<u8>) {
        self.route(
            &format!("/v2/{repo}/manifests/{reference}"),
            Canned::Body(
                200,
                "application/vnd.docker.distribution.manifest.v2+json".into(),
                body,
            ),
        );
    }
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A token server for the registry's token authentication: `GET /token?service=&scope=` with
/// the right basic credentials gets an RS256 JWT granting the scope's actions; no credentials
/// get a token granting nothing; wrong ones get a 401. The signing key and its self-signed
/// certificate (the registry's `rootcertbundle`) are made with `openssl`.
pub struct TokenServer {
    pub port: u16,
    pub cert: PathBuf,
    _dir: TempDir,
    acceptor: Option<Acceptor>,
    pub issued: Arc<Mutex<Vec<String>>>,
}

impl TokenServer {
    pub const SERVICE: &'static str = "test-registry";
    pub const ISSUER: &'static str = "test-issuer";

    pub fn start(user: &str, password: &str) -> Arc<TokenServer> {
        let dir = TempDir::new("token");
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        let st = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-subj", "/CN=docker-runtime token test"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed");
        assert!(st.success());
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap()
            .stdout;
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let issued = Arc::new(Mutex::new(Vec::new()));
        let iss = issued.clone();
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let user = user.to_string();
        let counter = Arc::new(AtomicU64::new(0));
        let handle = move |conn: TcpStream| {
            let mut client = BufReader::new(conn);
            let Some(head) = read_head(&mut client) else {
                return;
            };
            let mut out = client.get_ref().try_clone().unwrap();
            let auth = head.header("authorization").map(str::to_string);
            let (status, body) = if auth.is_some() && auth.as_deref() != Some(good.as_str()) {
                (
                    401,
                    r#"{"details":"wrong username or password"}"#.to_string(),
                )
            } else {
                let query = head.path.split_once('?').map(|(_, q)| q).unwrap_or("");
                let mut access = Vec::new();
                for kv in query.split('&') {
                    let Some(("scope", v)) = kv.split_once('=') else {
                        continue;
                    };
                    let scope = url_decode(v);
                    // repository:NAME:ACTIONS (NAME may hold ':' only with a port, not here)
                    let parts: Vec<&str> = scope.splitn(3, ':').collect();
                    if parts.len() == 3 && auth.is_some() {
                        let actions: Vec<&str> = parts[2].split(',').collect();
                        access.push(serde_json::json!({
                            "type": parts[0], "name": parts[1], "actions": actions
                        }));
                    }
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
                let claims = serde_json::json!({
                    "iss": Self::ISSUER,
                    "sub": if auth.is_some() { user.as_str() } else { "" },
                    "aud": Self::SERVICE,
                    "exp": now + 600,
                    "nbf": now - 60,
                    "iat": now - 60,
                    "jti": format!("t{}", counter.fetch_add(1, Ordering::SeqCst)),
                    "access": access,
                });
                let signing = format!(
                    "{}.{}",
                    b64url(header.to_string().as_bytes()),
                    b64url(claims.to_string().as_bytes())
                );
                let mut sign = Command::new("openssl")
                    .args(["dgst", "-sha256", "-sign"])
                    .arg(&key)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                sign.stdin
                    .take()
                    .unwrap()
                    .write_all(signing.as_bytes())
                    .unwrap();
                let sig = sign.wait_with_output().unwrap().stdout;
                let token = format!("{signing}.{}", b64url(&sig));
                iss.lock().unwrap().push(head.path.clone());
                (200, serde_json::json!({ "token": token }).to_string())
            };
            let _ = write!(
                out,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = out.shutdown(Shutdown::Both);
        };
        let acceptor = Acceptor::start("127.0.0.1", Arc::new(handle));
        Arc::new(TokenServer {
            port: acceptor.port,
            cert,
            _dir: dir,
            acceptor: Some(acceptor),
            issued,
        })
    }
}

/// The names in `dir` (sorted), empty when it does not exist.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// A runtime on `root` whose containers use the `docker-init` of this build.
pub fn runtime(root: &Path) -> docker_runtime::Runtime {
    let opts = docker_runtime::RuntimeOptions {
        init_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_docker-init"))),
        ..Default::default()
    };
    docker_runtime::Runtime::new(root, opts).unwrap()
}

/// Register a chain of layers (plain tar archives) on top of `parent`, the last with
/// `config`; returns the top image's id.
pub fn register_chain(
    rt: &docker_runtime::Runtime,
    parent: Option<&str>,
    layers: &[Vec<u8>],
    config: Option<docker_runtime::image::ImageConfig>,
) -> String {
    let mut parent = parent.map(str::to_string);
    for (i, tar) in layers.iter().enumerate() {
        let mut img = docker_runtime::image::Image::new(parent.as_deref()).unwrap();
        if i + 1 == layers.len() {
            img.config = config.clone();
        }
        let img = rt.graph().register(img, &tar[..]).unwrap();
        parent = Some(img.id);
    }
    parent.unwrap()
}

/// Upload an image made by hand to a registry through the library's client: each layer blob
/// as given (with its media type), the config, and a schema 2 manifest under `tag`. Returns
/// the manifest's digest.
pub fn upload_raw(
    host: &str,
    repo: &str,
    tag: &str,
    layers: &[(Vec<u8>, &str)],
    config: &serde_json::Value,
) -> String {
    use docker_runtime::registry::{manifest, Client, Digest};
    let c = Client::new(host, repo, None, &Default::default()).unwrap();
    let mut descs = Vec::new();
    for (blob, mt) in layers {
        let d = Digest::of(blob);
        c.upload_bytes(&d, blob).unwrap();
        descs.push(serde_json::json!({"mediaType": mt, "digest": d.as_str(), "size": blob.len()}));
    }
    let cfg = serde_json::to_vec(config).unwrap();
    let cd = Digest::of(&cfg);
    c.upload_bytes(&cd, &cfg).unwrap();
    let man = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::DOCKER_MANIFEST,
        "config": {"mediaType": manifest::DOCKER_CONFIG, "digest": cd.as_str(), "size": cfg.len()},
        "layers": descs,
    });
    let body = serde_json::to_vec(&man).unwrap();
    c.put_manifest(tag, manifest::DOCKER_MANIFEST, &body)
        .unwrap();
    Digest::of(&body).to_string()
}

/// The sha256 digest (`sha256:HEX`) of `data`.
pub fn digest_of(data: &[u8]) -> String {
    docker_runtime::registry::Digest::of(data).to_string()
}

/// A minimal image config naming `diff_ids`.
pub fn config_json(diff_ids: &[String]) -> serde_json::Value {
    serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
}

/// `n` bytes that do not compress (a xorshift stream from `seed`).
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}
