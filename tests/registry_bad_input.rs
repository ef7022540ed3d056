//! A registry that lies or fails: a blob that does not match its digest or its diff id, a
//! blob cut short, a registry answering 500 or closing mid-transfer (through a fault-injecting
//! proxy), manifests naming ids or paths that would escape the graph, a local image squatting
//! on a chain id, an oversized manifest, and hostile layer tarballs. Each is a clear error that
//! leaves nothing of the failed layer in the graph (nothing in `graph/:tmp:`, no tag), and a
//! retry works once the registry behaves.

mod common;
mod images_util;
mod registry_support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::cli::{call, ok};
use common::TempDir;
use docker_runtime::registry::manifest::{DOCKER_LAYER, OCI_LAYER};
use images_util::{gzip, snapshot, tmp_leftovers, Tar};
use registry_support::{
    config_json, digest_of, noise, register_chain, runtime, upload_raw, Auth, Canned, FakeRegistry,
    Fault, FaultProxy, Registry,
};

/// The digest of the uncompressed `tar` (its diff id).
fn diff_id(tar: &[u8]) -> String {
    digest_of(tar)
}

/// Pull `name` expecting failure; returns stderr. Checks that nothing is half-registered.
fn pull_fails(rt: &docker_runtime::Runtime, root: &Path, name: &str) -> String {
    let out = call(rt, &["pull", name]);
    assert_eq!(out.status, 1, "pull {name} succeeded: {}", out.stdout);
    assert!(tmp_leftovers(root).is_empty(), "{:?}", tmp_leftovers(root));
    assert!(
        rt.tags().list().unwrap().is_empty(),
        "a failed pull tagged something"
    );
    out.stderr
}

#[test]
fn blob_not_matching_its_digest_or_diff_id_is_refused() {
    let reg = Registry::start("mismatch", Auth::None);
    let d = TempDir::new("reg-mismatch");
    let root = d.join("root");
    let rt = runtime(&root);
    let mut t = Tar::new();
    t.file("data", &[b'a'; 5000]);
    let tar = t.finish();
    let blob_digest = digest_of(&tar);
    // A plain tar layer, so that a changed byte of file content keeps the archive valid and
    // its size the same: only the digest tells.
    upload_raw(
        &reg.host(),
        "x",
        "v1",
        &[(tar.clone(), OCI_LAYER)],
        &config_json(&[diff_id(&tar)]),
    );
    let data = reg.blob_data(&blob_digest);
    let mut stored = std::fs::read(&data).unwrap();
    stored[600] = b'b';
    std::fs::write(&data, &stored).unwrap();
    let err = pull_fails(&rt, &root, &format!("{}/x:v1", reg.host()));
    assert!(
        err.contains(&format!("layer {blob_digest} does not match its digest")),
        "{err}"
    );
    assert!(rt.graph().ids().unwrap().is_empty());
    // Restored, the pull works.
    std::fs::write(&data, &tar).unwrap();
    ok(&rt, &["pull", &format!("{}/x:v1", reg.host())]);

    // A config whose diff id is not the layer's content.
    let d2 = TempDir::new("reg-mismatch2");
    let rt2 = runtime(&d2.join("root"));
    upload_raw(
        &reg.host(),
        "y",
        "v1",
        &[(gzip(&tar), DOCKER_LAYER)],
        &config_json(&[digest_of(b"something else")]),
    );
    let err = pull_fails(&rt2, &d2.join("root"), &format!("{}/y:v1", reg.host()));
    assert!(err.contains("unpacks to content with diff id"), "{err}");
    assert!(rt2.graph().ids().unwrap().is_empty());
}

#[test]
fn blob_cut_short_is_refused() {
    let reg = Registry::start("short", Auth::None);
    let d = TempDir::new("reg-short");
    let root = d.join("root");
    let rt = runtime(&root);
    let mut t = Tar::new();
    t.file("data", &noise(200_000, 3));
    let tar = t.finish();
    let blob = gzip(&tar);
    upload_raw(
        &reg.host(),
        "x",
        "v1",
        &[(blob.clone(), DOCKER_LAYER)],
        &config_json(&[diff_id(&tar)]),
    );
    let data = reg.blob_data(&digest_of(&blob));
    std::fs::write(&data, &blob[..blob.len() / 2]).unwrap();
    let err = pull_fails(&rt, &root, &format!("{}/x:v1", reg.host()));
    assert!(err.contains("cut short"), "{err}");
    assert!(rt.graph().ids().unwrap().is_empty());
    std::fs::write(&data, &blob).unwrap();
    ok(&rt, &["pull", &format!("{}/x:v1", reg.host())]);
}

