//! The HTTP side of the Docker Registry HTTP API v2 / OCI distribution spec: requests with
//! authentication (basic, and the bearer-token flow driven by `WWW-Authenticate` challenges),
//! manifests, blobs and uploads.
//!
//! A registry on 127.0.0.0/8 or `localhost` is spoken to over plain http (as docker treats
//! such registries as insecure); every other one over https. Credentials go only where
//! [`super::scope`] allows: the registry's own origin, and for the basic ones the token realm;
//! redirects (of GET and HEAD) are followed here, hop by hop, to apply that rule to each.

use std::io::Read;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use ureq::http::{Method, Request, Response};
use ureq::{Body, SendBody};

use super::digest::Digest;
use super::scope::{next_url, Origin};
use super::trust::{is_certificate_error, is_tls_error, RegistryOptions, Scheme};
use crate::error::{Error, ErrorKind, Result};

/// Largest token-server answer or error body read.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// Most redirects followed for one request (as Go's HTTP client, which docker uses).
const MAX_REDIRECTS: usize = 10;

/// A username and password for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// True when `host[:port]` is a loopback registry (plain http).
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    name == "localhost" || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// The scheme of an insecure registry: https when it answers a TLS session (its certificate
/// unchecked), plain http when what it answers is not TLS.
fn speaks_tls(agent: &ureq::Agent, host: &str) -> &'static str {
    let probe = agent
        .get(format!("https://{host}/v2/"))
        .config()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .call();
    match probe {
        Err(e) if is_tls_error(&e) => "http",
        _ => "https",
    }
}

/// One challenge of a `WWW-Authenticate` header: a scheme and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a `WWW-Authenticate` header (RFC 7235): `Scheme k=v, k="quoted \" v", Scheme2 ...`.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let b = header.as_bytes();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let is_tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&c);
    let skip = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    loop {
        skip(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            break; // garbage: stop
        }
        let token = &header[start..i];
        let mut j = i;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' {
            // A parameter of the current challenge.
            i = j + 1;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            let value = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = Vec::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    v.push(b[i]);
                    i += 1;
                }
                i += 1;
                String::from_utf8_lossy(&v).into_owned()
            } else {
                let s = i;
                while i < b.len() && b[i] != b',' && b[i] != b' ' {
                    i += 1;
                }
                header[s..i].to_string()
            };
            match out.last_mut() {
                Some(c) => c.params.push((token.to_ascii_lowercase(), value)),
                None => break,
            }
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: Vec::new(),
            });
        }
    }
    out
}

/// Percent-encode a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client of one registry, for one repository.
pub struct Client {
    agent: ureq::Agent,
    host: String,
    base: String,
    /// The registry's scheme, host and port: the only origin its `auth` is sent to (`None`
    /// when `host` makes no URL, and then no request can be made either).
    origin: Option<Origin>,
    /// The repository path requests name (`library/busybox`).
    repo: String,
    creds: Option<Credentials>,
    /// The `Authorization` value that the last challenge earned.
    auth: Mutex<Option<String>>,
    /// Where the registry's certificate folder is looked for (named in certificate errors).
    certs_dir: std::path::PathBuf,
}

/// A request body that can be sent again after a challenge.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
}

fn remote(msg: String) -> Error {
    Error::new(ErrorKind::Remote, msg)
}

