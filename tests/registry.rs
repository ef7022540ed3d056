//! pull and push against a real registry (Debian's `docker-registry`, started by each test on
//! 127.0.0.1 with its own storage): round trips checked with `skopeo` and by running the
//! pulled image, layer reuse both ways, OCI manifests, manifest lists, digests, names, and
//! the progress display on a terminal.

mod common;
mod images_util;
mod registry_support;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::Command;

use common::cli::{self, call, ok};
use common::{make_busybox_image, TempDir};
use docker_runtime::image::ImageConfig;
use docker_runtime::registry::{manifest, Client};
use images_util::{tmp_leftovers, Tar};
use registry_support::{register_chain, runtime, Auth, Registry};

/// A runtime with busybox and two more layers: `etc/motd` added, `bin/ls` whited out, and a
/// configuration; tagged `NAME`. Returns the top image id.
fn build_app(rt: &docker_runtime::Runtime, root: &std::path::Path, name: &str) -> String {
    let base = make_busybox_image(root);
    let mut t = Tar::new();
    t.dir("etc/").file("etc/motd", b"hello registry\n");
    let mut w = Tar::new();
    w.dir("bin/")
        .file("bin/.wh.ls", b"")
        .dir("srv/")
        .file("srv/data", &[7u8; 300_000]);
    let config = ImageConfig {
        env: Some(vec!["GREETING=hello".into()]),
        cmd: Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo $GREETING; cat /etc/motd; pwd; id -u; test -e /bin/ls && echo ls || echo no-ls"
                .into(),
        ]),
        entrypoint: None,
        working_dir: Some("/tmp".into()),
        user: Some("nobody".into()),
    };
    let top = register_chain(rt, Some(&base), &[t.finish(), w.finish()], Some(config));
    let (repo, tag) = name.rsplit_once(':').unwrap();
    rt.tags().set(repo, tag, &top, true).unwrap();
    top
}

const APP_OUTPUT: &str = "hello\nhello registry\n/tmp\n65534\nno-ls\n";

fn count(s: &str, what: &str) -> usize {
    s.matches(what).count()
}

