//! `-v` binds, named and anonymous volumes and `volume create/ls/rm/inspect`, for real: the
//! mounts are made by docker-init in the container's mount namespace. Every test owns a
//! temporary root (the fixture) and host folders (removed on drop); container output is a few
//! lines at most (each command prints bounded text).

mod common;
mod daemon_support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::cli::{call, call_with, detached, ok};
use common::{Fixture, TempDir};
use daemon_support::Daemon;

/// A mount made on the host by a test, detached when dropped (even when the test fails).
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: &Path) -> HostMount {
        fs::create_dir_all(at).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        HostMount(at.to_path_buf())
    }
}

impl HostMount {
    /// `dir` bound onto itself and made a shared mount.
    fn bind_shared(dir: &Path) -> HostMount {
        use nix::mount::MsFlags;
        nix::mount::mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let m = HostMount(dir.to_path_buf());
        nix::mount::mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        m
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The host's mounts (mount points) under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = s(dir);
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&dir))
        .map(str::to_string)
        .collect()
}

fn volume_names(f: &Fixture) -> Vec<String> {
    let mut v: Vec<String> = ok(&f.rt, &["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// `run [FIRST...] FLAG VALUE... busybox true` fails as docker's usage errors do (125), with
/// `want` in its message.
fn run_refused(f: &Fixture, first: &[&str], flag: &str, values: &[String], want: &str) {
    let mut args = vec!["run"];
    args.extend_from_slice(first);
    for v in values {
        args.extend([flag, v.as_str()]);
    }
    args.extend(["busybox", "true"]);
    let out = call(&f.rt, &args);
    assert_eq!(out.status, 125, "{values:?}: {}", out.stderr);
    assert!(out.stderr.contains(want), "{values:?}: {}", out.stderr);
}

#[test]
fn binds_are_writable_unless_read_only_and_recursive() {
    let f = Fixture::new("vbind");
    let host = TempDir::new("vbind-host");
    fs::write(host.join("in"), "from the host\n").unwrap();
    let src = s(host.path());
    // Writable by default: the container's write shows on the host.
    let out = ok(
        &f.rt,
        &[
            "run",
            "-v",
            &format!("{src}:/data"),
            "busybox",
            "sh",
            "-c",
            "cat /data/in; echo from the container > /data/out",
        ],
    );
    assert_eq!(out, "from the host\n");
    assert_eq!(
        fs::read_to_string(host.join("out")).unwrap(),
        "from the container\n"
    );
    // A mount on the host under the bound folder comes along (rbind), and :ro holds for it
    // too (every mount of the tree is read-only). The attack: write through the submount of
    // a read-only bind. With the flag set on the top mount only (a plain `remount,ro`, or
    // `mount_setattr` without AT_RECURSIVE), `touch /data/sub/x` succeeds on the host.
    let _sub = HostMount::tmpfs(&host.join("sub"));
    fs::write(host.join("sub/deep"), "in a submount\n").unwrap();
    let out = call(
        &f.rt,
        &[
            "run",
            "-v",
            &format!("{src}:/data:ro"),
            "busybox",
            "sh",
            "-c",
            "cat /data/sub/deep; touch /data/x || touch /data/sub/x || echo both refused",
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "in a submount\nboth refused\n");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(!host.join("x").exists() && !host.join("sub/x").exists());
    // A file bound at a path the image lacks: made (an empty file) inside the container's
    // root, as docker does; a folder at a missing deep path likewise.
    let out = ok(
        &f.rt,
        &[
            "run",
            "-v",
            &format!("{}:/new/file.txt:ro", s(&host.join("in"))),
            "-v",
            &format!("{src}:/a/b/c:rw"),
            "busybox",
            "sh",
            "-c",
            "cat /new/file.txt; ls /a/b/c | head -n 5",
        ],
    );
    assert_eq!(out, "from the host\nin\nout\nsub\n");
    // inspect shows docker's Mounts.
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "-v",
            &format!("{src}:/data:ro"),
            "busybox",
            "true",
        ],
    );
    let id = id.trim();
    ok(&f.rt, &["wait", id]);
    let v: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", id])).unwrap();
    assert_eq!(
        v["Mounts"],
        serde_json::json!([{"Type": "bind", "Source": src, "Destination": "/data",
                            "Mode": "ro", "RW": false, "Propagation": "rprivate"}])
    );
    for c in f.rt.containers() {
        f.rt.remove_container(&c).unwrap();
    }
    assert!(volume_names(&f).is_empty(), "binds make no volumes");
}

/// The attack: a mount made under a bound folder after the start crosses to the other side
/// (the host's mounts appear in the container, or the container's on the host). Made here
/// with a host folder that is a shared mount (as `/` is on systemd hosts): a plain clone of it
/// would be its peer, and the tmpfs mounted on the host below would show in the container.
/// The bind's tree is made private before it is attached, so it does not.
#[test]
fn a_bind_is_private() {
    let f = Fixture::new("vprop");
    let host = TempDir::new("vprop-host");
    let shared = HostMount::bind_shared(host.path());
    let script =
        "while [ ! -e /data/go ]; do sleep 0.05; done; ls /data/late | head -n 3; echo end";
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "-v",
            &format!("{}:/data", s(host.path())),
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    let id = id.trim().to_string();
    let late = HostMount::tmpfs(&host.join("late"));
    fs::write(host.join("late/file"), "x").unwrap();
    fs::write(host.join("go"), "").unwrap();
    assert_eq!(ok(&f.rt, &["wait", &id]), "0\n");
    assert_eq!(
        ok(&f.rt, &["logs", &id]),
        "end\n",
        "the host's later mount stays out"
    );
    drop(late);
    drop(shared);
}

#[test]
fn named_and_anonymous_volumes() {
    let f = Fixture::new("vnamed");
    // A named volume is made at its first use, kept across containers (--rm: named volumes
    // stay).
    ok(
        &f.rt,
        &[
            "run",
            "--rm",
            "-v",
            "data:/srv",
            "busybox",
            "sh",
            "-c",
            "echo kept > /srv/f",
        ],
    );
    assert_eq!(
        ok(
            &f.rt,
            &["run", "--rm", "-v", "data:/x:ro", "busybox", "cat", "/x/f"]
        ),
        "kept\n"
    );
    assert_eq!(
        fs::read_to_string(f.root().join("volumes/data/_data/f")).unwrap(),
        "kept\n"
    );
    // A new volume takes the image's content at its path (the image's /etc here).
    let out = ok(
        &f.rt,
        &[
            "run",
            "--rm",
            "-v",
            "etc:/etc",
            "busybox",
            "head",
            "-n",
            "1",
            "/etc/passwd",
        ],
    );
    assert!(out.starts_with("root:"), "{out}");
    assert!(f.root().join("volumes/etc/_data/passwd").is_file());
    // volume create, ls, inspect.
    assert_eq!(ok(&f.rt, &["volume", "create", "made"]), "made\n");
    assert_eq!(
        ok(&f.rt, &["volume", "create", "made"]),
        "made\n",
        "an existing one is kept"
    );
    let ls = ok(&f.rt, &["volume", "ls"]);
    assert_eq!(
        ls,
        "DRIVER    VOLUME NAME\nlocal     data\nlocal     etc\nlocal     made\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&f.rt, &["volume", "inspect", "data"])).unwrap();
    assert_eq!(v[0]["Name"], "data");
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Mountpoint"], s(&f.root().join("volumes/data/_data")));
    // An anonymous volume: a generated 64-hex name, shown in Mounts.
    let anon_c = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "-v",
            "/cache",
            "-v",
            "data:/srv",
            "busybox",
            "true",
        ],
    );
    let anon_c = anon_c.trim().to_string();
    ok(&f.rt, &["wait", &anon_c]);
    let v: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &anon_c])).unwrap();
    let anon = v["Mounts"][0]["Name"].as_str().unwrap().to_string();
    assert!(
        anon.len() == 64 && anon.chars().all(|c| c.is_ascii_hexdigit()),
        "{anon}"
    );
    assert_eq!(v["Mounts"][0]["Type"], "volume");
    assert_eq!(v["Mounts"][0]["Destination"], "/cache");
    assert_eq!(v["Mounts"][1]["Name"], "data");
    // In use: refused, naming the container; nothing removed.
    let out = call(&f.rt, &["volume", "rm", "data"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains(&format!("remove data: volume is in use - [{anon_c}]")),
        "{}",
        out.stderr
    );
    assert!(f.root().join("volumes/data/_data/f").exists());
    // rm keeps the volumes; rm -v removes the anonymous ones, never the named ones.
    let keep_c = ok(&f.rt, &["run", "-d", "-v", "/keep", "busybox", "true"]);
    let keep_c = keep_c.trim().to_string();
    ok(&f.rt, &["wait", &keep_c]);
    let kept = f.rt.container(&keep_c).unwrap().record().mounts[0]
        .name
        .clone();
    ok(&f.rt, &["rm", &keep_c]);
    assert!(volume_names(&f).contains(&kept));
    ok(&f.rt, &["rm", "-v", &anon_c]);
    let names = volume_names(&f);
    assert!(
        !names.contains(&anon) && names.contains(&"data".to_string()),
        "{names:?}"
    );
    // run --rm removes the anonymous volumes too (as docker).
    ok(&f.rt, &["run", "--rm", "-v", "/tmpvol", "busybox", "true"]);
    assert_eq!(volume_names(&f).len(), names.len());
    // Unused now: removed.
    assert_eq!(
        ok(&f.rt, &["volume", "rm", "data", &kept]),
        format!("data\n{kept}\n")
    );
    assert!(!f.root().join("volumes/data").exists());
    let out = call(&f.rt, &["volume", "rm", "data"]);
    assert!(
        out.status == 1 && out.stderr.contains("no such volume: data"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    let f = Fixture::new("vbad");
    let host = TempDir::new("vbad-host");
    let src = s(host.path());
    let missing = s(&host.join("missing"));
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["./relative:/x".into()],
            "invalid characters for a local volume name".into(),
        ),
        (
            vec!["rel/dir:/x".into()],
            "If you intended to pass a host directory, use absolute path".into(),
        ),
        (
            vec!["a:b:c:d".into()],
            "invalid spec: a:b:c:d: too many colons".into(),
        ),
        (vec![format!("{src}:/x:ro:z")], "too many colons".into()),
        (vec![format!("{src}:/x:rx")], "invalid mode: rx".into()),
        (
            vec![format!("{missing}:/x")],
            format!("bind source path does not exist: {missing}"),
        ),
        (vec![format!("{src}:/")], "destination can't be '/'".into()),
        (vec![format!("{src}:/proc/sys")], "inside /proc".into()),
        (
            vec![format!("{src}:relative")],
            "mount path must be absolute".into(),
        ),
        (
            vec![format!("{src}:/a/../../etc")],
            "must not contain '..'".into(),
        ),
        (vec!["../x:/y".into()], "invalid characters".into()),
        // The first -v is fine (it would make a volume): nothing is made for the failed run.
        (
            vec!["made:/a".into(), "/b".into(), format!("{missing}:/c")],
            "bind source path does not exist".into(),
        ),
        (
            vec!["v1:/x".into(), "v2:/x/".into()],
            "Duplicate mount point: /x/".into(),
        ),
    ];
    for (vols, want) in &cases {
        run_refused(&f, &[], "-v", vols, want);
    }
    for (args, want) in [
        (
            &["volume", "create", "a/b"][..],
            "invalid characters for a local volume name",
        ),
        (&["volume", "create", ".."][..], "invalid characters"),
        (&["volume", "rm", "nosuch"][..], "no such volume: nosuch"),
        (&["volume", "inspect", "../x"][..], "invalid characters"),
        (&["volume", "frob"][..], "unknown volume command"),
    ] {
        let out = call(&f.rt, args);
        assert_ne!(out.status, 0, "{args:?}");
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    assert!(f.rt.containers().is_empty(), "no container was made");
    assert!(volume_names(&f).is_empty(), "no volume was made");
    let left: Vec<_> = fs::read_dir(f.root().join("volumes"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "nothing half-made under volumes/: {left:?}"
    );
    assert!(mounts_under(&f.root()).is_empty(), "no mount left");
}

/// The attack: an image whose mount path is a symbolic link to a host folder (`/etc`, or
/// enough `..` to climb to `/` and down to a folder of the test). Were the target resolved on
/// the host (say `rootfs.join("evil/passwd")` before `pivot_root`), the link would be followed
/// from the host's `/`: the bind would land on the host's `/etc/passwd` (and reach the host's
/// tree with shared propagation) and a missing target would be created in the host's folder.
/// Here the target is looked up after `pivot_root`, so the link resolves inside the
/// container's root, and a missing target is never made through a link.
#[test]
fn a_symlink_in_the_image_cannot_lead_a_bind_out() {
    let f = Fixture::new("vlink");
    let victim = TempDir::new("vlink-victim");
    fs::write(victim.join("kept"), "host's file\n").unwrap();
    let payload = TempDir::new("vlink-payload");
    fs::write(payload.join("passwd"), "attacker's file\n").unwrap();
    symlink("/etc", f.in_image("evil")).unwrap();
    let climb = format!("../../../../../../../../..{}", s(victim.path()));
    symlink(&climb, f.in_image("climb")).unwrap();
    // Without the protection: the same paths resolved on the host lead to the host's files.
    assert_eq!(
        fs::canonicalize(f.in_image("evil").join("passwd")).unwrap(),
        Path::new("/etc/passwd")
    );
    fs::create_dir(f.in_image("climb").join("probe")).unwrap();
    assert!(
        victim.join("probe").is_dir(),
        "resolved on the host, the link leads out"
    );
    fs::remove_dir(victim.join("probe")).unwrap();
    let host_passwd = fs::read("/etc/passwd").unwrap();
    let out = ok(
        &f.rt,
        &[
            "run",
            "-v",
            &format!("{}:/evil/passwd:ro", s(&payload.join("passwd"))),
            "busybox",
            "sh",
            "-c",
            "cat /evil/passwd /etc/passwd",
        ],
    );
    // Inside: the bind is on the container's own /etc/passwd.
    assert_eq!(out, "attacker's file\nattacker's file\n");
    // Outside: the host's file is as it was, nothing is mounted on it.
    assert_eq!(fs::read("/etc/passwd").unwrap(), host_passwd);
    assert!(mounts_under(Path::new("/etc")).is_empty());
    // A missing target behind a link (dangling inside the container): refused, not made.
    let spec = format!("{}:/climb/newdir", s(payload.path()));
    run_refused(&f, &[], "-v", &[spec], "dangling symbolic link");
    let left: Vec<_> = fs::read_dir(victim.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["kept"], "the host folder is untouched");
    assert!(mounts_under(victim.path()).is_empty());
    // A link into /proc: refused (a bind there would hide or replace kernel files).
    symlink("/proc/sys/kernel", f.in_image("intoproc")).unwrap();
    let spec = format!("{}:/intoproc", s(payload.path()));
    run_refused(&f, &[], "-v", &[spec], "resolves into /proc");
    // The failed starts left no mount behind (the created containers stay, as docker's).
    assert!(mounts_under(&f.root()).is_empty());
}

/// The attack: a container remounts its read-only bind read-write to write to the host.
#[test]
fn a_read_only_bind_stays_read_only() {
    let f = Fixture::new("vro");
    let host = TempDir::new("vro-host");
    let ro = format!("{}:/data:ro", s(host.path()));
    let script =
        "mount -o remount,rw /data 2>&1 | head -c 200; (echo x > /data/w) 2>&1 | head -c 200; true";
    // Default capabilities (no CAP_SYS_ADMIN): the remount is refused.
    let out = ok(&f.rt, &["run", "-v", &ro, "busybox", "sh", "-c", script]);
    assert!(
        out.contains("permission denied") || out.contains("Operation not permitted"),
        "{out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!host.join("w").exists());
    // With CAP_SYS_ADMIN, root in the container is root on the host's mounts of its own
    // namespace: no user namespace owns it, so the kernel has locked no flag and the remount
    // succeeds (as in docker: CAP_SYS_ADMIN is not a confinement). Shown, not hidden.
    let out = ok(
        &f.rt,
        &[
            "run",
            "--cap-add",
            "SYS_ADMIN",
            "-v",
            &ro,
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(
        host.join("w").exists(),
        "documented: CAP_SYS_ADMIN can remount it rw ({out})"
    );
}

#[test]
fn mounts_come_back_after_a_restart() {
    let f = Fixture::new("vrestart");
    let host = TempDir::new("vrestart-host");
    fs::write(host.join("h"), "bound\n").unwrap();
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "-v",
            "kept:/srv",
            "-v",
            &format!("{}:/h:ro", s(host.path())),
            "busybox",
            "sh",
            "-c",
            "echo once >> /srv/log; sleep 1000",
        ],
    );
    let id = id.trim().to_string();
    // A record without -v stays as v0.1.0 wrote it: no Mounts key.
    let plain = ok(&f.rt, &["run", "-d", "busybox", "true"]);
    let plain = plain.trim().to_string();
    ok(&f.rt, &["wait", &plain]);
    let rec =
        fs::read_to_string(f.root().join("containers").join(&plain).join("config.json")).unwrap();
    assert!(!rec.contains("Mounts"), "{rec}");
    // inspect shows docker's empty list.
    let v: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &plain])).unwrap();
    assert_eq!(v["Mounts"], serde_json::json!([]));
    // A new runtime on the root (a restarted daemon) stops and starts it: mounted again.
    let rt2 = f.reopen();
    ok(&rt2, &["kill", &id]);
    ok(&rt2, &["wait", &id]);
    ok(&rt2, &["start", &id]);
    let c = rt2.container(&id).unwrap();
    assert!(common::eventually(
        std::time::Duration::from_secs(10),
        || {
            fs::read_to_string(f.root().join("volumes/kept/_data/log"))
                .is_ok_and(|l| l == "once\nonce\n")
        }
    ));
    let out = ok(&rt2, &["inspect", &id]);
    assert!(
        out.contains("\"Destination\": \"/h\"") && out.contains("\"Name\": \"kept\""),
        "{out}"
    );
    c.kill().unwrap();
    rt2.remove_container(&c).unwrap();
}