impl Client {
    /// A client of the registry `host[:port]` for repository `repo`, trusted as `opts` says
    /// (see [`super::trust`]).
    pub fn new(
        host: &str,
        repo: &str,
        creds: Option<Credentials>,
        opts: &RegistryOptions,
    ) -> Result<Client> {
        let loopback = is_loopback(host);
        let trust = opts
            .trust(host, loopback)
            .map_err(|e| e.context(format_args!("registry {host}")))?;
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .user_agent(concat!("docker-runtime/", env!("CARGO_PKG_VERSION")))
            // Redirects are followed by `follow`, which decides where credentials go.
            .max_redirects(0)
            .input_buffer_size(256 << 10)
            .output_buffer_size(256 << 10)
            .tls_config(trust.tls);
        if loopback {
            // Never through a proxy the environment names: the registry is on this machine.
            cfg = cfg.proxy(None);
        }
        let agent: ureq::Agent = cfg.build().into();
        let scheme = match trust.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::HttpsOrHttp => speaks_tls(&agent, host),
        };
        let base = format!("{scheme}://{host}");
        Ok(Client {
            agent,
            host: host.to_string(),
            origin: Origin::of(&base).ok(),
            base,
            repo: repo.to_string(),
            creds,
            auth: Mutex::new(None),
            certs_dir: opts.certs_dir.clone(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// `BASE/v2/REPO/SUFFIX`.
    pub fn repo_url(&self, suffix: &str) -> String {
        format!("{}/v2/{}/{suffix}", self.base, self.repo)
    }

    /// Where the `Location` that `from` answered with leads ([`next_url`]).
    fn next_url(&self, from: &str, location: &str) -> Result<String> {
        next_url(from, location).map_err(|e| e.context(format_args!("registry {}", self.host)))
    }

    /// True when `url` is on the registry's own origin, where its credentials may go.
    fn is_own(&self, url: &str) -> bool {
        self.origin.as_ref().is_some_and(|o| o.covers(url))
    }

    fn build(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        auth: Option<&str>,
    ) -> ureq::http::request::Builder {
        let mut b = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(a) = auth {
            b = b.header("Authorization", a);
        }
        b
    }

    fn net_error(&self, method: &Method, url: &str, e: ureq::Error) -> Error {
        let hint = if is_certificate_error(&e) {
            format!(
                " (put the registry's CA in {}/ca.crt, or run the daemon with \
                 --insecure-registry {})",
                self.certs_dir.join(&self.host).display(),
                self.host
            )
        } else {
            String::new()
        };
        remote(format!(
            "registry {}: {method} {url} failed: {}{hint}",
            self.host,
            describe(e)
        ))
    }

    fn current_auth(&self) -> Option<String> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Send a request whose body can be sent again, following redirects: a 401 answer of the
    /// registry's own origin has its challenge met (basic credentials, or a bearer token from
    /// the challenge's realm) and the request repeated once.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let go = |auth: Option<&str>| {
            let scoped = self.origin.as_ref().zip(auth);
            self.follow(&method, url, headers, payload, scoped)
        };
        let (at, resp) = go(self.current_auth().as_deref())?;
        if resp.status() != 401 || !self.is_own(&at) {
            return Ok(resp);
        }
        let auth = self.answer_challenge(&resp)?;
        let (at, resp) = go(Some(&auth))?;
        if resp.status() == 401 && self.is_own(&at) {
            return Err(self.denied());
        }
        Ok(resp)
    }

    /// Send a request, following the redirects of a GET or HEAD (at most [`MAX_REDIRECTS`]):
    /// each hop carries `auth`'s value only when it is on `auth`'s origin, and https never
    /// leads to plain http. Returns the URL that answered, and its answer.
    fn follow(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
        auth: Option<(&Origin, &str)>,
    ) -> Result<(String, Response<Body>)> {
        let redirectable = *method == Method::GET || *method == Method::HEAD;
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let hop_auth = auth.filter(|(o, _)| o.covers(&url)).map(|(_, a)| a);
            let resp = self.once(method, &url, headers, payload, hop_auth)?;
            let redirect = matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = header(&resp, "location").filter(|_| redirect && redirectable);
            let Some(location) = location else {
                return Ok((url, resp));
            };
            url = self.next_url(&url, &location)?;
        }
        Err(remote(format!(
            "registry {}: {method} {url}: more than {MAX_REDIRECTS} redirects",
            self.host
        )))
    }

