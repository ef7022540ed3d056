//! Leaks over many container lifecycles: descriptors, helper processes, mounts, cgroups,
//! files. Alone in its test binary, so the process-wide counts are this test's own.

mod common;

use common::cli::ok;
use common::{eventually, Fixture};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The docker-init helpers still running for any of `ids` (the helper's argument is its
/// container's id).
fn helpers_of(ids: &[String]) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.starts_with("docker-init ") && ids.iter().any(|id| c.contains(id.as_str())))
        .collect()
}

#[test]
fn two_hundred_run_rm_cycles_leave_nothing() {
    let f = Fixture::new("cycles");
    // Warm up: the monitor thread and its descriptors exist from the first run on. (And the
    // helper of a running container is found by its id.)
    let warm = ok(&f.rt, &["run", "-d", "busybox", "sleep", "100"]);
    let warm = vec![warm.trim().to_string()];
    assert!(!helpers_of(&warm).is_empty());
    ok(&f.rt, &["rm", "-f", &warm[0]]);
    let fds = open_fds();
    let mut ids = Vec::new();
    for i in 0..200 {
        let n = i.to_string();
        let id = ok(&f.rt, &["run", "-d", "busybox", "sh", "-c", "echo $0", &n]);
        let id = id.trim().to_string();
        ok(&f.rt, &["wait", &id]);
        ok(&f.rt, &["rm", &id]);
        ids.push(id);
    }
    assert_eq!(f.rt.container_count(), 0);
    // The removed folders are deleted in the background (the runtime's janitor).
    let containers = f.root().join("containers");
    let left = || std::fs::read_dir(&containers).unwrap().count();
    assert!(
        eventually(std::time::Duration::from_secs(30), || left() == 0),
        "{} container folders left behind",
        left()
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&f.root().display().to_string()));
    assert_eq!(
        helpers_of(&ids),
        Vec::<String>::new(),
        "helper processes left behind"
    );
    assert!(
        open_fds() <= fds,
        "descriptors leaked: {fds} -> {}",
        open_fds()
    );
    for controller in [
        "memory", "pids", "cpu", "cpuacct", "blkio", "devices", "unified",
    ] {
        let dir = std::path::Path::new("/sys/fs/cgroup")
            .join(controller)
            .join("docker-runtime");
        let stale: Vec<&String> = ids.iter().filter(|id| dir.join(id).exists()).collect();
        assert!(
            stale.is_empty(),
            "{controller} cgroups left behind: {stale:?}"
        );
    }
}
