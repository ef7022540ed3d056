//! https to registries as users expect (issue 15): a registry's own CA in its certificate
//! folder (`CERTS_DIR/HOST:PORT/ca.crt`, docker's `/etc/docker/certs.d`), the system's trust
//! store next to the bundled roots, and `--insecure-registry`. Each test runs Debian's
//! `docker-registry` with TLS on 127.0.0.1, with a certificate authority made here by
//! `openssl`.

mod common;
mod registry_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{call, ok};
use common::{make_busybox_image, TempDir};
use docker_runtime::registry::RegistryOptions;
use docker_runtime::{Runtime, RuntimeOptions};
use registry_support::{Auth, Registry};

/// A certificate authority and a server certificate for 127.0.0.1 that it signed.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A CA named `name` in `dir`, and a server certificate signed by it.
    fn new(dir: &Path, name: &str) -> Pki {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let subj = format!("/CN={name}");
        openssl(
            &dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.crt", "-days", "2", "-subj", &subj,
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        Pki { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn runtime(root: &Path, registry: RegistryOptions) -> Runtime {
    let opts = RuntimeOptions {
        init_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_docker-init"))),
        registry,
        ..Default::default()
    };
    Runtime::new(root, opts).unwrap()
}

/// A runtime with a busybox image tagged `name`.
fn with_image(root: &Path, registry: RegistryOptions, name: &str) -> Runtime {
    let rt = runtime(root, registry);
    let id = make_busybox_image(root);
    ok(&rt, &["tag", &id, name]);
    rt
}

fn certs_for(certs: &Path, host: &str, ca: Option<&Path>) {
    let d = certs.join(host);
    std::fs::create_dir_all(&d).unwrap();
    if let Some(ca) = ca {
        std::fs::copy(ca, d.join("ca.crt")).unwrap();
    }
}

/// The registry's CA in its certificate folder: push and pull over https, checked. The
/// attack: a registry (or a man in the middle) presenting a certificate from another CA is
/// refused; without the check (shown with `--insecure-registry`, which turns it off) the
/// same impostor is accepted.
#[test]
fn a_registry_ca_in_the_certs_folder_is_trusted_and_an_impostor_is_not() {
    let d = TempDir::new("tls-folder");
    let good = Pki::new(&d.join("pki"), "drtest-ca");
    let other = Pki::new(&d.join("pki"), "drtest-impostor-ca");
    let reg = Registry::start_tls("tls", &good.file("server.crt"), &good.file("server.key"));
    let impostor = Registry::start_tls(
        "tls-impostor",
        &other.file("server.crt"),
        &other.file("server.key"),
    );
    let certs = d.join("certs.d");
    let name = format!("{}/tls/busybox:v1", reg.host());
    let opts = RegistryOptions {
        certs_dir: certs.clone(),
        insecure: Vec::new(),
    };
    let rt = with_image(&d.join("a"), opts.clone(), &name);

    certs_for(&certs, &reg.host(), Some(&good.file("ca.crt")));
    let out = ok(&rt, &["push", &name]);
    assert!(out.contains("Pushed"), "{out}");
    let b = runtime(&d.join("b"), opts.clone());
    ok(&b, &["pull", &name]);
    assert_eq!(
        ok(
            &b,
            &[
                "run",
                "--network",
                "none",
                "--rm",
                &name,
                "echo",
                "over-tls"
            ]
        ),
        "over-tls\n"
    );

    // The impostor: its certificate is for 127.0.0.1 too, but from a CA nobody trusts here.
    certs_for(&certs, &impostor.host(), Some(&good.file("ca.crt")));
    let fake = format!("{}/tls/busybox:v1", impostor.host());
    ok(&rt, &["tag", &name, &fake]);
    let out = call(&rt, &["push", &fake]);
    assert_ne!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
    let folder = certs.join(impostor.host()).join("ca.crt");
    assert!(
        out.stderr.contains(&folder.display().to_string()),
        "the error says where a CA goes: {}",
        out.stderr
    );
    // Without the check the impostor is accepted: the protection is the check.
    let unchecked = RegistryOptions {
        certs_dir: certs.clone(),
        insecure: vec![impostor.host()],
    };
    let c = with_image(&d.join("c"), unchecked, &fake);
    ok(&c, &["push", &fake]);
}

/// A certificate folder that cannot be used is an error naming the file.
#[test]
fn a_broken_certs_folder_is_a_clear_error() {
    let d = TempDir::new("tls-broken");
    let reg = Registry::start("tls-broken", Auth::None);
    let certs = d.join("certs.d");
    std::fs::create_dir_all(certs.join(reg.host())).unwrap();
    std::fs::write(certs.join(reg.host()).join("ca.crt"), "garbage").unwrap();
    let name = format!("{}/x/busybox", reg.host());
    let opts = RegistryOptions {
        certs_dir: certs.clone(),
        insecure: Vec::new(),
    };
    let rt = with_image(&d.join("a"), opts, &name);
    let out = call(&rt, &["push", &name]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("ca.crt: no PEM certificate in it"),
        "{}",
        out.stderr
    );
}

/// The system's trust store (here the bundle `SSL_CERT_FILE` names, read by a client process
/// of its own) is used besides the bundled roots: a registry with an empty certificate folder
/// (https, no CA of its own) is trusted through it, and not without it.
#[test]
fn the_system_trust_store_is_used() {
    let d = TempDir::new("tls-system");
    let pki = Pki::new(&d.join("pki"), "drtest-system-ca");
    let reg = Registry::start_tls("tls-sys", &pki.file("server.crt"), &pki.file("server.key"));
    let certs = d.join("certs.d");
    certs_for(&certs, &reg.host(), None);
    let name = format!("{}/sys/busybox:v1", reg.host());
    let root = d.join("root");
    let rt = with_image(
        &root,
        RegistryOptions {
            certs_dir: certs.clone(),
            insecure: Vec::new(),
        },
        &name,
    );
    drop(rt);
    let push = |cert_file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_docker"))
            .args(["-H", "none", "-g", root.to_str().unwrap()])
            .args(["--registry-certs-dir", certs.to_str().unwrap()])
            .args(["push", &name])
            .env("SSL_CERT_FILE", cert_file)
            .output()
            .unwrap()
    };
    let out = push(&d.join("no-such-bundle.pem"));
    assert!(!out.status.success(), "the CA is not in the bundled roots");
    let out = push(&pki.file("ca.crt"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--insecure-registry`: a registry without TLS is spoken to over plain http once https
/// fails (here one on 127.0.0.1, which gets http anyway; listed, it is probed first), and
/// the daemon flag reaches the runtime.
#[test]
fn an_insecure_registry_without_tls_falls_back_to_http() {
    let d = TempDir::new("tls-insecure");
    let reg = Registry::start("insecure-http", Auth::None);
    let name = format!("{}/plain/busybox:v1", reg.host());
    let root = d.join("root");
    drop(with_image(&root, RegistryOptions::default(), &name));
    let out = Command::new(env!("CARGO_BIN_EXE_docker"))
        .args(["-H", "none", "-g", root.to_str().unwrap()])
        .args(["--insecure-registry", &reg.host(), "push", &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_docker"))
        .args(["-H", "none", "--insecure-registry", "a,b", "version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give HOST or HOST:PORT"));
}
