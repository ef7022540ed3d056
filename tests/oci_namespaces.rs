//! `docker-runtime-oci` with the spec's isolation: user namespaces (`uidMappings`), cgroup
//! namespaces and `cgroup` mounts, `linux.devices`, and namespaces joined by path (`pid`), with
//! the attacks each one stops and the bad bundles that must leave nothing behind.

mod common;

use std::path::{Path, PathBuf};

use common::oci::{bundle, cgroup_dir, oci, oci_to, ok};
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

/// Nothing of container `id` is left: no state under `root`, no cgroup.
fn nothing_left(root: &Path, id: &str) {
    assert_eq!(ok(&oci(root, &["list", "-q"])), "", "{id} was left listed");
    if root.exists() {
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
    let (status, out, err) = run(&root, &b, "u1");
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
    nothing_left(&root, "u1");
}