    /// One request, with `auth` as its `Authorization` header.
    fn once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
        auth: Option<&str>,
    ) -> Result<Response<Body>> {
        let b = self.build(method, url, headers, auth);
        let built = match payload {
            Payload::Empty => b.body(()).map(|r| self.agent.run(r)),
            Payload::Bytes(d) => b.body(d).map(|r| self.agent.run(r)),
        };
        built
            .map_err(|e| remote(format!("building the request {method} {url}: {e}")))?
            .map_err(|e| self.net_error(method, url, e))
    }

    /// Send a request with a streamed body (sent once, not redirected: the caller has met
    /// any challenge before with an earlier request, as the upload's POST does). The
    /// credentials go with it only when `url` is on the registry's own origin.
    pub fn send_stream(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &mut dyn Read,
    ) -> Result<Response<Body>> {
        let own = self.is_own(url);
        let auth = self.current_auth().filter(|_| own);
        let req = self
            .build(&method, url, headers, auth.as_deref())
            .body(SendBody::from_reader(body))
            .map_err(|e| remote(format!("building the request {method} {url}: {e}")))?;
        let resp = self
            .agent
            .run(req)
            .map_err(|e| self.net_error(&method, url, e))?;
        if resp.status() == 401 && own {
            return Err(self.denied());
        }
        Ok(resp)
    }

    fn denied(&self) -> Error {
        match &self.creds {
            Some(c) => Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "registry {} refused access to {} for user {:?}: check the password (docker login {}) and the user's rights",
                    self.host, self.repo, c.username, self.host
                ),
            ),
            None => Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "registry {} requires authentication for {}: run docker login {} first",
                    self.host, self.repo, self.host
                ),
            ),
        }
    }

    /// Meet the challenge of a 401 answer; remember and return the `Authorization` value.
    fn answer_challenge(&self, resp: &Response<Body>) -> Result<String> {
        let header = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let challenges = parse_challenges(&header);
        let auth = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            format!("Bearer {}", self.fetch_token(c)?)
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            let Some(c) = &self.creds else {
                return Err(self.denied());
            };
            basic(c)
        } else {
            return Err(remote(format!(
                "registry {} asks for authentication with an unsupported challenge: {header:?}",
                self.host
            )));
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth.clone());
        Ok(auth)
    }

    /// The bearer-token flow: GET the challenge's realm with its service and scope (and our
    /// credentials, if any, for the realm's origin only) and take the token from the JSON
    /// answer.
    fn fetch_token(&self, c: &Challenge) -> Result<String> {
        let url = self.token_url(c)?;
        let realm = Origin::of(&url).map_err(|e| e.context("the token realm"))?;
        let creds = self.creds.as_ref().map(basic);
        let auth = creds.as_deref().map(|b| (&realm, b));
        let (_, resp) = self.follow(&Method::GET, &url, &[], Payload::Empty, auth)?;
        let status = resp.status();
        if status == 401 || status == 403 {
            return Err(match &self.creds {
                Some(cr) => Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "the token server of registry {} refused the credentials of user {:?}: wrong username or password",
                        self.host, cr.username
                    ),
                ),
                None => self.denied(),
            });
        }
        if !status.is_success() {
            return Err(remote(format!(
                "the token server of registry {} answered {status} to {url}",
                self.host
            )));
        }
        self.read_token(resp)
    }

    /// The token request's URL: the challenge's realm (https, or http for a registry on this
    /// machine) with its service and scopes as query parameters.
    fn token_url(&self, c: &Challenge) -> Result<String> {
        let realm = c.param("realm").ok_or_else(|| {
            remote(format!(
                "registry {} sent a bearer challenge without a realm",
                self.host
            ))
        })?;
        let secure = realm.starts_with("https://");
        if !(secure || realm.starts_with("http://") && is_loopback(&self.host)) {
            return Err(remote(format!(
                "registry {} names the token server {realm:?}: only https (or http for a registry on this machine) is accepted",
                self.host
            )));
        }
        let mut query = Vec::new();
        if let Some(s) = c.param("service") {
            query.push(format!("service={}", url_encode(s)));
        }
        if let Some(scope) = c.param("scope") {
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                query.push(format!("scope={}", url_encode(s)));
            }
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        Ok(if query.is_empty() {
            realm.to_string()
        } else {
            format!("{realm}{sep}{}", query.join("&"))
        })
    }

    /// The token in the token server's JSON answer (`token`, or OAuth's `access_token`).
    fn read_token(&self, resp: Response<Body>) -> Result<String> {
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let body = read_capped(resp, MAX_SMALL_BODY, "the token server's answer")?;
        let t: Token = serde_json::from_slice(&body).map_err(|e| {
            remote(format!(
                "the token server of registry {} answered with malformed JSON: {e}",
                self.host
            ))
        })?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                remote(format!(
                    "the token server of registry {} answered without a token",
                    self.host
                ))
            })?;
        if token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(remote(format!(
                "the token server of registry {} answered with a malformed token",
                self.host
            )));
        }
        Ok(token)
    }

    /// Check the credentials: `GET /v2/`, meeting a challenge. Ok when the registry lets us
    /// in; a refusal is `PermissionDenied` naming the user.
    pub fn login(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let resp = match (self.send(Method::GET, &url, &[], Payload::Empty), &self.creds) {
            (Err(e), Some(c)) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "registry {} refused the credentials of user {:?}: wrong username or password",
                        self.host, c.username
                    ),
                ))
            }
            (r, _) => r?,
        };
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self.status_error("GET", &url, resp))
        }
    }

    /// An error for an unexpected answer, with the registry's own message when it sent one.
    pub fn status_error(&self, method: &str, url: &str, resp: Response<Body>) -> Error {
        let status = resp.status();
        let detail = read_capped(resp, 64 << 10, "an error body")
            .ok()
            .and_then(|b| registry_message(&b))
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let kind = match status.as_u16() {
            404 => ErrorKind::NotFound,
            401 | 403 => ErrorKind::PermissionDenied,
            _ => ErrorKind::Remote,
        };
        Error::new(
            kind,
            format!(
                "registry {} answered {status} to {method} {url}{detail}",
                self.host
            ),
        )
    }

    /// HEAD a blob: its size when the registry holds it.
    pub fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let url = self.repo_url(&format!("blobs/{digest}"));
        let resp = self.send(Method::HEAD, &url, &[], Payload::Empty)?;
        match resp.status().as_u16() {
            200 => Ok(Some(content_length(&resp).unwrap_or(0))),
            404 => Ok(None),
            _ => Err(self.status_error("HEAD", &url, resp)),
        }
    }

    /// GET a blob; the caller reads and verifies the body.
    pub fn get_blob(&self, digest: &Digest) -> Result<Response<Body>> {
        let url = self.repo_url(&format!("blobs/{digest}"));
        let resp = self.send(Method::GET, &url, &[], Payload::Empty)?;
        if resp.status() == 200 {
            Ok(resp)
        } else {
            Err(self.status_error("GET", &url, resp))
        }
    }

    /// GET a manifest by tag or digest: its content type and body (at most `max` bytes; a
    /// larger one is refused without being read whole).
    pub fn get_manifest(
        &self,
        reference: &str,
        accept: &str,
        max: u64,
    ) -> Result<(String, Vec<u8>)> {
        let url = self.repo_url(&format!("manifests/{reference}"));
        let resp = self.send(Method::GET, &url, &[("Accept", accept)], Payload::Empty)?;
        if resp.status() == 404 {
            return Err(Error::not_found(format!(
                "no such image at registry {}: {}:{reference}",
                self.host, self.repo
            )));
        }
        if resp.status() != 200 {
            return Err(self.status_error("GET", &url, resp));
        }
        let ct = header(&resp, "content-type").unwrap_or_default();
        let body = read_capped(
            resp,
            max,
            &format!("the manifest of {}:{reference}", self.repo),
        )?;
        Ok((ct, body))
    }

    /// PUT a manifest under a tag; returns the digest the registry reports.
    pub fn put_manifest(&self, tag: &str, media_type: &str, body: &[u8]) -> Result<Option<String>> {
        let url = self.repo_url(&format!("manifests/{tag}"));
        let resp = self.send(
            Method::PUT,
            &url,
            &[("Content-Type", media_type)],
            Payload::Bytes(body),
        )?;
        if resp.status() != 201 && resp.status() != 200 {
            return Err(self.status_error("PUT", &url, resp));
        }
        Ok(header(&resp, "docker-content-digest"))
    }

    /// Start an upload: `POST /v2/REPO/blobs/uploads/`; returns the upload URL (it may be on
    /// another host, which is then sent no credentials).
    pub fn start_upload(&self) -> Result<String> {
        let url = self.repo_url("blobs/uploads/");
        let resp = self.send(Method::POST, &url, &[], Payload::Empty)?;
        if resp.status() != 202 {
            return Err(self.status_error("POST", &url, resp));
        }
        let loc = header(&resp, "location").ok_or_else(|| {
            remote(format!(
                "registry {} started an upload without a Location",
                self.host
            ))
        })?;
        self.next_url(&url, &loc)
    }

    /// Upload a whole blob held in memory (monolithic: POST, then PUT with the data).
    pub fn upload_bytes(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        let loc = self.start_upload()?;
        let url = with_digest(&loc, digest);
        let resp = self.send(
            Method::PUT,
            &url,
            &[("Content-Type", "application/octet-stream")],
            Payload::Bytes(data),
        )?;
        if resp.status() != 201 {
            return Err(self.status_error("PUT", &url, resp));
        }
        Ok(())
    }

    /// Send a stream of unknown size as the data of an upload (one PATCH, chunked transfer
    /// encoding); returns the URL at which to finish it.
    pub fn patch_upload(&self, location: &str, body: &mut dyn Read) -> Result<String> {
        let resp = self.send_stream(
            Method::PATCH,
            location,
            &[("Content-Type", "application/octet-stream")],
            body,
        )?;
        if resp.status() != 202 {
            return Err(self.status_error("PATCH", location, resp));
        }
        match header(&resp, "location") {
            Some(l) => self.next_url(location, &l),
            None => Ok(location.to_string()),
        }
    }

    /// Finish an upload whose data was sent: PUT with its digest (the registry checks it).
    pub fn finish_upload(&self, location: &str, digest: &Digest) -> Result<()> {
        let url = with_digest(location, digest);
        let resp = self.send(Method::PUT, &url, &[], Payload::Empty)?;
        if resp.status() != 201 {
            return Err(self.status_error("PUT", &url, resp));
        }
        Ok(())
    }

    /// Abandon an upload (DELETE); best effort, the registry expires it anyway.
    pub fn cancel_upload(&self, location: &str) {
        let _ = self.send(Method::DELETE, location, &[], Payload::Empty);
    }
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", url_encode(digest.as_str()))
}

