//! login, and pull/push with credentials: a registry behind htpasswd (basic auth), and one
//! behind token authentication with a token server issuing signed JWTs (the bearer flow).
//! A wrong password is a clear error that saves nothing; the right one is saved in
//! `ROOT/.dockercfg` (0600, v0.1.0's format, a `[HOST:PORT]` block) and used by pull and push.

mod common;
mod images_util;
mod registry_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::cli::{call, call_with, ok};
use common::TempDir;
use images_util::Tar;
use registry_support::{register_chain, runtime, Auth, Registry, TokenServer};

fn small_image(rt: &docker_runtime::Runtime, repo: &str) {
    let mut t = Tar::new();
    t.dir("etc/").file("etc/hello", b"authenticated\n");
    let id = register_chain(rt, None, &[t.finish()], None);
    rt.tags().set(repo, "v1", &id, true).unwrap();
}

fn dockercfg(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join(".dockercfg")).ok()
}

/// The checks common to both kinds of authentication.
fn login_push_pull(reg: &Registry, tag: &str) {
    let d = TempDir::new(tag);
    let (ra, rb) = (d.join("a"), d.join("b"));
    let a = runtime(&ra);
    let host = reg.host();
    let repo = format!("{host}/team/app");
    small_image(&a, &repo);

    // No credentials: refused, and said why.
    let out = call(&a, &["push", &format!("{repo}:v1")]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("requires authentication"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("docker login {host}")),
        "{}",
        out.stderr
    );

    // A wrong password: a clear error, nothing saved.
    let out = call(&a, &["login", "-u", "joe", "-p", "wrong", &host]);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("wrong username or password"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("\"joe\""), "{}", out.stderr);
    assert_eq!(dockercfg(&ra), None);

    // The password from stdin (not a terminal: no prompt), the user from -u.
    let out = call_with(
        &a,
        &[
            "login",
            "-u",
            "joe",
            "-e",
            "joe@example.com",
            &format!("http://{host}/v2/"),
        ],
        b"s3cret\n",
        None,
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Login Succeeded\n");
    let text = dockercfg(&ra).unwrap();
    assert_eq!(
        text,
        format!("[{host}]\nauth = am9lOnMzY3JldA==\nemail = joe@example.com\n")
    );
    let mode = std::fs::metadata(ra.join(".dockercfg"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Written atomically: no temporary file left beside it.
    let stray: Vec<String> = registry_support::names_in(&ra)
        .into_iter()
        .filter(|n| n.starts_with(".dockercfg") && n != ".dockercfg")
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    // A failed login later keeps what was saved.
    assert_eq!(
        call(&a, &["login", "-u", "joe", "-p", "nope", &host]).status,
        1
    );
    assert_eq!(dockercfg(&ra).unwrap(), text);

    ok(&a, &["push", &format!("{repo}:v1")]);

    // Another root: refused until it logs in, then the pull works.
    let b = runtime(&rb);
    let out = call(&b, &["pull", &format!("{repo}:v1")]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("requires authentication"),
        "{}",
        out.stderr
    );
    ok(&b, &["login", "-u", "joe", "-p", "s3cret", &host]);
    let out = ok(&b, &["pull", &format!("{repo}:v1")]);
    assert!(out.contains("Pull complete"), "{out}");
    let id = b.resolve_image(&format!("{repo}:v1")).unwrap();
    let layers = b.image_layers(&id).unwrap();
    assert_eq!(
        std::fs::read(layers[1].join("etc/hello")).unwrap(),
        b"authenticated\n"
    );
    // The saved credentials are read back by a new runtime on the same root.
    drop(b);
    let b = runtime(&rb);
    ok(&b, &["pull", &format!("{repo}:v1")]);
}

#[test]
fn basic_auth_with_htpasswd() {
    let reg = Registry::start(
        "basic",
        Auth::Basic {
            user: "joe".into(),
            password: "s3cret".into(),
        },
    );
    login_push_pull(&reg, "reg-basic");
}

#[test]
fn bearer_token_flow() {
    let ts = TokenServer::start("joe", "s3cret");
    let reg = Registry::start("token", Auth::Token(ts.clone()));
    login_push_pull(&reg, "reg-token");
    // The push asked for a token with push rights on the repository.
    let issued = ts.issued.lock().unwrap().clone();
    assert!(
        issued.iter().any(
            |p| p.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush")
                || p.contains("scope=repository%3Ateam%2Fapp%3Apush%2Cpull")
        ),
        "{issued:?}"
    );
    assert!(
        issued.iter().all(|p| p.contains("service=test-registry")),
        "{issued:?}"
    );
}

#[test]
fn login_needs_a_username_and_a_valid_server() {
    let d = TempDir::new("reg-login-args");
    let rt = runtime(&d.join("root"));
    let out = call_with(&rt, &["login", "127.0.0.1:1"], b"", None);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("no username given"), "{}", out.stderr);
    let out = call(&rt, &["login", "-u", "joe", "-p", "x", "not a host"]);
    assert!(
        out.stderr.contains("invalid registry server"),
        "{}",
        out.stderr
    );
    let out = call(&rt, &["login", "-u", "jo:e", "-p", "x", "127.0.0.1:1"]);
    assert!(out.stderr.contains("invalid username"), "{}", out.stderr);
    // Nothing listens there: a clear error, nothing saved.
    let out = call(&rt, &["login", "-u", "joe", "-p", "x", "127.0.0.1:1"]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("connection refused"), "{}", out.stderr);
    assert_eq!(dockercfg(&d.join("root")), None);
}
