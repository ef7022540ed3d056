//! `docker-runtime-oci` and the container's cgroup on the real kernel: `linux.cgroupsPath`
//! (absolute and relative, as runc's cgroupfs driver reads it), `linux.resources` visible in
//! the controllers' files and effective, `update` on a running container, bad values refused
//! leaving nothing behind, and every folder removed on delete.

mod common;

use std::path::{Path, PathBuf};

use common::oci::{become_subreaper, bundle, fails, json, oci, oci_to, ok, wait_status};
use common::TempDir;

const BASE: &str = "/sys/fs/cgroup";

/// Every hierarchy mounted under /sys/fs/cgroup (v1 controllers, `unified`, or the pure v2
/// root itself as ".").
fn hierarchies() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if Path::new(BASE).join("cgroup.controllers").exists() {
        out.push(PathBuf::from(BASE));
    }
    for e in std::fs::read_dir(BASE).unwrap().flatten() {
        if e.path().join("cgroup.procs").exists() {
            out.push(e.path());
        }
    }
    out
}

/// Whether this host has the v1 controller `name` (this host's hybrid layout does).
fn v1(name: &str) -> Option<PathBuf> {
    let p = Path::new(BASE).join(name);
    p.join("tasks").exists().then_some(p)
}

/// The folders at `rel` (below each hierarchy's root) that exist.
fn existing(rel: &Path) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(rel))
        .filter(|p| p.exists())
        .collect()
}

/// Removes the cgroupsPath parents a test made, in every hierarchy, even when it fails.
struct Parents(Vec<PathBuf>);

impl Drop for Parents {
    fn drop(&mut self) {
        for h in hierarchies() {
            for p in self.0.iter().rev() {
                let _ = std::fs::remove_dir(h.join(p));
            }
        }
    }
}

/// Deletes (`--force`) the containers a test made, even when it fails, so that no process
/// or cgroup folder stays.
struct Containers<'a>(&'a Path, Vec<&'a str>);

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for id in &self.1 {
            let _ = oci(self.0, &["delete", "--force", id]);
        }
    }
}

/// Our own cgroup in the v1 hierarchy `name` (`/proc/self/cgroup`), as a relative path.
fn own(name: &str) -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let line = text
        .lines()
        .find(|l| l.split(':').nth(1).unwrap().split(',').any(|c| c == name))
        .unwrap();
    PathBuf::from(line.splitn(3, ':').nth(2).unwrap().trim_start_matches('/'))
}

/// A busybox bundle running `args` with `linux` merged into its `linux` section.
fn bundle_with(dir: &Path, args: &[&str], linux: serde_json::Value) -> PathBuf {
    let b = bundle(dir, args, false);
    let path = b.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (k, v) in linux.as_object().unwrap() {
        config["linux"][k] = v.clone();
    }
    std::fs::write(&path, config.to_string()).unwrap();
    b
}

/// Create and start container `id` from bundle `b`; its pid.
fn start(root: &Path, b: &Path, id: &str, io: &Path) -> i32 {
    let status = oci_to(root, &["create", "--bundle", b.to_str().unwrap(), id], io);
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(io.with_extension("err")).unwrap_or_default()
    );
    let pid = json(&ok(&oci(root, &["state", id])))["pid"]
        .as_i64()
        .unwrap() as i32;
    ok(&oci(root, &["start", id]));
    pid
}

