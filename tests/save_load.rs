//! `save` and `load`: round trips through our own archives (in-process and through the
//! daemon), several images and names in one archive, docker 20.10's archives, skopeo and
//! containerd reading what we save (and skopeo's archives loaded here), and hostile archives,
//! each refused with a clear error and leaving no image or name behind.

mod common;
mod daemon_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{cli, Fixture, TempDir};
use daemon_support::{client, client_with_input, import_busybox, Daemon, DOCKER};
use docker_runtime::Runtime;
use sha2::{Digest, Sha256};

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// The tar entries of `archive`: (name, content).
fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(archive);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn entry<'a>(all: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &all.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in the archive"))
        .1
}

/// `save -o` into `dir`, returning the archive's bytes.
fn save(rt: &Runtime, dir: &Path, names: &[&str]) -> Vec<u8> {
    let file = dir.join("out.tar");
    let mut args = vec!["save", "-o", file.to_str().unwrap()];
    args.extend_from_slice(names);
    cli::ok(rt, &args);
    std::fs::read(&file).unwrap()
}

/// `load` with `archive` on stdin.
fn load(rt: &Runtime, archive: &[u8]) -> cli::Output {
    cli::call_with(rt, &["load"], archive, None)
}

/// Everything a failed load must leave as it was: the graph's images, `:tmp:`, the tags.
fn state(f: &Fixture) -> (Vec<String>, Vec<String>, String) {
    let graph = f.root().join("graph");
    let names = |d: PathBuf| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    (
        names(graph.clone()),
        names(graph.join(":tmp:")),
        std::fs::read_to_string(f.root().join("repositories")).unwrap(),
    )
}

/// A second layer on busybox, committed from a container that wrote `file`.
fn child_image(f: &Fixture, file: &str, name: &str) {
    let id = cli::ok(
        &f.rt,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            &format!("echo {file} > /{file}"),
        ],
    );
    let id = id.trim();
    cli::ok(&f.rt, &["wait", id]);
    cli::ok(&f.rt, &["commit", id, name]);
    cli::ok(&f.rt, &["rm", id]);
}

#[test]
fn save_rm_load_run_round_trip_in_process() {
    let f = Fixture::new("slrt");
    let dir = TempDir::new("slrt");
    child_image(&f, "hello", "app:1");
    let a = save(&f.rt, dir.path(), &["app:1"]);
    // Deterministic: the same image gives the same bytes.
    assert_eq!(a, save(&f.rt, dir.path(), &["app:1"]));
    let all = entries(&a);
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(names.contains(&want), "{names:?}");
    }
    // Every blob is named by its digest; the manifest names the config and two layers.
    for (n, data) in &all {
        if let Some(hex) = n.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(sha(data), format!("sha256:{hex}"), "{n}");
        }
    }
    let man: serde_json::Value = serde_json::from_slice(entry(&all, "manifest.json")).unwrap();
    assert_eq!(man[0]["RepoTags"], serde_json::json!(["app:1"]));
    assert_eq!(man[0]["Layers"].as_array().unwrap().len(), 2, "{man}");
    let config: serde_json::Value =
        serde_json::from_slice(entry(&all, man[0]["Config"].as_str().unwrap())).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    let index: serde_json::Value = serde_json::from_slice(entry(&all, "index.json")).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/app:1"
    );

    cli::ok(&f.rt, &["rmi", "app:1"]);
    assert_eq!(cli::call(&f.rt, &["inspect", "app:1"]).status, 1);
    let out = load(&f.rt, &a);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Loaded image: app:1\n");
    let run = cli::ok(&f.rt, &["run", "--rm", "app:1", "cat", "/hello"]);
    assert_eq!(run, "hello\n");
    // Loading again changes nothing and says the same; saving the loaded image gives the
    // same archive back.
    let images = state(&f).0;
    assert_eq!(load(&f.rt, &a).stdout, "Loaded image: app:1\n");
    assert_eq!(state(&f).0, images);
    let again = save(&f.rt, dir.path(), &["app:1"]);
    assert!(again == a, "saving the loaded image gives the same archive");
    assert_eq!(load(&f.rt, &again).status, 0);
    assert_eq!(state(&f).0, images);
}

