//! `docker exec` (issue 15, item 3) on the real kernel: a program run beside a running
//! container, in its namespaces and cgroup, with exactly its confinement.

mod common;
mod daemon_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::cli::{call, call_with, ok};
use common::Fixture;

/// `run -d` of `busybox sleep 1000` with `flags` (no network unless asked); its id.
fn sleeper(f: &Fixture, flags: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    if !flags.contains(&"--network") {
        args.extend_from_slice(&["--network", "none"]);
    }
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sleep", "1000"]);
    ok(&f.rt, &args).trim().to_string()
}

/// The fields of a `/proc/PID/status` that say what a process may do.
fn confinement(status: &str) -> BTreeMap<String, String> {
    status
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("Cap") || ["Seccomp", "NoNewPrivs"].contains(k))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn exec(f: &Fixture, args: &[&str]) -> common::cli::Output {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    call(&f.rt, &all)
}

#[test]
fn output_status_user_env_and_workdir() {
    let f = Fixture::new("exec-basic");
    let id = sleeper(&f, &["-e", "FROM_RUN=1", "-w", "/root"]);
    let out = exec(&f, &[&id, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    // docker's statuses for a program that is not there (127) or cannot be executed (126).
    let missing = exec(&f, &[&id, "nosuch"]);
    assert_eq!(missing.status, 127, "{}", missing.stderr);
    assert!(missing.stderr.contains("nosuch"), "{}", missing.stderr);
    assert_eq!(exec(&f, &[&id, "/etc/passwd"]).status, 126);
    // The container's user by default; -u a name from its passwd, or uid:gid.
    assert_eq!(ok(&f.rt, &["exec", &id, "id", "-u"]), "0\n");
    assert_eq!(
        ok(&f.rt, &["exec", "-u", "nobody", &id, "id", "-u"]),
        "65534\n"
    );
    assert_eq!(
        ok(&f.rt, &["exec", "-u", "1000:1001", &id, "id"]).trim(),
        "uid=1000 gid=1001 groups=1001"
    );
    let nouser = exec(&f, &["-u", "nosuchuser", &id, "true"]);
    assert_eq!(nouser.status, 126, "{}", nouser.stderr);
    assert!(nouser.stderr.contains("nosuchuser"), "{}", nouser.stderr);
    // -e adds to (and overrides) the container's environment.
    let env = ok(
        &f.rt,
        &["exec", "-e", "FOO=bar", "-e", "FROM_RUN=2", &id, "env"],
    );
    assert!(env.lines().any(|l| l == "FOO=bar"), "{env}");
    assert!(env.lines().any(|l| l == "FROM_RUN=2"), "{env}");
    assert!(!env.lines().any(|l| l == "FROM_RUN=1"), "{env}");
    assert!(!env.contains("TERM="), "no terminal, no TERM: {env}");
    assert_eq!(
        ok(&f.rt, &["exec", &id, "sh", "-c", "echo $FROM_RUN"]),
        "1\n"
    );
    // The container's working directory by default, -w another.
    assert_eq!(ok(&f.rt, &["exec", &id, "pwd"]), "/root\n");
    assert_eq!(ok(&f.rt, &["exec", "-w", "/tmp", &id, "pwd"]), "/tmp\n");
    let nodir = exec(&f, &["-w", "/nonexistent", &id, "pwd"]);
    assert_eq!(nodir.status, 126, "{}", nodir.stderr);
    assert!(nodir.stderr.contains("/nonexistent"), "{}", nodir.stderr);
    // From another process on the same root (a restarted runtime, as the CLI is).
    let rt2 = f.reopen();
    assert_eq!(
        call(&rt2, &["exec", &id[..12], "sh", "-c", "exit 5"]).status,
        5
    );
    // No command, a bad environment entry: usage errors.
    let usage = exec(&f, &[&id]);
    assert_eq!(usage.status, 125, "{}", usage.stderr);
    let bad_env = exec(&f, &["-e", "=x", &id, "true"]);
    assert_eq!(bad_env.status, 125, "{}", bad_env.stderr);
    assert!(bad_env.stderr.contains("\"=x\""), "{}", bad_env.stderr);
}

/// Attack: a process exec'd into a default container tries what the container cannot: make a
/// network namespace (`unshare -n`, refused by the seccomp profile and the capability set)
/// and mount a file system (CAP_SYS_ADMIN). A naive exec (nsenter as the host's root: full
/// capabilities, no filter) would do both; here both fail as they do for the container's own
/// processes. In a container run with `--cap-add SYS_ADMIN` the same commands succeed, so the
/// test can tell the difference.
#[test]
fn the_exec_has_exactly_the_containers_confinement() {
    let f = Fixture::new("exec-confine");
    let id = sleeper(&f, &[]);
    let own = confinement(&ok(&f.rt, &["exec", &id, "cat", "/proc/self/status"]));
    let first = confinement(&ok(&f.rt, &["exec", &id, "cat", "/proc/1/status"]));
    assert_eq!(own, first, "the exec's rights are the container's");
    assert_eq!(own["Seccomp"], "2", "{own:?}");
    // docker 20.10's default set, as its exec'd `cat /proc/self/status` shows it.
    assert_eq!(own["CapBnd"], "00000000a80425fb", "{own:?}");
    assert_eq!(own["CapEff"], "00000000a80425fb", "{own:?}");
    for attack in [
        vec!["unshare", "-n", "true"],
        vec!["mount", "-t", "tmpfs", "none", "/mnt"],
    ] {
        let mut args = vec![id.as_str()];
        args.extend_from_slice(&attack);
        let out = exec(&f, &args);
        assert_ne!(out.status, 0, "{attack:?} must fail: {}", out.stdout);
        let ran = call(
            &f.rt,
            &[&["run", "--network", "none", "busybox"], attack.as_slice()].concat(),
        );
        assert_eq!(
            out.status, ran.status,
            "{attack:?} fails as in the container"
        );
    }
    let admin = sleeper(&f, &["--cap-add", "SYS_ADMIN"]);
    ok(&f.rt, &["exec", &admin, "unshare", "-n", "true"]);
    ok(
        &f.rt,
        &["exec", &admin, "mount", "-t", "tmpfs", "none", "/mnt"],
    );
    // No new privileges: the container's.
    let nnp = sleeper(&f, &["--security-opt", "no-new-privileges"]);
    let st = confinement(&ok(&f.rt, &["exec", &nnp, "cat", "/proc/self/status"]));
    assert_eq!(st["NoNewPrivs"], "1", "{st:?}");
    assert_eq!(own["NoNewPrivs"], "0", "{own:?}");
    // In the container's cgroups: its v2 folder (created there) and, with -m, the memory
    // controller's (v1 on a hybrid host: joined before the program runs).
    let limited = sleeper(&f, &["-m", "64m"]);
    let cgroups = |pid: &str| {
        ok(
            &f.rt,
            &["exec", &limited, "cat", &format!("/proc/{pid}/cgroup")],
        )
    };
    let own = cgroups("self");
    assert_eq!(own, cgroups("1"));
    assert!(
        own.contains(&format!("/docker-runtime/{limited}\n")),
        "{own}"
    );
    // Masked paths stay masked (the container's mount namespace): the host's has content.
    assert!(!std::fs::read_to_string("/proc/interrupts")
        .unwrap()
        .is_empty());
    assert_eq!(ok(&f.rt, &["exec", &id, "cat", "/proc/interrupts"]), "");
}

/// Attack: keyctl (the kernel keyring, shared with the host) is refused by docker's seccomp
/// profile whatever the capabilities. The exec'd probe gets EPERM in a default container and
/// succeeds in one run with `seccomp=unconfined`: the exec carries the container's filter,
/// not none.
#[test]
fn the_exec_carries_the_containers_seccomp_filter() {
    let f = Fixture::new("exec-seccomp");
    let src = common::crate_dir().join("tests/fixtures/syscall-probe.c");
    f.install_static_c(&std::fs::read_to_string(src).unwrap(), "probe");
    let probe = |id: &str| -> BTreeMap<String, String> {
        ok(&f.rt, &["exec", id, "/probe"])
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect()
    };
    let open = probe(&sleeper(&f, &["--security-opt", "seccomp=unconfined"]));
    assert_eq!(open["keyctl"], "ok", "{open:?}");
    let shut = probe(&sleeper(&f, &[]));
    assert_eq!(shut["keyctl"], "EPERM", "{shut:?}");
    assert_eq!(shut["unshare_user"], "EPERM", "{shut:?}");
}

#[test]
fn it_sees_the_containers_processes_hostname_and_network() {
    let f = Fixture::new("exec-sees");
    let id = ok(
        &f.rt,
        &["run", "-d", "-h", "box1", "busybox", "sleep", "1000"],
    )
    .trim()
    .to_string();
    let ps = ok(&f.rt, &["exec", &id, "ps", "-o", "pid,args"]);
    let first = ps.lines().nth(1).unwrap_or_default();
    assert!(first.trim().starts_with("1 sleep 1000"), "{ps}");
    assert_eq!(ok(&f.rt, &["exec", &id, "hostname"]), "box1\n");
    let ip =
        f.rt.container(&id)
            .unwrap()
            .record()
            .network_settings
            .ip_address;
    assert!(!ip.is_empty());
    let addr = ok(&f.rt, &["exec", &id, "ip", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains(&format!("inet {ip}/")), "{addr}");
}

#[test]
fn terminal_stdin_and_detach() {
    let f = Fixture::new("exec-tty");
    let id = sleeper(&f, &[]);
    let tty = call_with(&f.rt, &["exec", "-t", &id, "tty"], b"", Some((30, 100)));
    assert_eq!(tty.status, 0, "{}", tty.stderr);
    assert!(tty.stdout.starts_with("/dev/pts/"), "{:?}", tty.stdout);
    let size = call_with(
        &f.rt,
        &["exec", "-t", &id, "stty", "size"],
        b"",
        Some((30, 100)),
    );
    assert_eq!(size.stdout.trim(), "30 100");
    let term = call_with(
        &f.rt,
        &["exec", "-t", &id, "sh", "-c", "echo $TERM"],
        b"",
        None,
    );
    assert_eq!(term.stdout.trim(), "xterm");
    // -i feeds stdin (and its end); without it the program reads nothing.
    let cat = call_with(&f.rt, &["exec", "-i", &id, "cat"], b"hello\nworld\n", None);
    assert_eq!((cat.status, cat.stdout.as_str()), (0, "hello\nworld\n"));
    let deaf = call_with(&f.rt, &["exec", &id, "cat"], b"ignored\n", None);
    assert_eq!((deaf.status, deaf.stdout.as_str()), (0, ""));
    let typed = call_with(
        &f.rt,
        &["exec", "-it", &id, "head", "-n", "1"],
        b"line\n",
        None,
    );
    assert!(typed.stdout.contains("line"), "{:?}", typed.stdout);
    // -d: nothing printed, the program runs on.
    let bg = exec(&f, &["-d", &id, "sh", "-c", "echo made > /tmp/marker"]);
    assert_eq!(
        (bg.status, bg.stdout.as_str(), bg.stderr.as_str()),
        (0, "", "")
    );
    assert!(common::eventually(Duration::from_secs(10), || {
        call(&f.rt, &["exec", &id, "cat", "/tmp/marker"]).stdout == "made\n"
    }));
}

#[test]
fn stopped_paused_and_missing_containers_are_docker_errors() {
    let f = Fixture::new("exec-states");
    let done = ok(
        &f.rt,
        &["run", "-d", "--network", "none", "busybox", "true"],
    )
    .trim()
    .to_string();
    f.rt.container(&done).unwrap().wait();
    let out = exec(&f, &[&done, "true"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        format!("Error: Container {done} is not running\n")
    );
    let id = sleeper(&f, &[]);
    ok(&f.rt, &["pause", &id]);
    let out = exec(&f, &[&id, "true"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        format!("Error: Container {id} is paused, unpause the container before exec\n")
    );
    ok(&f.rt, &["unpause", &id]);
    ok(&f.rt, &["exec", &id, "true"]);
    let out = exec(&f, &["nosuch", "true"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("no such container: nosuch"),
        "{}",
        out.stderr
    );
}

#[test]
fn concurrent_execs_in_one_container() {
    let f = Fixture::new("exec-many");
    let id = sleeper(&f, &[]);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (rt, id) = (&f.rt, &id);
                s.spawn(move || {
                    let script = format!("sleep 0.2; echo {i}; exit {i}");
                    let out = call(rt, &["exec", id, "sh", "-c", &script]);
                    (i, out.status, out.stdout)
                })
            })
            .collect();
        for h in handles {
            let (i, status, stdout) = h.join().unwrap();
            assert_eq!((status, stdout), (i, format!("{i}\n")));
        }
    });
}

/// An exec'd program dies with its container: it does not keep it running, and an attached
/// exec returns once it is killed.
#[test]
fn an_exec_ends_with_its_container() {
    let f = Fixture::new("exec-ends");
    let id = sleeper(&f, &[]);
    ok(&f.rt, &["exec", "-d", &id, "sleep", "1001"]);
    let c = f.rt.container(&id).unwrap();
    let cg = docker_runtime::cgroup::Cgroup::find(&docker_runtime::cgroup::CgroupPath::named(&id))
        .expect("the container's cgroup");
    assert!(common::eventually(Duration::from_secs(5), || cg
        .pids()
        .len()
        == 2));
    let pids = cg.pids();
    let attached = std::thread::scope(|s| {
        let waiting = s.spawn(|| call(&f.rt, &["exec", &id, "sleep", "1002"]).status);
        // Once its program runs (before, the exec would end as `not running`).
        let runs = |pid: &i32| {
            std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
                == b"sleep\x001002\x00"
        };
        assert!(common::eventually(Duration::from_secs(5), || {
            cg.pids().iter().any(runs)
        }));
        // The container's first process ends: the container stops, whatever runs beside it.
        ok(&f.rt, &["kill", &id]);
        assert!(
            c.wait_timeout(Duration::from_secs(10)),
            "the container stopped"
        );
        waiting.join().unwrap()
    });
    assert_eq!(attached, 137, "killed with its container");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} outlived its container"
        );
    }
}

