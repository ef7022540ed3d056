//! The runtime root: layout, modes, refusals, restore.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::TempDir;
use docker_runtime::{ErrorKind, Runtime, RuntimeOptions};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn layout_and_modes() {
    let d = TempDir::new("layout");
    let root = d.join("root");
    let rt = Runtime::new(&root, RuntimeOptions::default()).unwrap();
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
    let docker = env!("CARGO_BIN_EXE_docker");
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
    let rt = Runtime::new(&root, RuntimeOptions::default()).unwrap();
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
