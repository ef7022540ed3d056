//! Images: every image command through the `docker` binary, the graph API other parts call,
//! layer round trips (pack and unpack keep ownership, modes, mtimes, symlinks, hardlinks,
//! devices, xattrs, whiteouts), `export`'s packer staying on one mount, `diff`'s changes, and
//! the busybox image script.

mod common;
mod images_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{crate_dir, TempDir};
use docker_runtime::image::{self, ChangeKind, Image};
use docker_runtime::{ErrorKind, Runtime, RuntimeOptions};
use images_util::{
    docker, fails, image_dirs, import, lchown, mknod, ok, set_mtime, set_xattr, snapshot,
    tmp_leftovers, Tar,
};

fn small_tar() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc/")
        .file("etc/hostname", b"box\n")
        .dir("bin/")
        .file("bin/tool", b"#!/bin/sh\necho hi\n");
    t.finish()
}

/// Register an image with a chosen id and parent straight through the graph.
fn register(rt: &Runtime, id: &str, parent: Option<&str>, tar: &[u8]) -> Image {
    let mut img = Image::new(parent).unwrap();
    img.id = id.to_string();
    rt.graph().register(img, tar).unwrap()
}

fn runtime(root: &Path) -> Runtime {
    Runtime::new(root, RuntimeOptions::default()).unwrap()
}

#[test]
fn import_every_compression_and_list() {
    let d = TempDir::new("img-import");
    let root = d.join("root");
    let plain = small_tar();
    let mut ids = Vec::new();
    for (tag, data) in [
        ("plain", plain.clone()),
        ("gz", images_util::gzip(&plain)),
        ("bz2", images_util::bzip2(&plain)),
        ("xz", images_util::xz(&plain)),
    ] {
        let id = import(&root, &data, Some(&format!("test/{tag}")));
        let layer = root.join("graph").join(&id).join("layer");
        assert_eq!(std::fs::read(layer.join("etc/hostname")).unwrap(), b"box\n");
        ids.push(id);
    }
    // REPOSITORY:TAG form and the TAG argument form.
    let id = import(&root, &plain, Some("named:v1"));
    let out = ok(&docker(
        &root,
        &["import", "-", "named", "v2"],
        Some(&plain),
    ));
    let id2 = out.trim().to_string();
    let list = ok(&docker(&root, &["images"], None));
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY          TAG                 ID                  CREATED")
    );
    assert!(lines[0].ends_with("PARENT"));
    assert_eq!(lines.len(), 7, "{list}");
    let named: Vec<&&str> = lines.iter().filter(|l| l.starts_with("named ")).collect();
    assert_eq!(named.len(), 2);
    assert!(
        named[0].contains("v1") && named[0].contains(&id[..12]) && !named[0].contains(&id[..13])
    );
    assert!(named[1].contains("v2") && named[1].contains(&id2[..12]));
    assert!(list.contains("Less than a second ago") || list.contains("seconds ago"));
    // -notrunc shows whole ids; -q only ids; NAME filters.
    assert!(ok(&docker(&root, &["images", "-notrunc"], None)).contains(&id));
    assert!(ok(&docker(&root, &["images", "--no-trunc"], None)).contains(&id2));
    let q = ok(&docker(&root, &["images", "-q"], None));
    assert_eq!(q.lines().count(), 6);
    assert!(q.lines().all(|l| l.len() == 12));
    let f = ok(&docker(&root, &["images", "named"], None));
    assert_eq!(f.lines().count(), 3);
    let f = ok(&docker(
        &root,
        &["images", "-q", "-notrunc", "named:v2"],
        None,
    ));
    assert_eq!(f.trim(), id2);
    // Re-importing under the same name moves the tag (as v0.1.0's import did).
    let id3 = import(&root, &plain, Some("named:v1"));
    let f = ok(&docker(
        &root,
        &["images", "-q", "-notrunc", "named:v1"],
        None,
    ));
    assert_eq!(f.trim(), id3);
    // The old image is now untagged and listed as <none>.
    let list = ok(&docker(&root, &["images"], None));
    assert!(
        list.lines()
            .any(|l| l.starts_with("<none>") && l.contains(&id[..12])),
        "{list}"
    );
    assert!(ok(&docker(&root, &["info"], None)).contains("images: 7"));
    assert!(tmp_leftovers(&root).is_empty());
    // The image json: the comment says where it came from.
    let v: serde_json::Value =
        serde_json::from_str(&ok(&docker(&root, &["inspect", "named:v2"], None))).unwrap();
    assert_eq!(v["id"], id2.as_str());
    assert_eq!(v["comment"], "Imported from -");
    assert!(v.get("parent").is_none());
}