#[test]
fn several_images_and_names_share_their_layers() {
    let f = Fixture::new("slmulti");
    let dir = TempDir::new("slmulti");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let _sub = docker_runtime::events::Subscription::start(f.rt.events(), move |e| {
        if e.kind == "image" && matches!(e.action, "save" | "load" | "tag") {
            let name = e.actor.attributes.get("name").cloned().unwrap_or_default();
            log.lock().unwrap().push(format!("{} {name}", e.action));
        }
        true
    })
    .unwrap();
    child_image(&f, "one", "one:latest");
    child_image(&f, "two", "two:latest");
    cli::ok(&f.rt, &["tag", "one", "one:also"]);
    let a = save(&f.rt, dir.path(), &["one", "two:latest", "busybox:latest"]);
    let all = entries(&a);
    let man: serde_json::Value = serde_json::from_slice(entry(&all, "manifest.json")).unwrap();
    assert_eq!(man.as_array().unwrap().len(), 3, "{man}");
    assert_eq!(
        man[0]["RepoTags"],
        serde_json::json!(["one:also", "one:latest"])
    );
    // busybox's layer is below all three: stored once. Three tops, three configs, three
    // manifests, one base.
    let blobs = all
        .iter()
        .filter(|(n, d)| n.starts_with("blobs/sha256/") && !d.is_empty())
        .count();
    assert_eq!(
        blobs,
        1 + 2 + 3 + 3,
        "{:?}",
        all.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    let index: serde_json::Value = serde_json::from_slice(entry(&all, "index.json")).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 4);

    for n in ["one:latest", "one:also", "two", "busybox"] {
        cli::ok(&f.rt, &["rmi", n]);
    }
    let out = load(&f.rt, &a);
    assert_eq!(
        out.stdout,
        "Loaded image: one:also\nLoaded image: one:latest\nLoaded image: two:latest\nLoaded image: busybox:latest\n",
        "{}",
        out.stderr
    );
    // `save` and `load` per image, `tag` per loaded name, as docker announces them.
    assert!(common::eventually(
        std::time::Duration::from_secs(5),
        || {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|e| e.starts_with("load "))
                .count()
                == 3
        }
    ));
    let events = seen.lock().unwrap().clone();
    assert_eq!(
        events.iter().filter(|e| *e == "save ").count(),
        3,
        "{events:?}"
    );
    // One from the `tag` command above, one from the load.
    let tagged = events.iter().filter(|e| *e == "tag one:also").count();
    assert_eq!(tagged, 2, "{events:?}");
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "one:also", "cat", "/one"]),
        "one\n"
    );
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "two", "cat", "/two"]),
        "two\n"
    );
}

#[test]
fn an_image_saved_by_id_loads_without_a_name() {
    let f = Fixture::new("slid");
    let dir = TempDir::new("slid");
    let a = save(&f.rt, dir.path(), &[&f.image[..12]]);
    let man: serde_json::Value =
        serde_json::from_slice(entry(&entries(&a), "manifest.json")).unwrap();
    assert_eq!(man[0]["RepoTags"], serde_json::json!([]));
    let out = load(&f.rt, &a);
    let id = out
        .stdout
        .strip_prefix("Loaded image ID: ")
        .expect(&out.stdout)
        .trim();
    assert_eq!(cli::ok(&f.rt, &["run", "--rm", id, "echo", "ok"]), "ok\n");
}

#[test]
fn save_refuses_a_terminal_and_bad_names() {
    let f = Fixture::new("slbad");
    let out = cli::call(&f.rt, &["save", "nosuch:1"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("no such image: nosuch:1"),
        "{}",
        out.stderr
    );
    let out = cli::call(&f.rt, &["save"]);
    assert!(
        out.stderr.contains("save needs at least one IMAGE"),
        "{}",
        out.stderr
    );
    // stdout on a terminal: `script` gives the client one.
    let line = format!("{} -g {} save busybox", DOCKER, f.root().display());
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cowardly refusing to save to a terminal"),
        "{text}"
    );
    assert!(
        text.len() < 4096,
        "no archive on the terminal: {} bytes",
        text.len()
    );
}

