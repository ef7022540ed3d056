//! The runtime root: layout, modes, refusals, restore.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;

use common::cli::ok;
use common::TempDir;
use docker_runtime::{ErrorKind, Runtime, RuntimeOptions};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn layout_and_modes() {
    let d = TempDir::new("layout");
    let root = d.join("root");
    let rt = Arc::new(Runtime::new(&root, RuntimeOptions::default()).unwrap());
    assert_eq!(mode(&root.join("containers")), 0o700);
    assert_eq!(mode(&root.join("graph")), 0o700);
    assert_eq!(mode(&root.join("repositories")), 0o600);
    assert_eq!(rt.restore().unwrap(), 0);
    // Reopening keeps the tag store as it is.
    let a = "a".repeat(64);
    rt.tags().set("busybox", "latest", &a, false).unwrap();
    drop(rt);
    let rt = Runtime::new(&root, RuntimeOptions::default()).unwrap();
    assert_eq!(rt.tags().lookup("busybox").unwrap(), Some(a));
}

#[test]
fn refuses_a_file_a_docker_engine_root_and_bad_options() {
    let d = TempDir::new("refuse");
    let file = d.join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = Runtime::new(&file, RuntimeOptions::default()).unwrap_err();
    assert!(e.message().contains("not a directory"), "{e}");

    let engine = d.join("engine");
    std::fs::create_dir_all(engine.join("image/overlay2")).unwrap();
    let e = Runtime::new(&engine, RuntimeOptions::default()).unwrap_err();
    assert!(e.message().contains("Docker engine"), "{e}");
    assert!(!engine.join("graph").exists(), "nothing may be created");
    // A root with our own volumes/ opens; one with the engine's volume database does not.
    let ours = d.join("ours");
    std::fs::create_dir_all(ours.join("volumes/data/_data")).unwrap();
    std::fs::set_permissions(&ours, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    Runtime::new(&ours, RuntimeOptions::default()).unwrap();
    let engine = d.join("engine-volumes");
    std::fs::create_dir_all(engine.join("volumes")).unwrap();
    std::fs::write(engine.join("volumes/metadata.db"), b"").unwrap();
    let e = Runtime::new(&engine, RuntimeOptions::default()).unwrap_err();
    assert!(e.message().contains("volumes/metadata.db"), "{e}");

    let mut opts = RuntimeOptions::default();
    opts.network.bridge_name = "a-name-that-is-too-long".into();
    assert_eq!(
        Runtime::new(&d.join("r"), opts).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let mut opts = RuntimeOptions::default();
    opts.network.iptables_chain = "bad chain".into();
    assert!(Runtime::new(&d.join("r"), opts).is_err());
    let mut opts = RuntimeOptions::default();
    opts.network.port_range = (2000, 1000);
    assert!(Runtime::new(&d.join("r"), opts).is_err());
}

#[test]
fn root_without_permission_is_a_clear_error() {
    // Run as an unprivileged user (nobody) through the CLI when we are root; skipped only when
    // there is no way to drop privileges.
    let d = TempDir::new("perm");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = d.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The engine (what `docker -H none` runs by exec) opens the root. Run directly: setpriv
    // execs it with root's capabilities still held, and a second exec by `docker`, without
    // them, could not reach a checkout under a 0700 folder (`mktemp -d`).
    let docker = env!("CARGO_BIN_EXE_docker-engine");
    let is_root = nix::unistd::geteuid().is_root();
    let out = if is_root {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                docker,
                "-g",
            ])
            .arg(locked.join("root"))
            .arg("info")
            .output()
            .unwrap()
    } else {
        Command::new(docker)
            .arg("-g")
            .arg(locked.join("root"))
            .arg("info")
            .output()
            .unwrap()
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains(&locked.display().to_string()), "{err}");
}