#[test]
fn registry_failing_mid_pull_leaves_no_partial_layer_and_a_retry_works() {
    let reg = Registry::start("faults", Auth::None);
    let d = TempDir::new("reg-faults");
    let src = runtime(&d.join("src"));
    let mut t1 = Tar::new();
    t1.file("one", b"1\n");
    let mut t2 = Tar::new();
    t2.file("two", &noise(3_000_000, 7));
    let top = register_chain(&src, None, &[t1.finish(), t2.finish()], None);
    src.tags()
        .set(&format!("{}/x", reg.host()), "v1", &top, true)
        .unwrap();
    ok(&src, &["push", &format!("{}/x:v1", reg.host())]);
    let pushed = src.graph().get(&top).unwrap().registry.unwrap().digest;
    let blob_path = format!("/v2/x/blobs/{pushed}");
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    let proxy = FaultProxy::start(reg.port, move |method, path| {
        if method == "GET" && path == blob_path {
            match g.fetch_add(1, Ordering::SeqCst) {
                0 => Fault::Status(500),
                1 => Fault::CutAfter(1_000_000),
                _ => Fault::Pass,
            }
        } else {
            Fault::Pass
        }
    });
    let root = d.join("root");
    let rt = runtime(&root);
    let name = format!("{}/x:v1", proxy.host());
    let err = pull_fails(&rt, &root, &name);
    assert!(err.contains("500"), "{err}");
    assert!(err.contains("pulling layer 2/2"), "{err}");
    // The first layer is whole and kept; the second is nowhere.
    assert_eq!(rt.graph().ids().unwrap().len(), 1);
    let err = pull_fails(&rt, &root, &name);
    assert!(err.contains("pulling layer 2/2"), "{err}");
    assert!(err.contains("after 1000000 of"), "{err}");
    assert!(err.contains("disconnected"), "{err}");
    assert_eq!(rt.graph().ids().unwrap().len(), 1);
    let out = ok(&rt, &["pull", &name]);
    assert!(out.contains("Already exists"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(gets.load(Ordering::SeqCst), 3);
    let id = rt.resolve_image(&name).unwrap();
    let layers = rt.image_layers(&id).unwrap();
    assert_eq!(
        std::fs::read(layers[1].join("two")).unwrap(),
        noise(3_000_000, 7)
    );
}

/// A manifest (schema 2) naming these layer digests and this config.
fn manifest_json(config: &str, config_size: usize, layers: &[(&str, usize)]) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(d, n)| serde_json::json!({"mediaType": DOCKER_LAYER, "digest": d, "size": n}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": config_size},
        "layers": layers,
    }))
    .unwrap()
}

#[test]
fn manifests_naming_escaping_ids_or_paths_are_refused() {
    let fake = FakeRegistry::start();
    let d = TempDir::new("reg-escape");
    let root = d.join("root");
    let rt = runtime(&root);
    let outside = d.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"keep").unwrap();
    let before = snapshot(&outside);
    let mut t = Tar::new();
    t.file("f", b"x");
    let tar = t.finish();
    let good_layer = digest_of(&tar);
    fake.blob("x", &good_layer, tar.clone());
    let cfg = serde_json::to_vec(&config_json(&[diff_id(&tar)])).unwrap();
    let cfg_digest = digest_of(&cfg);
    fake.blob("x", &cfg_digest, cfg.clone());
    let climb = format!("sha256:../../../../{}", outside.display());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "layer-path",
            manifest_json(&cfg_digest, cfg.len(), &[(&climb, tar.len())]),
            "invalid digest",
        ),
        (
            "config-path",
            manifest_json("sha256:../../graph", 10, &[(&good_layer, tar.len())]),
            "invalid digest",
        ),
        (
            "layer-algorithm",
            manifest_json(
                &cfg_digest,
                cfg.len(),
                &[(&format!("sha512:{}", "0".repeat(128)), 3)],
            ),
            "only sha256",
        ),
        (
            "upper-hex",
            manifest_json(
                &cfg_digest,
                cfg.len(),
                &[(&good_layer.to_uppercase().replace("SHA256", "sha256"), 3)],
            ),
            "invalid digest",
        ),
    ];
    for (tag, body, want) in &cases {
        fake.manifest("x", tag, body.clone());
        let err = pull_fails(&rt, &root, &format!("{}/x:{tag}", fake.host()));
        assert!(err.contains(want), "{tag}: {err}");
    }
    // A config whose diff ids climb out.
    let bad_cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:../../../etc/passwd"]},
    }))
    .unwrap();
    fake.blob("x", &digest_of(&bad_cfg), bad_cfg.clone());
    fake.manifest(
        "x",
        "diff-path",
        manifest_json(
            &digest_of(&bad_cfg),
            bad_cfg.len(),
            &[(&good_layer, tar.len())],
        ),
    );
    let err = pull_fails(&rt, &root, &format!("{}/x:diff-path", fake.host()));
    assert!(err.contains("invalid digest"), "{err}");
    assert!(rt.graph().ids().unwrap().is_empty());
    assert_eq!(snapshot(&outside), before);
    assert_eq!(registry_support::names_in(d.path()), ["outside", "root"]);

    // A local image whose id is the chain id the manifest would give its first layer is not
    // taken for that layer.
    let squat = digest_of(b"squatter");
    let mut img = docker_runtime::image::Image::new(None).unwrap();
    img.id = squat.trim_start_matches("sha256:").to_string();
    rt.graph().register(img, &tar[..]).unwrap();
    let cfg2 = serde_json::to_vec(&config_json(std::slice::from_ref(&squat))).unwrap();
    fake.blob("x", &digest_of(&cfg2), cfg2.clone());
    fake.manifest(
        "x",
        "squat",
        manifest_json(&digest_of(&cfg2), cfg2.len(), &[(&good_layer, tar.len())]),
    );
    let err = pull_fails(&rt, &root, &format!("{}/x:squat", fake.host()));
    assert!(err.contains("has its id but not its content"), "{err}");
    assert_eq!(rt.graph().ids().unwrap().len(), 1);
    // The good manifest pulls.
    fake.manifest(
        "x",
        "good",
        manifest_json(&cfg_digest, cfg.len(), &[(&good_layer, tar.len())]),
    );
    ok(&rt, &["pull", &format!("{}/x:good", fake.host())]);
}