#[test]
fn save_and_load_through_the_daemon() {
    let d = Daemon::start(&[]);
    let addr = d.addr();
    let h = ["-H", addr.as_str()];
    import_busybox(&d.addr());
    // stdout: the client writes the daemon's stream.
    let out = client(&h, &["save", "busybox"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = out.stdout;
    assert!(entries(&a).iter().any(|(n, _)| n == "index.json"));
    // -o FILE: the client writes the file (relative to its own folder), not the daemon.
    let file = d.dir.join("b.tar");
    let out = client(
        &h,
        &["save", "-o", file.to_str().unwrap(), "busybox:latest"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&file).unwrap() == a);
    assert!(client(&h, &["rmi", "busybox"]).status.success());
    // stdin, then -i FILE.
    let out = client_with_input(&h, &["load"], &a);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Loaded image: busybox:latest\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(client(&h, &["rmi", "busybox"]).status.success());
    let out = client(&h, &["load", "-i", file.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Loaded image: busybox:latest\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = client(&h, &["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    // On a terminal the client refuses both: no archive onto it, none read from it.
    for (cmd, why) in [
        ("save busybox", "cowardly refusing to save to a terminal"),
        ("load", "requested load from stdin, but stdin is a terminal"),
    ] {
        let line = format!("{DOCKER} -H {addr} {cmd}");
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(why), "{cmd}: {text}");
        assert!(text.len() < 4096, "{cmd}: {} bytes", text.len());
    }
    // A broken archive is the daemon's clear error.
    let out = client_with_input(&h, &["load"], b"not an archive");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loading the image archive"), "{err}");
    let out = client(&h, &["load", "-i", "/nonexistent/x.tar"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.tar"));
}

/// One entry of a hand-made archive.
enum Ent<'a> {
    File(&'a str, Vec<u8>),
    Symlink(&'a str, &'a str),
}

/// A tar of `ents`, in order.
fn tar_of(ents: &[Ent<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in ents {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match e {
            Ent::File(name, data) => {
                h.set_size(data.len() as u64);
                // Names are written raw: the tar crate refuses `..` in `append_data`.
                h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
            Ent::Symlink(name, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_link_name(target).unwrap();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A layer tar holding `files` (name, content) and nothing else.
fn layer_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    tar_of(
        &files
            .iter()
            .map(|(n, d)| Ent::File(n, d.to_vec()))
            .collect::<Vec<_>>(),
    )
}

/// The busybox tree as a layer tar.
fn busybox_layer(dir: &Path) -> Vec<u8> {
    let tree = dir.join("busybox-tree");
    common::make_busybox_tree(&tree);
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", &tree).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, data).unwrap();
    e.finish().unwrap()
}

/// An image config whose layers have the content `layers` (uncompressed).
fn config_of(layers: &[&[u8]], cmd: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2021-06-01T00:00:00Z",
        "config": {"Cmd": ["sh", "-c", cmd], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes()
}

/// A v1 layer id as docker 20.10 names its folders.
fn v1_id(n: u8) -> String {
    format!("{:x}", Sha256::digest([n]))
}

/// An archive as docker 20.10's `docker save` writes it: `ID/layer.tar`, `ID/json`,
/// `ID/VERSION` per layer, `CONFIG.json`, `manifest.json` and `repositories`; the second
/// image's busybox layer is a symlink to the first's (as docker writes a layer shared by
/// two images) and its top layer is gzip-compressed.
fn docker_20_10_archive(dir: &Path) -> Vec<u8> {
    let base = busybox_layer(dir);
    let hello = layer_of(&[("hello", b"from 20.10\n")]);
    let gz_plain = layer_of(&[("gz", b"gzip layer\n")]);
    let c1 = config_of(&[&base, &hello], "cat /hello");
    let c2 = config_of(&[&base, &gz_plain], "cat /gz");
    let (n1, n2) = (
        format!("{:x}.json", Sha256::digest(&c1)),
        format!("{:x}.json", Sha256::digest(&c2)),
    );
    let (l1, l2, l3, l4) = (v1_id(1), v1_id(2), v1_id(3), v1_id(4));
    let manifest = serde_json::json!([
        {"Config": n1, "RepoTags": ["old:20.10"], "Layers": [format!("{l1}/layer.tar"), format!("{l2}/layer.tar")]},
        {"Config": n2, "RepoTags": ["docker.io/library/other:gz"], "Layers": [format!("{l3}/layer.tar"), format!("{l4}/layer.tar")]},
    ]);
    let repositories = serde_json::json!({"old": {"20.10": l2}, "other": {"gz": l4}});
    let (p1, p2, p3, p4) = (
        format!("{l1}/layer.tar"),
        format!("{l2}/layer.tar"),
        format!("{l3}/layer.tar"),
        format!("{l4}/layer.tar"),
    );
    let target = format!("../{l1}/layer.tar");
    let mut ents = vec![
        Ent::File(&p1, base.clone()),
        Ent::File(&p2, hello),
        Ent::Symlink(&p3, &target),
        Ent::File(&p4, gzip(&gz_plain)),
    ];
    let jsons: Vec<String> = [&l1, &l2, &l3, &l4]
        .iter()
        .map(|l| format!("{l}/json"))
        .collect();
    let versions: Vec<String> = [&l1, &l2, &l3, &l4]
        .iter()
        .map(|l| format!("{l}/VERSION"))
        .collect();
    for (j, v) in jsons.iter().zip(&versions) {
        ents.push(Ent::File(j, b"{}".to_vec()));
        ents.push(Ent::File(v, b"1.0".to_vec()));
    }
    ents.push(Ent::File(&n1, c1));
    ents.push(Ent::File(&n2, c2));
    ents.push(Ent::File(
        "repositories",
        repositories.to_string().into_bytes(),
    ));
    ents.push(Ent::File(
        "manifest.json",
        manifest.to_string().into_bytes(),
    ));
    tar_of(&ents)
}

#[test]
fn docker_20_10_archives_load_with_shared_and_gzip_layers() {
    let f = Fixture::new("sl2010");
    let dir = TempDir::new("sl2010");
    let a = docker_20_10_archive(dir.path());
    let out = load(&f.rt, &a);
    assert_eq!(
        out.stdout, "Loaded image: old:20.10\nLoaded image: other:gz\n",
        "{}",
        out.stderr
    );
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "old:20.10"]),
        "from 20.10\n"
    );
    assert_eq!(cli::ok(&f.rt, &["run", "--rm", "other:gz"]), "gzip layer\n");
    // The shared busybox layer is one image: both images have the same parent chain below.
    let h1 = cli::ok(&f.rt, &["history", "-notrunc", "old:20.10"]);
    let h2 = cli::ok(&f.rt, &["history", "-notrunc", "other:gz"]);
    let base = |h: &str| {
        h.lines()
            .last()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(base(&h1), base(&h2));
    // A whole archive compressed with gzip loads too.
    cli::ok(&f.rt, &["rmi", "old:20.10"]);
    let out = load(&f.rt, &gzip(&a));
    assert!(
        out.stdout.contains("Loaded image: old:20.10"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_oci_layout_without_manifest_json_loads_by_its_index() {
    let f = Fixture::new("sloci");
    let dir = TempDir::new("sloci");
    child_image(&f, "oci", "oci:v1");
    let a = save(&f.rt, dir.path(), &["oci:v1"]);
    let ents: Vec<(String, Vec<u8>)> = entries(&a)
        .into_iter()
        .filter(|(n, _)| n != "manifest.json" && !n.ends_with('/'))
        .collect();
    cli::ok(&f.rt, &["rmi", "oci:v1"]);
    let rebuilt = tar_of(
        &ents
            .iter()
            .map(|(n, d)| Ent::File(n, d.clone()))
            .collect::<Vec<_>>(),
    );
    let out = load(&f.rt, &rebuilt);
    assert_eq!(out.stdout, "Loaded image: oci:v1\n", "{}", out.stderr);
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "oci:v1", "cat", "/oci"]),
        "oci\n"
    );
}

/// A valid docker-format image (a new layer on busybox... as its own base) plus `extra`
/// entries and the manifest `manifest` (None: the valid one).
fn with_valid_image(extra: Vec<Ent<'_>>, manifest: Option<serde_json::Value>) -> Vec<u8> {
    let layer = layer_of(&[("good", b"good\n")]);
    let config = config_of(&[&layer], "true");
    let name = format!("{:x}.json", Sha256::digest(&config));
    let man = manifest.unwrap_or_else(|| {
        serde_json::json!([{"Config": name, "RepoTags": ["good:1"], "Layers": ["l1/layer.tar"]}])
    });
    let mut ents = vec![
        Ent::File("l1/layer.tar", layer),
        Ent::File(Box::leak(name.into_boxed_str()), config),
    ];
    ents.extend(extra);
    ents.push(Ent::File("manifest.json", man.to_string().into_bytes()));
    tar_of(&ents)
}

/// `load` of `archive` fails with a message containing `why`, and leaves the graph, its
/// `:tmp:` and the tags as they were.
fn refused(f: &Fixture, archive: &[u8], why: &str) {
    let before = state(f);
    let out = load(&f.rt, archive);
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains(why), "want {why:?} in: {}", out.stderr);
    assert!(out.stderr.len() < 2048, "a bounded message: {}", out.stderr);
    assert_eq!(state(f), before, "a failed load leaves nothing behind");
}

#[test]
fn the_valid_hostile_base_loads() {
    // The archive the hostile cases below start from loads when left alone: each refusal is
    // the fault added to it, not something else.
    let f = Fixture::new("slbase");
    let out = load(&f.rt, &with_valid_image(vec![], None));
    assert_eq!(out.stdout, "Loaded image: good:1\n", "{}", out.stderr);
}

/// Entries and links leading out of the archive. A loader that extracted the archive by its
/// names onto disk (as docker 1.x's did before CVE-2014-9356) would write `../evil` next to
/// its extraction folder, `/tmp/...` anywhere, and follow `d -> /etc` with `d/passwd`; here
/// names are only keys and each of these is refused when read.
#[test]
fn entries_escaping_the_archive_are_refused() {
    let f = Fixture::new("slesc");
    let v = |extra| with_valid_image(extra, None);
    refused(
        &f,
        &v(vec![Ent::File("../evil", b"x".to_vec())]),
        "\"../evil\" escapes the archive",
    );
    refused(
        &f,
        &v(vec![Ent::File("/tmp/drtest-evil", b"x".to_vec())]),
        "escapes the archive",
    );
    refused(
        &f,
        &v(vec![
            Ent::Symlink("d", "sub"),
            Ent::File("d/layer.tar", b"x".to_vec()),
        ]),
        "archive entry d/layer.tar lies under the symlink d",
    );
    refused(
        &f,
        &v(vec![
            Ent::File("d/layer.tar", b"x".to_vec()),
            Ent::Symlink("d", "sub"),
        ]),
        "lies under the symlink d",
    );
    refused(
        &f,
        &v(vec![Ent::Symlink("x/layer.tar", "../../etc/passwd")]),
        "outside the archive",
    );
    refused(
        &f,
        &v(vec![Ent::Symlink("x/layer.tar", "/etc/passwd")]),
        "outside the archive",
    );
    assert!(!Path::new("/tmp/drtest-evil").exists());
}

/// A manifest naming files outside the archive: a loader opening `Config` and `Layers` as
/// paths under its extraction folder would read the host's `/etc/passwd` as a config or a
/// layer. Here they are refused by name.
#[test]
fn a_manifest_pointing_outside_is_refused() {
    let f = Fixture::new("slman");
    let m = |config: &str, layer: &str| {
        with_valid_image(
            vec![],
            Some(serde_json::json!([{"Config": config, "RepoTags": ["bad:1"], "Layers": [layer]}])),
        )
    };
    refused(
        &f,
        &m("../../../../etc/passwd", "l1/layer.tar"),
        "names \"../../../../etc/passwd\", which is outside the archive",
    );
    refused(&f, &m("/etc/passwd", "l1/layer.tar"), "outside the archive");
    refused(
        &f,
        &m("nosuch.json", "l1/layer.tar"),
        "names nosuch.json, which is not in the archive",
    );
    let layer = layer_of(&[("good", b"good\n")]);
    let config = format!("{:x}.json", Sha256::digest(config_of(&[&layer], "true")));
    refused(
        &f,
        &m(&config, "../../../etc/shadow"),
        "outside the archive",
    );
    // A bad name in RepoTags is refused before anything is unpacked.
    let bad_name = with_valid_image(
        vec![],
        Some(
            serde_json::json!([{"Config": config, "RepoTags": ["Bad Name:1"], "Layers": ["l1/layer.tar"]}]),
        ),
    );
    refused(&f, &bad_name, "the archive names the image \"Bad Name:1\"");
}

/// Content that is not what it claims. Without the checks a blob under `blobs/sha256/X`
/// with other content, or a layer whose content differs from the config's diff id, would be
/// stored under an id that promises content it does not have (and a later pull of the real
/// layer would trust it).
#[test]
fn digests_that_do_not_match_are_refused() {
    let f = Fixture::new("sldig");
    let dir = TempDir::new("sldig");
    // An OCI layout whose config blob was changed after it was named.
    let a = save(&f.rt, dir.path(), &["busybox"]);
    let mut ents: Vec<(String, Vec<u8>)> = entries(&a)
        .into_iter()
        .filter(|(n, _)| !n.ends_with('/'))
        .collect();
    let man: serde_json::Value = serde_json::from_slice(entry(&ents, "manifest.json")).unwrap();
    let cfg = man[0]["Config"].as_str().unwrap().to_string();
    for (n, d) in ents.iter_mut() {
        if *n == cfg {
            *d = String::from_utf8(d.clone())
                .unwrap()
                .replace("linux", "LINUX")
                .into_bytes();
        }
    }
    let tampered = tar_of(
        &ents
            .iter()
            .map(|(n, d)| Ent::File(n, d.clone()))
            .collect::<Vec<_>>(),
    );
    refused(
        &f,
        &tampered,
        &format!("archive entry {cfg} does not match its digest"),
    );
    // A docker-format layer whose content is not the config's diff id; the image before it in
    // the archive is valid and is not kept either (the load is all or nothing).
    let layer = layer_of(&[("good", b"good\n")]);
    let other = layer_of(&[("evil", b"evil\n")]);
    let claimed = layer_of(&[("claimed", b"what the config promises\n")]);
    let good_cfg = config_of(&[&layer], "true");
    let bad_cfg = config_of(&[&claimed], "false");
    let (gn, bn) = (
        format!("{:x}.json", Sha256::digest(&good_cfg)),
        format!("{:x}.json", Sha256::digest(&bad_cfg)),
    );
    let man = serde_json::json!([
        {"Config": gn, "RepoTags": ["good:1"], "Layers": ["l1/layer.tar"]},
        {"Config": bn, "RepoTags": ["busybox:latest"], "Layers": ["l2/layer.tar"]},
    ]);
    let a = tar_of(&[
        Ent::File("l1/layer.tar", layer),
        Ent::File("l2/layer.tar", other),
        Ent::File(&gn, good_cfg),
        Ent::File(&bn, bad_cfg),
        Ent::File("manifest.json", man.to_string().into_bytes()),
    ]);
    refused(&f, &a, "unpacks to content with diff id");
    assert_eq!(cli::call(&f.rt, &["inspect", "good:1"]).status, 1);
}

/// Documents and archives too big or malformed: a loader that read manifest.json whole
/// would take gigabytes of memory for a huge one.
#[test]
fn oversized_and_malformed_documents_are_refused() {
    let f = Fixture::new("slbig");
    let mut huge = vec![b' '; 5 << 20];
    huge.extend_from_slice(b"[]");
    refused(
        &f,
        &tar_of(&[Ent::File("manifest.json", huge)]),
        "manifest.json is 5242882 bytes, more than the 4194304 accepted",
    );
    refused(
        &f,
        &tar_of(&[Ent::File("manifest.json", b"{not json".to_vec())]),
        "manifest.json is malformed",
    );
    refused(
        &f,
        &tar_of(&[Ent::File("manifest.json", b"[]".to_vec())]),
        "holds no image",
    );
    refused(
        &f,
        &tar_of(&[Ent::File("hello", b"x".to_vec())]),
        "neither manifest.json",
    );
    refused(&f, b"not an archive at all", "not a tar archive");
    let whole = with_valid_image(vec![], None);
    refused(&f, &whole[..whole.len() / 2], "loading the image archive");
}

/// A layer bomb: 64 MiB of zeros gzip to some 64 KiB. Without the unpacker's limits the
/// load would write all of it (a larger bomb fills the disk); with a 4 MiB limit per layer it
/// stops there, and the partly unpacked layer is removed.
#[test]
fn a_layer_bomb_is_stopped_by_the_layer_limits() {
    let f = Fixture::new("slbomb");
    let dir = TempDir::new("slbomb");
    let mut opts = f.options();
    opts.layer_limits = docker_runtime::image::LayerLimits::new(4 << 20, 0);
    let root = dir.join("root");
    let rt = Runtime::new(&root, opts).unwrap();
    let plain = layer_of(&[("zeros", &vec![0u8; 64 << 20])]);
    // The config names the real diff id, so only the limit can stop it.
    let config = config_of(&[&plain], "true");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    let bomb = enc.finish().unwrap();
    drop(plain);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let name = format!("{:x}.json", Sha256::digest(&config));
    let man =
        serde_json::json!([{"Config": name, "RepoTags": ["bomb:1"], "Layers": ["l/layer.tar"]}]);
    let a = tar_of(&[
        Ent::File("l/layer.tar", bomb),
        Ent::File(&name, config),
        Ent::File("manifest.json", man.to_string().into_bytes()),
    ]);
    let out = cli::call_with(&rt, &["load"], &a, None);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("more than 4194304 bytes, the limit of bytes per layer"),
        "{}",
        out.stderr
    );
    let graph = root.join("graph");
    let left: Vec<_> = std::fs::read_dir(&graph)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.len() == 64)
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(std::fs::read_dir(graph.join(":tmp:")).unwrap().count(), 0);
    assert!(docker_runtime::fsutil::tree_size(&root) < 5 << 20);
}

/// `skopeo ARGS`, asserting success (no signature policy: the archives are the test's own).
fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("skopeo (scripts/setup.sh installs it)");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        &text[..text.len().min(2000)]
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// skopeo reads our save as a docker-archive and as an oci-archive, and what it writes from
/// them (a docker-archive, an oci-archive) loads here and runs.
#[test]
fn skopeo_reads_our_save_and_we_load_what_it_writes() {
    let f = Fixture::new("slskopeo");
    let dir = TempDir::new("slskopeo");
    child_image(&f, "skopeo", "app:1");
    let ours = dir.join("ours.tar");
    cli::ok(&f.rt, &["save", "-o", ours.to_str().unwrap(), "app:1"]);
    let src = format!("docker-archive:{}", ours.display());
    let inspect = skopeo(&["inspect", &src]);
    assert!(inspect.contains("\"Architecture\""), "{inspect}");
    let layout = dir.join("layout");
    skopeo(&["copy", &src, &format!("oci:{}:app:1", layout.display())]);
    skopeo(&[
        "copy",
        &format!("oci-archive:{}", ours.display()),
        &format!("oci:{}:app:2", layout.display()),
    ]);
    // Back: a docker-archive and an oci-archive written by skopeo, loaded here.
    let back = dir.join("back.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:app:1", layout.display()),
        &format!("docker-archive:{}:skopeo/back:1", back.display()),
    ]);
    let oci_back = dir.join("oci-back.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:app:2", layout.display()),
        &format!("oci-archive:{}:skopeo/oci:2", oci_back.display()),
    ]);
    cli::ok(&f.rt, &["rmi", "app:1"]);
    let out = cli::call(&f.rt, &["load", "-i", back.to_str().unwrap()]);
    assert_eq!(
        out.stdout, "Loaded image: skopeo/back:1\n",
        "{}",
        out.stderr
    );
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "skopeo/back:1", "cat", "/skopeo"]),
        "skopeo\n"
    );
    let out = cli::call(&f.rt, &["load", "-i", oci_back.to_str().unwrap()]);
    assert_eq!(out.stdout, "Loaded image: skopeo/oci:2\n", "{}", out.stderr);
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "skopeo/oci:2", "cat", "/skopeo"]),
        "skopeo\n"
    );
}

