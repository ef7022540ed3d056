//! `docker-runtime-oci` with mount propagation: `linux.rootfsPropagation` and the propagation
//! options of bind mounts (Kubernetes' mountPropagation: `HostToContainer` sends `rslave`,
//! `Bidirectional` sends `rshared` with a `rshared` root), the default that keeps the host and
//! the container apart (and the attack it stops), and the bad values that leave nothing.
//!
//! The host's mounts here are private, so each test makes its own shared mount (a tmpfs, made
//! shared) to bind from; every host mount a test makes is under it, and a guard unmounts it
//! (all below it too) when the test ends, also when it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::oci::{
    become_subreaper, bundle, cgroup_dir, fails, json, oci, oci_to, ok, wait_status,
};
use common::TempDir;

/// A host mount that goes (lazily, with everything mounted below it) when dropped.
struct Mounted(PathBuf);

impl Mounted {
    /// A tmpfs at `path` (made), `shared` or left as the host's mounts are.
    fn tmpfs(path: PathBuf, shared: bool) -> Mounted {
        std::fs::create_dir_all(&path).unwrap();
        run_ok(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=1m", "drprop"])
                .arg(&path),
        );
        let m = Mounted(path);
        if shared {
            run_ok(Command::new("mount").arg("--make-shared").arg(&m.0));
        }
        m
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Quietly: a guard over a path nothing was mounted on has nothing to do.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

/// Whether the host (this test's mount namespace) has a mount at `path`.
fn host_has_mount(path: &Path) -> bool {
    let want = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(want.as_str()))
}

/// A shared tmpfs at `dir/share` with a folder `src/sub` in it: the binds' source.
fn shared_source(dir: &Path) -> (Mounted, PathBuf) {
    let share = Mounted::tmpfs(dir.join("share"), true);
    let src = share.0.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    (share, src)
}

/// A bundle under `dir` running `script` with CAP_SYS_ADMIN (it may mount), `src` bound at
/// `/data` with `options`, and `rootfsPropagation` when given.
fn bundle_with(
    dir: &Path,
    script: &str,
    src: &Path,
    options: &[&str],
    root: Option<&str>,
) -> PathBuf {
    let b = bundle(dir, &["sh", "-c", script], false);
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    for set in ["bounding", "effective", "permitted"] {
        spec["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push("CAP_SYS_ADMIN".into());
    }
    spec["mounts"].as_array_mut().unwrap().push(
        serde_json::json!({"destination": "/data", "type": "bind", "source": src,
            "options": options}),
    );
    if let Some(r) = root {
        spec["linux"]["rootfsPropagation"] = r.into();
    }
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    b
}

/// Deletes the container when dropped (also when an assertion fails).
struct Delete<'a>(&'a Path, &'a str);

impl Drop for Delete<'_> {
    fn drop(&mut self) {
        let _ = oci(self.0, &["delete", "--force", self.1]);
    }
}

/// `create` container `id` from `b`, call `between` once its mounts are made (it waits at
/// its start gate), `start` it, wait for it: its exit status, output and errors.
fn create_then_start(
    root: &Path,
    b: &Path,
    id: &str,
    between: impl FnOnce(),
) -> (i32, String, String) {
    become_subreaper();
    let io = b.parent().unwrap().join(format!("io-{id}"));
    let created = oci_to(root, &["create", "--bundle", b.to_str().unwrap(), id], &io);
    let read = |ext: &str| std::fs::read_to_string(io.with_extension(ext)).unwrap();
    assert!(created.success(), "{}", read("err"));
    let delete = Delete(root, id);
    let pid = json(&ok(&oci(root, &["state", id])))["pid"]
        .as_i64()
        .unwrap() as i32;
    between();
    ok(&oci(root, &["start", id]));
    let status = wait_status(pid);
    drop(delete);
    nothing_left(root, id);
    (status, read("out"), read("err"))
}

/// `run` the bundle as `id`: its exit status, output and errors.
fn run(root: &Path, b: &Path, id: &str) -> (i32, String, String) {
    let io = b.parent().unwrap().join(format!("io-{id}"));
    let status = oci_to(root, &["run", "--bundle", b.to_str().unwrap(), id], &io);
    let read = |ext: &str| std::fs::read_to_string(io.with_extension(ext)).unwrap();
    nothing_left(root, id);
    (status.code().unwrap_or(-1), read("out"), read("err"))
}

/// Nothing of container `id` is left: not listed, no state, no cgroup.
fn nothing_left(root: &Path, id: &str) {
    let listed = ok(&oci(root, &["list", "-q"]));
    assert!(!listed.lines().any(|l| l == id), "{id} was left listed");
    assert!(!root.join(id).exists(), "{id}'s state was left");
    assert!(cgroup_dir(id).is_none(), "{id}'s cgroup was left");
}

/// HostToContainer: with `rslave` on the bind, a mount the host makes under the bind's source
/// after the container's mounts are made shows inside (with a `rslave` root, as containerd
/// sends, and without one: runc's namespace is `rslave` by default). With `rprivate` (or no
/// word: the default), or with a `rprivate` root (runc's limit: the bind cannot be more than
/// its root), it does not.
#[test]
fn a_slave_bind_sees_what_the_host_mounts_later_a_private_one_does_not() {
    let dir = TempDir::new("ocip-slave");
    let root = dir.join("root");
    let (_share, src) = shared_source(dir.path());
    let script = "cat /data/sub/HOST 2>/dev/null || echo none; \
        awk '$5 == \"/data/sub\"' /proc/self/mountinfo | wc -l";
    let cases: [(&[&str], Option<&str>, &str); 5] = [
        (&["rbind", "rslave"], Some("rslave"), "from the host\n1\n"),
        (&["rbind", "rslave"], None, "from the host\n1\n"),
        (&["rbind", "rprivate"], Some("rslave"), "none\n0\n"),
        (&["rbind"], None, "none\n0\n"),
        (&["rbind", "rslave"], Some("rprivate"), "none\n0\n"),
    ];
    for (i, (options, rootfs, expected)) in cases.into_iter().enumerate() {
        let id = format!("p-slave{i}");
        let b = bundle_with(&dir.join(&id), script, &src, options, rootfs);
        let mut later = None;
        let (status, out, err) = create_then_start(&root, &b, &id, || {
            let m = Mounted::tmpfs(src.join("sub"), false);
            std::fs::write(m.0.join("HOST"), "from the host\n").unwrap();
            later = Some(m);
        });
        assert_eq!(status, 0, "{id}: {err}");
        assert_eq!(out, expected, "{id} {options:?} {rootfs:?}: {err}");
        drop(later);
        assert!(!host_has_mount(&src.join("sub")));
    }
}

/// The attack the default stops: a privileged container (CAP_SYS_ADMIN) mounts a tmpfs under
/// a bind of a host folder, which would put its files over the host's (a container hiding or
/// replacing what the host reads there). With the default (a private bind) the mount stays in
/// the container; a `rshared` bind under a root that is not shared stays a slave (runc's
/// limit) and sends nothing either. The protection removed, a `rshared` bind with a `rshared`
/// root (Kubernetes' Bidirectional), the attack succeeds: the mount and its file appear on
/// the host (the test then unmounts it).
#[test]
fn a_containers_mount_under_a_bind_reaches_the_host_only_when_shared() {
    let dir = TempDir::new("ocip-shared");
    let root = dir.join("root");
    let (_share, src) = shared_source(dir.path());
    let script = "mount -t tmpfs evil /data/sub && echo evil > /data/sub/EVIL && echo mounted";
    // The last case with a createRuntime hook: the helper makes the namespace's mounts slaves
    // for the hooks, so a shared bind is taken before (a slave's clone could not send back).
    let cases: [(&[&str], Option<&str>, bool); 5] = [
        (&["rbind"], None, false),
        (&["rbind", "rprivate"], Some("rshared"), false),
        (&["rbind", "rshared"], None, false),
        (&["rbind", "rshared"], Some("rshared"), true),
        (&["rbind", "rshared"], Some("rshared"), true),
    ];
    for (i, (options, rootfs, reaches)) in cases.into_iter().enumerate() {
        let id = format!("p-shared{i}");
        let b = bundle_with(&dir.join(&id), script, &src, options, rootfs);
        if i == 4 {
            let config = b.join("config.json");
            let mut spec: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
            spec["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/true"}]});
            std::fs::write(&config, spec.to_string()).unwrap();
        }
        let (status, out, err) = run(&root, &b, &id);
        // Whatever happens, the host's mount (if any) goes with the guard.
        let _left = Mounted(src.join("sub"));
        assert_eq!((status, out.as_str()), (0, "mounted\n"), "{id}: {err}");
        let evil = src.join("sub/EVIL");
        assert_eq!(host_has_mount(&src.join("sub")), reaches, "{id}");
        assert_eq!(evil.exists(), reaches, "{id} {options:?} {rootfs:?}");
        if reaches {
            assert_eq!(std::fs::read_to_string(&evil).unwrap(), "evil\n");
            run_ok(Command::new("umount").arg(src.join("sub")));
        }
        assert!(!host_has_mount(&src.join("sub")), "{id}");
    }
}