/// Kill container `id` (its process `pid`, ours to reap) and delete it.
fn finish(root: &Path, id: &str, pid: i32) {
    ok(&oci(root, &["kill", "--all", id, "KILL"]));
    wait_status(pid);
    ok(&oci(root, &["delete", id]));
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn an_absolute_cgroups_path_holds_the_limits_and_goes_on_delete() {
    become_subreaper();
    let dir = TempDir::new("ocg-abs");
    let root = dir.join("root");
    let parent = format!("drtest-ocg-{}", std::process::id());
    let _parents = Parents(vec![PathBuf::from(&parent)]);
    let rel = PathBuf::from(&parent).join("a1");
    let b = bundle_with(
        &dir.join(""),
        &["sleep", "300"],
        serde_json::json!({
            "cgroupsPath": format!("/{parent}/a1"),
            "resources": {
                "memory": {"limit": 48 << 20, "reservation": 16 << 20, "swappiness": 0},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
                "pids": {"limit": 20},
                "blockIO": {"weight": 300}
            }
        }),
    );
    let _made = Containers(&root, vec!["a1"]);
    let pid = start(&root, &b, "a1", &dir.join("io"));
    // The process is in the cgroup in every hierarchy (as /proc says).
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/{}", rel.display());
    for line in cgroups.lines() {
        let controllers = line.split(':').nth(1).unwrap();
        if ["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", ""].contains(&controllers) {
            assert!(line.ends_with(&want), "{line} in\n{cgroups}");
        }
    }
    if let Some(mem) = v1("memory") {
        let d = mem.join(&rel);
        assert_eq!(
            read(&d.join("memory.limit_in_bytes")),
            (48u64 << 20).to_string()
        );
        assert_eq!(
            read(&d.join("memory.soft_limit_in_bytes")),
            (16u64 << 20).to_string()
        );
        assert_eq!(read(&d.join("memory.swappiness")), "0");
        let cpu = v1("cpu").unwrap().join(&rel);
        assert_eq!(read(&cpu.join("cpu.shares")), "512");
        assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(
            read(&v1("cpuset").unwrap().join(&rel).join("cpuset.cpus")),
            "0"
        );
        assert_eq!(read(&v1("pids").unwrap().join(&rel).join("pids.max")), "20");
        // The block I/O weight: BFQ's file on this kernel (CFQ's blkio.weight is gone).
        let blkio = v1("blkio").unwrap().join(&rel);
        let weight = ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .find_map(|f| std::fs::read_to_string(blkio.join(f)).ok())
            .unwrap();
        assert!(weight.split_whitespace().any(|w| w == "300"), "{weight}");
        // The process runs on CPU 0 only.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.contains("Cpus_allowed_list:\t0\n"), "{status}");
    }
    // ps, pause and exec find the cgroup at its path.
    let pids = json(&ok(&oci(&root, &["ps", "--format", "json", "a1"])));
    assert_eq!(pids, serde_json::json!([pid]));
    ok(&oci(&root, &["pause", "a1"]));
    assert_eq!(json(&ok(&oci(&root, &["state", "a1"])))["status"], "paused");
    ok(&oci(&root, &["resume", "a1"]));
    let out = ok(&oci(&root, &["exec", "a1", "cat", "/proc/self/cgroup"]));
    let joined = out.lines().filter(|l| l.ends_with(&want)).count();
    assert!(joined >= 1, "the exec'd process is in the cgroup:\n{out}");
    assert_eq!(
        joined,
        cgroups.lines().filter(|l| l.ends_with(&want)).count(),
        "in every hierarchy the container is in:\n{out}"
    );
    assert!(!existing(&rel).is_empty());
    finish(&root, "a1", pid);
    assert_eq!(existing(&rel), Vec::<PathBuf>::new(), "removed on delete");
}

#[test]
fn a_relative_cgroups_path_is_under_the_runtimes_own_cgroup() {
    become_subreaper();
    let dir = TempDir::new("ocg-rel");
    let root = dir.join("root");
    let parent = format!("drtest-ocg-rel-{}", std::process::id());
    let b = bundle_with(
        &dir.join(""),
        &["sleep", "300"],
        serde_json::json!({"cgroupsPath": format!("{parent}/r1")}),
    );
    // The runtime runs in our cgroups: its own cgroup in each hierarchy is ours.
    let mut parents = vec![PathBuf::from(&parent)];
    for name in ["memory", "pids"] {
        parents.push(own(name).join(&parent));
    }
    let _parents = Parents(parents);
    let _made = Containers(&root, vec!["r1"]);
    let pid = start(&root, &b, "r1", &dir.join("io"));
    let mut dirs = Vec::new();
    for name in ["memory", "pids", "cpu"] {
        if let Some(h) = v1(name) {
            let d = h.join(own(name)).join(&parent).join("r1");
            assert!(d.is_dir(), "{}", d.display());
            let procs = read(&d.join("cgroup.procs"));
            assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
            dirs.push(d);
        }
    }
    finish(&root, "r1", pid);
    for d in dirs {
        assert!(!d.exists(), "{} removed on delete", d.display());
    }
}

/// The attack: a fork bomb run in the container (`exec`, as a user of a pod would). Without
/// a pids limit (a container of the same program with none) it makes all its 30 processes;
/// with `pids.limit` 5 the kernel refuses every fork past 5 tasks. `update` then changes the
/// running container's limits.
#[test]
fn a_pids_limit_stops_a_fork_bomb_and_update_changes_limits() {
    let Some(pids_h) = v1("pids") else {
        eprintln!("no v1 pids controller here; the v2 files are covered by the unit tests");
        return;
    };
    become_subreaper();
    let dir = TempDir::new("ocg-bomb");
    let root = dir.join("root");
    let free = bundle_with(&dir.join("free"), &["sleep", "300"], serde_json::json!({}));
    let limited = bundle_with(
        &dir.join("limited"),
        &["sleep", "300"],
        serde_json::json!({"resources": {"pids": {"limit": 5}}}),
    );
    let _made = Containers(&root, vec!["bomb-free", "bomb-5"]);
    let free_pid = start(&root, &free, "bomb-free", &dir.join("free-io"));
    let pid = start(&root, &limited, "bomb-5", &dir.join("limited-io"));
    let current = |id: &str| {
        read(&pids_h.join(format!("docker-runtime/oci-{id}/pids.current")))
            .parse::<u64>()
            .unwrap()
    };
    // Its processes leave our pipes alone (the exec's output is read to its end).
    let bomb = format!("{}echo forked", "sleep 300 >/dev/null 2>&1 & ".repeat(30));
    let free_out = oci(&root, &["exec", "bomb-free", "sh", "-c", &bomb]);
    assert_eq!(String::from_utf8_lossy(&free_out.stdout), "forked\n");
    assert_eq!(
        current("bomb-free"),
        31,
        "without a limit every fork succeeds"
    );
    let out = oci(&root, &["exec", "bomb-5", "sh", "-c", &bomb]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("can't fork"), "{err}");
    assert!(current("bomb-5") <= 5, "the limit holds at 5 tasks");
    let d = pids_h.join("docker-runtime/oci-bomb-5");
    assert_ne!(read(&d.join("pids.events")), "max 0");

    // update: a file on stdin (as containerd's shim gives it), and runc's flags.
    let r = root.to_str().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_docker-runtime-oci"))
        .args(["--root", r, "update", "--resources", "-", "bomb-5"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let resources = serde_json::json!({"pids": {"limit": 8}, "memory": {"limit": 40 << 20},
        "cpu": {"shares": 1024}, "devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]});
    // Device rules as containerd sends them again with each update: the standard devices stay
    // allowed (runc's meaning), so they are accepted.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(resources.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = dir.join("res.json");
    std::fs::write(&file, resources.to_string()).unwrap();
    ok(&oci(
        &root,
        &["update", "--resources", file.to_str().unwrap(), "bomb-5"],
    ));
    assert_eq!(read(&d.join("pids.max")), "8");
    if let Some(mem) = v1("memory") {
        let m = mem.join("docker-runtime/oci-bomb-5");
        assert_eq!(
            read(&m.join("memory.limit_in_bytes")),
            (40u64 << 20).to_string()
        );
        ok(&oci(
            &root,
            &[
                "update",
                "--memory",
                "36m",
                "--cpu-share",
                "256",
                "--cpu-quota",
                "30000",
                "--cpu-period",
                "100000",
                "--pids-limit",
                "-1",
                "bomb-5",
            ],
        ));
        assert_eq!(
            read(&m.join("memory.limit_in_bytes")),
            (36u64 << 20).to_string()
        );
        let c = v1("cpu").unwrap().join("docker-runtime/oci-bomb-5");
        assert_eq!(read(&c.join("cpu.shares")), "256");
        assert_eq!(read(&c.join("cpu.cfs_quota_us")), "30000");
        assert_eq!(read(&d.join("pids.max")), "max");
    }
    // Bad values are refused before anything is written.
    let err = fails(&oci(&root, &["update", "--pids-limit", "-5", "bomb-5"]));
    assert!(err.contains("pids.limit -5"), "{err}");
    let err = fails(&oci(&root, &["update", "--cpuset-cpus", "abc", "bomb-5"]));
    assert!(err.contains("cpu.cpus \"abc\""), "{err}");
    let err = fails(&oci(&root, &["update", "--memory", "lots", "bomb-5"]));
    assert!(err.contains("--memory \"lots\""), "{err}");
    let err = fails(&oci(&root, &["update", "--pids-limit", "5", "nope"]));
    assert!(err.contains("container \"nope\" does not exist"), "{err}");

    finish(&root, "bomb-free", free_pid);
    finish(&root, "bomb-5", pid);
    let err = fails(&oci(&root, &["update", "--pids-limit", "5", "bomb-5"]));
    assert!(err.contains("does not exist"), "{err}");
    for id in ["bomb-free", "bomb-5"] {
        assert_eq!(
            existing(&Path::new("docker-runtime").join(format!("oci-{id}"))),
            Vec::<PathBuf>::new()
        );
    }
}

/// A stopped container cannot be updated: the message containerd matches.
#[test]
fn update_of_a_stopped_container_says_not_running() {
    become_subreaper();
    let dir = TempDir::new("ocg-stopped");
    let root = dir.join("root");
    let b = bundle_with(&dir.join(""), &["true"], serde_json::json!({}));
    let pid = start(&root, &b, "s1", &dir.join("io"));
    assert_eq!(wait_status(pid), 0);
    let err = fails(&oci(&root, &["update", "--pids-limit", "5", "s1"]));
    assert!(err.contains("container \"s1\" not running"), "{err}");
    ok(&oci(&root, &["delete", "s1"]));
}

#[test]
fn bad_resources_and_paths_are_clear_errors_and_leave_nothing() {
    let dir = TempDir::new("ocg-bad");
    let root = dir.join("root");
    let parent = format!("drtest-ocg-bad-{}", std::process::id());
    let _parents = Parents(vec![PathBuf::from(&parent)]);
    let online = read(Path::new("/sys/devices/system/cpu/online"));
    for (i, (linux, want)) in [
        (
            serde_json::json!({"resources": {"pids": {"limit": -5}}}),
            "pids.limit -5",
        ),
        (
            serde_json::json!({"resources": {"cpu": {"cpus": "abc"}}}),
            "cpu.cpus \"abc\"",
        ),
        (
            serde_json::json!({"cgroupsPath": "/../escape"}),
            "may not climb out",
        ),
        (
            serde_json::json!({"cgroupsPath": "system.slice:cri:c1"}),
            "systemd",
        ),
        (
            serde_json::json!({"resources": {"cpu": {"realtimeRuntime": 950000}}}),
            "cpu.realtimeRuntime",
        ),
        (
            serde_json::json!({"resources": {"memory": {"kernel": 1048576}}}),
            "memory.kernel",
        ),
        // Valid, but refused by the kernel once the folders are made: a CPU this host lacks.
        (
            serde_json::json!({"cgroupsPath": format!("/{parent}/k"),
                "resources": {"cpu": {"cpus": "1000"}}}),
            "cpuset.cpus",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("bad{i}");
        let b = bundle_with(&dir.join(&id), &["true"], linux);
        let out = oci(&root, &["create", "--bundle", b.to_str().unwrap(), &id]);
        let err = fails(&out);
        assert!(err.contains(want), "{want}: {err} (online CPUs {online})");
        assert!(!root.join(&id).exists(), "no state for {id}");
        for rel in [
            Path::new("docker-runtime").join(format!("oci-{id}")),
            Path::new(&parent).join("k"),
        ] {
            assert_eq!(existing(&rel), Vec::<PathBuf>::new(), "{id}: {err}");
        }
    }
    assert_eq!(ok(&oci(&root, &["list", "-q"])), "");
}

/// A program that maps one 2 MiB huge page and writes to it (`mapped`, then `touched`); the
/// hugetlb controller refuses it at the `mmap` (where the kernel limits reservations) or with
/// a `SIGBUS` at the write.
const HUGE_PROBE_C: &str = r#"#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
int main(void) {
    char *p = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT), -1, 0);
    if (p == MAP_FAILED) { printf("mmap: %s\n", strerror(errno)); return 1; }
    printf("mapped\n");
    fflush(stdout);
    p[0] = 1;
    printf("touched\n");
    return 0;
}
"#;

/// The host's pool of 2 MiB huge pages grown to `want` for the test, put back on drop (also
/// when the test fails).
struct HugePool {
    file: PathBuf,
    before: String,
}

impl HugePool {
    fn grow(want: u64) -> Option<HugePool> {
        let file = PathBuf::from("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
        let before = std::fs::read_to_string(&file).ok()?.trim().to_string();
        let pool = HugePool { file, before };
        if pool.before.parse::<u64>().unwrap() < want {
            std::fs::write(&pool.file, want.to_string()).unwrap();
        }
        let now: u64 = read(&pool.file).parse().unwrap();
        assert!(now >= want, "the kernel gave {now} huge pages of {want}");
        Some(pool)
    }
}

impl Drop for HugePool {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.file, &self.before);
    }
}

/// Turns the hugetlb controller off again in the v2 root's `cgroup.subtree_control` when the
/// test turned it on (once its folders are gone: declared before them).
struct V2Root(Option<PathBuf>);

impl Drop for V2Root {
    fn drop(&mut self) {
        if let Some(control) = &self.0 {
            let _ = std::fs::write(control, "-hugetlb");
        }
    }
}

/// The attack: a container maps and touches a huge page, memory outside its memory limit
/// (huge pages are not charged to memory.max) taken from the host's fixed pool. Without a
/// limit (a container of the same program with none) it gets one; with kubelet's
/// `hugepageLimits` of 0 for 2MB the kernel refuses it. The files have the values; `update`
/// raises the limit and the page is got, and limits the unlimited one, which then is refused;
/// a page size this kernel lacks is refused by name.
#[test]
fn hugepage_limits_stop_a_container_taking_huge_pages() {
    let unified = Path::new(BASE).join("unified");
    let v2 = [unified.clone(), PathBuf::from(BASE)]
        .into_iter()
        .find(|d| {
            std::fs::read_to_string(d.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|x| x == "hugetlb"))
        });
    let v1_huge = v1("hugetlb");
    if v2.is_none() && v1_huge.is_none() {
        eprintln!("no hugetlb cgroup controller here; the files are covered by the unit tests");
        return;
    }
    become_subreaper();
    let control = v2.as_ref().map(|d| d.join("cgroup.subtree_control"));
    let was_on = control
        .as_ref()
        .is_some_and(|c| read(c).split_whitespace().any(|x| x == "hugetlb"));
    let _root = V2Root(control.filter(|_| !was_on));
    let Some(_pool) = HugePool::grow(2) else {
        eprintln!("no 2 MiB huge pages on this kernel");
        return;
    };
    let dir = TempDir::new("ocg-huge");
    let root = dir.join("root");
    let parent = format!("drtest-ocg-huge-{}", std::process::id());
    // The unlimited container's parent: no huge page limit turned hugetlb on there.
    let free_parent = format!("drtest-ocg-hugefree-{}", std::process::id());
    let _parents = Parents(vec![PathBuf::from(&parent), PathBuf::from(&free_parent)]);
    let mut limits = vec![serde_json::json!({"pageSize": "2MB", "limit": 0})];
    if Path::new("/sys/kernel/mm/hugepages/hugepages-1048576kB").exists() {
        limits.push(serde_json::json!({"pageSize": "1GB", "limit": 0}));
    }
    let free = bundle_with(
        &dir.join("free"),
        &["sleep", "300"],
        serde_json::json!({"cgroupsPath": format!("/{free_parent}/f1")}),
    );
    let limited = bundle_with(
        &dir.join("limited"),
        &["sleep", "300"],
        serde_json::json!({"cgroupsPath": format!("/{parent}/h1"),
            "resources": {"hugepageLimits": limits}}),
    );
    for b in [&free, &limited] {
        let src = dir.join("hugeprobe.c");
        std::fs::write(&src, HUGE_PROBE_C).unwrap();
        let built = std::process::Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(b.join("rootfs/hugeprobe"))
            .arg(&src)
            .output()
            .unwrap();
        assert!(built.status.success(), "{built:?}");
    }
    let _made = Containers(&root, vec!["huge-free", "huge-0"]);
    let free_pid = start(&root, &free, "huge-free", &dir.join("free-io"));
    let pid = start(&root, &limited, "huge-0", &dir.join("limited-io"));
    let probe = |id: &str| {
        let out = oci(&root, &["exec", id, "/hugeprobe"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(
        probe("huge-free"),
        (Some(0), "mapped\ntouched\n".into()),
        "without a limit the container takes a huge page"
    );
    // Refused at the mmap (the reservation's limit, .rsvd.) or by a SIGBUS at the write.
    let refused = |id: &str| {
        let (status, out) = probe(id);
        assert!(
            (status == Some(1) && out == "mmap: Cannot allocate memory\n")
                || (status == Some(128 + libc::SIGBUS) && out == "mapped\n"),
            "the limit of 0 refuses it: {status:?} {out}"
        );
    };
    refused("huge-0");
    // The files: v2's (this host's hybrid layout, or pure v2) or v1's.
    let (folder, max, rsvd) = match &v2 {
        Some(d) => (d.join(&parent).join("h1"), "max", "rsvd.max"),
        None => (
            v1_huge.unwrap().join(&parent).join("h1"),
            "limit_in_bytes",
            "rsvd.limit_in_bytes",
        ),
    };
    for l in &limits {
        let size = l["pageSize"].as_str().unwrap();
        assert_eq!(read(&folder.join(format!("hugetlb.{size}.{max}"))), "0");
        let r = folder.join(format!("hugetlb.{size}.{rsvd}"));
        if r.exists() {
            assert_eq!(read(&r), "0", "{}", r.display());
        }
    }
    // update: one page allowed, the probe gets it.
    let file = dir.join("res.json");
    let one = serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]});
    std::fs::write(&file, one.to_string()).unwrap();
    ok(&oci(
        &root,
        &["update", "--resources", file.to_str().unwrap(), "huge-0"],
    ));
    assert_eq!(read(&folder.join(format!("hugetlb.2MB.{max}"))), "2097152");
    assert_eq!(probe("huge-0"), (Some(0), "mapped\ntouched\n".into()));
    // update: a limit for the container made without one (its parents turn hugetlb on).
    let zero = serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]});
    std::fs::write(&file, zero.to_string()).unwrap();
    ok(&oci(
        &root,
        &["update", "--resources", file.to_str().unwrap(), "huge-free"],
    ));
    refused("huge-free");
    // A page size this kernel lacks: refused by name, the limits left as they are.
    let odd = serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 0},
        {"pageSize": "16GB", "limit": 0}]});
    std::fs::write(&file, odd.to_string()).unwrap();
    let err = fails(&oci(
        &root,
        &["update", "--resources", file.to_str().unwrap(), "huge-0"],
    ));
    assert!(err.contains("pageSize \"16GB\""), "{err}");
    assert_eq!(read(&folder.join(format!("hugetlb.2MB.{max}"))), "2097152");
    finish(&root, "huge-free", free_pid);
    finish(&root, "huge-0", pid);
    // And at create: refused, nothing left behind.
    let b = bundle_with(
        &dir.join("odd"),
        &["true"],
        serde_json::json!({"cgroupsPath": format!("/{parent}/h2"),
            "resources": {"hugepageLimits": [{"pageSize": "16GB", "limit": 0}]}}),
    );
    let err = fails(&oci(
        &root,
        &["create", "--bundle", b.to_str().unwrap(), "h2"],
    ));
    assert!(err.contains("pageSize \"16GB\""), "{err}");
    assert_eq!(
        existing(&Path::new(&parent).join("h2")),
        Vec::<PathBuf>::new()
    );
    assert!(!root.join("h2").exists());
}