/// containerd's `ctr image import` takes our save (and runs it with our OCI runtime), and
/// what `ctr image export` writes loads here.
#[test]
fn containerd_imports_our_save_and_we_load_its_export() {
    let f = Fixture::new("slctr");
    child_image(&f, "ctr", "app:1");
    let c = common::containerd::Containerd::start("slctr");
    let ours = c.dir.join("ours.tar");
    cli::ok(&f.rt, &["save", "-o", ours.to_str().unwrap(), "app:1"]);
    c.ok(&["image", "import", ours.to_str().unwrap()]);
    let name = "docker.io/library/app:1";
    assert!(c.ok(&["image", "ls", "-q"]).lines().any(|l| l == name));
    let oci = env!("CARGO_BIN_EXE_docker-runtime-oci");
    let out = c.ok(&[
        "run",
        "--runc-binary",
        oci,
        "--rm",
        name,
        "slctr1",
        "cat",
        "/ctr",
    ]);
    assert_eq!(out, "ctr\n");
    let exported = c.dir.join("exported.tar");
    c.ok(&["image", "export", exported.to_str().unwrap(), name]);
    cli::ok(&f.rt, &["rmi", "app:1"]);
    let out = cli::call(&f.rt, &["load", "-i", exported.to_str().unwrap()]);
    assert_eq!(out.stdout, "Loaded image: app:1\n", "{}", out.stderr);
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "app:1", "cat", "/ctr"]),
        "ctr\n"
    );
}