/// Execs racing a container's end: each runs, is killed with it (137) or gets docker's
/// `is not running` (1), never a confusing failure of its own.
#[test]
fn execs_racing_the_containers_end_get_docker_answers() {
    let f = Fixture::new("exec-race");
    let id = sleeper(&f, &[]);
    let c = f.rt.container(&id).unwrap();
    let outcomes = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = Vec::new();
                    for _ in 0..40 {
                        let out = call(&f.rt, &["exec", &id, "sleep", "0.05"]);
                        let stopped = out.status == 1;
                        seen.push((out.status, out.stderr));
                        if stopped {
                            break;
                        }
                    }
                    seen
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        c.kill().unwrap();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    let not_running = format!("Error: Container {id} is not running\n");
    for (status, stderr) in &outcomes {
        match status {
            0 | 137 => assert_eq!(stderr, "", "{status}"),
            1 => assert_eq!(stderr, &not_running),
            _ => panic!("exec ended {status}: {stderr}"),
        }
    }
    assert!(outcomes.iter().any(|(s, _)| *s == 0), "{outcomes:?}");
    assert!(outcomes.iter().any(|(s, _)| *s == 1), "{outcomes:?}");
}

#[test]
fn exec_through_the_daemon() {
    use daemon_support::{client, client_with_input, import_busybox, stderr, stdout, Daemon};
    let d = Daemon::start(&[]);
    let addr = d.addr();
    let h = ["-H", addr.as_str()];
    import_busybox(&addr);
    let run = client(
        &h,
        &["run", "-d", "--network", "none", "busybox", "sleep", "1000"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let id = stdout(&run).trim().to_string();
    let out = client(
        &h,
        &["exec", &id, "sh", "-c", "echo hi; echo oops >&2; exit 7"],
    );
    assert_eq!(
        (
            out.status.code(),
            stdout(&out).as_str(),
            stderr(&out).as_str()
        ),
        (Some(7), "hi\n", "oops\n")
    );
    let fed = client_with_input(&h, &["exec", "-i", &id, "wc", "-c"], &[b'x'; 100_000]);
    assert_eq!(stdout(&fed).trim(), "100000");
    let missing = client(&h, &["exec", &id, "nosuch"]);
    assert_eq!(missing.status.code(), Some(127));
    let tty = client(&h, &["exec", "-t", &id, "tty"]);
    assert!(stdout(&tty).starts_with("/dev/pts/"), "{}", stdout(&tty));
    // A client that leaves mid-exec: the daemon's command returns (its descriptors go) and
    // the program runs on, as docker's does.
    let cg = docker_runtime::cgroup::Cgroup::find(&docker_runtime::cgroup::CgroupPath::named(&id))
        .expect("the container's cgroup");
    let fds = d.fd_count();
    let mut leaving = std::process::Command::new(daemon_support::DOCKER)
        .args(h)
        .args(["exec", &id, "sleep", "1000"])
        .env_remove("DOCKER_HOST")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(common::eventually(Duration::from_secs(10), || cg
        .pids()
        .len()
        == 2));
    leaving.kill().unwrap();
    leaving.wait().unwrap();
    assert!(
        common::eventually(Duration::from_secs(10), || d.fd_count() <= fds),
        "the daemon holds {} descriptors, {fds} before",
        d.fd_count()
    );
    assert_eq!(cg.pids().len(), 2, "the program runs on");
    assert!(client(&h, &["kill", &id]).status.success());
    let stopped = client(&h, &["exec", &id, "true"]);
    assert_eq!(stopped.status.code(), Some(1));
    assert!(
        stderr(&stopped).contains(&format!("Container {id} is not running")),
        "{}",
        stderr(&stopped)
    );
}

/// The C API: `docker_container_exec` on a handle of another runtime on the same root (as a
/// C program opening a container the CLI started), with its streams on pipes.
#[test]
fn the_c_api_runs_an_exec_and_refuses_bad_input() {
    use ::docker_runtime::ffi::container::*;
    use ::docker_runtime::ffi::exec::*;
    use ::docker_runtime::ffi::result::docker_result::*;
    use ::docker_runtime::ffi::runtime::*;
    use std::ffi::{c_char, CString};
    use std::io::Read;
    use std::os::fd::AsRawFd;

    let f = Fixture::new("exec-abi");
    let id = sleeper(&f, &[]);
    let s = |v: &str| CString::new(v).unwrap();
    let (root, bridge, subnet, chain, init) = (
        s(f.root().to_str().unwrap()),
        s(&f.net.bridge),
        s(&f.net.subnet),
        s(&f.net.chain),
        s(env!("CARGO_BIN_EXE_docker-init")),
    );
    // SAFETY (this test): every pointer below is valid for its call; handles are freed once.
    let mut opts = unsafe { std::mem::zeroed::<docker_runtime_options>() };
    let size = std::mem::size_of::<docker_runtime_options>();
    assert_eq!(
        unsafe { docker_runtime_options_init(&mut opts, size) },
        DOCKER_OK
    );
    opts.bridge_name = bridge.as_ptr();
    opts.bridge_subnet = subnet.as_ptr();
    opts.iptables_chain = chain.as_ptr();
    opts.init_path = init.as_ptr();
    opts.disable_ip_forward = 1;
    let mut rt = std::ptr::null_mut();
    assert_eq!(
        unsafe { docker_runtime_new(root.as_ptr(), &opts, &mut rt) },
        DOCKER_OK
    );
    assert_eq!(
        unsafe { docker_runtime_restore(rt, std::ptr::null_mut()) },
        DOCKER_OK
    );
    let mut c = std::ptr::null_mut();
    let cid = s(&id);
    assert_eq!(
        unsafe { docker_container_open(rt, cid.as_ptr(), &mut c) },
        DOCKER_OK
    );

    let strings: Vec<CString> = ["sh", "-c", "echo $FOO $(id -u) $PWD; echo err >&2; exit 4"]
        .iter()
        .map(|a| s(a))
        .collect();
    let mut argv: Vec<*const c_char> = strings.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let env_s = s("FOO=bar");
    let env = [env_s.as_ptr(), std::ptr::null()];
    let (user, dir) = (s("nobody"), s("/tmp"));
    let mut cfg = unsafe { std::mem::zeroed::<docker_exec_config>() };
    let size = std::mem::size_of::<docker_exec_config>();
    assert_eq!(
        unsafe { docker_exec_config_init(&mut cfg, size) },
        DOCKER_OK
    );
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    cfg.argv = argv.as_ptr();
    cfg.env = env.as_ptr();
    cfg.user = user.as_ptr();
    cfg.working_dir = dir.as_ptr();
    cfg.stdout_fd = out_w.as_raw_fd();
    cfg.stderr_fd = err_w.as_raw_fd();
    let mut status = -1;
    assert_eq!(
        unsafe { docker_container_exec(c, &cfg, &mut status) },
        DOCKER_OK
    );
    drop((out_w, err_w));
    let (mut out, mut err) = (String::new(), String::new());
    out_r.read_to_string(&mut out).unwrap();
    err_r.read_to_string(&mut err).unwrap();
    assert_eq!(
        (status, out.as_str(), err.as_str()),
        (4, "bar 65534 /tmp\n", "err\n")
    );

    // Bad input: NULL arguments, no command, a bad descriptor; a stopped container.
    assert_eq!(
        unsafe { docker_container_exec(std::ptr::null(), &cfg, &mut status) },
        DOCKER_ERR_NULL_ARGUMENT
    );
    assert_eq!(
        unsafe { docker_container_exec(c, &cfg, std::ptr::null_mut()) },
        DOCKER_ERR_NULL_ARGUMENT
    );
    let mut bad = cfg;
    bad.stdout_fd = -5;
    assert_eq!(
        unsafe { docker_container_exec(c, &bad, &mut status) },
        DOCKER_ERR_INVALID_ARGUMENT
    );
    bad = cfg;
    bad.argv = std::ptr::null();
    assert_eq!(
        unsafe { docker_container_exec(c, &bad, &mut status) },
        DOCKER_ERR_INVALID_ARGUMENT
    );
    assert!(
        common::last_error().contains("cfg->argv"),
        "{}",
        common::last_error()
    );
    ok(&f.rt, &["kill", &id]);
    let quiet = docker_exec_config {
        stdout_fd: -1,
        stderr_fd: -1,
        ..cfg
    };
    assert!(common::eventually(Duration::from_secs(10), || {
        let r = unsafe { docker_container_exec(c, &quiet, &mut status) };
        r == DOCKER_ERR_IN_USE
    }));
    assert!(
        common::last_error().contains("is not running"),
        "{}",
        common::last_error()
    );
    unsafe { docker_container_free(c) };
    unsafe { docker_runtime_free(rt) };
}
