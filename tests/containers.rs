//! Containers for real: namespaces, overlayfs, docker-init, the lifecycle, streams, restore.
//! Every test owns a temporary root (removed on drop) and kills what it started.

mod common;

use std::time::Duration;

use common::cli::{call, call_with, detached, ok};
use common::Fixture;

fn short(id: &str) -> &str {
    &id[..12]
}

#[test]
fn run_prints_and_returns_the_exit_code() {
    let f = Fixture::new("run");
    assert_eq!(ok(&f.rt, &["run", "busybox", "echo", "hello"]), "hello\n");
    let out = call(
        &f.rt,
        &[
            "run",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(out.status, 3);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    // The image can be named by id and by id prefix too.
    assert_eq!(ok(&f.rt, &["run", &f.image, "true"]), "");
    assert_eq!(ok(&f.rt, &["run", &f.image[..10], "true"]), "");
}

#[test]
fn bad_input_is_a_clear_error() {
    let f = Fixture::new("badrun");
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--pull", "never", "nosuchimage", "true"],
            "no such image: nosuchimage",
        ),
        (&["run", "busybox"], "no command specified"),
        (
            &["run", "-m", "abc", "busybox", "true"],
            "invalid memory limit \"abc\"",
        ),
        (
            &["run", "-u", "nosuchuser", "busybox", "true"],
            "unable to find user nosuchuser",
        ),
        (
            &["run", "--network", "weird", "busybox", "true"],
            "invalid network mode",
        ),
        (&["run", "-x", "busybox", "true"], "unknown flag: -x"),
        (
            &["stop", "nosuchcontainer"],
            "no such container: nosuchcontainer",
        ),
    ];
    for (args, want) in cases {
        let out = call(&f.rt, args);
        // docker's statuses: 125 for a failed `run` and for any usage error, else 1.
        let status = if args[0] == "run" { 125 } else { 1 };
        assert_eq!(out.status, status, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    let out = call(&f.rt, &["ps", "--frob"]);
    assert_eq!(
        (out.status, out.stderr.contains("unknown flag")),
        (125, true)
    );
    // A program that cannot be executed: 126 (docker's contract).
    let out = call(&f.rt, &["run", "busybox", "/etc/passwd"]);
    assert_eq!(out.status, 126, "{}", out.stderr);
    // A command that is not in the image: the container runs and exits 127 with a message.
    let out = call(&f.rt, &["run", "busybox", "nosuchcommand"]);
    assert_eq!(out.status, 127);
    assert!(
        out.stderr
            .contains("\"nosuchcommand\": executable file not found"),
        "{}",
        out.stderr
    );
    // Nothing was left mounted by the failures.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&f.root().display().to_string()));
}

#[test]
fn image_with_symlinked_proc_is_refused() {
    let f = Fixture::new("symproc");
    for name in ["proc", "sys", "dev"] {
        let img = common::make_busybox_image(&f.root());
        let layer = f.root().join("graph").join(&img).join("layer");
        std::fs::remove_dir(layer.join(name)).unwrap();
        std::os::unix::fs::symlink("/", layer.join(name)).unwrap();
        let out = call(&f.rt, &["run", &img, "true"]);
        assert_ne!(out.status, 0);
        assert!(
            out.stderr.contains(&format!("/{name} is a symbolic link")),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn environment_user_hostname_workdir() {
    let f = Fixture::new("env");
    let out = ok(
        &f.rt,
        &[
            "run",
            "-e",
            "FOO=bar",
            "-e",
            "HOME=/root",
            "-h",
            "box",
            "-w",
            "/tmp",
            "busybox",
            "sh",
            "-c",
            "echo $FOO $HOME $PATH; hostname; pwd; cat /etc/hostname",
        ],
    );
    assert_eq!(
        out,
        "bar /root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nbox\n/tmp\nbox\n"
    );
    assert_eq!(
        ok(&f.rt, &["run", "-u", "nobody", "busybox", "id", "-u"]),
        "65534\n"
    );
    assert_eq!(
        ok(&f.rt, &["run", "-u", "1234", "busybox", "id", "-u"]),
        "1234\n"
    );
    // The default hostname is the short id.
    let id = ok(&f.rt, &["run", "-d", "busybox", "hostname"])
        .trim()
        .to_string();
    ok(&f.rt, &["wait", &id]);
    assert_eq!(ok(&f.rt, &["logs", &id]), format!("{}\n", short(&id)));
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert_eq!(
        ok(&f.rt, &["run", "busybox", "cat", "/etc/resolv.conf"]),
        resolv
    );
}

#[test]
fn the_container_is_confined() {
    let f = Fixture::new("confined");
    let script = r#"
        echo x > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ-WRITABLE
        echo x > /proc/sys/kernel/core_pattern 2>/dev/null && echo CORE-PATTERN-WRITABLE
        head -c 1 /proc/kcore 2>/dev/null | grep -q . && echo KCORE-READABLE
        mount -t tmpfs none /mnt 2>/dev/null && echo MOUNT-WORKED
        mkdir -p /tmp/m && mount --bind /tmp /tmp/m 2>/dev/null && echo BIND-WORKED
        insmod /nonexistent.ko 2>&1 | grep -qi 'operation not permitted' || true
        grep CapEff /proc/self/status
        ps -o pid > /tmp/ps; wc -l < /tmp/ps
        cat /proc/self/mountinfo | grep -c ' /work\| /home\| /var/lib' || true
        ls /proc/self/fd | tr '\n' ' '
    "#;
    let out = ok(&f.rt, &["run", "busybox", "sh", "-c", script]);
    for bad in ["WRITABLE", "READABLE", "WORKED"] {
        assert!(!out.contains(bad), "{out}");
    }
    let caps = out
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|s| u64::from_str_radix(s.trim(), 16).unwrap())
        .unwrap();
    // Modern docker's default set: no SYS_ADMIN (21), SYS_MODULE (16), SYS_RAWIO (17), ...
    assert_eq!(caps, 0xa80425fb, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    // Only the shell and ps (plus the header line) are visible: no host processes. (ps runs
    // alone: in a pipeline, whether `wc` existed yet when ps read /proc was a race.)
    assert_eq!(lines[lines.len() - 3].trim(), "3", "{out}");
    assert_eq!(
        lines[lines.len() - 2].trim(),
        "0",
        "host mounts are visible: {out}"
    );
    // 0, 1, 2 and the directory ls itself opened.
    assert_eq!(lines[lines.len() - 1].trim(), "0 1 2 3", "{out}");
}

#[test]
fn host_binaries_survive_proc_exe_writes() {
    let f = Fixture::new("procexe");
    let bins = [
        env!("CARGO_BIN_EXE_docker-init"),
        env!("CARGO_BIN_EXE_docker"),
    ];
    let before: Vec<Vec<u8>> = bins.iter().map(|b| std::fs::read(b).unwrap()).collect();
    let script = "for p in /proc/[0-9]*; do echo x 2>/dev/null > $p/exe; done; \
                  for p in /proc/[0-9]*; do cat /bin/busybox 2>/dev/null > $p/exe; done; true";
    ok(&f.rt, &["run", "busybox", "sh", "-c", script]);
    ok(
        &f.rt,
        &["run", "-u", "nobody", "busybox", "sh", "-c", script],
    );
    for (b, old) in bins.iter().zip(before) {
        assert!(std::fs::read(b).unwrap() == old, "{b} changed");
    }
}

#[test]
fn detached_lifecycle() {
    let f = Fixture::new("lifecycle");
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got term; exit 5' TERM; echo started; while true; do sleep 0.1; done",
        ],
    )
    .trim()
    .to_string();
    assert_eq!(id.len(), 64);
    let ps = ok(&f.rt, &["ps"]);
    assert!(ps.starts_with("ID "), "{ps}");
    assert!(ps.contains(short(&id)) && ps.contains("Up "), "{ps}");
    assert_eq!(ok(&f.rt, &["ps", "-q"]), format!("{}\n", short(&id)));
    assert!(ok(&f.rt, &["ps", "-q", "--no-trunc"]).contains(&id));
    // rm refuses a running container.
    let out = call(&f.rt, &["rm", short(&id)]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("is running"), "{}", out.stderr);
    // Wait until the trap is installed.
    for _ in 0..100 {
        if ok(&f.rt, &["logs", &id]).contains("started") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        ok(&f.rt, &["stop", "-t", "5", &id[..8]]),
        format!("{}\n", &id[..8])
    );
    assert_eq!(ok(&f.rt, &["wait", &id]), "5\n");
    assert!(ok(&f.rt, &["logs", &id]).contains("got term"));
    assert!(!ok(&f.rt, &["ps"]).contains(short(&id)));
    assert!(ok(&f.rt, &["ps", "-a"]).contains("Exit 5"));
    // start again, restart, kill.
    ok(&f.rt, &["start", &id]);
    let first = f.rt.container(&id).unwrap().record().state.started_at;
    ok(&f.rt, &["restart", "-t", "5", &id]);
    let second = f.rt.container(&id).unwrap().record().state.started_at;
    assert!(second > first);
    assert!(f.rt.container(&id).unwrap().is_running());
    ok(&f.rt, &["kill", &id]);
    assert_eq!(ok(&f.rt, &["wait", &id]), "137\n");
    let inspect: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &id])).unwrap();
    assert_eq!(inspect["Id"], id.as_str());
    assert_eq!(inspect["State"]["Running"], false);
    assert_eq!(inspect["State"]["ExitCode"], 137);
    assert_eq!(inspect["Image"], f.image.as_str());
    assert_eq!(inspect["Config"]["Image"], "busybox");
    assert_eq!(inspect["HostConfig"]["AutoRemove"], false);
    ok(&f.rt, &["rm", &id]);
    assert!(!f.root().join("containers").join(&id).exists());
    assert!(call(&f.rt, &["inspect", &id])
        .stderr
        .contains("no such container"));
}