/// The C API: `docker_image_save` to a descriptor, `docker_image_load` from one with the
/// loaded images as JSON, and their refusals.
#[test]
fn the_c_api_saves_to_and_loads_from_descriptors() {
    use docker_runtime::ffi::container::docker_string_free;
    use docker_runtime::ffi::image::{docker_image_load, docker_image_save};
    use docker_runtime::ffi::result::docker_result;
    use docker_runtime::ffi::runtime::{docker_runtime_free, docker_runtime_new};
    use std::ffi::{c_char, CStr, CString};
    use std::os::fd::AsRawFd;

    let f = Fixture::new("slabi");
    let dir = TempDir::new("slabi");
    let root = CString::new(f.root().to_str().unwrap()).unwrap();
    let mut rt = std::ptr::null_mut();
    // SAFETY: a valid string; NULL options are the defaults; rt receives the handle.
    let r = unsafe { docker_runtime_new(root.as_ptr(), std::ptr::null(), &mut rt) };
    assert_eq!(r, docker_result::DOCKER_OK, "{}", common::last_error());
    let names = [c"busybox:latest".as_ptr(), std::ptr::null()];
    let path = dir.join("abi.tar");
    let file = std::fs::File::create(&path).unwrap();
    // SAFETY: a live handle, a NULL-terminated array, an open descriptor.
    let r = unsafe { docker_image_save(rt, names.as_ptr(), file.as_raw_fd()) };
    assert_eq!(r, docker_result::DOCKER_OK, "{}", common::last_error());
    drop(file);
    let a = std::fs::read(&path).unwrap();
    assert!(
        a == save(&f.rt, dir.path(), &["busybox:latest"]),
        "the same archive as save"
    );

    cli::ok(&f.rt, &["rmi", "busybox"]);
    let file = std::fs::File::open(&path).unwrap();
    let mut json: *mut c_char = std::ptr::null_mut();
    // SAFETY: a live handle, an open descriptor, a writable pointer.
    let r = unsafe { docker_image_load(rt, file.as_raw_fd(), &mut json) };
    assert_eq!(r, docker_result::DOCKER_OK, "{}", common::last_error());
    // SAFETY: the library gave a NUL-terminated string, freed once.
    let text = unsafe { CStr::from_ptr(json) }
        .to_str()
        .unwrap()
        .to_string();
    unsafe { docker_string_free(json) };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v[0]["RepoTags"],
        serde_json::json!(["busybox:latest"]),
        "{v}"
    );
    assert_eq!(cli::call(&f.rt, &["inspect", "busybox"]).status, 0);

    // Refusals: a name that names nothing (before anything is written), no names, a
    // descriptor that is not an archive.
    let empty = std::fs::File::create(dir.join("empty.tar")).unwrap();
    let missing = [c"nosuch:1".as_ptr(), std::ptr::null()];
    let none = [std::ptr::null()];
    let junk = std::fs::File::open("/etc/hostname").unwrap();
    // SAFETY: as above; the calls must refuse, not crash.
    unsafe {
        assert_eq!(
            docker_image_save(rt, missing.as_ptr(), empty.as_raw_fd()),
            docker_result::DOCKER_ERR_NOT_FOUND
        );
        assert!(common::last_error().contains("nosuch:1"));
        assert_eq!(
            docker_image_save(rt, none.as_ptr(), empty.as_raw_fd()),
            docker_result::DOCKER_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            docker_image_save(rt, names.as_ptr(), 9999),
            docker_result::DOCKER_ERR_IO
        );
        let mut json: *mut c_char = std::ptr::null_mut();
        assert_eq!(
            docker_image_load(rt, junk.as_raw_fd(), &mut json),
            docker_result::DOCKER_ERR_CORRUPT
        );
        assert!(json.is_null());
        assert_eq!(
            docker_image_load(rt, junk.as_raw_fd(), std::ptr::null_mut()),
            docker_result::DOCKER_ERR_NULL_ARGUMENT
        );
        docker_runtime_free(rt);
    }
    assert_eq!(std::fs::metadata(dir.join("empty.tar")).unwrap().len(), 0);
}

