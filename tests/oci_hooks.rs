//! The six OCI hook kinds run by `docker-runtime-oci` (runtime-spec `config.md`,
//! "POSIX-platform Hooks", and `runtime.md`, "Lifecycle"): their order, the state each reads
//! on its standard input, the namespaces and file system each runs in, their environment, their
//! timeout, and what a failing one does (a failed create or start that leaves nothing behind;
//! a warning for poststart and poststop).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::oci::{
    become_subreaper, bundle, cgroup_dir, fails, json, oci, oci_to, ok, wait_status,
};
use common::TempDir;

/// A hook running `script` with `sh` (the host's, or the container's for startContainer);
/// `HOOK` in its environment names it.
fn hook(kind: &str, script: &str) -> serde_json::Value {
    serde_json::json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": ["PATH=/usr/bin:/bin", format!("HOOK={kind}")]
    })
}

/// A hook that records itself: its kind appended to `LOG`, its standard input (the state) in
/// `DIR/state-KIND.json` and its environment in `DIR/env-KIND`; `dir` is where the hook sees
/// the bundle's root file system (the host's path, or `/` inside the container).
fn recorder(kind: &str, dir: &str) -> serde_json::Value {
    hook(
        kind,
        &format!(
            "cat > {dir}/state-$HOOK.json; tr '\\0' '\\n' < /proc/self/environ > {dir}/env-$HOOK; \
             echo $HOOK >> {dir}/hooks.log; echo $HOOK says hi; echo $HOOK complains >&2"
        ),
    )
}

/// `b`'s config.json with `hooks` (and annotations) set.
fn set_hooks(b: &Path, hooks: serde_json::Value) {
    let path = b.join("config.json");
    let mut spec: serde_json::Value = json(&std::fs::read_to_string(&path).unwrap());
    spec["hooks"] = hooks;
    spec["annotations"] = serde_json::json!({"org.example.hooks": "yes"});
    std::fs::write(&path, spec.to_string()).unwrap();
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Deletes (forced) the containers of a test under `root` on drop, also when it fails.
struct Gone(PathBuf, &'static [&'static str]);

impl Drop for Gone {
    fn drop(&mut self) {
        for id in self.1 {
            let _ = oci(&self.0, &["delete", "--force", id]);
        }
    }
}

/// The host's mount namespace (this test's).
fn host_mnt_ns() -> PathBuf {
    std::fs::read_link("/proc/self/ns/mnt").unwrap()
}

/// Nothing of container `id` is left under `root`: no record, no folder, no cgroup, no
/// mount of the test's folder (its bundle) on the host.
fn nothing_left(root: &Path, id: &str) {
    assert!(!root.join(id).exists(), "{id}'s state folder was left");
    let test_dir = root.parent().unwrap().to_str().unwrap();
    assert!(
        !read(Path::new("/proc/self/mountinfo")).contains(&format!(" {test_dir}/bundle")),
        "a mount of {id}'s bundle was left"
    );
    assert!(cgroup_dir(id).is_none(), "{id}'s cgroup was left");
    assert_eq!(ok(&oci(root, &["list", "-q"])), "");
}

