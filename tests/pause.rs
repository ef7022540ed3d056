//! `pause`, `unpause` and the freeze of `commit`, on the real kernel: every container has a
//! cgroup it is frozen through (cgroup v1's freezer, or v2's `cgroup.freeze`), removed when the
//! container ends. The containers here count in a file of their read-write layer, which the
//! test reads from the host: a paused container's count stands still.

mod common;
mod daemon_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{call, detached, ok};
use common::Fixture;
use daemon_support::eventually;

/// Count forever into `/n`.
const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i > /n; done";

/// Start a counting container; returns its id and its read-write layer once it counts.
fn counting(f: &Fixture) -> (String, PathBuf) {
    counting_with(f, COUNTER)
}

/// Start a container running `script`, which counts; returns its id and its read-write layer
/// once it counts.
fn counting_with(f: &Fixture, script: &str) -> (String, PathBuf) {
    let id = detached(&f.rt, &["busybox", "sh", "-c", script]);
    let rw = f.rt.container(&id).unwrap().rw_dir();
    assert!(
        eventually(Duration::from_secs(20), || count(&rw).is_some()),
        "the container did not count"
    );
    (id, rw)
}

/// The count in `/n` (None between the truncation and the write of a new value).
fn count(rw: &Path) -> Option<u64> {
    std::fs::read_to_string(rw.join("n"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the count moves within a few seconds.
fn counts(rw: &Path) -> bool {
    let before = std::fs::read_to_string(rw.join("n")).unwrap_or_default();
    eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(rw.join("n")).unwrap_or_default() != before
    })
}

/// Whether the count stands still (the file unchanged, byte for byte) for half a second.
fn stands_still(rw: &Path) -> bool {
    let before = std::fs::read(rw.join("n")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::read(rw.join("n")).unwrap() == before
}

fn inspect(f: &Fixture, id: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&f.rt, &["inspect", id])).unwrap()
}

/// The cgroup folders of container `id` on this host, in any layout (v1 freezer and memory,
/// pure v2, the hybrid's unified hierarchy).
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    ["freezer", "memory", "", "unified"]
        .iter()
        .map(|h| {
            Path::new("/sys/fs/cgroup")
                .join(h)
                .join("docker-runtime")
                .join(id)
        })
        .filter(|p| p.is_dir())
        .collect()
}

#[test]
fn pause_stops_the_count_and_unpause_resumes_it() {
    let f = Fixture::new("pause");
    let (id, rw) = counting(&f);
    assert!(counts(&rw));
    assert_eq!(ok(&f.rt, &["pause", &id]), format!("{id}\n"));
    assert!(stands_still(&rw), "a paused container still counts");
    assert_eq!(inspect(&f, &id)["State"]["Paused"], true);
    let ps = ok(&f.rt, &["ps"]);
    assert!(ps.contains(" (Paused)") && ps.contains("Up "), "{ps}");
    // Twice is an error; the container stays paused.
    let out = call(&f.rt, &["pause", &id]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("is already paused"), "{}", out.stderr);
    assert!(stands_still(&rw));

    // A restarted runtime reads the frozen state back from the kernel, and can unpause.
    let rt2 = f.reopen();
    assert!(rt2.container(&id).unwrap().is_paused());
    assert!(ok(&rt2, &["ps"]).contains("(Paused)"));
    assert_eq!(ok(&rt2, &["unpause", &id]), format!("{id}\n"));
    drop(rt2);
    assert!(counts(&rw), "an unpaused container does not count");
    assert_eq!(inspect(&f, &id)["State"]["Paused"], false);
    assert!(!ok(&f.rt, &["ps"]).contains("Paused"));
    let out = call(&f.rt, &["unpause", &id]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("is not paused"), "{}", out.stderr);
    ok(&f.rt, &["kill", &id]);
}