#[test]
fn corrupt_dockercfg_is_an_error_absent_is_fine() {
    let d = TempDir::new("cfg");
    let root = d.join("root");
    Runtime::new(&root, RuntimeOptions::default()).unwrap();
    std::fs::write(root.join(".dockercfg"), b"this is not it\n").unwrap();
    let e = Runtime::new(&root, RuntimeOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(e.message().contains(".dockercfg line 1"), "{e}");
    std::fs::write(
        root.join(".dockercfg"),
        b"auth = am9lOnMzY3JldA==\nemail = j@x\n",
    )
    .unwrap();
    let rt = Runtime::new(&root, RuntimeOptions::default()).unwrap();
    assert_eq!(rt.auth().get(None).unwrap().username, "joe");
}

#[test]
fn restore_skips_what_it_cannot_load() {
    let d = TempDir::new("restore");
    let root = d.join("root");
    let rt = Arc::new(Runtime::new(&root, RuntimeOptions::default()).unwrap());
    let good = "c".repeat(64);
    let dir = root.join("containers").join(&good);
    std::fs::create_dir_all(&dir).unwrap();
    let rec = serde_json::json!({
        "Id": good, "Created": "2013-03-23T00:00:00Z", "Path": "/bin/sh", "Args": [],
        "Image": "a".repeat(64),
    });
    std::fs::write(dir.join("config.json"), rec.to_string()).unwrap();
    // corrupt JSON
    let bad = "d".repeat(64);
    std::fs::create_dir_all(root.join("containers").join(&bad)).unwrap();
    std::fs::write(root.join("containers").join(&bad).join("config.json"), b"{").unwrap();
    // id that does not match its folder
    let other = "e".repeat(64);
    std::fs::create_dir_all(root.join("containers").join(&other)).unwrap();
    std::fs::write(
        root.join("containers").join(&other).join("config.json"),
        rec.to_string(),
    )
    .unwrap();
    // not an id at all
    std::fs::create_dir_all(root.join("containers/../containers/zzz")).unwrap();
    assert_eq!(rt.restore().unwrap(), 1);
    assert_eq!(rt.container_count(), 1);
    // The corrupt file is left as it was.
    assert_eq!(
        std::fs::read(root.join("containers").join(&bad).join("config.json")).unwrap(),
        b"{"
    );
    // Restoring again does not register duplicates.
    assert_eq!(rt.restore().unwrap(), 1);
}

/// A save of an `auto_remove` container's run is not fsynced, so a power loss may leave its
/// `config.json` empty: with the container's `autoremove` marker, the next restore removes
/// the folder (its run is over) instead of skipping it forever; without the marker, a record
/// that cannot be loaded is still skipped and kept. A folder whose marker a live runtime
/// claims (its `run --rm` being made) is left alone.
#[test]
fn restore_removes_an_unreadable_auto_remove_folder() {
    let d = TempDir::new("restore-rm");
    let root = d.join("root");
    let rt = Arc::new(Runtime::new(&root, RuntimeOptions::default()).unwrap());
    let folder = |c: char, marker: bool, record: &[u8]| {
        let dir = root.join("containers").join(c.to_string().repeat(64));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::write(dir.join("config.json"), record).unwrap();
        if marker {
            std::fs::write(dir.join("autoremove"), b"").unwrap();
        }
        dir
    };
    let empty = folder('a', true, b"");
    let corrupt = folder('b', false, b"{");
    let claimed = folder('c', true, b"");
    let claim = docker_runtime::container::autoremove::claim(&claimed)
        .unwrap()
        .unwrap();
    assert_eq!(rt.restore().unwrap(), 0);
    drop(rt); // Its janitor finishes the deletion.
    assert!(
        !empty.exists(),
        "the unreadable auto_remove folder was kept"
    );
    let trash = root
        .join("containers")
        .join(format!(".removing-{}", "a".repeat(64)));
    assert!(!trash.exists());
    assert_eq!(std::fs::read(corrupt.join("config.json")).unwrap(), b"{");
    assert!(claimed.join("config.json").exists());
    drop(claim);
}

/// A root written by the code before the engine was split out (main 21c1053: two imported
/// and committed images, three tags, three exited containers, one of which had a network and
/// a published port, and the network's `settings.json`) loads, and what is written again is
/// byte for byte what that code wrote (a container's record gains only its name).
#[test]
fn a_root_written_by_21c1053_loads_and_is_rewritten_identically() {
    let d = TempDir::new("compat");
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    let tar = common::crate_dir().join("tests/fixtures/root-21c1053.tar");
    let st = Command::new("tar")
        .args(["-xpf"])
        .arg(&tar)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    let read = |p: &str| std::fs::read(root.join(p)).unwrap();
    let cid = "d147e3f7d34eb286439b7daabcc2af8c9da11343b8b0c45279f663d7d1c796e0";
    let committed = "94ccf8e78288f9153ab46ef7ec7aebb0d0b0422e318b4bb86807d762067f2298";
    let record = read(&format!("containers/{cid}/config.json"));
    let image_json = read(&format!("graph/{committed}/json"));
    let settings = read("network/settings.json");
    let repositories = read("repositories");

    let opts = RuntimeOptions {
        init_path: Some(env!("CARGO_BIN_EXE_docker-init").into()),
        ..Default::default()
    };
    let rt = Arc::new(Runtime::new(&root, opts).unwrap());
    // The root's network options are adopted, and restoring sets up no network (no container
    // holds one), so nothing is made on the host.
    assert_eq!(rt.options().network.bridge_name, "drfix0");
    assert_eq!(rt.options().network.iptables_chain, "DRFIX");
    assert_eq!(rt.restore().unwrap(), 3);
    let out = Command::new("ip")
        .args(["link", "show", "drfix0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "no bridge may be made");

    let ps = ok(&rt, &["ps", "-a"]);
    assert_eq!(ps.matches("Exit 127").count(), 3, "{ps}");
    let images = ok(&rt, &["images"]);
    for name in ["fixed", "tiny", "tiny2"] {
        assert!(images.contains(name), "{images}");
    }
    let c = rt.container(cid).unwrap();
    let rec = c.record();
    assert_eq!(rec.config.hostname, "fixhost");
    assert_eq!(rec.config.ports, ["8080"]);
    let img = rt.image("fixed:v1").unwrap();
    assert_eq!(img.container_config.as_ref().unwrap().env, ["A=1"]);

    // Written again: the same bytes, but for the name it was given when it was restored (a
    // record from before names has none; it is kept from then on, one line after the id).
    c.update(|_| {}).unwrap();
    let name = c.record().name;
    assert!(name.starts_with('/') && name.contains('_'), "{name}");
    let text = String::from_utf8(record).unwrap();
    let (id_line, rest) = text.split_once(",\n").unwrap();
    let want = format!("{id_line},\n  \"Name\": \"{name}\",\n{rest}");
    assert_eq!(
        String::from_utf8(read(&format!("containers/{cid}/config.json"))).unwrap(),
        want
    );
    let mut again = serde_json::to_vec_pretty(&img).unwrap();
    again.push(b'\n');
    assert_eq!(again, image_json);
    let a = rt.tags().lookup("tiny").unwrap().unwrap();
    rt.tags().set("tiny", "latest", &a, true).unwrap();
    assert_eq!(read("repositories"), repositories);
    std::fs::remove_file(root.join("network/settings.json")).unwrap();
    rt.options()
        .network
        .remember(&root.join("network"))
        .unwrap();
    assert_eq!(read("network/settings.json"), settings);
}

/// Attack: a runtime root someone else can write to. Its owner (or anyone, when it is world
/// writable) swaps `containers/ID/rootfs` for a link to `/etc`, and the next overlay mount
/// lands on the host's `/etc`. On 21c1053 such a root was used (and chmod'ed) as it was; now
/// it is refused, and a mount point that is a link is refused too (defense in depth).
#[test]
fn a_root_others_can_write_to_is_refused() {
    let d = TempDir::new("foreign");
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = Runtime::new(&root, RuntimeOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.message().contains("writable by group or others"), "{e}");
    assert_eq!(mode(&root), 0o777, "nothing is changed");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&root, Some(1000), Some(1000)).unwrap();
    let e = Runtime::new(&root, RuntimeOptions::default()).unwrap_err();
    assert!(e.message().contains("is owned by uid 1000"), "{e}");
    assert!(!root.join("containers").exists(), "nothing is made");
    std::os::unix::fs::chown(&root, Some(0), Some(0)).unwrap();
    Runtime::new(&root, RuntimeOptions::default()).unwrap();

    // A mount point that is a link is not followed.
    let target = d.join("target");
    std::fs::create_dir(&target).unwrap();
    let link = d.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (lower, upper, work) = (d.join("lower"), d.join("upper"), d.join("work"));
    for p in [&lower, &upper, &work] {
        std::fs::create_dir(p).unwrap();
    }
    let e = docker_runtime::mount::mount_overlay(&[lower], &upper, &work, &link).unwrap_err();
    assert!(e.message().contains("opening the mount point"), "{e}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&target.display().to_string()));
}