/// A removal is one rename (`.removing-ID`), then the folder is deleted in the background. A
/// crash between the two leaves the renamed folder, maybe with the container's file system
/// still mounted: the next restore unmounts and deletes it, and it never counts as a container.
#[test]
fn an_interrupted_removal_is_finished_by_the_next_restore() {
    let f = Fixture::new("rmcrash");
    let id = detached(&f.rt, &["busybox", "true"]);
    ok(&f.rt, &["wait", &id]);
    let dir = f.root().join("containers").join(&id);
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let trash = f.root().join("containers").join(format!(".removing-{id}"));
    let source = std::ffi::CString::new("none").unwrap();
    let target = std::ffi::CString::new(rootfs.to_str().unwrap()).unwrap();
    let fstype = std::ffi::CString::new("tmpfs").unwrap();
    // SAFETY: valid C strings; a tmpfs mounted on this test's own folder.
    let r = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    std::fs::rename(&dir, &trash).unwrap();
    let rt2 = f.reopen();
    assert!(rt2.container(&id).is_err());
    drop(rt2);
    assert!(!trash.exists(), "the interrupted removal was not finished");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&format!(".removing-{id}")),
        "its mount was left"
    );
}

/// The helper is started with posix_spawn, whose glibc leaves its internal signals 32 and 33
/// ignored in the child; the helper puts every signal back to its default (without that,
/// SigIgn here reads 0000000180000000), so the program inherits nothing ignored or blocked.
#[test]
fn the_program_starts_with_every_signal_at_its_default() {
    let f = Fixture::new("signals");
    let out = ok(
        &f.rt,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "grep",
            "-E",
            "^Sig(Ign|Blk)",
            "/proc/self/status",
        ],
    );
    assert_eq!(
        out,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[test]
fn rm_force_kills_a_running_container() {
    let f = Fixture::new("rmf");
    let id = ok(&f.rt, &["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    ok(&f.rt, &["rm", "-f", &id]);
    assert_eq!(f.rt.container_count(), 0);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id));
}

#[test]
fn attach_streams_new_output() {
    let f = Fixture::new("attach");
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo before; sleep 1; echo after; echo oops >&2; exit 4",
        ],
    )
    .trim()
    .to_string();
    std::thread::sleep(Duration::from_millis(300));
    let out = call(&f.rt, &["attach", &id]);
    // It ends with the container, with its status (as docker's `attach`).
    assert_eq!(out.status, 4);
    assert_eq!(out.stdout, "after\n");
    assert_eq!(out.stderr, "oops\n");
    let out = call(&f.rt, &["attach", &id]);
    assert!(out.stderr.contains("is not running"), "{}", out.stderr);
}