#[test]
fn oversized_manifests_and_configs_are_refused_without_reading_them() {
    let fake = FakeRegistry::start();
    let d = TempDir::new("reg-big");
    let root = d.join("root");
    let rt = runtime(&root);
    // Announced as 1 GiB: refused on the length alone.
    fake.route(
        "/v2/x/manifests/announced",
        Canned::Announced {
            length: 1 << 30,
            send: 1 << 30,
        },
    );
    let err = pull_fails(&rt, &root, &format!("{}/x:announced", fake.host()));
    assert!(err.contains("more than the 4194304 accepted"), "{err}");
    // Chunked, without end: read up to the cap and no further.
    fake.route("/v2/x/manifests/endless", Canned::Endless);
    let err = pull_fails(&rt, &root, &format!("{}/x:endless", fake.host()));
    assert!(
        err.contains("larger than the 4194304 bytes accepted"),
        "{err}"
    );
    // Both together sent far less than what was on offer.
    let sent = fake.sent.load(Ordering::SeqCst);
    assert!(sent < 64 << 20, "{sent} bytes were sent");
    // A config said to be 1 GiB is not even asked for.
    let hits = fake.hits.load(Ordering::SeqCst);
    fake.manifest(
        "x",
        "bigconfig",
        manifest_json(&digest_of(b"c"), 1 << 30, &[]),
    );
    let err = pull_fails(&rt, &root, &format!("{}/x:bigconfig", fake.host()));
    assert!(err.contains("more than the 8388608 accepted"), "{err}");
    assert_eq!(
        fake.hits.load(Ordering::SeqCst),
        hits + 1,
        "only the manifest"
    );
    assert!(rt.graph().ids().unwrap().is_empty());
}

#[test]
fn hostile_layer_tarballs_stay_inside_the_layer() {
    let reg = Registry::start("hostile", Auth::None);
    let d = TempDir::new("reg-hostile");
    let outside = d.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"do not touch").unwrap();
    let before = snapshot(&outside);
    let canary = format!("dr-reg-canary-{}", std::process::id());
    let climb = format!(
        "{}{}",
        "../".repeat(12),
        outside.display().to_string().trim_start_matches('/')
    );
    let abs = outside.display().to_string();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut t = Tar::new();
    t.file(&format!("{climb}/pwned"), b"x");
    cases.push(("dotdot", t.finish()));
    let mut t = Tar::new();
    t.file(&format!("{abs}/pwned"), b"x")
        .file(&format!("/tmp/{canary}"), b"x");
    cases.push(("absolute", t.finish()));
    let mut t = Tar::new();
    t.symlink("link", &abs).file("link/pwned", b"x");
    cases.push(("symlink-parent", t.finish()));
    let mut t = Tar::new();
    t.hardlink("hard", &format!("{abs}/secret"));
    cases.push(("hardlink-out", t.finish()));
    let mut t = Tar::new();
    t.symlink("up", "../../../../../../../..")
        .file(&format!("up/tmp/{canary}"), b"x");
    cases.push(("symlink-climb", t.finish()));
    let mut t = Tar::new();
    t.dir("d/").file(&format!("d/.wh.{climb}"), b"");
    cases.push(("whiteout-out", t.finish()));
    for (tag, tar) in &cases {
        let blob = gzip(tar);
        upload_raw(
            &reg.host(),
            "hostile",
            tag,
            &[(blob, DOCKER_LAYER)],
            &config_json(&[diff_id(tar)]),
        );
        let root = d.join(&format!("root-{tag}"));
        let rt = runtime(&root);
        let out = call(&rt, &["pull", &format!("{}/hostile:{tag}", reg.host())]);
        assert!(tmp_leftovers(&root).is_empty(), "{tag}");
        if out.status == 0 {
            assert_eq!(rt.graph().ids().unwrap().len(), 2, "{tag}");
        } else {
            assert!(
                out.stderr.contains("pulling layer 1/1"),
                "{tag}: {}",
                out.stderr
            );
            assert!(rt.graph().ids().unwrap().is_empty(), "{tag}");
        }
        assert_eq!(snapshot(&outside), before, "{tag} changed the outside");
        for dir in ["/tmp", "/"] {
            assert!(
                !Path::new(dir).join(&canary).exists(),
                "{tag} wrote {dir}/{canary}"
            );
        }
    }
}