/// `volume prune`: asks first (a `y` goes on, anything else or no answer does not), then
/// removes every volume no container uses, named and anonymous (docker 20.10), and keeps
/// the ones a container (running or not) uses; prints what went and the space it held.
#[test]
fn prune_removes_the_unused_volumes_only() {
    let f = Fixture::new("vprune");
    ok(&f.rt, &["volume", "create", "kept"]);
    ok(&f.rt, &["volume", "create", "spare"]);
    fs::write(f.root().join("volumes/spare/_data/f"), vec![b'x'; 1500]).unwrap();
    // An exited container holds `kept`; a removed one (without -v) left its anonymous one.
    let user = detached(&f.rt, &["-v", "kept:/k", "busybox", "true"]);
    ok(&f.rt, &["wait", &user]);
    let gone = detached(&f.rt, &["-v", "/anon", "busybox", "true"]);
    ok(&f.rt, &["wait", &gone]);
    let anon = f.rt.container(&gone).unwrap().record().mounts[0]
        .name
        .clone();
    ok(&f.rt, &["rm", &gone]);
    let warning = "WARNING! This will remove all local volumes not used by at least one \
                   container.\nAre you sure you want to continue? [y/N] ";
    // Not confirmed: nothing removed.
    for answer in [&b"n\n"[..], b"", b"yes\n"] {
        let out = call_with(&f.rt, &["volume", "prune"], answer, None);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(out.stdout, format!("{warning}Total reclaimed space: 0B\n"));
        assert_eq!(volume_names(&f).len(), 3);
    }
    let mut deleted = [anon.clone(), "spare".to_string()];
    deleted.sort();
    let out = call_with(&f.rt, &["volume", "prune"], b"y\n", None);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "{warning}Deleted Volumes:\n{}\n{}\n\nTotal reclaimed space: 1.5kB\n",
            deleted[0], deleted[1]
        )
    );
    assert_eq!(volume_names(&f), ["kept"]);
    assert!(f.root().join("volumes/kept/_data").is_dir());
    // Nothing unused left: nothing to say but the total.
    assert_eq!(
        ok(&f.rt, &["volume", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let out = call(&f.rt, &["volume", "prune", "-f", "kept"]);
    assert_eq!(out.status, 125, "{}", out.stderr);
    assert!(
        out.stderr.contains("no arguments expected"),
        "{}",
        out.stderr
    );
    // Once its container is gone, `kept` goes too.
    ok(&f.rt, &["rm", &user]);
    assert_eq!(
        ok(&f.rt, &["volume", "prune", "--force"]),
        "Deleted Volumes:\nkept\n\nTotal reclaimed space: 0B\n"
    );
    let left: Vec<_> = fs::read_dir(f.root().join("volumes"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing half-removed: {left:?}");
}

/// `volume prune` through the daemon: the question goes to the client, the answer comes
/// from its stdin.
#[test]
fn prune_through_the_daemon() {
    let d = Daemon::start(&[]);
    let h = ["-H".to_string(), d.addr()];
    let h: Vec<&str> = h.iter().map(String::as_str).collect();
    assert!(d.client(&["volume", "create", "one"]).status.success());
    let out = daemon_support::client_with_input(&h, &["volume", "prune"], b"N\n");
    assert!(out.status.success(), "{}", daemon_support::stderr(&out));
    assert!(
        daemon_support::stdout(&out).ends_with("[y/N] Total reclaimed space: 0B\n"),
        "{}",
        daemon_support::stdout(&out)
    );
    assert!(d.root.join("volumes/one").is_dir());
    let out = daemon_support::client_with_input(&h, &["volume", "prune"], b"y\n");
    assert!(
        daemon_support::stdout(&out)
            .ends_with("[y/N] Deleted Volumes:\none\n\nTotal reclaimed space: 0B\n"),
        "{}",
        daemon_support::stdout(&out)
    );
    assert!(!d.root.join("volumes/one").exists());
}

/// `--mount` as docker reads it: a read-only bind, a volume not filled from the image
/// (`volume-nocopy`), and a tmpfs with docker's defaults (`nosuid`, `nodev`, `noexec`) and
/// the size and mode asked for, gone with the run.
#[test]
fn mount_binds_volumes_and_tmpfs() {
    let f = Fixture::new("vmount");
    let host = TempDir::new("vmount-host");
    fs::write(host.join("in"), "from the host\n").unwrap();
    let bind = format!("type=bind,source={},target=/data,readonly", s(host.path()));
    let out = ok(
        &f.rt,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--mount",
            &bind,
            "busybox",
            "sh",
            "-c",
            "cat /data/in; touch /data/x 2>/dev/null || echo refused",
        ],
    );
    assert_eq!(out, "from the host\nrefused\n");
    assert!(!host.join("x").exists());
    // A named volume at /etc: filled from the image without volume-nocopy, empty with it.
    let out = ok(
        &f.rt,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--mount",
            "src=bare,dst=/etc,volume-nocopy",
            "--mount",
            "type=volume,src=full,dst=/mnt/etc",
            "busybox",
            "ls",
            "/etc",
        ],
    );
    assert_eq!(out, "");
    assert!(fs::read_dir(f.root().join("volumes/bare/_data"))
        .unwrap()
        .next()
        .is_none());
    assert!(f.root().join("volumes/full/_data").is_dir());
    // The tmpfs. The attack noexec stops: a program written there and run (without noexec
    // in the spec's options, `/t/s` prints "ran").
    let id = detached(
        &f.rt,
        &[
            "--mount",
            "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
            "busybox",
            "sh",
            "-c",
            "grep ' /t ' /proc/mounts; stat -c %a /t; printf '#!/bin/sh\\necho ran\\n' > /t/s; \
             chmod +x /t/s; /t/s 2>/dev/null || echo refused",
        ],
    );
    ok(&f.rt, &["wait", &id]);
    let out = ok(&f.rt, &["logs", &id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let opts = lines[0].split(' ').nth(3).unwrap();
    for want in ["rw", "nosuid", "nodev", "noexec", "size=1024k", "mode=1770"] {
        assert!(opts.split(',').any(|o| o == want), "{want} in {}", lines[0]);
    }
    assert_eq!(&lines[1..], ["1770", "refused"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &id])).unwrap();
    assert_eq!(v["Mounts"][0]["Type"], "tmpfs");
    assert_eq!(v["Mounts"][0]["Destination"], "/t");
    assert_eq!(v["Mounts"][0]["TmpfsOptions"]["SizeBytes"], 1 << 20);
    // A read-only tmpfs.
    let out = ok(
        &f.rt,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--mount",
            "type=tmpfs,dst=/t,ro=true",
            "busybox",
            "sh",
            "-c",
            "touch /t/x 2>/dev/null || echo refused",
        ],
    );
    assert_eq!(out, "refused\n");
    ok(&f.rt, &["rm", &id]);
    assert!(mounts_under(&f.root()).is_empty(), "no mount left");
}

/// Bad `--mount` values: docker's errors (the key, the missing target, the unknown type
/// named), status 125, and nothing made (no container, no volume, no mount).
#[test]
fn bad_mounts_are_clear_errors_and_leave_nothing() {
    let f = Fixture::new("vmountbad");
    let host = TempDir::new("vmountbad-host");
    let src = s(host.path());
    let missing = s(&host.join("missing"));
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![format!("type=bind,src={src},dst=/x,colour=red")],
            "unexpected key 'colour' in 'colour=red'".into(),
        ),
        (
            vec![format!("type=bind,src={src}")],
            "target is required".into(),
        ),
        (
            vec!["type=nfs,dst=/x".into()],
            "invalid mount config for type \"nfs\": mount type unknown".into(),
        ),
        (
            vec![format!("type=bind,src={missing},dst=/x")],
            format!("bind source path does not exist: {missing}"),
        ),
        (
            vec!["type=bind,dst=/x".into()],
            "field Source must not be empty".into(),
        ),
        (
            vec![format!("type=tmpfs,src={src},dst=/x")],
            "field Source must not be specified".into(),
        ),
        (
            vec!["type=tmpfs,dst=/x,tmpfs-size=big".into()],
            "invalid value for tmpfs-size: big".into(),
        ),
        (vec!["type=tmpfs,dst=/proc/x".into()], "inside /proc".into()),
        // The first would make a volume: nothing is made for the failed run.
        (
            vec![
                "src=made,dst=/a".into(),
                "type=volume,dst=/b".into(),
                "dst=/a".into(),
            ],
            "Duplicate mount point: /a".into(),
        ),
    ];
    for (mounts, want) in &cases {
        run_refused(&f, &["--network", "none"], "--mount", mounts, want);
    }
    assert!(f.rt.containers().is_empty(), "no container was made");
    assert!(volume_names(&f).is_empty(), "no volume was made");
    assert!(mounts_under(&f.root()).is_empty(), "no mount left");
}