#[test]
fn stdin_reaches_the_container() {
    let f = Fixture::new("stdin");
    let out = call_with(
        &f.rt,
        &["run", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo end"],
        b"hello\nworld\n",
        None,
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "HELLO\nWORLD\nend\n");
    // Without -i the container's stdin is empty.
    let out = call_with(&f.rt, &["run", "busybox", "cat"], b"ignored", None);
    assert_eq!(out.stdout, "");
}

#[test]
fn a_tty_is_a_real_terminal() {
    let f = Fixture::new("tty");
    let out = call_with(
        &f.rt,
        &[
            "run",
            "-t",
            "busybox",
            "sh",
            "-c",
            "tty; stty size; echo $TERM",
        ],
        b"",
        Some((33, 101)),
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "/dev/pts/0\r\n33 101\r\nxterm\r\n");
    // Interactive: input goes through the terminal.
    let out = call_with(
        &f.rt,
        &["run", "-i", "-t", "busybox", "sh"],
        b"echo $((6*7)); exit 4\n",
        Some((24, 80)),
    );
    assert_eq!(out.status, 4);
    assert!(out.stdout.contains("42"), "{}", out.stdout);
}

#[test]
fn memory_limit_kills_what_exceeds_it() {
    let f = Fixture::new("memory");
    let out = call(
        &f.rt,
        &[
            "run",
            "-m",
            "32m",
            "busybox",
            "sh",
            "-c",
            "head -c 64m /dev/zero | tail > /dev/null",
        ],
    );
    // tail holds the 64 MiB line and is killed by the limit: its status is the shell's.
    assert_eq!(out.status, 137, "{} {}", out.stdout, out.stderr);
    assert_eq!(
        ok(
            &f.rt,
            &[
                "run",
                "-m",
                "64m",
                "busybox",
                "sh",
                "-c",
                "head -c 8m /dev/zero | tail > /dev/null; echo fine"
            ]
        ),
        "fine\n"
    );
}

#[test]
fn restore_after_a_restart() {
    let f = Fixture::new("restore");
    let id = ok(
        &f.rt,
        &["run", "-d", "busybox", "sh", "-c", "echo one; sleep 1000"],
    )
    .trim()
    .to_string();
    let gone = ok(&f.rt, &["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    // A second runtime on the same root (as a restarted daemon) finds both running.
    let rt2 = f.reopen();
    assert!(rt2.container(&id).unwrap().is_running());
    assert!(ok(&rt2, &["ps"]).contains(short(&gone)));
    assert_eq!(ok(&rt2, &["logs", &id]), "one\n");
    // It can stop and wait for a container it did not start.
    ok(&rt2, &["kill", &id]);
    assert_eq!(ok(&rt2, &["wait", &id]), "137\n");
    // A container that dies while no runtime watches is found stopped, with its exit code.
    let pid = rt2.container(&gone).unwrap().record().state.pid;
    drop(rt2);
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    for _ in 0..200 {
        if f.root()
            .join("containers")
            .join(&gone)
            .join("exit-status")
            .exists()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt3 = {
        // The first runtime is still alive and would record the exit itself: drop its view by
        // reopening a fresh one on a copy of the record as it was ("Running").
        let rec_path = f.root().join("containers").join(&gone).join("config.json");
        let mut rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
        rec["State"]["Running"] = true.into();
        std::fs::write(&rec_path, rec.to_string()).unwrap();
        f.reopen()
    };
    let c = rt3.container(&gone).unwrap();
    assert!(!c.is_running());
    assert_eq!(c.record().state.exit_code, 137);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&c.rootfs().display().to_string()),
        "stale mount left"
    );
}

#[test]
fn concurrent_runs() {
    let f = Fixture::new("concurrent");
    std::thread::scope(|s| {
        for i in 0..8 {
            let rt = &f.rt;
            s.spawn(move || {
                let msg = format!("n{i}");
                assert_eq!(
                    ok(rt, &["run", "busybox", "echo", &msg]),
                    format!("{msg}\n")
                );
            });
        }
    });
    assert_eq!(f.rt.container_count(), 8);
}

#[test]
fn a_helper_of_another_protocol_is_refused_clearly() {
    // A stand-in docker-init that greets with protocol 999.
    let f = Fixture::new("protocol");
    let script = f.root().join("old-init.py");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\nimport json, os, struct\nb = json.dumps({'Hello': {'version': 999}}).encode()\nos.write(3, struct.pack('<I', len(b)) + b)\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut opts = f.options();
    opts.init_path = Some(script);
    let rt = docker_runtime::Runtime::new(&f.root(), opts).unwrap();
    let out = call(&rt, &["run", "--network", "none", "busybox", "true"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains(&format!(
            "docker-init speaks protocol 999, this library {}",
            docker_runtime::spawn::protocol::PROTOCOL_VERSION
        )),
        "{}",
        out.stderr
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&f.root().display().to_string()));
}

#[test]
fn docker_init_refuses_another_library_and_being_run_by_hand() {
    use docker_runtime::spawn::protocol::{self, InitConfig, Message};
    use std::os::fd::{AsFd, AsRawFd};
    use std::os::unix::process::CommandExt;
    let init = env!("CARGO_BIN_EXE_docker-init");
    let out = std::process::Command::new(init).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("started by the docker-runtime library"));

    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let raw = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(init);
    // SAFETY: only dup2, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.stderr(std::process::Stdio::null()).spawn().unwrap();
    drop(theirs);
    let (hello, _) = protocol::recv(ours.as_fd()).unwrap().unwrap();
    assert_eq!(
        hello,
        Message::Hello {
            version: protocol::PROTOCOL_VERSION
        }
    );
    let cfg = InitConfig {
        version: 999,
        rootfs: "/nonexistent".into(),
        hostname: "x".into(),
        args: vec!["true".into()],
        env: vec![],
        uid: 0,
        gid: 0,
        groups: vec![0],
        capabilities: vec![],
        no_new_privileges: false,
        seccomp: None,
        workdir: String::new(),
        tty: false,
        new_netns: false,
        binds: vec![],
        exit_file: "/nonexistent/exit".into(),
        cgroup: String::new(),
        ..InitConfig::default()
    };
    protocol::send(ours.as_fd(), &Message::Start(Box::new(cfg)), None).unwrap();
    match protocol::recv(ours.as_fd()).unwrap() {
        Some((Message::Error { message }, _)) => {
            assert!(
                message.contains("the library speaks protocol 999"),
                "{message}"
            )
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn diff_commit_export() {
    let f = Fixture::new("dce");
    let id = ok(
        &f.rt,
        &["run", "-d", "busybox", "sh", "-c", "echo made > /tmp/new; echo extra:x:1:1::/:/bin/sh >> /etc/passwd; rm /bin/vi; mkdir /opt; echo deep > /opt/f"],
    )
    .trim()
    .to_string();
    ok(&f.rt, &["wait", &id]);
    let diff = ok(&f.rt, &["diff", &id]);
    let lines: Vec<&str> = diff.lines().collect();
    for want in [
        "A /tmp/new",
        "C /etc/passwd",
        "D /bin/vi",
        "A /opt",
        "A /opt/f",
    ] {
        assert!(lines.contains(&want), "{want} missing from:\n{diff}");
    }
    for noise in [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/dev",
        "/proc",
    ] {
        assert!(
            !diff.lines().any(|l| l.ends_with(noise)),
            "{noise} in:\n{diff}"
        );
    }
    // commit: a new image whose parent is the container's image.
    let image = ok(&f.rt, &["commit", "-m", "my change", &id, "mine", "v1"])
        .trim()
        .to_string();
    assert_eq!(image.len(), 64);
    let info: serde_json::Value =
        serde_json::from_str(&ok(&f.rt, &["inspect", "mine:v1"])).unwrap();
    assert_eq!(info["parent"], f.image.as_str());
    assert_eq!(info["container"], id.as_str());
    assert_eq!(info["comment"], "my change");
    assert!(info["container_config"]["Cmd"].is_array());
    assert_eq!(
        ok(&f.rt, &["run", "mine:v1", "cat", "/tmp/new", "/opt/f"]),
        "made\ndeep\n"
    );
    let out = call(&f.rt, &["run", "mine:v1", "ls", "/bin/vi"]);
    assert_ne!(out.status, 0, "the deletion is part of the image");
    assert!(ok(&f.rt, &["run", "mine:v1", "tail", "-n", "1", "/etc/passwd"]).starts_with("extra:"));
    assert_eq!(ok(&f.rt, &["history", "mine:v1"]).lines().count(), 3);
    // A bad name costs nothing.
    let out = call(&f.rt, &["commit", &id, "Bad Name"]);
    assert!(
        out.stderr.contains("invalid repository name"),
        "{}",
        out.stderr
    );

    // export, stopped and running.
    for running in [false, true] {
        let target = if running {
            ok(&f.rt, &["run", "-d", "mine:v1", "sleep", "100"])
                .trim()
                .to_string()
        } else {
            id.clone()
        };
        let tar_path = f.root().join("export.tar");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_docker"))
            .arg("-g")
            .arg(f.root())
            .args(["export", &target])
            .env("DOCKER_HOST", "none")
            .stderr(std::process::Stdio::piped())
            .stdout(std::fs::File::create(&tar_path).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut names = std::collections::BTreeSet::new();
        let mut archive = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            names.insert(
                e.path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_start_matches("./")
                    .to_string(),
            );
        }
        for want in ["bin/busybox", "tmp/new", "opt/f", "etc/passwd"] {
            assert!(names.contains(want), "{want} missing ({running})");
        }
        assert!(!names.contains("bin/vi"));
        assert!(
            !names.iter().any(|n| n.starts_with("proc/") && n.len() > 5),
            "proc contents exported"
        );
        if running {
            ok(&f.rt, &["rm", "-f", &target]);
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&f.root().display().to_string()));
    // A container using the image keeps it from rmi.
    let out = call(&f.rt, &["rmi", &f.image]);
    assert_ne!(out.status, 0);
}

#[test]
fn image_defaults_apply() {
    let f = Fixture::new("defaults");
    let json_path = f.root().join("graph").join(&f.image).join("json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    json["config"] = serde_json::json!({
        "Env": ["FROM_IMAGE=1", "PATH=/bin"],
        "Cmd": ["-c", "echo $FROM_IMAGE $EXTRA $PATH; pwd; id -u"],
        "Entrypoint": ["/bin/sh"],
        "WorkingDir": "/tmp",
        "User": "nobody"
    });
    std::fs::write(&json_path, json.to_string()).unwrap();
    assert_eq!(
        ok(&f.rt, &["run", "-e", "EXTRA=2", "busybox"]),
        "1 2 /bin\n/tmp\n65534\n"
    );
    assert_eq!(
        ok(
            &f.rt,
            &["run", "-u", "0", "-w", "/", "busybox", "-c", "pwd; id -u"]
        ),
        "/\n0\n"
    );
}

#[test]
fn device_nodes_stay_closed() {
    let f = Fixture::new("devices");
    // A block device node made in the container, and one shipped in the image (the rootfs is
    // nodev), cannot be opened; the standard devices work.
    // A host device outside the allowed set that root on this host can read harmlessly
    // (misc 10:259, cpu_dma_latency): a read that works in the container would be an escape.
    let (major, minor) = (10, 259);
    let dev = nix::sys::stat::makedev(major, minor);
    let layer = f.root().join("graph").join(&f.image).join("layer");
    nix::sys::stat::mknod(
        &layer.join("root/disk"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        dev,
    )
    .unwrap();
    let script = format!(
        "mknod /dev/sdx c {major} {minor} 2>/dev/null; head -c1 /dev/sdx >/dev/null 2>&1 && echo OPENED-MADE; head -c1 /root/disk >/dev/null 2>&1 && echo OPENED-IMAGE; head -c 4 /dev/zero | wc -c; echo ok > /dev/null && echo null-ok"
    );
    let out = ok(&f.rt, &["run", "busybox", "sh", "-c", &script]);
    assert!(!out.contains("OPENED"), "{out}");
    assert!(out.contains("4\nnull-ok"), "{out}");
}

/// `run --rm` of `sleep` on a thread of the test: returns the running container's id and the
/// thread, which ends with `run`'s status.
fn run_rm_in_background(
    f: &Fixture,
    cmd: &[&str],
) -> (String, std::thread::JoinHandle<common::cli::Output>) {
    let rt = f.rt.clone();
    let mut args = vec!["run", "--rm", "--network", "none", "busybox"];
    args.extend_from_slice(cmd);
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    let run = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        call(&rt, &args)
    });
    let mut id = None;
    assert!(
        common::eventually(Duration::from_secs(30), || {
            id =
                f.rt.containers()
                    .first()
                    .filter(|c| c.is_running())
                    .map(|c| c.id.clone());
            id.is_some()
        }),
        "the run --rm container never ran"
    );
    (id.unwrap(), run)
}

/// `run --rm` records it (docker's `HostConfig.AutoRemove`, shown by `inspect`), with its
/// claimed `autoremove` marker; the container and its folder go when it ends.
#[test]
fn run_rm_is_recorded_and_shown_by_inspect() {
    let f = Fixture::new("rmrecord");
    let (id, run) = run_rm_in_background(&f, &["sleep", "1000"]);
    let dir = f.root().join("containers").join(&id);
    let inspect: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &id])).unwrap();
    assert_eq!(inspect["HostConfig"]["AutoRemove"], true, "{inspect}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(file["HostConfig"]["AutoRemove"], true);
    assert_eq!(file["State"]["Running"], true);
    assert!(dir.join("autoremove").exists());
    assert!(f.rt.container(&id).unwrap().claimed());
    ok(&f.rt, &["kill", &id]);
    assert_eq!(run.join().unwrap().status, 137);
    assert!(f.rt.container(&id).is_err());
    // Without --rm: false in inspect, absent from the file (v0.1.0's format), no marker.
    let kept = detached(&f.rt, &["busybox", "true"]);
    ok(&f.rt, &["wait", &kept]);
    let inspect: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &kept])).unwrap();
    assert_eq!(inspect["HostConfig"]["AutoRemove"], false);
    let kept_dir = f.root().join("containers").join(&kept);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kept_dir.join("config.json")).unwrap()).unwrap();
    assert!(file.get("HostConfig").is_none(), "{file}");
    assert!(!kept_dir.join("autoremove").exists());
    assert!(common::eventually(Duration::from_secs(10), || !dir.exists()));
}