#[test]
fn import_bad_arguments_cost_nothing() {
    let d = TempDir::new("img-import-bad");
    let root = d.join("root");
    let err = fails(&docker(
        &root,
        &["import", "-", "Bad Name"],
        Some(&small_tar()),
    ));
    assert!(err.contains("invalid repository name"), "{err}");
    let err = fails(&docker(
        &root,
        &["import", "-", "ok", "bad:tag"],
        Some(&small_tar()),
    ));
    assert!(err.contains("invalid tag"), "{err}");
    let err = fails(&docker(&root, &["import", "/tmp/some.tar"], None));
    assert!(err.contains("docker import - < FILE"), "{err}");
    let err = fails(&docker(&root, &["import"], None));
    assert!(err.contains("Usage: docker import"), "{err}");
    assert!(image_dirs(&root).is_empty());
}

/// A one-shot HTTP server on 127.0.0.1 that answers every request with `status` and `body`.
struct Server {
    port: u16,
    thread: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Server {
    fn start(status: &'static str, body: Vec<u8>, requests: usize) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let mut paths = Vec::new();
            for _ in 0..requests {
                let (s, _) = l.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                paths.push(line.split_whitespace().nth(1).unwrap_or("").to_string());
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                }
                let mut s = s;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
            paths
        });
        Server {
            port,
            thread: Some(thread),
        }
    }

    fn paths(mut self) -> Vec<String> {
        self.thread.take().unwrap().join().unwrap()
    }
}

#[test]
fn import_from_a_local_http_server() {
    let d = TempDir::new("img-http");
    let root = d.join("root");
    let srv = Server::start("200 OK", images_util::gzip(&small_tar()), 1);
    let url = format!("http://127.0.0.1:{}/images/box.tar.gz", srv.port);
    let out = ok(&docker(&root, &["import", &url, "fromweb"], None));
    let id = out.trim();
    assert_eq!(srv.paths(), vec!["/images/box.tar.gz".to_string()]);
    let layer = root.join("graph").join(id).join("layer");
    assert_eq!(
        std::fs::read(layer.join("bin/tool")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&docker(&root, &["inspect", "fromweb"], None))).unwrap();
    assert_eq!(v["comment"], format!("Imported from {url}").as_str());
    // An error status is a clear error and registers nothing.
    let srv = Server::start("404 Not Found", b"no such file".to_vec(), 1);
    let url = format!("http://127.0.0.1:{}/missing.tar", srv.port);
    let err = fails(&docker(&root, &["import", &url], None));
    assert!(err.contains("404") && err.contains(&url), "{err}");
    srv.paths();
    // A body cut short: the server promises more than it sends.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let full = small_tar();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            full.len()
        );
        let _ = s.write_all(&full[..1000]);
    });
    let err = fails(&docker(
        &root,
        &["import", &format!("http://127.0.0.1:{port}/cut.tar")],
        None,
    ));
    t.join().unwrap();
    assert!(err.contains("importing http://127.0.0.1"), "{err}");
    // Nobody listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = fails(&docker(
        &root,
        &["import", &format!("http://127.0.0.1:{port}/x.tar")],
        None,
    ));
    assert!(err.contains("downloading"), "{err}");
    assert_eq!(image_dirs(&root), vec![id.to_string()]);
    assert!(tmp_leftovers(&root).is_empty());
}