/// Debian's docker 20.10 (`dockerd` of the docker.io package) on its own data root, exec root,
/// pid file and socket, without a bridge or iptables rules; stopped (with the containerd it
/// started) and its folders unmounted and removed on drop, also when the test fails.
struct Dockerd {
    child: std::process::Child,
    dir: TempDir,
    sock: PathBuf,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = TempDir::new("sldockerd");
        let sock = dir.join("docker.sock");
        let child = Command::new("/usr/sbin/dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--storage-driver=vfs",
            ])
            // Its cgroup parent (made in every hierarchy at its start) is its own, removed on
            // drop; the default `/docker` would stay on the host.
            .arg(format!("--cgroup-parent=/{}", Dockerd::cgroup_parent()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("dockerd.log")).unwrap())
            .spawn()
            .expect("dockerd (Debian's docker.io)");
        let d = Dockerd { child, dir, sock };
        let up = common::eventually(std::time::Duration::from_secs(60), || {
            d.docker(&["version"]).status.success()
        });
        assert!(up, "dockerd did not start: {}", d.log());
        d
    }

    fn cgroup_parent() -> String {
        format!("drtest-sldockerd-{}", std::process::id())
    }

    fn log(&self) -> String {
        let l = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        l[l.len().saturating_sub(2000)..].to_string()
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("/usr/bin/docker")
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker (Debian's docker.io)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            &err[..err.len().min(2000)]
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SAFETY: kill takes a pid and a signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let stopped = common::eventually(std::time::Duration::from_secs(30), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The containerd it started, if it outlived it.
        let mine = self.dir.path().display().to_string();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&mine) {
                if let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() {
                    // SAFETY: kill takes a pid and a signal.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = (mounts.lines())
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&mine))
            .collect();
        under.reverse();
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        // Its cgroup parent in every hierarchy, the containers' folders in it first.
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let parent = h.path().join(Dockerd::cgroup_parent());
            for c in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if c.path().is_dir() {
                    let _ = std::fs::remove_dir(c.path());
                }
            }
            let _ = std::fs::remove_dir(&parent);
        }
    }
}

