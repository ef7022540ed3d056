//! Confinement, proven by attacks (issue 12). Each test names the attack; it succeeds with the
//! protection turned off (`--security-opt seccomp=unconfined`, which is how main 21c1053 ran
//! every container: no filter at all) and fails with it. The probe
//! (`tests/fixtures/syscall-probe.c`, built static) makes the calls inside the container.

mod common;

use std::collections::BTreeMap;

use common::cli::{call, ok};
use common::Fixture;

/// A fixture whose busybox image also holds `/probe`.
fn fixture(tag: &str) -> Fixture {
    let f = Fixture::new(tag);
    let src = common::crate_dir().join("tests/fixtures/syscall-probe.c");
    f.install_static_c(&std::fs::read_to_string(src).unwrap(), "probe");
    f
}

/// The output of `/probe ARGS` in a container run with `flags`, split at `sep` into pairs.
fn probe_with(f: &Fixture, flags: &[&str], args: &[&str], sep: char) -> BTreeMap<String, String> {
    let mut cmd = vec!["run", "--network", "none"];
    cmd.extend_from_slice(flags);
    cmd.extend_from_slice(&["busybox", "/probe"]);
    cmd.extend_from_slice(args);
    ok(&f.rt, &cmd)
        .lines()
        .filter_map(|l| l.split_once(sep))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// `/probe` in a container run with `flags`: what each call returned.
fn probe(f: &Fixture, flags: &[&str]) -> BTreeMap<String, String> {
    probe_with(f, flags, &[], ' ')
}

/// `/proc/self/status` lines of `/probe status` in a container run with `flags`.
fn status(f: &Fixture, flags: &[&str]) -> BTreeMap<String, String> {
    probe_with(f, flags, &["status"], ':')
}

/// Attack: a container makes a user namespace (CAP_SYS_ADMIN over its own mounts and
/// network: the door to the nf_tables, fsconfig and cgroup release_agent escapes), uses the
/// keyring, sets a personality without address randomization. On 21c1053 (no filter: the
/// `unconfined` run below) these succeed; with the default profile they fail with EPERM, and
/// the calls docker's profile refuses (bpf, perf events, io_uring, kexec, modules,
/// open_by_handle_at, mount) do too; clone3 answers ENOSYS so libcs fall back to clone.
#[test]
fn the_default_seccomp_filter_refuses_what_docker_refuses() {
    let f = fixture("seccomp");
    let open = probe(&f, &["--security-opt", "seccomp=unconfined"]);
    for call in ["unshare_user", "keyctl", "personality", "mkdir"] {
        assert_eq!(
            open[call], "ok",
            "without the filter {call} succeeds: {open:?}"
        );
    }
    assert_ne!(open["clone3"], "ENOSYS", "{open:?}");
    let st = status(&f, &["--security-opt", "seccomp=unconfined"]);
    assert_eq!(st["Seccomp"], "0");

    let shut = probe(&f, &[]);
    for call in [
        "unshare_user",
        "unshare_net",
        "keyctl",
        "bpf",
        "perf_event_open",
        "io_uring_setup",
        "kexec_load",
        "open_by_handle_at",
        "init_module",
        "mount",
        "personality",
    ] {
        assert_eq!(shut[call], "EPERM", "{call}: {shut:?}");
    }
    assert_eq!(shut["clone3"], "ENOSYS");
    assert_eq!(shut["mkdir"], "ok", "ordinary calls work: {shut:?}");
    assert_eq!(status(&f, &[])["Seccomp"], "2");
    // busybox's own unshare, as a user would try it: works unconfined, refused with the filter.
    let unshare = ["unshare", "-U", "-r", "id"];
    let mut open = vec![
        "run",
        "--network",
        "none",
        "--security-opt",
        "seccomp=unconfined",
    ];
    open.push("busybox");
    open.extend_from_slice(&unshare);
    assert!(ok(&f.rt, &open).contains("uid=0"));
    let mut shut = vec!["run", "--network", "none", "busybox"];
    shut.extend_from_slice(&unshare);
    let out = call(&f.rt, &shut);
    assert_ne!(out.status, 0, "{}", out.stdout);
}

/// A 32-bit x86 program: writes a line, tries `unshare(CLONE_NEWUSER)` (i386 syscall 310)
/// and exits with the errno it got (0 on success).
const I386_PROGRAM: &str = "
.globl _start
.text
_start:
    movl $4, %eax
    movl $1, %ebx
    movl $msg, %ecx
    movl $len, %edx
    int $0x80
    movl $310, %eax
    movl $0x10000000, %ebx
    int $0x80
    negl %eax
    movl %eax, %ebx
    movl $1, %eax
    int $0x80
.data
msg: .ascii \"hello from i386\\n\"
len = . - msg
";

/// 32-bit programs run, as under docker's profile (which lists x86 and x32 beside x86_64),
/// and are held by the same rules: the attack is a user namespace made through the 32-bit
/// system call table, which succeeds unconfined and gets EPERM with the filter (a filter that
/// let the 32-bit table through unchecked would let it succeed). On main badd490 the filter
/// covered x86_64 only and the program was killed (status 159, SIGSYS).
#[test]
fn thirty_two_bit_programs_run_under_the_same_rules() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("not x86_64: skipped");
        return;
    }
    let f = fixture("seccomp-i386");
    let dir = f.net.root.join("i386");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.s"), I386_PROGRAM).unwrap();
    let out = f.in_image("i386");
    let built = std::process::Command::new("as")
        .args(["--32", "-o"])
        .arg(dir.join("p.o"))
        .arg(dir.join("p.s"))
        .status()
        .and_then(|_| {
            std::process::Command::new("ld")
                .args(["-m", "elf_i386", "-static", "-o"])
                .arg(&out)
                .arg(dir.join("p.o"))
                .status()
        })
        .expect("binutils (scripts/setup.sh installs build-essential)");
    assert!(built.success());
    let run = |flags: &[&str]| {
        let mut args = vec!["run", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "/i386"]);
        call(&f.rt, &args)
    };
    let open = run(&["--security-opt", "seccomp=unconfined"]);
    if open.status == 126 || open.stderr.contains("Exec format error") {
        eprintln!(
            "this kernel runs no 32-bit programs: skipped ({})",
            open.stderr
        );
        return;
    }
    assert_eq!(open.stdout, "hello from i386\n");
    assert_eq!(open.status, 0, "unconfined, the user namespace is made");
    let shut = run(&[]);
    assert_eq!(shut.stdout, "hello from i386\n", "{}", shut.stderr);
    assert_eq!(
        shut.status,
        libc::EPERM,
        "the filter refuses it: {}",
        shut.stderr
    );
}

