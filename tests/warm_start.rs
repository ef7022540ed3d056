//! Warm start (`RuntimeOptions::warm_start`): a runtime keeps one `docker-init` helper started
//! ahead in spare cgroup v1 folders; a start claims it. Containers started so behave and are
//! confined as cold-started ones, and nothing of the spare outlives its runtime.
//!
//! A claimed helper keeps the name it was started with (`docker-init .warm-PID-N`): the tests
//! find a container's helper by the pid its record holds, not by its command line.

mod common;
mod daemon_support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use common::cli::{call, ok};
use common::{eventually, Fixture};
use docker_runtime::container::State;
use docker_runtime::Runtime;

/// The v1 hierarchies a container gets a folder in on this host (hybrid layout).
const V1: [&str; 4] = ["memory", "pids", "cpu", "cpuacct"];

/// The spares are this process's: one test at a time sees only its own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn warm_runtime(f: &Fixture) -> Runtime {
    let mut opts = f.options();
    opts.warm_start = true;
    Runtime::new(&f.root(), opts).unwrap()
}

fn hierarchies() -> Vec<PathBuf> {
    V1.iter()
        .chain(&["unified"])
        .map(|c| Path::new("/sys/fs/cgroup").join(c).join("docker-runtime"))
        .filter(|d| d.parent().is_some_and(|p| p.join("cgroup.procs").exists()))
        .collect()
}

/// This process's spare folders, in any hierarchy.
fn own_spares() -> Vec<PathBuf> {
    spares_of(std::process::id())
}

/// Process `pid`'s spare folders, in any hierarchy.
fn spares_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!(".warm-{pid}-");
    hierarchies()
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|d| d.flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// The pids listed in a cgroup folder.
fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Wait until a runtime's helper is ready: one spare of this process, with a process in it.
fn wait_ready() -> i32 {
    wait_ready_of(std::process::id())
}

/// Wait until the helper of process `owner`'s runtime is ready; its pid.
fn wait_ready_of(owner: u32) -> i32 {
    let mut pid = 0;
    let ready = eventually(Duration::from_secs(10), || {
        let spares = spares_of(owner);
        let memory = spares
            .iter()
            .find(|d| d.starts_with("/sys/fs/cgroup/memory"));
        pid = memory
            .map(|d| procs(d))
            .unwrap_or_default()
            .first()
            .copied()
            .unwrap_or(0);
        pid > 0
    });
    assert!(ready, "no warm helper: {:?}", own_spares());
    pid
}