#[test]
fn all_six_kinds_run_in_order_with_their_state_namespaces_and_environment() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks");
    let root = dir.join("root");
    let _gone = Gone(root.clone(), &["hk-all"]);
    let b = bundle(
        &dir.join(""),
        &["sh", "-c", "echo program >> /hooks.log"],
        false,
    );
    let rootfs = b.join("rootfs");
    let host = rootfs.to_str().unwrap().to_string();
    // The startContainer hook's path exists only in the container's root file system.
    std::fs::write(
        rootfs.join("start-hook"),
        "#!/bin/sh\ncat > /state-$HOOK.json\ntr '\\0' '\\n' < /proc/self/environ > /env-$HOOK\n\
         echo $HOOK >> /hooks.log\necho $HOOK says hi\n",
    )
    .unwrap();
    std::fs::set_permissions(
        rootfs.join("start-hook"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    assert!(!Path::new("/start-hook").exists());
    let mut create_container = recorder("createContainer", &host);
    create_container["args"][2] = format!(
        "readlink /proc/self/ns/mnt > {host}/mnt-ns; {}",
        create_container["args"][2].as_str().unwrap()
    )
    .into();
    set_hooks(
        &b,
        serde_json::json!({
            "prestart": [recorder("prestart", &host)],
            "createRuntime": [recorder("createRuntime", &host)],
            "createContainer": [create_container],
            "startContainer": [{"path": "/start-hook", "env": ["PATH=/bin", "HOOK=startContainer"]}],
            "poststart": [recorder("poststart", &host)],
            "poststop": [recorder("poststop", &host)]
        }),
    );
    let pid_file = dir.join("pid");
    let io = dir.join("io");
    let made = oci_to(
        &root,
        &[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "hk-all",
        ],
        &io,
    );
    assert!(made.success(), "{}", read(&io.with_extension("err")));
    let pid: i64 = read(&pid_file).parse().unwrap();
    let log = rootfs.join("hooks.log");
    assert_eq!(read(&log), "prestart\ncreateRuntime\ncreateContainer\n");
    // createContainer: in the container's mount namespace (not the host's), yet it ran a host
    // path (/bin/sh of the host) and wrote a host path.
    let mnt = read(&rootfs.join("mnt-ns"));
    assert_ne!(Path::new(mnt.trim()), host_mnt_ns());
    assert_eq!(
        Path::new(mnt.trim()),
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap()
    );

    ok(&oci(&root, &["start", "hk-all"]));
    // poststart ran before start returned.
    assert!(
        read(&log).starts_with("prestart\ncreateRuntime\ncreateContainer\nstartContainer\n"),
        "{}",
        read(&log)
    );
    assert!(read(&log).contains("poststart\n"), "{}", read(&log));
    assert_eq!(wait_status(pid as i32), 0);
    ok(&oci(&root, &["delete", "hk-all"]));
    let order: Vec<String> = read(&log).lines().map(str::to_string).collect();
    let at = |k: &str| order.iter().position(|l| l == k).unwrap();
    assert_eq!(order.len(), 7, "{order:?}");
    assert!(at("startContainer") < at("program"), "{order:?}");
    assert_eq!(order.last().map(String::as_str), Some("poststop"));

    for (kind, status, want_pid) in [
        ("prestart", "creating", pid),
        ("createRuntime", "creating", pid),
        ("createContainer", "creating", pid),
        ("startContainer", "created", pid),
        ("poststart", "running", pid),
        ("poststop", "stopped", 0),
    ] {
        let st = json(&read(&rootfs.join(format!("state-{kind}.json"))));
        assert_eq!(st["status"], status, "{kind}: {st}");
        assert_eq!(st["pid"], want_pid, "{kind}: {st}");
        assert_eq!(st["id"], "hk-all", "{kind}: {st}");
        assert_eq!(st["ociVersion"], "1.2.0", "{kind}: {st}");
        assert_eq!(st["bundle"], b.to_str().unwrap(), "{kind}: {st}");
        assert_eq!(
            st["annotations"]["org.example.hooks"], "yes",
            "{kind}: {st}"
        );
        // Exactly the hook's environment: nothing of ours, nothing of the container's.
        let mut env: Vec<String> = read(&rootfs.join(format!("env-{kind}")))
            .lines()
            .map(str::to_string)
            .collect();
        env.sort();
        let path = if kind == "startContainer" {
            "PATH=/bin"
        } else {
            "PATH=/usr/bin:/bin"
        };
        assert_eq!(env, [format!("HOOK={kind}"), path.to_string()], "{kind}");
    }
    // The hooks' output never reached the container's streams (which `create` was given:
    // a hook that inherited them would have written its lines there).
    assert_eq!(read(&io.with_extension("out")), "");
    assert!(!read(&io.with_extension("err")).contains("says hi"));
    assert!(!read(&io.with_extension("err")).contains("complains"));
    nothing_left(&root, "hk-all");
}

/// A bundle under `dir` whose program records that it ran in `ran`, with `hooks`.
fn hooked_bundle(dir: &Path, hooks: serde_json::Value) -> (PathBuf, PathBuf) {
    let b = bundle(dir, &["sh", "-c", "echo ran > /ran"], false);
    set_hooks(&b, hooks);
    let ran = b.join("rootfs/ran");
    (b, ran)
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks-cr");
    let root = dir.join("root");
    let marks = dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    let m = marks.to_str().unwrap();
    let (b, ran) = hooked_bundle(
        &dir.join(""),
        serde_json::json!({
            // Records the container's pid (the state it reads) for the checks below.
            "prestart": [hook("prestart", &format!("cat > {m}/state.json"))],
            "createRuntime": [hook("createRuntime", "echo the network is gone >&2; exit 3")],
            "createContainer": [hook("createContainer", &format!("touch {m}/create-container"))],
            "poststop": [hook("poststop", &format!("touch {m}/poststop"))]
        }),
    );
    let io = dir.join("io");
    let status = oci_to(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "hk-cr"],
        &io,
    );
    assert_eq!(status.code(), Some(1));
    let err = read(&io.with_extension("err"));
    assert!(
        err.contains("the createRuntime hook /bin/sh failed: exit status 3: the network is gone"),
        "{err}"
    );
    // The process that waited for the hooks was killed (this test reaps it: its subreaper).
    let pid = json(&read(&marks.join("state.json")))["pid"]
        .as_i64()
        .unwrap() as i32;
    assert_eq!(wait_status(pid), 128 + libc::SIGKILL);
    assert!(
        !marks.join("create-container").exists(),
        "the lifecycle stopped"
    );
    assert!(!ran.exists(), "the program never ran");
    // The container was destroyed, then its poststop hooks ran (the lifecycle's end).
    assert!(marks.join("poststop").exists());
    nothing_left(&root, "hk-cr");
}

