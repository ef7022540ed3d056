//! `docker-runtime-oci` with the spec's isolation: user namespaces (`uidMappings`), cgroup
//! namespaces and `cgroup` mounts, `linux.devices`, and namespaces joined by path (`pid`), with
//! the attacks each one stops and the bad bundles that must leave nothing behind.

mod common;

use std::path::{Path, PathBuf};

use common::oci::{
    become_subreaper, bundle, cgroup_dir, fails, json, oci, oci_to, ok, wait_status,
};
use common::TempDir;

/// The container's output is bounded by the commands themselves (short `cat`s, `head -c`);
/// this caps what a test reads back.
const MAX_OUTPUT: u64 = 64 << 10;

/// A bundle under `dir` running `script` with `sh -c`, its config.json changed by `edit`.
fn bundle_with(dir: &Path, script: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let b = bundle(dir, &["sh", "-c", script], false);
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    edit(&mut spec);
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    b
}

/// `run` the bundle as `id`: its exit status, standard output and error.
fn run(root: &Path, b: &Path, id: &str) -> (i32, String, String) {
    let io = b.parent().unwrap().join(format!("io-{id}"));
    let status = oci_to(root, &["run", "--bundle", b.to_str().unwrap(), id], &io);
    let read = |ext: &str| {
        use std::io::Read;
        let mut s = String::new();
        std::fs::File::open(io.with_extension(ext))
            .unwrap()
            .take(MAX_OUTPUT)
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    (status.code().unwrap_or(-1), read("out"), read("err"))
}

/// The namespaces of `bundle()` with a user namespace mapping the container's ids 0-65535 to
/// the host's 100000-165535.
fn with_userns(spec: &mut serde_json::Value) {
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["uidMappings"] = map.clone();
    spec["linux"]["gidMappings"] = map;
}

/// Nothing of container `id` is left: not listed, no state under `root` (nothing at all when
/// no other container is there), no cgroup.
fn nothing_left(root: &Path, id: &str) {
    let listed = ok(&oci(root, &["list", "-q"]));
    assert!(!listed.lines().any(|l| l == id), "{id} was left listed");
    assert!(!root.join(id).exists(), "{id}'s state was left");
    if listed.is_empty() && root.exists() {
        let left: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{id}: {left:?}");
    }
    assert!(cgroup_dir(id).is_none(), "{id}'s cgroup was left");
}

/// In a user namespace the container's root is uid 0 to itself and 100000 to the host, keeps
/// its capabilities inside, and its mounts (proc, sysfs, tmpfs, devpts, mqueue, a bind) work.
#[test]
fn a_user_namespace_maps_root_and_keeps_the_mounts_working() {
    let dir = TempDir::new("ocins-user");
    let root = dir.join("root");
    let script = "id -u; id -g; cat /proc/self/uid_map; \
        grep -c . /proc/self/mounts >/dev/null && echo proc; \
        test -d /sys/class/net/lo && echo sysfs; \
        echo hi > /tmp/t/x && cat /tmp/t/x; \
        test -c /dev/pts/ptmx && echo devpts; \
        test -d /dev/mqueue && grep -q ' /dev/mqueue mqueue' /proc/self/mounts && echo mqueue; \
        cat /mnt/bound; \
        grep CapEff /proc/self/status; \
        echo z > /dev/null && head -c 3 /dev/zero | wc -c";
    let hostdir = dir.join("bound");
    std::fs::create_dir(&hostdir).unwrap();
    std::fs::write(hostdir.join("bound"), "bound file\n").unwrap();
    let b = bundle_with(&dir.join(""), script, |spec| {
        with_userns(spec);
        let mounts = spec["mounts"].as_array_mut().unwrap();
        mounts.push(serde_json::json!({"destination": "/tmp/t", "type": "tmpfs",
            "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}));
        mounts.push(serde_json::json!({"destination": "/mnt", "type": "bind",
            "source": hostdir, "options": ["rbind", "ro"]}));
    });
    let (status, out, err) = run(&root, &b, "ns-u1");
    assert_eq!(status, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0..2], ["0", "0"], "{out}");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        lines[3..10],
        [
            "proc",
            "sysfs",
            "hi",
            "devpts",
            "mqueue",
            "bound file",
            lines[9]
        ],
        "{out}"
    );
    // bundle()'s seven capabilities: CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETGID, SETUID,
    // NET_BIND_SERVICE (bits 0, 1, 3, 5, 6, 7, 10).
    assert_eq!(lines[9], "CapEff:\t00000000000004eb", "{out}");
    assert_eq!(lines[10].trim(), "3", "{out}");
    nothing_left(&root, "ns-u1");

    // Without a network namespace of its own the kernel refuses sysfs in a user namespace:
    // the host's /sys is bound instead, read-only.
    let b = bundle_with(
        &dir.join("hostnet"),
        "test -d /sys/kernel && echo sys; touch /sys/x",
        |spec| {
            with_userns(spec);
            spec["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "network");
        },
    );
    let (_, out, err) = run(&root, &b, "ns-u2");
    assert_eq!(out, "sys\n", "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    nothing_left(&root, "ns-u2");
}

/// `exec` beside a container with a user namespace enters it first (it owns the others): the
/// process is root there, mapped to 100000 on the host. Another container joins that user
/// namespace by path.
#[test]
fn exec_enters_the_user_namespace() {
    become_subreaper();
    let dir = TempDir::new("ocins-exec");
    let root = dir.join("root");
    let b = bundle_with(&dir.join(""), "sleep 300", with_userns);
    let io = dir.join("io");
    assert!(oci_to(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "ns-ue"],
        &io
    )
    .success());
    struct Delete<'a>(&'a Path);
    impl Drop for Delete<'_> {
        fn drop(&mut self) {
            // Also when an assertion fails: the container goes, and its cgroup.
            let _ = oci(self.0, &["delete", "--force", "ns-ue"]);
        }
    }
    let _delete = Delete(&root);
    let pid = json(&ok(&oci(&root, &["state", "ns-ue"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    ok(&oci(&root, &["start", "ns-ue"]));
    let script = "id -u; cat /proc/self/uid_map; cat /proc/1/comm";
    let out = ok(&oci(&root, &["exec", "ns-ue", "sh", "-c", script]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(lines[2], "sleep", "{out}");
    // As the host sees it: the container's first process runs as host uid 100000.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid.split_whitespace().nth(1), Some("100000"), "{uid}");

    // A second container of the pod joins its user and network namespaces by path (as
    // containerd's CRI does for a user-namespaced pod): root of the same user namespace, the
    // namespaces it makes owned by it (its own /proc and sysfs mount).
    let b2 = bundle_with(
        &dir.join("second"),
        "id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/net; \
         test -d /sys/class/net/lo && echo sysfs",
        |spec| {
            with_userns(spec);
            let list = spec["linux"]["namespaces"].as_array_mut().unwrap();
            for n in list.iter_mut() {
                if n["type"] == "user" || n["type"] == "network" {
                    let kind = if n["type"] == "user" { "user" } else { "net" };
                    n["path"] = format!("/proc/{pid}/ns/{kind}").into();
                }
            }
        },
    );
    let (status, out, err) = run(&root, &b2, "ns-ue2");
    assert_eq!(status, 0, "{out}\n{err}");
    let theirs = |kind: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .unwrap()
            .display()
            .to_string()
    };
    assert_eq!(
        out,
        format!("0\n{}\n{}\nsysfs\n", theirs("user"), theirs("net")),
        "{err}"
    );
    nothing_left(&root, "ns-ue2");

    ok(&oci(&root, &["kill", "ns-ue", "KILL"]));
    wait_status(pid);
    ok(&oci(&root, &["delete", "ns-ue"]));
    nothing_left(&root, "ns-ue");
}

/// The attack a user namespace stops: the container's root reads a host secret that is bound
/// into it (an `/etc/shadow`: root's, mode 0600) and writes a host root-owned file (one of
/// the root file system's, owned by the host's root as the bundle has it). Without a user
/// namespace its root is the host's root, and both succeed (the first run shows it); mapped
/// to host uid 100000 it is nobody to those files, and both fail.
#[test]
fn a_user_namespace_keeps_the_containers_root_off_the_hosts_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("ocins-attack");
    let root = dir.join("root");
    let secrets = dir.join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let shadow = secrets.join("shadow");
    std::fs::write(&shadow, "root:$6$secret:19000::::::\n").unwrap();
    std::fs::set_permissions(&shadow, std::fs::Permissions::from_mode(0o600)).unwrap();
    let script = "cat /mnt/shadow && echo read; \
        echo owned >> /etc/victim && echo wrote; cat /etc/victim";
    let edit = |userns: bool| {
        let secrets = secrets.clone();
        move |spec: &mut serde_json::Value| {
            if userns {
                with_userns(spec);
            }
            spec["mounts"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                "destination": "/mnt", "type": "bind", "source": secrets,
                "options": ["rbind", "ro"]}));
        }
    };
    for (userns, id) in [(false, "ns-plain"), (true, "ns-mapped")] {
        let b = bundle_with(&dir.join(id), script, edit(userns));
        let victim = b.join("rootfs/etc/victim");
        std::fs::write(&victim, "host's\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, out, err) = run(&root, &b, id);
        if userns {
            assert_eq!(out, "host's\n", "{err}");
            assert!(err.contains("Permission denied"), "{err}");
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host's\n");
        } else {
            assert_eq!(
                out, "root:$6$secret:19000::::::\nread\nwrote\nhost's\nowned\n",
                "{err}"
            );
        }
        nothing_left(&root, id);
    }
}

/// A cgroup namespace is made once the process is in its cgroups: its `/proc/self/cgroup`
/// reads `0::/`, and a `cgroup` mount shows its own cgroup as the root (only its processes in
/// the v2 root's `cgroup.procs`). Read-only unless the spec says `rw`: the attack, making a
/// cgroup (or writing any cgroup file) through the mount, fails; with `rw` it works (the
/// second run, which removes what it made).
#[test]
fn a_cgroup_namespace_and_a_cgroup_mount_show_the_containers_own_cgroup() {
    let dir = TempDir::new("ocins-cgroup");
    let root = dir.join("root");
    let hybrid = std::path::Path::new("/sys/fs/cgroup/unified").exists();
    let v2 = if hybrid {
        "/sys/fs/cgroup/unified"
    } else {
        "/sys/fs/cgroup"
    };
    // On a hybrid host the v1 hierarchies the container was not moved into (pids here) are
    // the host's own cgroups: the read-only mount keeps it from writing their files.
    let host_v1 = if hybrid {
        "echo 1 > /sys/fs/cgroup/pids/cgroup.procs; "
    } else {
        ""
    };
    let script = format!(
        "grep '^0::' /proc/self/cgroup; cat {v2}/cgroup.procs | wc -l; \
         ls /sys/fs/cgroup | head -c 4096 | tr '\\n' ' '; echo; {host_v1}\
         mkdir {v2}/evil && echo made && rmdir {v2}/evil"
    );
    let edit = |option: &'static str| {
        move |spec: &mut serde_json::Value| {
            spec["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "cgroup"}));
            spec["mounts"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", option]}));
        }
    };
    let b = bundle_with(&dir.join("ro"), &script, edit("ro"));
    let (_, out, err) = run(&root, &b, "ns-c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0::/", "{out}\n{err}");
    // The shell, cat and wc: the container's processes only.
    assert_eq!(lines[1].trim(), "3", "{out}");
    if hybrid {
        let listed: Vec<&str> = lines[2].split_whitespace().collect();
        for name in ["memory", "pids", "unified"] {
            assert!(listed.contains(&name), "{out}");
        }
    }
    assert_eq!(lines.len(), 3, "{out}");
    let expected = if hybrid { 2 } else { 1 };
    assert_eq!(
        err.matches("Read-only file system").count(),
        expected,
        "{err}"
    );
    nothing_left(&root, "ns-c1");

    let b = bundle_with(&dir.join("rw"), &script, edit("rw"));
    let (status, out, err) = run(&root, &b, "ns-c2");
    assert_eq!(status, 0, "{out}\n{err}");
    assert!(out.ends_with("made\n"), "{out}");
    nothing_left(&root, "ns-c2");
}

/// `linux.devices`: a character device (`/dev/full2`, 1:7) and a FIFO the spec asks for work
/// inside. The attack: the container makes the same node itself with CAP_MKNOD (in `/dev`,
/// `/dev/shm`, a tmpfs of the spec that does not say `nodev`, and its root file system, a
/// bundle folder on the host's file system) and opens it, which would read the device were
/// these file systems not `nodev` (the spec's node, bound from the helper's own tmpfs, is the
/// same device and works). The spec's tmpfs and the bundle's root were mounted without
/// `nodev` before it was forced on them, and those two reads then gave 4 bytes: there is no
/// device cgroup to stop it.
#[test]
fn spec_devices_work_and_the_containers_own_nodes_do_not() {
    let dir = TempDir::new("ocins-dev");
    let root = dir.join("root");
    let script = "head -c 4 /dev/full2 | wc -c; echo x 2>/dev/null > /dev/full2 || echo full; \
        test -p /dev/fifo1 && echo fifo; stat -c '%a %u %g' /dev/full2 /dev/sub/fifo1; \
        mknod /dev/mine c 1 7 && echo made; head -c 4 /dev/mine | wc -c; \
        mknod /dev/shm/mine c 1 7 && echo made; head -c 4 /dev/shm/mine | wc -c; \
        mknod /mnt/mine c 1 7 && echo made; head -c 4 /mnt/mine | wc -c; \
        mknod /tmp/mine c 1 7 && echo made; head -c 4 /tmp/mine | wc -c";
    let edit = |spec: &mut serde_json::Value| {
        for set in ["bounding", "effective", "permitted"] {
            spec["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push("CAP_MKNOD".into());
        }
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "mode=755"]}));
        spec["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/full2", "type": "c", "major": 1, "minor": 7, "fileMode": 0o640,
             "uid": 0, "gid": 0},
            {"path": "/dev/fifo1", "type": "p", "major": 0, "minor": 0},
            {"path": "/dev/sub/fifo1", "type": "p", "major": 0, "minor": 0, "uid": 7, "gid": 8}
        ]);
    };
    let b = bundle_with(&dir.join(""), script, edit);
    let (_, out, err) = run(&root, &b, "ns-d1");
    assert_eq!(
        out, "4\nfull\nfifo\n640 0 0\n666 7 8\nmade\n0\nmade\n0\nmade\n0\nmade\n0\n",
        "{err}"
    );
    assert_eq!(err.matches("Permission denied").count(), 4, "{err}");
    nothing_left(&root, "ns-d1");
}