/// Start `args` (a detached run) on `rt` until its helper is the one started ahead; its id,
/// state and that helper. A spare holds the helper from its spawn, before the runtime has
/// read its greeting: a start in between goes cold (removed here, and tried again).
fn start_warm(rt: &Runtime, args: &[&str]) -> (String, State, i32) {
    for _ in 0..20 {
        let idle = wait_ready();
        let id = ok(rt, args).trim().to_string();
        let st = rt.container(&id).unwrap().record().state;
        if st.monitor_pid == idle {
            return (id, st, idle);
        }
        ok(rt, &["rm", "-f", &id]);
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no start found its helper ready in 20 tries");
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// Run `args` on `rt` and return (status, stdout).
fn run(rt: &Runtime, args: &[&str]) -> (i32, String) {
    let out = call(rt, args);
    (out.status, out.stdout)
}

#[test]
fn containers_started_warm_behave_as_cold_ones_in_a_row_and_at_once() {
    let _s = serial();
    let f = Fixture::new("warmrun");
    let rt = warm_runtime(&f);
    wait_ready();
    let base = ["run", "--rm", "--network", "none", "busybox"];
    for i in 0..20 {
        let n = i.to_string();
        let mut args = base.to_vec();
        args.extend([
            "sh",
            "-c",
            "echo out $0; echo err $0 >&2; exit $(($0 % 5))",
            &n,
        ]);
        let out = call(&rt, &args);
        assert_eq!(out.stdout, format!("out {i}\n"), "{}", out.stderr);
        assert_eq!(out.stderr, format!("err {i}\n"));
        assert_eq!(out.status, i % 5);
    }
    // The same descriptors and environment as a cold start (the fixture's runtime).
    for probe in [
        "ls /proc/self/fd",
        "env | grep -v ^HOSTNAME= | sort",
        "cat /proc/self/status | grep -E '^(Cap|NoNewPrivs|Seccomp)'",
    ] {
        let mut args = base.to_vec();
        args.extend(["sh", "-c", probe]);
        let warm = ok(&rt, &args);
        let cold = ok(&f.rt, &args);
        assert_eq!(warm, cold, "{probe}");
        assert!(!warm.is_empty());
    }
    // At once: some claim the helper, the others take the cold path.
    std::thread::scope(|s| {
        for t in 0..4 {
            let rt = &rt;
            s.spawn(move || {
                for i in 0..5 {
                    let word = format!("t{t}-{i}");
                    let mut args = base.to_vec();
                    args.extend(["echo", &word]);
                    assert_eq!(run(rt, &args), (0, format!("{word}\n")));
                }
            });
        }
    });
    assert_eq!(rt.containers().len(), 0);
}

#[test]
fn a_warm_started_container_is_in_its_own_cgroups_with_its_limit() {
    let _s = serial();
    let f = Fixture::new("warmcg");
    let rt = warm_runtime(&f);
    let args = [
        "run",
        "-d",
        "-m",
        "64m",
        "--network",
        "none",
        "busybox",
        "sleep",
        "100",
    ];
    // The helper started ahead is the one that runs it (its start-time name stays).
    let (id, st, idle) = start_warm(&rt, &args);
    assert!(
        cmdline(idle).starts_with("docker-init .warm-"),
        "{}",
        cmdline(idle)
    );
    for h in V1 {
        let dir = Path::new("/sys/fs/cgroup")
            .join(h)
            .join("docker-runtime")
            .join(&id);
        let listed = procs(&dir);
        assert!(listed.contains(&st.pid), "{h}: {listed:?} lacks {}", st.pid);
        assert!(listed.contains(&st.monitor_pid), "{h}: {listed:?}");
        // The thread that started the helper went back to our own cgroup.
        let ours = std::process::id() as i32;
        assert!(
            !listed.contains(&ours),
            "{h}: the runtime's thread stayed in {listed:?}"
        );
    }
    let unified = Path::new("/sys/fs/cgroup/unified/docker-runtime").join(&id);
    assert!(procs(&unified).contains(&st.pid));
    let limit = std::fs::read_to_string(
        Path::new("/sys/fs/cgroup/memory/docker-runtime")
            .join(&id)
            .join("memory.limit_in_bytes"),
    )
    .unwrap();
    assert_eq!(limit.trim(), (64 << 20).to_string());
    // The helper's streams are the container's (its logs), not the spare's /dev/null.
    let out = std::fs::read_link(format!("/proc/{}/fd/1", st.monitor_pid)).unwrap();
    assert!(out.to_string_lossy().contains(&id), "{}", out.display());
    // The next start finds a new helper.
    let next = wait_ready();
    assert_ne!(next, idle);
    ok(&rt, &["rm", "-f", &id]);
    assert!(eventually(Duration::from_secs(10), || hierarchies()
        .iter()
        .all(|d| !d.join(&id).exists())));
}

/// The network namespace of a warm-started container is the one its helper made while it
/// waited (the helper, its monitor, is in it): not the host's, not the previous container's,
/// with the loopback up as a cold start leaves it. A cold start's monitor stays in the host's.
#[test]
fn a_warm_started_container_gets_the_network_namespace_made_ahead() {
    let _s = serial();
    let f = Fixture::new("warmnet");
    let rt = warm_runtime(&f);
    let netns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let detached = ["run", "-d", "--network", "none", "busybox", "sleep", "100"];
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (id, st, _) = start_warm(&rt, &detached);
        let ns = netns(st.pid);
        assert_eq!(netns(st.monitor_pid), ns, "the helper made it");
        assert_ne!(ns, host);
        assert!(!seen.contains(&ns), "{ns:?} was the previous container's");
        seen.push(ns);
        let lo = ok(&rt, &["exec", &id, "ip", "-o", "addr", "show", "lo"]);
        assert!(lo.contains("inet 127.0.0.1/8"), "{lo}");
        let up = ok(&rt, &["exec", &id, "cat", "/sys/class/net/lo/flags"]);
        assert_eq!(
            u32::from_str_radix(up.trim().trim_start_matches("0x"), 16).unwrap() & 1,
            1
        );
        ok(&rt, &["rm", "-f", &id]);
    }
    // Cold (the fixture's runtime): the monitor stays in the host's namespace.
    let id = ok(&f.rt, &detached).trim().to_string();
    let st = f.rt.container(&id).unwrap().record().state;
    assert_eq!(netns(st.monitor_pid), host);
    assert_ne!(netns(st.pid), host);
    ok(&f.rt, &["rm", "-f", &id]);
}

#[test]
fn dropping_the_runtime_leaves_no_helper_and_no_spare() {
    let _s = serial();
    let f = Fixture::new("warmdrop");
    let rt = warm_runtime(&f);
    let idle = wait_ready();
    assert_eq!(own_spares().len(), hierarchies().len() - 1, "no v2 spare");
    drop(rt);
    assert!(
        !Path::new(&format!("/proc/{idle}")).exists(),
        "helper {idle} left"
    );
    assert_eq!(own_spares(), Vec::<PathBuf>::new());
}

#[test]
fn a_restore_removes_the_spares_of_a_dead_runtime_only() {
    let _s = serial();
    let f = Fixture::new("warmstale");
    // A process that is gone (its pid is not reused this soon), and one that lives (us).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead =
        Path::new("/sys/fs/cgroup/memory/docker-runtime").join(format!(".warm-{}-9", gone.id()));
    let live = Path::new("/sys/fs/cgroup/memory/docker-runtime")
        .join(format!(".warm-{}-999999", std::process::id()));
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    let restored = f.rt.restore();
    let (dead_left, live_left) = (dead.exists(), live.exists());
    let _ = std::fs::remove_dir(&dead);
    let _ = std::fs::remove_dir(&live);
    restored.unwrap();
    assert!(!dead_left, "the dead runtime's spare stayed");
    assert!(live_left, "a live runtime's spare was removed");
}

/// The daemon runs warm; killed (no drop, no cleanup), its idle helper dies with it (it reads
/// the end of its socket; `PR_SET_PDEATHSIG` kills it should a copy of the daemon's end
/// outlive the daemon) and the spare folders it leaves go at the next restore.
#[test]
fn a_killed_daemons_helper_dies_with_it_and_its_spares_go_at_the_next_restore() {
    let _s = serial();
    let f = Fixture::new("warmkill");
    let mut d = daemon_support::Daemon::start(&[]);
    d.assert_serving();
    let daemon = d.pid();
    let helper = wait_ready_of(daemon);
    let mut child = d.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    assert!(
        eventually(Duration::from_secs(10), || gone(helper)),
        "the idle helper {helper} outlived its daemon: {}",
        cmdline(helper)
    );
    assert!(
        !spares_of(daemon).is_empty(),
        "the killed daemon cleaned up"
    );
    f.rt.restore().unwrap();
    assert_eq!(spares_of(daemon), Vec::<PathBuf>::new());
}

/// A claimed helper whose start fails fails it as a cold one would, leaving no cgroup and no
/// process; an idle helper killed meanwhile is passed over (that start goes cold).
#[test]
fn a_failed_or_killed_warm_helper_leaves_nothing() {
    let _s = serial();
    let f = Fixture::new("warmfail");
    let rt = warm_runtime(&f);
    let idle = wait_ready();
    // The helper fails: the working directory is a file.
    let out = call(
        &rt,
        &[
            "run",
            "--network",
            "none",
            "-w",
            "/bin/busybox",
            "busybox",
            "true",
        ],
    );
    assert_ne!(out.status, 0);
    assert!(
        out.stderr
            .contains("changing to working directory /bin/busybox"),
        "{}",
        out.stderr
    );
    let id = ok(&rt, &["ps", "-aq", "--no-trunc"]).trim().to_string();
    assert!(!id.is_empty());
    assert!(eventually(Duration::from_secs(5), || !Path::new(&format!(
        "/proc/{idle}"
    ))
    .exists()));
    for d in hierarchies() {
        assert!(!d.join(&id).exists(), "{} left", d.join(&id).display());
    }
    ok(&rt, &["rm", &id]);
    // Killed while idle: the next start takes the cold path and runs.
    let idle = wait_ready();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(idle),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = call(
        &rt,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "echo",
            "cold",
        ],
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "cold\n"),
        "{}",
        out.stderr
    );
    let next = wait_ready();
    assert_ne!(next, idle);
}