#[test]
fn pause_and_unpause_of_what_does_not_run_are_clear_errors() {
    let f = Fixture::new("pausestop");
    let id = ok(&f.rt, &["run", "--network", "none", "busybox", "true"]);
    assert_eq!(id, "");
    let id = f.rt.containers()[0].id.clone();
    for cmd in ["pause", "unpause"] {
        let out = call(&f.rt, &[cmd, &id]);
        assert_eq!(out.status, 1, "{cmd}");
        assert!(
            out.stderr
                .contains(&format!("container {} is not running", &id[..12])),
            "{cmd}: {}",
            out.stderr
        );
        let out = call(&f.rt, &[cmd, "nosuchcontainer"]);
        assert!(
            out.stderr.contains("no such container"),
            "{cmd}: {}",
            out.stderr
        );
        let out = call(&f.rt, &[cmd]);
        assert!(
            out.stderr.contains("argument(s) expected"),
            "{cmd}: {}",
            out.stderr
        );
    }
    assert_eq!(inspect(&f, &id)["State"]["Paused"], false);
}

/// A paused container's processes cannot act on a signal until they are thawed: stop, kill and
/// rm -f thaw after signalling. `stop` shows it on either cgroup version: the container's TERM
/// trap only runs (exit 5) once it is thawed; without the thaw, the stop's SIGKILL would end it
/// after the grace period (137) on cgroup v2, and never on v1, where a frozen process does not
/// die (checked with the thaw taken out of `Container::signal`: `stop` ended the container
/// with 137 on cgroup v2, and failed after 30 s with the earlier v1 freezer).
#[test]
fn stop_kill_and_rm_force_end_a_paused_container() {
    let f = Fixture::new("pausekill");
    let trapping = format!("trap 'exit 5' TERM; {COUNTER}");
    for (cmd, status) in [
        (&["stop", "-t", "5"][..], "5\n"),
        (&["kill"][..], "137\n"),
        (&["rm", "-f"][..], ""),
    ] {
        let (id, _) = counting_with(&f, &trapping);
        ok(&f.rt, &["pause", &id]);
        let mut args = cmd.to_vec();
        args.push(&id);
        ok(&f.rt, &args);
        if status.is_empty() {
            assert!(call(&f.rt, &["inspect", &id])
                .stderr
                .contains("no such container"));
        } else {
            assert_eq!(ok(&f.rt, &["wait", &id]), status, "{cmd:?}");
            assert_eq!(inspect(&f, &id)["State"]["Paused"], false);
        }
        // Removed right after the exit is announced.
        assert!(
            eventually(Duration::from_secs(10), || cgroup_dirs(&id).is_empty()),
            "{cmd:?}: {:?}",
            cgroup_dirs(&id)
        );
    }
}

#[test]
fn the_cgroup_lives_as_long_as_the_container() {
    let f = Fixture::new("cgroupdir");
    // Running: the cgroup is there (with -m also the memory controller's on cgroup v1).
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "-m",
            "32m",
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ],
    )
    .trim()
    .to_string();
    let dirs = cgroup_dirs(&id);
    assert!(!dirs.is_empty(), "no cgroup for a running container");
    let pid = f.rt.container(&id).unwrap().record().state.pid;
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{}",
            d.display()
        );
    }
    // Gone once it exits (removed right after the exit is announced), and after rm.
    let gone = |id: &str| eventually(Duration::from_secs(10), || cgroup_dirs(id).is_empty());
    ok(&f.rt, &["kill", &id]);
    assert!(gone(&id), "{:?}", cgroup_dirs(&id));
    ok(&f.rt, &["start", &id]);
    assert!(!cgroup_dirs(&id).is_empty());
    ok(&f.rt, &["rm", "-f", &id]);
    assert!(gone(&id), "{:?}", cgroup_dirs(&id));
    // An attached run that ends by itself.
    ok(&f.rt, &["run", "--network", "none", "busybox", "true"]);
    let id = f.rt.containers()[0].id.clone();
    assert!(gone(&id), "{:?}", cgroup_dirs(&id));
    // A start that fails (the working directory is missing: the helper's setup fails after
    // the cgroup was made) leaves none.
    let out = call(
        &f.rt,
        &[
            "run",
            "--network",
            "none",
            "-w",
            "/no/such/dir",
            "busybox",
            "true",
        ],
    );
    assert_eq!(out.status, 125, "a failed run is docker's 125");
    assert!(out.stderr.contains("/no/such/dir"), "{}", out.stderr);
    let id = f.rt.containers()[0].id.clone();
    assert!(!f.rt.container(&id).unwrap().is_running());
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
}