/// The profile follows the capabilities, as docker's: `--cap-add SYS_ADMIN` allows mount
/// and unshare again (that container is privileged on purpose).
#[test]
fn the_filter_follows_cap_add_and_a_profile_can_be_given() {
    let f = fixture("seccomp-caps");
    let admin = probe(&f, &["--cap-add", "SYS_ADMIN"]);
    assert_eq!(admin["unshare_net"], "ok", "{admin:?}");
    assert_eq!(
        status(&f, &["--cap-add", "sys_admin"])["CapBnd"],
        "00000000a82425fb"
    );
    // A profile of one's own, in docker's format: everything but mkdir.
    let profile = f.root().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let own = probe(&f, &["--security-opt", &opt]);
    assert_eq!(own["mkdir"], "EACCES", "{own:?}");
    assert_eq!(own["keyctl"], "ok", "{own:?}");
    // Bad options are refused before anything is made.
    for (flag, value, what) in [
        (
            "--security-opt",
            "seccomp=/nonexistent.json",
            "reading the seccomp profile",
        ),
        ("--security-opt", "apparmor=x", "invalid --security-opt"),
        ("--cap-add", "NOT_A_CAP", "unknown capability"),
    ] {
        let out = call(&f.rt, &["run", flag, value, "busybox", "true"]);
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains(what), "{}", out.stderr);
    }
    std::fs::write(&profile, "{").unwrap();
    let out = call(&f.rt, &["run", "--security-opt", &opt, "busybox", "true"]);
    assert!(out.stderr.contains("seccomp profile"), "{}", out.stderr);
    assert_eq!(
        f.rt.containers().len(),
        3,
        "only the probes' containers were made"
    );
}