/// Debian's docker 20.10 loads what we save (and runs it), and we load what it saves.
#[test]
fn docker_20_10_loads_our_save_and_we_load_its_save() {
    let f = Fixture::new("sldocker");
    child_image(&f, "docker", "app:1");
    let d = Dockerd::start();
    let ours = d.dir.join("ours.tar");
    cli::ok(
        &f.rt,
        &["save", "-o", ours.to_str().unwrap(), "app:1", "busybox"],
    );
    let out = d.ok(&["load", "-i", ours.to_str().unwrap()]);
    assert!(
        out.contains("Loaded image: app:1") && out.contains("Loaded image: busybox:latest"),
        "{out}"
    );
    let run = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "app:1",
        "cat",
        "/docker",
    ]);
    assert_eq!(run, "docker\n");
    d.ok(&["tag", "app:1", "theirs:2"]);
    let theirs = d.dir.join("theirs.tar");
    d.ok(&["save", "-o", theirs.to_str().unwrap(), "theirs:2"]);
    let out = cli::call(&f.rt, &["load", "-i", theirs.to_str().unwrap()]);
    assert_eq!(out.stdout, "Loaded image: theirs:2\n", "{}", out.stderr);
    assert_eq!(
        cli::ok(&f.rt, &["run", "--rm", "theirs:2", "cat", "/docker"]),
        "docker\n"
    );
}