#[test]
fn tag_resolve_and_ambiguous_prefixes() {
    let d = TempDir::new("img-tag");
    let root = d.join("root");
    let rt = runtime(&root);
    let a = format!("abc1{}", "0".repeat(60));
    let b = format!("abc2{}", "0".repeat(60));
    register(&rt, &a, None, &small_tar());
    register(&rt, &b, None, &small_tar());
    drop(rt);
    // Unique prefixes and full ids name images; an ambiguous prefix says so.
    ok(&docker(&root, &["tag", "abc1", "first"], None));
    ok(&docker(&root, &["tag", &b, "second", "v1"], None));
    ok(&docker(&root, &["tag", "second:v1", "third:x"], None));
    let err = fails(&docker(&root, &["tag", "abc", "amb"], None));
    assert!(err.contains("ambiguous"), "{err}");
    let err = fails(&docker(&root, &["tag", "nosuch", "x"], None));
    assert!(err.contains("no such image: nosuch"), "{err}");
    // An existing tag moves only with -f.
    let err = fails(&docker(&root, &["tag", "abc2", "first"], None));
    assert!(err.contains("-f"), "{err}");
    ok(&docker(&root, &["tag", "-f", "abc2", "first"], None));
    let rt = runtime(&root);
    assert_eq!(rt.resolve_image("first").unwrap(), b);
    assert_eq!(rt.image("first:latest").unwrap().id, b);
    assert_eq!(rt.resolve_image("third:x").unwrap(), b);
    assert_eq!(rt.image("abc1").unwrap().id, a);
    let e = rt.resolve_image("abc").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = rt.resolve_image("busybox").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.message(), "no such image: busybox");
    let err = fails(&docker(&root, &["tag", "abc1", "Bad"], None));
    assert!(err.contains("invalid repository name"), "{err}");
    let err = fails(&docker(&root, &["tag", "abc1", "ok", "-bad"], None));
    assert!(err.contains("invalid tag"), "{err}");
}

#[test]
fn history_and_intermediate_images() {
    let d = TempDir::new("img-history");
    let root = d.join("root");
    let rt = runtime(&root);
    let base = rt
        .graph()
        .register(Image::new(None).unwrap(), small_tar().as_slice())
        .unwrap();
    let mut mid = Image::new(Some(&base.id)).unwrap();
    mid.container_config = Some(docker_runtime::container::Config {
        cmd: vec!["/bin/sh".into(), "-c".into(), "echo mid".into()],
        ..Default::default()
    });
    let mid = rt.graph().register(mid, small_tar().as_slice()).unwrap();
    let top = rt
        .graph()
        .register(Image::new(Some(&mid.id)).unwrap(), small_tar().as_slice())
        .unwrap();
    rt.tags().set("base", "latest", &base.id, false).unwrap();
    rt.tags().set("top", "latest", &top.id, false).unwrap();
    drop(rt);
    let h = ok(&docker(&root, &["history", "top"], None));
    let lines: Vec<&str> = h.lines().collect();
    assert!(
        lines[0].starts_with("ID                  CREATED   "),
        "{h}"
    );
    assert!(lines[0].ends_with("   CREATED BY"), "{h}");
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("top:latest "));
    assert!(lines[2].starts_with(&mid.id[..12]) && lines[2].ends_with("/bin/sh -c echo mid"));
    assert!(lines[3].starts_with("base:latest "));
    assert!(ok(&docker(&root, &["history", "-notrunc", &mid.id[..8]], None)).contains(&mid.id));
    // images: heads only (mid is hidden) unless -a; PARENT shows names.
    let list = ok(&docker(&root, &["images"], None));
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(!list.lines().any(|l| l.starts_with("<none>")), "{list}");
    let top_line = list.lines().find(|l| l.starts_with("top ")).unwrap();
    assert!(top_line.ends_with(&mid.id[..12]), "{top_line}");
    let all = ok(&docker(&root, &["images", "-a"], None));
    let mid_line = all
        .lines()
        .find(|l| l.contains(&mid.id[..12]) && l.starts_with("<none>"))
        .unwrap();
    assert!(mid_line.ends_with("base:latest"), "{mid_line}");
    // layers: topmost first.
    let rt = runtime(&root);
    let layers = rt.graph().layers(&top.id).unwrap();
    let want: Vec<PathBuf> = [&top.id, &mid.id, &base.id]
        .iter()
        .map(|i| root.join("graph").join(i).join("layer"))
        .collect();
    assert_eq!(layers, want);
    let heads: Vec<String> = rt
        .graph()
        .heads()
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(heads, vec![top.id.clone()]);
    let kids: Vec<String> = rt
        .graph()
        .children(&base.id)
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(kids, vec![mid.id.clone()]);
    let err = fails(&docker(&root, &["history"], None));
    assert!(err.contains("Usage"), "{err}");
}