#[test]
fn a_failing_start_container_hook_fails_start_and_leaves_nothing() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks-sc");
    let root = dir.join("root");
    let _gone = Gone(root.clone(), &["hk-sc"]);
    let marks = dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    let m = marks.to_str().unwrap();
    let (b, ran) = hooked_bundle(
        &dir.join(""),
        serde_json::json!({
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no GPU here >&2; exit 4"]}],
            "poststart": [hook("poststart", &format!("touch {m}/poststart"))],
            "poststop": [hook("poststop", &format!("touch {m}/poststop"))]
        }),
    );
    let pid_file = dir.join("pid");
    let io = dir.join("io");
    assert!(oci_to(
        &root,
        &[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "hk-sc"
        ],
        &io
    )
    .success());
    let pid: i32 = read(&pid_file).parse().unwrap();
    let err = fails(&oci(&root, &["start", "hk-sc"]));
    assert!(
        err.contains("the startContainer hook /bin/sh failed: exit status 4: no GPU here"),
        "{err}"
    );
    assert_eq!(wait_status(pid), 1, "the process ended without its program");
    assert!(!ran.exists(), "the program never ran");
    assert!(!marks.join("poststart").exists());
    assert!(marks.join("poststop").exists());
    nothing_left(&root, "hk-sc");
    let err = fails(&oci(&root, &["delete", "hk-sc"]));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_hook_past_its_timeout_is_killed() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks-timeout");
    let root = dir.join("root");
    let (b, ran) = hooked_bundle(
        &dir.join(""),
        serde_json::json!({
            "createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "60"], "timeout": 1}]
        }),
    );
    let io = dir.join("io");
    let started = Instant::now();
    let status = oci_to(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "hk-t1"],
        &io,
    );
    let took = started.elapsed();
    assert_eq!(status.code(), Some(1));
    let err = read(&io.with_extension("err"));
    assert!(
        err.contains(
            "the createRuntime hook /bin/sleep failed: it did not finish within its timeout of 1 s and was killed"
        ),
        "{err}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // No `sleep 60` of ours is left.
    let ours = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x0060\x00")
                && std::fs::read_link(format!("/proc/{p}/cwd")).is_ok()
        })
        .count();
    assert_eq!(ours, 0, "the hook was killed");
    assert!(!ran.exists());
    nothing_left(&root, "hk-t1");
    // A timeout of zero is refused before anything is made.
    set_hooks(
        &b,
        serde_json::json!({"poststop": [{"path": "/bin/true", "timeout": 0}]}),
    );
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "hk-t2"],
    ));
    assert!(err.contains("must be above zero"), "{err}");
    set_hooks(&b, serde_json::json!({"poststop": [{"path": "true"}]}));
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "hk-t3"],
    ));
    assert!(
        err.contains("the poststop hook path \"true\" is not absolute"),
        "{err}"
    );
    nothing_left(&root, "hk-t2");
}

