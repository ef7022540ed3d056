//! Where registry credentials go. They are sent only to the registry's own scheme, host and
//! port (and the basic ones to the token realm its challenge names); an upload `Location` or a
//! redirect to another host is followed without them, as docker does.
//!
//! Each test puts an authenticating front (a [`Forwarder`] on 127.0.0.1 that demands basic
//! credentials or a bearer token from the test token server) before Debian's registry, and a
//! second host on 127.0.0.2 that records the heads it receives: the upload host the front's
//! upload `Location`s name, or the blob storage its blob GETs are redirected to (as registries
//! redirect to S3 or a CDN). The attack: a registry (or whoever can set its `Location`) names a
//! host of its choosing and collects the user's password or token from the `Authorization`
//! header. On main c49bff3 the upload host received the cached `Authorization` header with
//! every PATCH and PUT (`Client::send` and `send_stream` attached it to any URL): both `pushes_`
//! tests failed there. Redirects were followed by ureq, which drops `Authorization` on every
//! hop: the storage got none, but neither did the registry's own redirect target, so both
//! `blob_redirects_` tests failed there with "refused access" (and an https registry could
//! redirect to plain http; see `registry::scope`'s unit tests). With the redirects now followed
//! by the client, a version that sent the credentials on every hop fails them at the storage's
//! assertion.

mod common;
mod images_util;
mod registry_support;

use std::sync::Arc;

use base64::Engine;
use common::cli::ok;
use common::TempDir;
use docker_runtime::registry::manifest::OCI_LAYER;
use images_util::Tar;
use registry_support::{
    config_json, digest_of, register_chain, runtime, upload_raw, Auth, Forwarder, Head, Registry,
    Route, TokenServer,
};

const USER: &str = "joe";
const PASSWORD: &str = "s3cret";
const REPO: &str = "team/app";

/// How the front asks for credentials.
enum Front {
    Basic,
    Token(Arc<TokenServer>),
}

impl Front {
    /// The 401 answer for a request that lacks acceptable credentials; `None` lets it pass.
    /// A bearer token must have been issued to the user, which the token server only does
    /// when the basic credentials reached it.
    fn refuse(&self, head: &Head) -> Option<Route> {
        let given = head.header("authorization").unwrap_or("");
        let (accepted, challenge) = match self {
            Front::Basic => (
                given == basic(USER, PASSWORD),
                r#"Basic realm="front""#.to_string(),
            ),
            Front::Token(ts) => (
                given.strip_prefix("Bearer ").and_then(token_subject) == Some(USER.into()),
                format!(
                    r#"Bearer realm="http://127.0.0.1:{}/token",service="{}",scope="repository:{REPO}:pull,push""#,
                    ts.port,
                    TokenServer::SERVICE
                ),
            ),
        };
        (!accepted).then(|| Route::Answer(401, vec![("WWW-Authenticate".into(), challenge)]))
    }
}

fn basic(user: &str, password: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("Basic {}", b64.encode(format!("{user}:{password}")))
}

/// The `sub` claim of a JWT (not verified: the front only checks who it was issued to).
fn token_subject(token: &str) -> Option<String> {
    let claims = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    v["sub"].as_str().map(str::to_string)
}

/// A one-layer image with `etc/hello`, tagged `repo:v1`.
fn small_image(rt: &docker_runtime::Runtime, repo: &str) {
    let mut t = Tar::new();
    t.dir("etc/").file("etc/hello", b"scoped\n");
    let id = register_chain(rt, None, &[t.finish()], None);
    rt.tags().set(repo, "v1", &id, true).unwrap();
}

/// Pull `name` into `rt` and check that its layers hold `etc/hello`.
fn pull_and_check(rt: &docker_runtime::Runtime, name: &str) {
    let out = ok(rt, &["pull", name]);
    assert!(out.contains("Pull complete"), "{out}");
    let id = rt.resolve_image(name).unwrap();
    let found = rt
        .image_layers(&id)
        .unwrap()
        .iter()
        .any(|l| std::fs::read(l.join("etc/hello")).ok().as_deref() == Some(b"scoped\n"));
    assert!(found, "etc/hello is not in the pulled image");
}