/// A run whose end no runtime handled (the process stopped between the container's exit and
/// the cleanup): its record still says running, its cgroup (here left frozen) is still there.
/// A restarted runtime removes the cgroup.
#[test]
fn a_stale_cgroup_of_a_dead_container_is_removed_on_restore() {
    let f = Fixture::new("cgroupstale");
    let id = detached(&f.rt, &["busybox", "sleep", "1000"]);
    let dirs = cgroup_dirs(&id);
    assert!(!dirs.is_empty());
    ok(&f.rt, &["kill", &id]);
    assert!(eventually(Duration::from_secs(10), || cgroup_dirs(&id).is_empty()));
    let rec_path = f.root().join("containers").join(&id).join("config.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
    rec["State"]["Running"] = true.into();
    std::fs::write(&rec_path, rec.to_string()).unwrap();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
        let (file, value) = if d.join("freezer.state").exists() {
            ("freezer.state", "FROZEN")
        } else {
            ("cgroup.freeze", "1")
        };
        if d.join(file).exists() {
            std::fs::write(d.join(file), value).unwrap();
        }
    }
    assert_eq!(cgroup_dirs(&id), dirs);
    let rt = f.reopen();
    assert!(!rt.container(&id).unwrap().is_running());
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
}

#[test]
fn commit_thaws_a_running_container_and_keeps_a_paused_one_paused() {
    let f = Fixture::new("commitpause");
    let (id, rw) = counting(&f);
    // Running: frozen for the packing, running again after.
    let image = ok(&f.rt, &["commit", &id]).trim().to_string();
    let layer = f.root().join("graph").join(&image).join("layer");
    assert!(layer.join("n").exists());
    assert_eq!(inspect(&f, &id)["State"]["Paused"], false);
    assert!(counts(&rw), "a committed container no longer counts");
    // Paused: still paused after.
    ok(&f.rt, &["pause", &id]);
    ok(&f.rt, &["commit", &id]);
    assert_eq!(inspect(&f, &id)["State"]["Paused"], true);
    assert!(stands_still(&rw));
    ok(&f.rt, &["unpause", &id]);
    assert!(counts(&rw));
    // Opting out: never frozen, running after.
    for flag in ["--pause=false", "-p=false"] {
        ok(&f.rt, &["commit", flag, &id]);
        assert_eq!(inspect(&f, &id)["State"]["Paused"], false);
    }
    assert!(counts(&rw));
    // A stopped container commits without a freeze.
    ok(&f.rt, &["kill", &id]);
    ok(&f.rt, &["commit", &id]);
    let usage = ok(&f.rt, &["commit", "--help"]);
    assert!(
        usage.contains("-p, --pause") && usage.contains("(default true)"),
        "{usage}"
    );
}