#[test]
fn failing_poststart_and_poststop_hooks_are_warnings() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks-warn");
    let root = dir.join("root");
    let _gone = Gone(root.clone(), &["hk-w"]);
    let log = dir.join("log.json");
    let l = log.to_str().unwrap();
    let marks = dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    let m = marks.to_str().unwrap();
    let (b, ran) = hooked_bundle(
        &dir.join(""),
        serde_json::json!({
            "poststart": [hook("poststart", "exit 5"), hook("poststart", &format!("touch {m}/poststart2"))],
            "poststop": [hook("poststop", "echo cannot clean up >&2; exit 6"),
                         hook("poststop", &format!("touch {m}/poststop2"))]
        }),
    );
    let pid_file = dir.join("pid");
    let io = dir.join("io");
    assert!(oci_to(
        &root,
        &[
            "--log",
            l,
            "--log-format",
            "json",
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "hk-w"
        ],
        &io
    )
    .success());
    let pid: i32 = read(&pid_file).parse().unwrap();
    ok(&oci(
        &root,
        &["--log", l, "--log-format", "json", "start", "hk-w"],
    ));
    assert_eq!(wait_status(pid), 0);
    assert!(ran.exists(), "the program ran");
    ok(&oci(
        &root,
        &["--log", l, "--log-format", "json", "delete", "hk-w"],
    ));
    // The next hooks of each kind still ran.
    assert!(marks.join("poststart2").exists() && marks.join("poststop2").exists());
    let lines: Vec<serde_json::Value> = read(&log).lines().map(json).collect();
    let warnings: Vec<&str> = lines
        .iter()
        .filter(|l| l["level"] == "warning")
        .map(|l| l["msg"].as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        [
            "the poststart hook /bin/sh failed: exit status 5",
            "the poststop hook /bin/sh failed: exit status 6: cannot clean up"
        ]
    );
    nothing_left(&root, "hk-w");
}