fn basic(c: &Credentials) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

/// A response header as text.
pub fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The Content-Length of a response, if it gave one.
pub fn content_length(resp: &Response<Body>) -> Option<u64> {
    header(resp, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Read a response body of at most `max` bytes: a larger announced length is refused before
/// reading, and a body that runs past `max` is refused as soon as it does.
pub fn read_capped(resp: Response<Body>, max: u64, what: &str) -> Result<Vec<u8>> {
    if let Some(n) = content_length(&resp) {
        if n > max {
            return Err(Error::corrupt(format!(
                "{what} is {n} bytes, more than the {max} accepted"
            )));
        }
    }
    let mut out = Vec::new();
    resp.into_body()
        .into_reader()
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| remote(format!("reading {what}: {e}")))?;
    if out.len() as u64 > max {
        return Err(Error::corrupt(format!(
            "{what} is larger than the {max} bytes accepted"
        )));
    }
    Ok(out)
}

/// The first message of a registry error body (`{"errors":[{"code":..,"message":..}]}`).
fn registry_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    let e: Errors = serde_json::from_slice(body).ok()?;
    let first = e.errors.into_iter().next()?;
    let text: String = format!("{} {}", first.code, first.message)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    Some(text.trim().to_string())
}

/// A readable cause for a transport error.
fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::ConnectionReset => "connection reset by the registry".to_string(),
            std::io::ErrorKind::UnexpectedEof => "the registry closed the connection".to_string(),
            _ => io.to_string(),
        },
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.example.com/token"));
        assert_eq!(c[0].param("Service"), Some("registry.example.com"));
        assert_eq!(c[0].param("scope"), Some("repository:library/busybox:pull"));
        let c = parse_challenges(r#"Basic realm="Registry Realm", Bearer realm=x, error="a\"b""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        assert_eq!(c[1].param("realm"), Some("x"));
        assert_eq!(c[1].param("error"), Some("a\"b"));
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("=x").is_empty());
    }

    #[test]
    fn hosts_and_urls() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("localhost:80"));
        assert!(!is_loopback("registry-1.docker.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("127.0.0.1.example.com"));
        assert_eq!(
            url_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        let d = Digest::of(b"");
        assert_eq!(
            with_digest("http://h/u?_state=x", &d),
            format!("http://h/u?_state=x&digest=sha256%3A{}", d.hex())
        );
        assert_eq!(
            registry_message(br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#)
                .as_deref(),
            Some("BLOB_UNKNOWN blob unknown")
        );
    }
}