/// An `auto_remove` container made through the library, in a runtime of its own (`-v /data`:
/// an anonymous volume), started when `start`; the runtime is dropped (as a process that
/// ends), leaving it unclaimed.
fn orphan_auto_remove(f: &Fixture, cmd: &[&str], start: bool) -> (String, i32) {
    let rt = std::sync::Arc::new(docker_runtime::Runtime::new(&f.root(), f.options()).unwrap());
    let req = docker_runtime::container::CreateRequest {
        image: "busybox".into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        network_mode: Some("none".into()),
        volumes: vec!["/data".into()],
        auto_remove: true,
        ..Default::default()
    };
    let c = rt.create(&req.prepare().unwrap()).unwrap();
    if start {
        rt.start_container(&c, &Default::default()).unwrap();
    }
    (c.id.clone(), c.record().state.pid)
}

/// As docker's daemon at its start: a restore removes an `auto_remove` container that is not
/// running (an owner that died before it could), with its anonymous volume; it leaves one a
/// live runtime claims (a `run --rm` in another process, about to start or remove it).
#[test]
fn a_restore_removes_an_auto_remove_container_its_owner_left() {
    let f = Fixture::new("rmrestore");
    // A run that ended while its owner was gone.
    let (ended, pid) = orphan_auto_remove(&f, &["sleep", "1000"], true);
    let dir = f.root().join("containers").join(&ended);
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(common::eventually(Duration::from_secs(10), || dir
        .join("exit-status")
        .exists()));
    // Created, never started, its owner gone.
    let (created, _) = orphan_auto_remove(&f, &["true"], false);
    // One whose owner is alive (this runtime).
    let req = docker_runtime::container::CreateRequest {
        image: "busybox".into(),
        cmd: vec!["true".into()],
        network_mode: Some("none".into()),
        auto_remove: true,
        ..Default::default()
    };
    let owned = f.rt.create(&req.prepare().unwrap()).unwrap();
    assert_eq!(ok(&f.rt, &["volume", "ls", "-q"]).lines().count(), 2);
    let rt2 = f.reopen();
    for id in [&ended, &created] {
        assert!(rt2.container(id).is_err(), "{id} was not removed");
    }
    assert!(
        rt2.container(&owned.id).is_ok(),
        "the claimed one was removed"
    );
    assert!(owned.dir().exists());
    assert_eq!(ok(&rt2, &["volume", "ls", "-q"]), "");
    drop(rt2);
    assert!(!dir.exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&ended), "its mount was left");
}

/// A restored running `auto_remove` container is removed when it ends.
#[test]
fn a_restored_running_auto_remove_container_is_removed_when_it_ends() {
    let f = Fixture::new("rmrunning");
    let (id, _) = orphan_auto_remove(&f, &["sleep", "1000"], true);
    let rt2 = f.reopen();
    let c = rt2.container(&id).unwrap();
    assert!(c.is_running() && c.claimed());
    ok(&rt2, &["kill", &id]);
    assert!(
        common::eventually(Duration::from_secs(10), || rt2.container(&id).is_err()),
        "not removed when it ended"
    );
    assert_eq!(ok(&rt2, &["volume", "ls", "-q"]), "");
    let dir = f.root().join("containers").join(&id);
    assert!(common::eventually(Duration::from_secs(10), || !dir.exists()));
}