fn write_container(root: &Path, image: &str) -> String {
    let id = "c".repeat(64);
    let dir = root.join("containers").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        format!(
            r#"{{"Id":"{id}","Created":"2024-01-01T00:00:00Z","Path":"/bin/sh","Image":"{image}"}}"#
        ),
    )
    .unwrap();
    id
}

#[test]
fn rmi_untags_refuses_users_and_deletes() {
    let d = TempDir::new("img-rmi");
    let root = d.join("root");
    let base = import(&root, &small_tar(), Some("base"));
    ok(&docker(&root, &["tag", "base", "alias", "v1"], None));
    // One of two tags: untag only.
    let out = ok(&docker(&root, &["rmi", "alias:v1"], None));
    assert_eq!(out, "Untagged: alias:v1\n");
    assert_eq!(image_dirs(&root), vec![base.clone()]);
    // A child image keeps its parent.
    let rt = runtime(&root);
    let child = rt
        .graph()
        .register(Image::new(Some(&base)).unwrap(), small_tar().as_slice())
        .unwrap();
    drop(rt);
    let err = fails(&docker(&root, &["rmi", "base"], None));
    assert!(err.contains("child image"), "{err}");
    // A container keeps its image.
    let cid = write_container(&root, &child.id);
    let err = fails(&docker(&root, &["rmi", &child.id[..10]], None));
    assert!(
        err.contains("used by container") && err.contains(&cid[..12]),
        "{err}"
    );
    std::fs::remove_dir_all(root.join("containers").join(&cid)).unwrap();
    // Several names: the bad one is reported, the good ones are removed, children first.
    let out = docker(&root, &["rmi", &child.id, "nosuch", "base"], None);
    let err = fails(&out);
    assert!(err.contains("no such image: nosuch"), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        format!(
            "Deleted: {}\nUntagged: base:latest\nDeleted: {base}\n",
            child.id
        )
    );
    assert!(image_dirs(&root).is_empty());
    assert_eq!(
        std::fs::read_dir(root.join("graph/:garbage:"))
            .unwrap()
            .count(),
        0
    );
    assert!(ok(&docker(&root, &["images", "-q", "-a"], None)).is_empty());
    let err = fails(&docker(&root, &["rmi"], None));
    assert!(err.contains("Usage"), "{err}");
}

