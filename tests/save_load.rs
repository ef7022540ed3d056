//! `save` and `load`: round trips through our own archives (in-process and through the
//! daemon), several images and names in one archive, docker 20.10's archives, skopeo and
//! containerd reading what we save (and skopeo's archives loaded here), and hostile archives,
//! each refused with a clear error and leaving no image or name behind.

mod common;
mod daemon_support;

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
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
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
    // A broken archive is the daemon's clear error.
    let out = client_with_input(&h, &["load"], b"not an archive");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loading the image archive"), "{err}");
    let out = client(&h, &["load", "-i", "/nonexistent/x.tar"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.tar"));
}