/// A PID namespace joined by path (Kubernetes' shareProcessNamespace): the container's
/// process is a member of the pod's namespace and sees its processes.
#[test]
fn a_pid_namespace_is_joined_by_path() {
    let dir = TempDir::new("ocins-pid");
    let root = dir.join("root");
    struct Pod(std::process::Child);
    impl Drop for Pod {
        fn drop(&mut self) {
            // unshare --fork kills its child, the pod's pid 1, when it is killed.
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pod = Pod(std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap());
    let unshare_pid = pod.0.id();
    let children = format!("/proc/{unshare_pid}/task/{unshare_pid}/children");
    let sleeper = (0..200)
        .find_map(|_| {
            let pid = std::fs::read_to_string(&children)
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .map(str::to_string);
            if pid.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            pid
        })
        .expect("unshare's child");
    let path = format!("/proc/{sleeper}/ns/pid");
    let b = bundle_with(
        &dir.join(""),
        "cat /proc/1/comm; test $$ != 1 && echo member",
        |spec| {
            spec["linux"]["namespaces"][0] = serde_json::json!({"type": "pid", "path": path});
        },
    );
    let (status, out, err) = run(&root, &b, "ns-p1");
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "sleep\nmember\n", "{err}");
    nothing_left(&root, "ns-p1");
    drop(pod);
}

/// A cgroup namespace joined by path (a pod's, say): the container's process is a member of
/// it, and its `/proc/self/cgroup` reads relative to that namespace's root.
#[test]
fn a_cgroup_namespace_is_joined_by_path() {
    let dir = TempDir::new("ocins-cgjoin");
    let root = dir.join("root");
    struct Holder(std::process::Child);
    impl Drop for Holder {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // unshare execs sleep in the new cgroup namespace: its pid holds it.
    let holder = Holder(
        std::process::Command::new("unshare")
            .args(["--cgroup", "sleep", "30"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ns = format!("/proc/{}/ns/cgroup", holder.0.id());
    let theirs = |own: &str| {
        common::eventually(std::time::Duration::from_secs(5), || {
            std::fs::read_link(&ns).is_ok_and(|l| l.to_str() != Some(own))
        })
    };
    let own = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    assert!(
        theirs(own.to_str().unwrap()),
        "unshare made no cgroup namespace"
    );
    let expected = std::fs::read_link(&ns).unwrap();
    let b = bundle_with(&dir.join(""), "readlink /proc/self/ns/cgroup", |spec| {
        spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "cgroup", "path": ns}));
    });
    let (status, out, err) = run(&root, &b, "ns-cg1");
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, format!("{}\n", expected.display()), "{err}");
    nothing_left(&root, "ns-cg1");
    drop(holder);
}

/// Bad isolation in a bundle: each a clear error naming the cause, and nothing is left (no
/// state under --root, no cgroup, no process).
#[test]
fn bad_isolation_is_a_clear_error_and_leaves_nothing() {
    let dir = TempDir::new("ocins-bad");
    let root = dir.join("root");
    let b = bundle(&dir.join(""), &["true"], false);
    let good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let uts = format!("/proc/{}/ns/uts", std::process::id());
    let ns_with = |extra: serde_json::Value| {
        let mut list = good["linux"]["namespaces"].as_array().unwrap().clone();
        list.retain(|n| n["type"] != extra["type"]);
        list.push(extra);
        serde_json::Value::Array(list)
    };
    let cases: Vec<(&str, serde_json::Value, String)> = vec![
        (
            "namespaces",
            ns_with(serde_json::json!({"type": "pid", "path": "/proc/1/ns/nonexistent"})),
            "opening the pid namespace /proc/1/ns/nonexistent".into(),
        ),
        (
            "namespaces",
            ns_with(serde_json::json!({"type": "pid", "path": uts})),
            format!("{uts} is not a pid namespace"),
        ),
        (
            "namespaces",
            ns_with(serde_json::json!({"type": "ipc", "path": b.join("config.json")})),
            "is not a namespace file".into(),
        ),
        (
            "namespaces",
            ns_with(serde_json::json!({"type": "mount", "path": "/proc/1/ns/mnt"})),
            "joining the Mount namespace at /proc/1/ns/mnt".into(),
        ),
        (
            "namespaces",
            ns_with(serde_json::json!({"type": "cgroup", "path": uts})),
            format!("{uts} is not a cgroup namespace"),
        ),
        (
            "namespaces",
            ns_with(serde_json::json!({"type": "user"})),
            "needs 1 to 340 uid mappings, not 0".into(),
        ),
        (
            "uidMappings",
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 1}]),
            "user id mappings are given without a user namespace".into(),
        ),
        (
            "devices",
            serde_json::json!([{"path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 3}]),
            "the device path \"/dev/../etc/x\" is not a plain path under /dev".into(),
        ),
        (
            "devices",
            serde_json::json!([{"path": "/etc/null", "type": "c", "major": 1, "minor": 3}]),
            "the device path \"/etc/null\" is not a plain path under /dev".into(),
        ),
    ];
    for (i, (field, value, what)) in cases.into_iter().enumerate() {
        let mut spec = good.clone();
        spec["linux"][field] = value;
        std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
        let id = format!("ns-bad{i}");
        let err = fails(&oci(
            &root,
            &["create", "--bundle", b.to_str().unwrap(), &id],
        ));
        assert!(err.contains(&what), "{id}: {err}");
        nothing_left(&root, &id);
    }
    // A root that is not mapped, and a cgroup mount in a user namespace of the host's cgroups.
    let mut spec = good.clone();
    with_userns(&mut spec);
    spec["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 1, "hostID": 100001, "size": 10}]);
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "ns-badroot"],
    ));
    assert!(
        err.contains("the gid mappings do not map the container's root"),
        "{err}"
    );
    let mut spec = good.clone();
    with_userns(&mut spec);
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}));
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "ns-badcg"],
    ));
    assert!(
        err.contains("a cgroup mount in a user namespace without a cgroup namespace"),
        "{err}"
    );
    nothing_left(&root, "ns-badroot");
    nothing_left(&root, "ns-badcg");
}