#[test]
fn inspect_prints_indented_json() {
    let d = TempDir::new("img-inspect");
    let root = d.join("root");
    let id = import(&root, &small_tar(), Some("box"));
    let out = ok(&docker(&root, &["inspect", "box"], None));
    assert!(out.starts_with("{\n  \"id\": \""), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert!(v["created"].as_str().unwrap().contains('T'));
    let out = ok(&docker(&root, &["inspect", "box", &id[..6]], None));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let err = fails(&docker(&root, &["inspect", "nothing"], None));
    assert!(err.contains("no such container or image: nothing"), "{err}");
}

#[test]
fn graph_register_delete_undelete_collect() {
    let d = TempDir::new("img-graph");
    let root = d.join("root");
    let rt = runtime(&root);
    let g = rt.graph();
    // A missing parent is refused before anything is written.
    let orphan = Image::new(Some(&"a".repeat(64))).unwrap();
    let e = g.register(orphan, small_tar().as_slice()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let img = g
        .register(Image::new(None).unwrap(), small_tar().as_slice())
        .unwrap();
    // The same id twice.
    let mut dup = Image::new(None).unwrap();
    dup.id = img.id.clone();
    assert_eq!(
        g.register(dup, small_tar().as_slice()).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    // A bad id.
    let mut bad = Image::new(None).unwrap();
    bad.id = "../../x".into();
    assert_eq!(
        g.register(bad, small_tar().as_slice()).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(g.get(&img.id).unwrap(), img);
    let json = std::fs::metadata(root.join("graph").join(&img.id).join("json")).unwrap();
    assert_eq!(json.permissions().mode() & 0o777, 0o600);
    g.delete(&img.id).unwrap();
    assert!(!g.exists(&img.id));
    assert_eq!(g.get(&img.id).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(root.join("graph/:garbage:").join(&img.id).is_dir());
    g.undelete(&img.id).unwrap();
    assert_eq!(g.get(&img.id).unwrap(), img);
    g.delete(&img.id).unwrap();
    g.garbage_collect().unwrap();
    assert_eq!(g.undelete(&img.id).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        std::fs::read_dir(root.join("graph/:garbage:"))
            .unwrap()
            .count(),
        0
    );
    assert!(tmp_leftovers(&root).is_empty());
    drop(rt);

    // A crash mid-registration leaves :tmp:/ID; the next runtime removes it, unless a live
    // registration holds its lock.
    let stale = root.join("graph/:tmp:").join("b".repeat(64));
    std::fs::create_dir_all(stale.join("layer/deep/er")).unwrap();
    let live = root.join("graph/:tmp:").join("d".repeat(64));
    std::fs::create_dir_all(live.join("layer")).unwrap();
    let lock = std::fs::File::create(
        root.join("graph/:tmp:")
            .join(format!("{}.lock", "d".repeat(64))),
    )
    .unwrap();
    // SAFETY: flock on a descriptor the test owns.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
        0
    );
    drop(runtime(&root));
    assert!(!stale.exists());
    assert!(live.exists());
    drop(lock);
    // Another test thread forking a child at this moment holds a copy of the lock's descriptor
    // until the child's exec closes it: the next runtime start finds the folder free.
    for _ in 0..100 {
        drop(runtime(&root));
        if tmp_leftovers(&root).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(tmp_leftovers(&root).is_empty());
}

#[test]
fn layers_are_confirmed_on_disk_or_reported_incomplete_after_a_crash() {
    let d = TempDir::new("img-pending");
    let root = d.join("root");
    // Tags that are not hex: "a" could also be read as a prefix of an image id.
    let a = import(&root, &small_tar(), Some("pa"));
    let b = import(&root, &small_tar(), Some("pb"));
    let marker = |id: &str| root.join("graph").join(id).join(".pending-sync");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    // Fresh imports carry this boot's id and are usable at once.
    assert_eq!(
        std::fs::read_to_string(marker(&a)).unwrap().trim(),
        boot.trim()
    );
    assert!(ok(&docker(&root, &["inspect", "pa"], None)).contains(&a));
    // Old enough: the next runtime confirms it (syncfs) and drops the marker; a fresh one
    // stays for later.
    set_mtime(&marker(&a), 1_600_000_000);
    drop(runtime(&root));
    assert!(!marker(&a).exists());
    assert!(marker(&b).exists());
    // A marker from another boot: the machine stopped before b reached the disk.
    std::fs::write(marker(&b), "00000000-0000-0000-0000-000000000000\n").unwrap();
    let err = fails(&docker(&root, &["inspect", "pb"], None));
    assert!(err.contains(&format!("image {b} is incomplete")), "{err}");
    let list = ok(&docker(&root, &["images", "-q", "-notrunc"], None));
    assert_eq!(list.trim(), a);
    // rmi removes it (and its tag); a is untouched.
    let out = ok(&docker(&root, &["rmi", "pb"], None));
    assert_eq!(out, format!("Untagged: pb:latest\nDeleted: {b}\n"));
    assert_eq!(image_dirs(&root), vec![a.clone()]);
    assert!(ok(&docker(&root, &["inspect", "pa"], None)).contains(&a));
}

/// A tree with everything a layer must keep.
fn rich_tree(dir: &Path) {
    let p = |s: &str| dir.join(s);
    for d in ["etc", "usr/bin", "tmp", "srv/shared", "opaque/sub", "dev"] {
        std::fs::create_dir_all(p(d)).unwrap();
    }
    std::fs::set_permissions(p("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(p("srv/shared"), std::fs::Permissions::from_mode(0o2775)).unwrap();
    std::fs::set_permissions(p("etc"), std::fs::Permissions::from_mode(0o750)).unwrap();
    lchown(&p("srv/shared"), 0, 50);
    std::fs::write(p("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
    std::fs::write(p("etc/owned"), b"someone's").unwrap();
    lchown(&p("etc/owned"), 1234, 5678);
    std::fs::write(p("usr/bin/suid"), b"\x7fELF").unwrap();
    std::fs::set_permissions(p("usr/bin/suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::write(p("srv/shared/doc"), b"group file").unwrap();
    lchown(&p("srv/shared/doc"), 0, 0);
    std::fs::write(p("empty"), b"").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(p("big.bin"), &big).unwrap();
    std::fs::write(p("usr/bin/multi"), b"linked").unwrap();
    std::fs::hard_link(p("usr/bin/multi"), p("usr/bin/multi2")).unwrap();
    std::fs::hard_link(p("usr/bin/multi"), p("etc/multi3")).unwrap();
    std::os::unix::fs::symlink("../etc/passwd", p("usr/pw")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/suid", p("abs-link")).unwrap();
    lchown(&p("abs-link"), 42, 43);
    std::os::unix::fs::symlink("dangling/target", p("dangling")).unwrap();
    mknod(&p("dev/null"), libc::S_IFCHR, 0o666, 1, 3);
    mknod(&p("dev/loop9"), libc::S_IFBLK, 0o660, 7, 9);
    mknod(&p("dev/pipe"), libc::S_IFIFO, 0o644, 0, 0);
    // A whiteout and an opaque directory (overlayfs' form).
    mknod(&p("removed"), libc::S_IFCHR, 0, 0, 0);
    set_xattr(&p("opaque"), "trusted.overlay.opaque", b"y");
    std::fs::write(p("opaque/sub/kept"), b"new").unwrap();
    set_xattr(&p("etc/passwd"), "user.comment", b"the users");
    set_xattr(
        &p("usr/bin/suid"),
        "security.capability",
        &[1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    set_xattr(&p("srv"), "trusted.note", b"dir attr");
    set_xattr(&p("abs-link"), "trusted.link", b"on a symlink");
    let long = "l".repeat(120);
    std::fs::create_dir_all(p(&format!("deep/{long}/{long}"))).unwrap();
    std::fs::write(
        p(&format!("deep/{long}/{long}/file-with-a-long-path")),
        b"deep",
    )
    .unwrap();
    // Fixed times everywhere, directories last (children change their mtime).
    let mut all = Vec::new();
    collect(dir, &mut all);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, f) in all.iter().enumerate() {
        set_mtime(f, 1_500_000_000 + i as i64 * 1000);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let is_dir = std::fs::symlink_metadata(&p).unwrap().is_dir();
        out.push(p.clone());
        if is_dir {
            collect(&p, out);
        }
    }
}

/// A snapshot with the overlayfs opaque attribute taken out of the lines.
fn without_opaque(
    mut m: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    for v in m.values_mut() {
        *v = v.replace("(\"trusted.overlay.opaque\", [121])", "");
    }
    m
}

#[test]
fn layer_round_trip_keeps_everything() {
    let d = TempDir::new("img-roundtrip");
    let src = d.join("src");
    std::fs::create_dir_all(&src).unwrap();
    rich_tree(&src);
    let want = snapshot(&src);
    // Sanity: the snapshot sees what matters.
    assert!(want["removed"].starts_with("char 0:0"));
    assert!(want["opaque"].contains("trusted.overlay.opaque"));
    assert!(want["usr/bin/multi2"].contains("inode-of=etc/multi3"));
    assert!(want["srv/shared"].contains("mode=2775 owner=0:50"));

    // pack_layer -> register (what commit + push + pull do).
    let mut tarball = Vec::new();
    image::pack_layer(&src, &mut tarball).unwrap();
    // GNU tar reads our archive, with the whiteout and opaque markers in tar form.
    let list = d.join("list.tar");
    std::fs::write(&list, &tarball).unwrap();
    let out = Command::new("tar")
        .args(["-tvf"])
        .arg(&list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains(".wh.removed") && listing.contains("opaque/.wh..wh..opq"),
        "{listing}"
    );
    assert!(
        listing.contains("usr/bin/multi2 link to etc/multi3")
            || listing.contains("etc/multi3 link to"),
        "{listing}"
    );

    let root = d.join("root");
    let rt = runtime(&root);
    let img = rt
        .graph()
        .register(Image::new(None).unwrap(), tarball.as_slice())
        .unwrap();
    let layer = rt.graph().layer_dir(&img.id).unwrap();
    assert_eq!(snapshot(&layer), want);
    // The same in one step, as commit does it (pack and unpack through a pipe).
    let img2 = rt
        .graph()
        .register_dir(Image::new(None).unwrap(), &src)
        .unwrap();
    assert_eq!(snapshot(&rt.graph().layer_dir(&img2.id).unwrap()), want);
    // Compressed.
    let img3 = rt
        .graph()
        .register(
            Image::new(None).unwrap(),
            images_util::xz(&tarball).as_slice(),
        )
        .unwrap();
    assert_eq!(snapshot(&rt.graph().layer_dir(&img3.id).unwrap()), want);

    // export's packer: no translation (devices stay devices, overlayfs' own attributes are
    // not part of a container's file system); unpacked again, equal.
    let mut exported = Vec::new();
    image::pack_dir(&layer, &mut exported).unwrap();
    let again = d.join("again");
    std::fs::create_dir_all(&again).unwrap();
    image::unpack_layer(exported.as_slice(), &again, &Default::default()).unwrap();
    assert_eq!(
        without_opaque(snapshot(&again)),
        without_opaque(want.clone())
    );
    assert!(!snapshot(&again)["opaque"].contains("trusted.overlay"));
    // The same tree always packs to the same bytes.
    let mut twice = Vec::new();
    image::pack_dir(&layer, &mut twice).unwrap();
    assert!(exported == twice);

    // An archive made by GNU tar (pax xattrs, numeric owners) unpacks to the same tree, once
    // its overlay-only parts are left aside (tar knows nothing of whiteouts).
    let gnu = d.join("gnu.tar");
    let st = Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=*",
            "--numeric-owner",
            "--format=posix",
            "-C",
        ])
        .arg(&src)
        .args(["-cf"])
        .arg(&gnu)
        .args(["--exclude=./removed", "."])
        .status()
        .unwrap();
    assert!(st.success());
    let from_gnu = d.join("from-gnu");
    std::fs::create_dir_all(&from_gnu).unwrap();
    image::unpack_layer(
        std::fs::File::open(&gnu).unwrap(),
        &from_gnu,
        &Default::default(),
    )
    .unwrap();
    let mut want_gnu = without_opaque(want);
    want_gnu.remove("removed");
    // The opaque mark is overlayfs' own, not in a plain archive: we never take it from one.
    assert_eq!(snapshot(&from_gnu), want_gnu);
}

#[test]
fn pack_dir_stays_on_its_mount() {
    let d = TempDir::new("img-mounts");
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("proc")).unwrap();
    std::fs::create_dir_all(tree.join("data")).unwrap();
    std::fs::write(tree.join("data/file"), b"mine").unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(tree.join("proc"))
        .status()
        .unwrap();
    assert!(st.success(), "mounting a tmpfs needs root");
    let _guard = Unmount(tree.join("proc"));
    std::fs::write(tree.join("proc/kcore-like"), b"must not be archived").unwrap();
    let mut out = Vec::new();
    image::pack_dir(&tree, &mut out).unwrap();
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(out.as_slice());
    for e in ar.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert_eq!(names, vec!["data/", "data/file", "proc/"]);
}

#[test]
fn changes_of_an_upper_directory() {
    let d = TempDir::new("img-changes");
    let lower = d.join("lower");
    let mid = d.join("mid");
    let upper = d.join("upper");
    for (base, dirs) in [
        (
            &lower,
            vec!["etc", "usr/lib", "var/cache", "gone-dir/sub", "opq"],
        ),
        (&mid, vec!["etc"]),
        (&upper, vec!["etc", "usr/lib", "newdir/inner", "opq"]),
    ] {
        for dd in dirs {
            std::fs::create_dir_all(base.join(dd)).unwrap();
        }
    }
    for f in [
        "etc/passwd",
        "etc/hosts",
        "usr/lib/libc.so",
        "var/cache/x",
        "opq/a",
        "opq/b",
        "gone-dir/sub/f",
    ] {
        std::fs::write(lower.join(f), b"lower").unwrap();
    }
    // The mid layer deletes etc/hosts and adds etc/mid.
    mknod(&mid.join("etc/hosts"), libc::S_IFCHR, 0, 0, 0);
    std::fs::write(mid.join("etc/mid"), b"mid").unwrap();
    // Upper: changed passwd, re-added hosts (deleted below: an addition), removed mid and
    // gone-dir, a new tree, an opaque dir keeping only b, and usr/ copied up unchanged.
    std::fs::write(upper.join("etc/passwd"), b"changed").unwrap();
    std::fs::write(upper.join("etc/hosts"), b"back").unwrap();
    mknod(&upper.join("etc/mid"), libc::S_IFCHR, 0, 0, 0);
    mknod(&upper.join("gone-dir"), libc::S_IFCHR, 0, 0, 0);
    std::fs::write(upper.join("newdir/inner/f"), b"new").unwrap();
    std::fs::write(upper.join("usr/lib/libc.so"), b"patched").unwrap();
    std::fs::write(upper.join("opq/b"), b"b2").unwrap();
    set_xattr(&upper.join("opq"), "trusted.overlay.opaque", b"y");
    // usr/ and usr/lib/ in upper carry the lower metadata (a copy-up); etc/ does not.
    for dd in ["usr", "usr/lib"] {
        let m = std::fs::metadata(lower.join(dd)).unwrap();
        std::fs::set_permissions(upper.join(dd), m.permissions()).unwrap();
        set_mtime(&lower.join(dd), 1_600_000_000);
        set_mtime(&upper.join(dd), 1_600_000_000);
    }
    set_mtime(&upper.join("etc"), 1_700_000_000);
    set_mtime(&lower.join("etc"), 1_600_000_000);
    set_mtime(&mid.join("etc"), 1_600_000_000);
    set_mtime(&upper.join("opq"), 1_700_000_000);
    let got: Vec<String> = image::changes(&[mid.clone(), lower.clone()], &upper)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        got,
        vec![
            "C /etc",
            "A /etc/hosts",
            "D /etc/mid",
            "C /etc/passwd",
            "D /gone-dir",
            "A /newdir",
            "A /newdir/inner",
            "A /newdir/inner/f",
            "C /opq",
            "D /opq/a",
            "C /opq/b",
            "C /usr/lib/libc.so",
        ]
    );
    let c = &image::changes(std::slice::from_ref(&lower), &upper).unwrap()[0];
    assert_eq!((c.path.as_str(), c.kind), ("/etc", ChangeKind::Modified));
}

#[test]
fn busybox_image_from_the_script() {
    let d = TempDir::new("img-busybox");
    let root = d.join("root");
    let tarball = d.join("busybox.tar");
    let st = Command::new("bash")
        .arg(crate_dir().join("contrib/mkimage-busybox.sh"))
        .arg(&tarball)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "contrib/mkimage-busybox.sh failed (is busybox-static installed?)"
    );
    let data = std::fs::read(&tarball).unwrap();
    let id = import(&root, &data, Some("busybox"));
    let layer = root.join("graph").join(&id).join("layer");
    let bb = std::fs::metadata(layer.join("bin/busybox")).unwrap();
    assert!(bb.is_file() && bb.mode() & 0o111 != 0);
    assert_eq!(
        std::fs::read_link(layer.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let passwd = std::fs::read_to_string(layer.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:") && passwd.contains("\nnobody:x:65534:65534:"));
    let group = std::fs::read_to_string(layer.join("etc/group")).unwrap();
    assert!(group.contains("root:x:0:") && group.contains("nobody:x:65534:"));
    for dd in ["proc", "sys", "dev", "tmp"] {
        assert_eq!(
            std::fs::read_dir(layer.join(dd)).unwrap().count(),
            0,
            "{dd} is not empty"
        );
    }
    assert_eq!(
        std::fs::metadata(layer.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(std::fs::metadata(&layer).unwrap().mode() & 0o777, 0o755);
    // A real image: its shell runs in it.
    let out = Command::new("chroot")
        .arg(&layer)
        .args([
            "/bin/sh",
            "-c",
            "echo hello from $(cat /etc/hostname)busybox; ls /bin | wc -l",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("hello from busybox\n"),
        "{text}"
    );
    assert!(text.lines().nth(1).unwrap().trim().parse::<u32>().unwrap() > 50);
    // The same busybox gives the same tarball.
    let again = d.join("again.tar");
    let st = Command::new("bash")
        .arg(crate_dir().join("contrib/mkimage-busybox.sh"))
        .arg(&again)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read(&again).unwrap() == data);
    let list = ok(&docker(&root, &["images"], None));
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .starts_with("busybox             latest"),
        "{list}"
    );
}

#[test]
fn help_lists_the_image_commands() {
    let d = TempDir::new("img-help");
    let out = ok(&docker(&d.join("root"), &["help"], None));
    for c in ["history", "images", "import", "inspect", "rmi", "tag"] {
        assert!(out.contains(&format!("    {c:<10}")), "{c} missing:\n{out}");
    }
    let u = ok(&docker(&d.join("root"), &["images", "--help"], None));
    assert!(u.contains("Usage: docker images [OPTIONS] [NAME]") && u.contains("-notrunc"));
}