/// `rootfsPropagation` is applied to the container's whole tree once everything is mounted
/// (as runc after `pivot_root`): its root and a tmpfs of the spec are shared with `rshared`,
/// unbindable with `runbindable`, and private by default and with `rprivate` or `rslave`
/// (a slave of nothing is private: the root tree was cut from the host's first). A bind asking
/// `unbindable` is, until a shared root makes it shared.
#[test]
fn the_root_propagation_is_applied_to_the_containers_tree() {
    let dir = TempDir::new("ocip-root");
    let root = dir.join("root");
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    let script = "for m in / /run /data; do awk -v m=$m '$5 == m {print $7}' \
        /proc/self/mountinfo | cut -d: -f1; done";
    for (i, (rootfs, expected)) in [
        (None, "-\n-\nunbindable\n"),
        (Some("rprivate"), "-\n-\nunbindable\n"),
        (Some("rslave"), "-\n-\nunbindable\n"),
        (Some("rshared"), "shared\nshared\nshared\n"),
        (Some("shared"), "shared\n-\nunbindable\n"),
        (Some("runbindable"), "unbindable\nunbindable\nunbindable\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("p-root{i}");
        let b = bundle_with(
            &dir.join(&id),
            script,
            &src,
            &["rbind", "unbindable"],
            rootfs,
        );
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs"}));
        std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
        let (status, out, err) = run(&root, &b, &id);
        assert_eq!(status, 0, "{id}: {err}");
        assert_eq!(out, expected, "{id} {rootfs:?}: {err}");
    }
}

/// Bad propagation values are a clear error naming the value, and nothing is left: no state,
/// no cgroup, no mount. The `features` document lists the propagation words.
#[test]
fn bad_propagation_is_a_clear_error_and_leaves_nothing() {
    let dir = TempDir::new("ocip-bad");
    let root = dir.join("root");
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["rbind"],
            Some("rshard"),
            "unknown rootfsPropagation \"rshard\"",
        ),
        (
            &["rbind", "rsharedd"],
            None,
            "the bind mount option \"rsharedd\" on /data",
        ),
        (
            &["rbind", "rslave", "rprivate"],
            None,
            "the bind mount on /data has two propagation options, \"rslave\" and \"rprivate\"",
        ),
        (&["rbind"], Some("slave!"), "unknown rootfsPropagation"),
    ];
    for (i, (options, rootfs, what)) in cases.into_iter().enumerate() {
        let id = format!("p-bad{i}");
        let b = bundle_with(&dir.join(&id), "true", &src, options, rootfs);
        let err = fails(&oci(
            &root,
            &["create", "--bundle", b.to_str().unwrap(), &id],
        ));
        assert!(err.contains(what), "{id}: {err}");
        nothing_left(&root, &id);
    }
    let test_dir = dir.path().display().to_string();
    let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts_after.contains(&test_dir), "{mounts_after}");

    let features = json(&ok(&oci(&root, &["features"])));
    let options = features["mountOptions"].as_array().unwrap();
    for w in [
        "rslave",
        "rshared",
        "slave",
        "shared",
        "rprivate",
        "runbindable",
    ] {
        assert!(options.contains(&w.into()), "{w}: {options:?}");
    }
}