#[test]
fn run_runs_the_hooks_and_exec_does_not() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks-run");
    let root = dir.join("root");
    let _gone = Gone(root.clone(), &["hk-r1", "hk-r2"]);
    let marks = dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    let m = marks.to_str().unwrap();
    let b = bundle(&dir.join(""), &["sleep", "30"], false);
    let count = |kind: &str| hook(kind, &format!("echo $HOOK >> {m}/log"));
    set_hooks(
        &b,
        serde_json::json!({
            "createRuntime": [count("createRuntime")],
            "poststart": [count("poststart")],
            "poststop": [count("poststop")]
        }),
    );
    let io = dir.join("io");
    assert!(oci_to(
        &root,
        &["run", "--detach", "--bundle", b.to_str().unwrap(), "hk-r1"],
        &io
    )
    .success());
    assert_eq!(read(&marks.join("log")), "createRuntime\npoststart\n");
    let out = oci(&root, &["exec", "hk-r1", "true"]);
    ok(&out);
    assert_eq!(
        read(&marks.join("log")),
        "createRuntime\npoststart\n",
        "a process beside the container runs no hook"
    );
    let pid = json(&ok(&oci(&root, &["state", "hk-r1"])))["pid"]
        .as_i64()
        .unwrap() as i32;
    ok(&oci(&root, &["delete", "--force", "hk-r1"]));
    assert_eq!(wait_status(pid), 128 + libc::SIGKILL);
    assert_eq!(
        read(&marks.join("log")),
        "createRuntime\npoststart\npoststop\n"
    );
    nothing_left(&root, "hk-r1");

    // `run` to its end: poststop once the container is deleted, before it returns.
    let b2 = bundle(&dir.join("two"), &["true"], false);
    set_hooks(&b2, serde_json::json!({"poststop": [count("poststop")]}));
    assert!(oci_to(
        &root,
        &["run", "--bundle", b2.to_str().unwrap(), "hk-r2"],
        &io
    )
    .success());
    assert_eq!(
        read(&marks.join("log")),
        "createRuntime\npoststart\npoststop\npoststop\n"
    );
    nothing_left(&root, "hk-r2");
}

/// Unmounts a test's own mount (and what is under it) on drop.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l"])
            .arg(&self.0)
            .status();
    }
}

/// Whether `path` is a mount point in this (the host's) mount namespace.
fn mounted(path: &Path) -> bool {
    let want = path.to_str().unwrap();
    read(Path::new("/proc/self/mountinfo"))
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want))
}

/// Attack: a createContainer hook, which runs in the container's mount namespace before the
/// root is entered, mounts over a folder of a shared mount; the container's copy of that mount
/// is a peer of the host's, so the mount would appear on the host. The helper makes its
/// mounts slaves before the hooks run (without that `mount` in `init::hooks::before_root`,
/// this test finds the hook's tmpfs on the host).
#[test]
fn a_create_container_hooks_mounts_do_not_reach_the_host() {
    become_subreaper();
    let dir = TempDir::new("oci-hooks-mnt");
    let root = dir.join("root");
    let _gone = Gone(root.clone(), &["hk-m1"]);
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    let run = |args: &[&str]| {
        assert!(std::process::Command::new(args[0])
            .args(&args[1..])
            .status()
            .unwrap()
            .success())
    };
    let s = shared.to_str().unwrap();
    run(&["mount", "-t", "tmpfs", "hooks-test", s]);
    let _unmount = Unmount(shared.clone());
    run(&["mount", "--make-shared", s]);
    let probe = shared.join("probe");
    std::fs::create_dir(&probe).unwrap();
    let (b, _) = hooked_bundle(
        &dir.join(""),
        serde_json::json!({
            "createContainer": [hook("createContainer",
                &format!("mount -t tmpfs hook-fs {0}/probe && touch {0}/probe/inside", s))]
        }),
    );
    let pid_file = dir.join("pid");
    let io = dir.join("io");
    let made = oci_to(
        &root,
        &[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "hk-m1",
        ],
        &io,
    );
    assert!(made.success(), "{}", read(&io.with_extension("err")));
    let pid: i32 = read(&pid_file).parse().unwrap();
    assert!(!mounted(&probe), "the hook's mount reached the host");
    assert!(!probe.join("inside").exists());
    ok(&oci(&root, &["delete", "hk-m1"]));
    assert_eq!(wait_status(pid), 128 + libc::SIGKILL);
    nothing_left(&root, "hk-m1");

    // A failing createContainer hook fails the create, and nothing is left.
    set_hooks(
        &b,
        serde_json::json!({"createContainer": [hook("createContainer", "exit 9")]}),
    );
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "hk-m2"],
    ));
    assert!(
        err.contains("the createContainer hook /bin/sh failed: exit status 9"),
        "{err}"
    );
    nothing_left(&root, "hk-m2");
}