/// Attack (CVE-2022-24769): a program with inheritable capabilities regains them through a
/// file with inheritable file capabilities. 21c1053 set `CapInh` to docker's set for root and
/// left the host's for `-u USER`; now it is empty for every user, and a non-root user has no
/// effective capability. `no-new-privileges` is honoured.
#[test]
fn no_inheritable_capabilities_for_anyone() {
    let f = fixture("caps");
    let root = status(&f, &[]);
    assert_eq!(root["CapInh"], "0000000000000000", "{root:?}");
    assert_eq!(
        root["CapEff"], "00000000a80425fb",
        "docker's default set: {root:?}"
    );
    assert_eq!(root["CapAmb"], "0000000000000000");
    assert_eq!(root["NoNewPrivs"], "0");
    let nobody = status(&f, &["-u", "nobody"]);
    assert_eq!(nobody["CapInh"], "0000000000000000", "{nobody:?}");
    assert_eq!(nobody["CapEff"], "0000000000000000", "{nobody:?}");
    let dropped = status(&f, &["--cap-drop", "ALL", "--cap-add", "CHOWN"]);
    assert_eq!(dropped["CapBnd"], "0000000000000001", "{dropped:?}");
    let nnp = status(&f, &["--security-opt", "no-new-privileges"]);
    assert_eq!(nnp["NoNewPrivs"], "1");
}

/// Attack: an image whose `/etc/passwd` is a symbolic link to `/dev/zero` (main 21c1053's
/// helper read it without bound: 9.5 GB resident after 20 s and the start never returned), a
/// FIFO (the start stalled) or `/proc/kmsg` (the host's kernel log drained). The user is now
/// looked up by the library in the mounted image, in the root, regular files of at most 1 MiB
/// only, opened non-blocking: each start fails at once with a clear error and leaves no
/// process.
#[test]
fn hostile_passwd_files_fail_fast() {
    let f = Fixture::new("passwd");
    let etc = f.root().join("graph").join(&f.image).join("layer/etc");
    let passwd = etc.join("passwd");
    let cases: [(&str, &dyn Fn(), &str); 4] = [
        (
            "/dev/zero",
            &|| std::os::unix::fs::symlink("/dev/zero", &passwd).unwrap(),
            "unable to find user nobody",
        ),
        (
            "/proc/kmsg",
            &|| std::os::unix::fs::symlink("/proc/kmsg", &passwd).unwrap(),
            "unable to find user nobody",
        ),
        (
            "a FIFO",
            &|| {
                let c = std::ffi::CString::new(passwd.to_str().unwrap()).unwrap();
                // SAFETY: mkfifo with a NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            },
            "/etc/passwd is not a regular file",
        ),
        (
            "2 MiB",
            &|| std::fs::write(&passwd, vec![b'#'; 2 << 20]).unwrap(),
            "larger than 1048576 bytes",
        ),
    ];
    for (what, make, error) in cases {
        let _ = std::fs::remove_file(&passwd);
        make();
        let t = std::time::Instant::now();
        let out = call(
            &f.rt,
            &["run", "--network", "none", "-u", "nobody", "busybox", "id"],
        );
        assert_ne!(out.status, 0, "{what}");
        assert!(out.stderr.contains(error), "{what}: {}", out.stderr);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "{what} took {:?}",
            t.elapsed()
        );
    }
    // No helper of these containers is left running.
    for c in f.rt.containers() {
        let ps = std::process::Command::new("pgrep")
            .args(["-f", &c.id])
            .output()
            .unwrap();
        assert!(ps.stdout.is_empty(), "a process of {} is left", c.id);
    }
}

/// Attack: kill a container's monitor (its `docker-init` helper in the host's namespaces).
/// On 21c1053 the container ran on, unwatched, while a restarted runtime marked it stopped
/// and gave its address away. Now the container dies with its monitor (a parent-death
/// signal), so nothing of it runs once the record says it stopped.
#[test]
fn a_container_does_not_outlive_its_monitor() {
    let f = Fixture::new("orphan");
    let id = ok(
        &f.rt,
        &["run", "-d", "--network", "none", "busybox", "sleep", "1000"],
    );
    let c = f.rt.container(id.trim()).unwrap();
    let st = c.record().state;
    assert!(st.running && st.pid > 0 && st.monitor_pid > 0, "{st:?}");
    // SAFETY: kill with a pid and a signal number.
    assert_eq!(unsafe { libc::kill(st.monitor_pid, libc::SIGKILL) }, 0);
    let gone = common::eventually(std::time::Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{}", st.pid)).exists()
    });
    assert!(
        gone,
        "the container's process {} outlived its monitor",
        st.pid
    );
    assert!(c.wait_timeout(std::time::Duration::from_secs(5)));
}