#[test]
fn push_pull_round_trip_checked_by_skopeo_and_run() {
    let reg = Registry::start("roundtrip", Auth::None);
    let d = TempDir::new("reg-rt");
    let (root_a, root_b, root_c) = (d.join("a"), d.join("b"), d.join("c"));
    let a = runtime(&root_a);
    let name = format!("{}/test/app", reg.host());
    build_app(&a, &root_a, &format!("{name}:v1"));

    let out = ok(&a, &["push", &format!("{name}:v1")]);
    assert_eq!(count(&out, ": Pushed"), 3, "{out}");
    assert!(
        out.contains(&format!("The push refers to repository [{name}]")),
        "{out}"
    );
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest line: {out}"))
        .to_string();
    // Pushing again finds every layer in the registry (HEAD first).
    let again = ok(&a, &["push", &format!("{name}:v1")]);
    assert_eq!(count(&again, "Layer already exists"), 3, "{again}");
    assert!(again.contains(&digest), "{again}");

    // A standard client can copy it into an OCI layout.
    let oci = d.join("oci");
    let st = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{name}:v1"))
        .arg(format!("oci:{}:v1", oci.display()))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap();
    let man: serde_json::Value = serde_json::from_slice(
        &std::fs::read(oci.join("blobs/sha256").join(&mdigest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(man["layers"].as_array().unwrap().len(), 3);
    let cfg_digest = man["config"]["digest"].as_str().unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(
        &std::fs::read(oci.join("blobs/sha256").join(&cfg_digest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg["config"]["WorkingDir"], "/tmp");
    assert_eq!(cfg["config"]["User"], "nobody");
    assert_eq!(cfg["config"]["Env"][0], "GREETING=hello");

    // Our own pull into a fresh root, then run it with the image's defaults.
    let b = runtime(&root_b);
    let out = ok(&b, &["pull", &format!("{name}:v1")]);
    assert_eq!(count(&out, "Pull complete"), 3, "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let run = ok(&b, &["run", "--rm", "--net", "none", &format!("{name}:v1")]);
    assert_eq!(run, APP_OUTPUT);
    let pulled = b.resolve_image(&format!("{name}:v1")).unwrap();
    assert_eq!(
        b.graph().history(&pulled).unwrap().len(),
        4,
        "three layers and the configuration image"
    );
    // Pulling again downloads nothing.
    let out = ok(&b, &["pull", &format!("{name}:v1")]);
    assert_eq!(count(&out, "Already exists"), 3, "{out}");
    assert!(out.contains("Status: Image is up to date"), "{out}");
    // The pulled image pushed under another tag reuses every blob.
    ok(&b, &["tag", &format!("{name}:v1"), &format!("{name}:v2")]);
    let out = ok(&b, &["push", &format!("{name}:v2")]);
    assert_eq!(count(&out, "Layer already exists"), 3, "{out}");

    // By digest: nothing is tagged, the image id is printed.
    let c = runtime(&root_c);
    let out = ok(&c, &["pull", &format!("{name}@{digest}")]);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("Image: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(id, b.resolve_image(&format!("{name}:v1")).unwrap());
    assert!(c.tags().list().unwrap().is_empty());
    assert_eq!(ok(&c, &["run", "--rm", "--net", "none", id]), APP_OUTPUT);

    // An OCI manifest written by skopeo from the OCI layout pulls and runs too.
    let st = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", oci.display()))
        .arg(format!("docker://{}/test/oci:v1", reg.host()))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let oci_name = format!("{}/test/oci:v1", reg.host());
    let out = ok(&c, &["pull", &oci_name]);
    // Same layers as the app: already there.
    assert_eq!(count(&out, "Already exists"), 3, "{out}");
    assert_eq!(
        ok(&c, &["run", "--rm", "--net", "none", &oci_name]),
        APP_OUTPUT
    );
    for root in [&root_a, &root_b, &root_c] {
        assert!(tmp_leftovers(root).is_empty());
    }
}

#[test]
fn manifest_list_picks_this_platform() {
    let reg = Registry::start("index", Auth::None);
    let d = TempDir::new("reg-index");
    let a = runtime(&d.join("a"));
    let repo = format!("{}/multi", reg.host());
    let mut t = Tar::new();
    t.file("which", b"native\n");
    let native = register_chain(&a, None, &[t.finish()], None);
    let mut t = Tar::new();
    t.file("which", b"foreign\n");
    let foreign = register_chain(&a, None, &[t.finish()], None);
    a.tags().set(&repo, "native", &native, true).unwrap();
    a.tags().set(&repo, "foreign", &foreign, true).unwrap();
    ok(&a, &["push", &format!("{repo}:native")]);
    ok(&a, &["push", &format!("{repo}:foreign")]);
    let client = Client::new(&reg.host(), "multi", None, &Default::default()).unwrap();
    let entry = |tag: &str, arch: &str| {
        let (ct, body) = client
            .get_manifest(tag, manifest::ACCEPT, manifest::MAX_MANIFEST)
            .unwrap();
        serde_json::json!({
            "mediaType": ct,
            "digest": registry_support::digest_of(&body),
            "size": body.len(),
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let list = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::DOCKER_LIST,
        "manifests": [entry("foreign", "mips64le"), entry("native", manifest::host_arch())],
    });
    let body = serde_json::to_vec(&list).unwrap();
    client
        .put_manifest("both", manifest::DOCKER_LIST, &body)
        .unwrap();
    let b = runtime(&d.join("b"));
    let out = ok(&b, &["pull", &format!("{repo}:both")]);
    assert!(
        out.contains(&format!("Digest: {}", registry_support::digest_of(&body))),
        "{out}"
    );
    let id = b.resolve_image(&format!("{repo}:both")).unwrap();
    let layers = b.image_layers(&id).unwrap();
    assert_eq!(std::fs::read(layers[1].join("which")).unwrap(), b"native\n");
}

#[test]
fn names_digests_and_tags_are_checked() {
    let reg = Registry::start("names", Auth::None);
    let d = TempDir::new("reg-names");
    let rt = runtime(&d.join("root"));
    let h = reg.host();
    for (args, want) in [
        (vec!["pull", "Bad/Name"], "invalid repository name"),
        (vec!["pull", "busybox@sha256:123"], "invalid digest"),
        (vec!["pull", "busybox@md5:00"], "only sha256"),
        (vec!["pull", &format!("{h}/x:-bad")], "invalid tag"),
        (
            vec!["pull", &format!("{h}/a/../b")],
            "invalid repository name",
        ),
        (vec!["pull"], "pull takes one NAME"),
        (
            vec!["pull", &format!("{h}/missing:v1")],
            "no such image at registry",
        ),
        (vec!["push", &format!("{h}/missing:v1")], "no such image"),
        (
            vec!["push", &format!("{h}/x@sha256:{}", "a".repeat(64))],
            "not a digest",
        ),
    ] {
        let out = call(&rt, &args);
        // A missing NAME is a usage error (docker's 125); the others are failures (1).
        let status = if args.len() == 1 { 125 } else { 1 };
        assert_eq!(out.status, status, "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    assert!(rt.graph().ids().unwrap().is_empty());
}

#[test]
fn progress_bars_on_a_terminal() {
    let reg = Registry::start("tty", Auth::None);
    let d = TempDir::new("reg-tty");
    let a = runtime(&d.join("a"));
    let name = format!("{}/tty:v1", reg.host());
    let mut t = Tar::new();
    t.file("big", &registry_support::noise(2_000_000, 1));
    let id = register_chain(&a, None, &[t.finish()], None);
    a.tags()
        .set(&format!("{}/tty", reg.host()), "v1", &id, true)
        .unwrap();
    ok(&a, &["push", &name]);

    let b = runtime(&d.join("b"));
    let pty = nix::pty::openpty(None, None).unwrap();
    let master: OwnedFd = pty.master;
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the other side is closed.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let stdout = std::fs::File::from(pty.slave);
    let mut io = docker_runtime::commands::Streams {
        stdin: std::fs::File::open("/dev/null").unwrap(),
        stdout,
        stderr: std::fs::File::create(d.join("err")).unwrap(),
        tty_size: None,
        client_ttys: [false; 2],
        sizes: None,
        local_env: true,
    };
    let (status, err) = docker_runtime::commands::run(&b, &mut io, &["pull".into(), name.clone()]);
    assert_eq!(status, 0, "{err:?}");
    drop(io);
    let shown = reader.join().unwrap();
    assert!(shown.contains("\r\x1b[K"), "{shown:?}");
    assert!(shown.contains(": Downloading ["), "{shown:?}");
    assert!(shown.contains("MB/"), "{shown:?}");
    assert!(shown.contains("Pull complete"), "{shown:?}");
    // Through a daemon, the command's stdout is a pipe; the client says its own is a terminal
    // (rcli/2's `ttys`), and gets bars.
    let e = runtime(&d.join("e"));
    let out_path = d.join("through-daemon");
    let mut io = docker_runtime::commands::Streams {
        stdin: std::fs::File::open("/dev/null").unwrap(),
        stdout: std::fs::File::create(&out_path).unwrap(),
        stderr: std::fs::File::create(d.join("err2")).unwrap(),
        tty_size: Some((24, 100)),
        client_ttys: [true, false],
        sizes: None,
        local_env: true,
    };
    let (status, err) = docker_runtime::commands::run(&e, &mut io, &["pull".into(), name]);
    assert_eq!(status, 0, "{err:?}");
    let shown = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        shown.contains("\r\x1b[K") && shown.contains(": Downloading ["),
        "{shown:?}"
    );
    // Not a terminal: plain lines only.
    let c = runtime(&d.join("c"));
    let plain = cli::ok(&c, &["pull", &format!("{}/tty:v1", reg.host())]);
    assert!(
        !plain.contains('\r') && !plain.contains('\x1b'),
        "{plain:?}"
    );
}

/// A pulled layer keeps its blob as the registry served it, and a push to another registry
/// sends that blob as is (same digest), instead of packing and compressing the layer again.
#[test]
fn pulled_layers_are_pushed_as_their_stored_blobs() {
    use std::io::Write;
    let src = Registry::start("blobsrc", Auth::None);
    let dst = Registry::start("blobdst", Auth::None);
    let d = TempDir::new("reg-blob");
    let mut t = Tar::new();
    t.dir("etc/").file("etc/data", &[42u8; 100_000]);
    let tar = t.finish();
    // Compressed at level 9: our own pusher (fastest level) would make other bytes.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).unwrap();
    let blob = gz.finish().unwrap();
    registry_support::upload_raw(
        &src.host(),
        "test/cache",
        "v1",
        &[(blob.clone(), manifest::DOCKER_LAYER)],
        &registry_support::config_json(&[registry_support::digest_of(&tar)]),
    );
    let rt = runtime(&d.join("root"));
    ok(&rt, &["pull", &format!("{}/test/cache:v1", src.host())]);
    let kept: Vec<std::path::PathBuf> = std::fs::read_dir(d.join("root/graph"))
        .unwrap()
        .map(|e| e.unwrap().path().join("layer.blob"))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(kept.len(), 1, "one blob kept");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), blob);

    let target = format!("{}/test/cache:v1", dst.host());
    ok(
        &rt,
        &["tag", &format!("{}/test/cache:v1", src.host()), &target],
    );
    let out = ok(&rt, &["push", &target]);
    assert!(!out.contains("packing the layer again"), "{out}");
    let c = Client::new(&dst.host(), "test/cache", None, &Default::default()).unwrap();
    let (_, body) = c
        .get_manifest("v1", manifest::ACCEPT, manifest::MAX_MANIFEST)
        .unwrap();
    let man: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        man["layers"][0]["digest"],
        registry_support::digest_of(&blob).as_str()
    );
    assert!(tmp_leftovers(&d.join("root")).is_empty());
}

/// `run` pulls an image it does not have (docker's `--pull missing`), with docker's notice and
/// the progress on stderr; `--pull never` does not, `--pull always` pulls again; a registry
/// that is not there is docker's 125 with the reason.
#[test]
fn run_pulls_a_missing_image() {
    let reg = Registry::start("runpull", Auth::None);
    let d = TempDir::new("reg-runpull");
    let a = runtime(&d.join("a"));
    let name = format!("{}/test/runpull:v1", reg.host());
    build_app(&a, &d.join("a"), &name);
    ok(&a, &["push", &name]);

    let b = runtime(&d.join("b"));
    // Every container of the test off the network (no bridge of the default runtime made).
    let run_b = |args: &[&str]| call(&b, &[&["run", "--network", "none"][..], args].concat());
    let out = run_b(&["--pull", "never", "--rm", &name, "true"]);
    assert_eq!(out.status, 125, "{}", out.stderr);
    assert!(out.stderr.contains("no such image"), "{}", out.stderr);
    let out = run_b(&["--rm", &name, "echo", "pulled"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "pulled\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .starts_with(&format!("Unable to find image '{name}' locally\n")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Pull complete"), "{}", out.stderr);
    // Present now: no pull; `--pull always` pulls (every layer already here).
    let out = run_b(&["--rm", &name, "true"]);
    assert_eq!((out.status, out.stderr.as_str()), (0, ""));
    let out = run_b(&["--pull", "always", "--rm", &name, "true"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Already exists"), "{}", out.stderr);

    let out = run_b(&["--pull", "sometimes", &name, "true"]);
    assert_eq!(out.status, 125);
    assert!(
        out.stderr.contains("invalid --pull \"sometimes\""),
        "{}",
        out.stderr
    );
    // Nothing listens on 127.0.0.1:1.
    let out = run_b(&["127.0.0.1:1/nosuch", "true"]);
    assert_eq!(out.status, 125, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Unable to find image '127.0.0.1:1/nosuch:latest' locally"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("pulling 127.0.0.1:1/nosuch"),
        "{}",
        out.stderr
    );
}