/// Writes the count `i` to `/a`, then to `/z`, forever (fixed-width, over the files' first
/// bytes: tens of thousands of counts a second), so at every instant `/z` holds `/a`'s count
/// or the one before. `/m`, a MiB packed between the two (the packer goes by name), gives the
/// container time to count on while an unfrozen commit is packed.
const PAIRS: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char mib[1 << 20];
    int m = open("/m", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    memset(mib, 'm', sizeof mib);
    if (m < 0 || write(m, mib, sizeof mib) != sizeof mib || close(m)) return 1;
    int a = open("/a", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int z = open("/z", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[32];
    if (a < 0 || z < 0) return 1;
    for (unsigned long i = 1;; i++) {
        snprintf(buf, sizeof buf, "%019lu\n", i);
        if (pwrite(a, buf, 20, 0) != 20 || pwrite(z, buf, 20, 0) != 20) return 1;
    }
}
"#;

/// The counts of `/a` and `/z` in the layer of `image`.
fn pair(f: &Fixture, image: &str) -> (u64, u64) {
    let layer = f.root().join("graph").join(image).join("layer");
    let read = |n: &str| -> u64 {
        let s = std::fs::read_to_string(layer.join(n)).unwrap();
        s.trim().parse().unwrap_or_else(|_| panic!("{n}: {s:?}"))
    };
    (read("a"), read("z"))
}

/// How many of `n` commits of container `id` (with `flags`) hold a pair the container never
/// had at one instant (`/z` neither `/a`'s count nor the one before).
fn torn_commits(f: &Fixture, id: &str, flags: &[&str], n: usize) -> usize {
    let mut torn = 0;
    for _ in 0..n {
        let mut args = vec!["commit"];
        args.extend_from_slice(flags);
        args.push(id);
        let image = ok(&f.rt, &args).trim().to_string();
        let (a, z) = pair(f, &image);
        if z != a && z + 1 != a {
            torn += 1;
        }
        ok(&f.rt, &["rmi", &image]);
    }
    torn
}

/// The attack: a container changes its layer while commit packs it, so that the image holds a
/// state the container never was in (here a torn pair; in general any mix of old and new
/// files, the packer's own per-entry checks aside). With the freeze, every commit is one
/// instant of the container. Without it (`--pause=false`, commit before the freeze) nearly
/// every commit is torn (29 of 30 when this was written): the same container shows it in the
/// same test. Checked failing with the freeze taken out (`while_frozen` calling `f` without
/// holding a freeze): the first assertion then failed with 19 torn commits of 20.
#[test]
fn commit_packs_one_instant_of_a_container_that_keeps_writing() {
    let f = Fixture::new("commitpairs");
    f.install_static_c(PAIRS, "bin/pairs");
    let id = detached(&f.rt, &["busybox", "/bin/pairs"]);
    let rw = f.rt.container(&id).unwrap().rw_dir();
    assert!(eventually(Duration::from_secs(20), || rw
        .join("z")
        .metadata()
        .is_ok_and(|m| m.len() == 20)));
    assert_eq!(
        torn_commits(&f, &id, &[], 20),
        0,
        "a frozen commit was torn"
    );
    let torn = torn_commits(&f, &id, &["--pause=false"], 20);
    assert!(torn > 0, "the container did not tear an unfrozen commit");
    assert!(f.rt.container(&id).unwrap().is_running());
    ok(&f.rt, &["rm", "-f", &id]);
}

/// The same commands through a daemon (the client speaks to `docker -d`, which runs them on
/// its runtime).
#[test]
fn pause_unpause_and_commit_through_the_daemon() {
    use daemon_support::{import_busybox, Daemon};
    let d = Daemon::start(&[]);
    import_busybox(&d.addr());
    let run = |args: &[&str]| d.ok(args);
    let id = run(&[
        "run",
        "-d",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        COUNTER,
    ]);
    let id = id.trim();
    run(&["pause", id]);
    assert!(run(&["ps"]).contains("(Paused)"));
    run(&["commit", id]);
    let state = |id: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&run(&["inspect", id])).unwrap()["State"].clone()
    };
    assert_eq!(state(id)["Paused"], true);
    run(&["unpause", id]);
    run(&["commit", id]);
    assert_eq!(state(id)["Paused"], false);
    assert_eq!(state(id)["Running"], true);
    let out = d.client(&["unpause", id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        daemon_support::stderr(&out).contains("is not paused"),
        "{out:?}"
    );
    run(&["rm", "-f", id]);
}