/// Push through a front whose upload `Location`s name another host (127.0.0.2), which hands
/// the data to the registry: the push completes, the upload host saw no `Authorization`.
fn push_through_an_upload_host(front: Front, tag: &str) {
    let reg = Registry::start(tag, Auth::None);
    let uploads = Forwarder::start("127.0.0.2", reg.port, |_| Route::Forward(Vec::new()));
    let upload_host = uploads.host();
    let gate = Forwarder::start("127.0.0.1", reg.port, move |h| {
        front.refuse(h).unwrap_or_else(|| {
            // The registry names the upload URL after X-Forwarded-Host.
            let at_host = vec![("X-Forwarded-Host".into(), upload_host.clone())];
            Route::Forward(if h.method == "POST" {
                at_host
            } else {
                Vec::new()
            })
        })
    });
    let d = TempDir::new(tag);
    let a = runtime(&d.join("a"));
    let repo = format!("{}/{REPO}", gate.host());
    small_image(&a, &repo);
    ok(&a, &["login", "-u", USER, "-p", PASSWORD, &gate.host()]);
    ok(&a, &["push", &format!("{repo}:v1")]);

    let at_upload_host: Vec<String> = uploads
        .heads
        .lock()
        .unwrap()
        .iter()
        .map(|h| format!("{} {}", h.method, h.path))
        .collect();
    assert!(
        at_upload_host.iter().any(|r| r.starts_with("PATCH "))
            && at_upload_host.iter().any(|r| r.starts_with("PUT ")),
        "the uploads did not go to the upload host: {at_upload_host:?}"
    );
    assert_eq!(uploads.authorized(), Vec::<String>::new());
    // The registry's own host did get the credentials (the front let nothing else through).
    assert!(!gate.authorized().is_empty());
    // The push completed: the image is in the registry.
    let b = runtime(&d.join("b"));
    pull_and_check(&b, &format!("{}/{REPO}:v1", reg.host()));
}

#[test]
fn pushes_send_no_basic_credentials_to_an_upload_host_elsewhere() {
    push_through_an_upload_host(Front::Basic, "scope-up-basic");
}

#[test]
fn pushes_send_no_bearer_token_to_an_upload_host_elsewhere() {
    let ts = TokenServer::start(USER, PASSWORD);
    push_through_an_upload_host(Front::Token(ts.clone()), "scope-up-token");
    // The basic credentials went to the token realm: it issued tokens for the user.
    assert!(!ts.issued.lock().unwrap().is_empty());
}

/// Pull through a front that redirects blob GETs to storage on another host (127.0.0.2), and
/// manifest GETs to another path of its own: the pull completes, the storage saw no
/// `Authorization`, the front's own redirect target did.
fn pull_through_blob_storage(front: Front, tag: &str) {
    let reg = Registry::start(tag, Auth::None);
    let mut t = Tar::new();
    t.dir("etc/").file("etc/hello", b"scoped\n");
    let tar = t.finish();
    let layers = [(tar.clone(), OCI_LAYER)];
    upload_raw(
        &reg.host(),
        REPO,
        "v1",
        &layers,
        &config_json(&[digest_of(&tar)]),
    );
    let storage = Forwarder::start("127.0.0.2", reg.port, |_| Route::Forward(Vec::new()));
    let storage_host = storage.host();
    let gate = Forwarder::start("127.0.0.1", reg.port, move |h| {
        if let Some(refused) = front.refuse(h) {
            return refused;
        }
        let moved = if h.path.contains("/blobs/sha256:") {
            format!("http://{storage_host}{}", h.path)
        } else if h.path.contains("/manifests/") && !h.path.ends_with("?moved") {
            format!("{}?moved", h.path)
        } else {
            return Route::Forward(Vec::new());
        };
        Route::Answer(307, vec![("Location".into(), moved)])
    });
    let d = TempDir::new(tag);
    let rt = runtime(&d.join("root"));
    ok(&rt, &["login", "-u", USER, "-p", PASSWORD, &gate.host()]);
    pull_and_check(&rt, &format!("{}/{REPO}:v1", gate.host()));

    let blob_gets = storage.heads.lock().unwrap().len();
    assert_eq!(
        blob_gets, 2,
        "the config and the layer come from the storage"
    );
    assert_eq!(storage.authorized(), Vec::<String>::new());
    let moved = gate.authorized();
    assert!(
        moved.iter().any(|r| r.ends_with("?moved")),
        "the redirect on the registry's own host lost the credentials: {moved:?}"
    );
}

#[test]
fn blob_redirects_to_storage_elsewhere_get_no_basic_credentials() {
    pull_through_blob_storage(Front::Basic, "scope-get-basic");
}

#[test]
fn blob_redirects_to_storage_elsewhere_get_no_bearer_token() {
    let ts = TokenServer::start(USER, PASSWORD);
    pull_through_blob_storage(Front::Token(ts), "scope-get-token");
}
