//! The cgroups of a container, `docker-runtime/ID` in each hierarchy it uses: one it can be
//! frozen through, for `pause` and `commit` (every container, when the host has one), and the
//! memory controller's for `run -m`.
//!
//! The freezer is cgroup v2's `cgroup.freeze`, part of every v2 cgroup (Linux 5.2) with no
//! controller to enable: on a pure v2 host at `/sys/fs/cgroup`, in the hybrid layout at
//! `/sys/fs/cgroup/unified` (v1 controllers next to an empty v2 hierarchy). The helper creates
//! the container's first process right inside that folder (`clone3` with `CLONE_INTO_CGROUP`,
//! see `init`), which costs nothing on the start's path; moving a process into a cgroup waits
//! for an RCU grace period (~10 ms here). Only a host without any v2 hierarchy uses cgroup
//! v1's freezer controller (`/sys/fs/cgroup/freezer`), joined by writing the pid, with that
//! wait. The memory limit is v1's memory controller (joined by writing the pid, only with
//! `-m`) or, on a pure v2 host, the same folder as the freezer. The layout is found once per
//! process.
//!
//! Devices need no cgroup: every place a container can create a node is mounted nodev (see
//! `init::setup_dev`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const BASE: &str = "/sys/fs/cgroup";
const PARENT: &str = "docker-runtime";
/// How long a freeze may take before it is given up (and the cgroup thawed again).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// A hierarchy holding a controller: its version and its root folder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hierarchy {
    version: Version,
    root: PathBuf,
}

impl Hierarchy {
    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(PARENT).join(id)
    }
}

/// Where the controllers a container uses are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    memory: Option<Hierarchy>,
    freezer: Option<Hierarchy>,
}

fn writable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn hierarchy(version: Version, root: PathBuf) -> Option<Hierarchy> {
    Some(Hierarchy { version, root })
}

impl Layout {
    /// The controllers under `base` (`/sys/fs/cgroup`, or a fake folder in the unit tests). A
    /// freezer must be writable: a read-only `/sys/fs/cgroup` (as inside many containers)
    /// means no pause, not a failed start.
    fn detect(base: &Path) -> Layout {
        let controllers = fs::read_to_string(base.join("cgroup.controllers")).ok();
        let v1_memory = base.join("memory");
        let memory = if v1_memory.join("memory.limit_in_bytes").exists() {
            hierarchy(Version::V1, v1_memory)
        } else if controllers
            .as_deref()
            .is_some_and(|c| c.split_whitespace().any(|c| c == "memory"))
        {
            hierarchy(Version::V2, base.to_path_buf())
        } else {
            None
        };
        let v1_freezer = base.join("freezer");
        let unified = base.join("unified");
        let freezer = if controllers.is_some() && writable(base) {
            hierarchy(Version::V2, base.to_path_buf())
        } else if unified.join("cgroup.controllers").exists() && writable(&unified) {
            hierarchy(Version::V2, unified)
        } else if v1_freezer.join("cgroup.procs").exists() && writable(&v1_freezer) {
            hierarchy(Version::V1, v1_freezer)
        } else {
            None
        };
        Layout { memory, freezer }
    }

    /// The host's layout, found at the first call.
    fn host() -> &'static Layout {
        static HOST: OnceLock<Layout> = OnceLock::new();
        HOST.get_or_init(|| Layout::detect(Path::new(BASE)))
    }

    /// Make the cgroup of container `id` (see [`Cgroup::create`]).
    fn create(&self, id: &str, memory: Option<(i64, i64)>) -> Result<Option<Cgroup>> {
        let mut cg = Cgroup {
            dirs: Vec::new(),
            freezer: None,
        };
        let made = self.make(&mut cg, id, memory);
        match made {
            Ok(()) => Ok((!cg.dirs.is_empty()).then_some(cg)),
            Err(e) => {
                cg.remove();
                Err(e)
            }
        }
    }

    /// The folders of `cg`, added as they are made (so that a failure removes what was made).
    fn make(&self, cg: &mut Cgroup, id: &str, memory: Option<(i64, i64)>) -> Result<()> {
        let memory = match memory {
            Some((limit, swap)) => Some((self.memory_hierarchy()?, limit, swap)),
            None => None,
        };
        if let Some((h, ..)) = &memory {
            if h.version == Version::V2 {
                // Delegate the memory controller down to our containers.
                let _ = write(&h.root.join("cgroup.subtree_control"), "+memory");
                let parent = h.root.join(PARENT);
                mkdir(&parent)?;
                write(&parent.join("cgroup.subtree_control"), "+memory")?;
            }
        }
        if let Some(h) = &self.freezer {
            let dir = h.dir(id);
            mkdir(&dir)?;
            cg.dirs.push(dir.clone());
            cg.freezer = Some((h.version, dir));
        }
        let Some((h, limit, swap)) = memory else {
            return Ok(());
        };
        let dir = h.dir(id);
        if !cg.dirs.contains(&dir) {
            mkdir(&dir)?;
            cg.dirs.push(dir.clone());
        }
        for (file, value) in memory_limits(h.version, &dir, limit, swap) {
            write(&dir.join(file), &value)?;
        }
        Ok(())
    }

    fn memory_hierarchy(&self) -> Result<&Hierarchy> {
        self.memory.as_ref().ok_or_else(|| {
            Error::unsupported(
                "no memory cgroup controller found under /sys/fs/cgroup (v1 memory or v2 with memory)",
            )
        })
    }

    /// The folders of container `id` that exist.
    fn find(&self, id: &str) -> Option<Cgroup> {
        let mut cg = Cgroup {
            dirs: Vec::new(),
            freezer: None,
        };
        for h in self.freezer.iter().chain(self.memory.iter()) {
            let dir = h.dir(id);
            if !cg.dirs.contains(&dir) && dir.is_dir() {
                if self.freezer.as_ref() == Some(h) {
                    cg.freezer = Some((h.version, dir.clone()));
                }
                cg.dirs.push(dir);
            }
        }
        (!cg.dirs.is_empty()).then_some(cg)
    }
}

/// The files and values of a memory limit of `limit` bytes and, when `swap` is positive, a
/// memory+swap limit of `swap` bytes (as `docker run -m`), for a cgroup at `dir`.
fn memory_limits(version: Version, dir: &Path, limit: i64, swap: i64) -> Vec<(&str, String)> {
    match version {
        Version::V1 => {
            let mut l = vec![("memory.limit_in_bytes", limit.to_string())];
            if swap > 0 && dir.join("memory.memsw.limit_in_bytes").exists() {
                l.push(("memory.memsw.limit_in_bytes", swap.to_string()));
            }
            l
        }
        Version::V2 => {
            let mut l = vec![("memory.max", limit.to_string())];
            if swap > 0 && dir.join("memory.swap.max").exists() {
                l.push(("memory.swap.max", (swap - limit).max(0).to_string()));
            }
            l
        }
    }
}

fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io_path("creating", dir, e))
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value)
        .map_err(|e| Error::io(format_args!("writing {value:?} to {}", path.display()), e))
}

/// The error for pausing where no freezer is.
pub fn no_freezer(container: &str) -> Error {
    Error::unsupported(format!(
        "container {container} cannot be paused: no cgroup freezer (this host has neither a writable cgroup v1 freezer controller nor a writable cgroup v2 hierarchy with cgroup.freeze under /sys/fs/cgroup)"
    ))
}

/// One container's cgroup: its folder in each hierarchy it is in (one on v2, up to two on
/// v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    /// Its folder in the freezer's hierarchy, when the host has one.
    freezer: Option<(Version, PathBuf)>,
}

impl Cgroup {
    /// The cgroup of container `id` as it is on this host (the folders that exist); None when
    /// it has none.
    pub fn find(id: &str) -> Option<Cgroup> {
        Layout::host().find(id)
    }

    /// A v2 cgroup at a known path (for the engine's fake kernel in unit tests).
    #[cfg(test)]
    pub(crate) fn at(path: PathBuf) -> Cgroup {
        Cgroup {
            dirs: vec![path.clone()],
            freezer: Some((Version::V2, path)),
        }
    }

    /// Make the cgroup of container `id`: in the freezer's hierarchy when the host has one,
    /// and, when `memory` is given, in the memory controller's with a limit of `.0` bytes and
    /// (when `.1` is positive) a memory+swap limit of `.1` bytes (as `docker run -m`). None
    /// when there is nothing to make (no freezer, no limit).
    pub fn create(id: &str, memory: Option<(i64, i64)>) -> Result<Option<Cgroup>> {
        Layout::host().create(id, memory)
    }

    /// The cgroup v2 folder the container's first process is created in (see `init`), when
    /// the freezer is v2's.
    pub fn start_dir(&self) -> Option<&Path> {
        match &self.freezer {
            Some((Version::V2, dir)) => Some(dir),
            _ => None,
        }
    }

    /// The folders a process created in [`Cgroup::start_dir`] still has to be moved into.
    fn to_join(&self) -> impl Iterator<Item = &PathBuf> {
        let start = self.start_dir();
        self.dirs.iter().filter(move |d| Some(d.as_path()) != start)
    }

    /// Whether a process created in [`Cgroup::start_dir`] has to be moved into another
    /// hierarchy (v1's freezer or memory controller) with [`Cgroup::add`].
    pub fn needs_join(&self) -> bool {
        self.to_join().next().is_some()
    }

    /// Move process `pid`, created in [`Cgroup::start_dir`], into the cgroup's other folders
    /// (one write per hierarchy; its children follow).
    pub fn add(&self, pid: i32) -> Result<()> {
        self.to_join()
            .try_for_each(|d| write(&d.join("cgroup.procs"), &pid.to_string()))
    }

    /// Remove the cgroup (its processes are gone); a missing folder is fine.
    pub fn remove(&self) {
        for dir in &self.dirs {
            // The kernel may need a moment after the last process exits.
            for _ in 0..50 {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }
    }

    /// The processes in the cgroup (its freezer's folder, where every process of the
    /// container is), in the kernel's order.
    pub fn pids(&self) -> Vec<i32> {
        let dir = match &self.freezer {
            Some((_, dir)) => dir,
            None => match self.dirs.first() {
                Some(d) => d,
                None => return Vec::new(),
            },
        };
        fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Whether the cgroup can be frozen.
    pub fn has_freezer(&self) -> bool {
        self.freezer.is_some()
    }

    /// Whether the kernel was asked to freeze the cgroup (v1 `freezer.state` FREEZING or
    /// FROZEN, v2 `cgroup.freeze` 1): what `ps` and `inspect` call paused. False without a
    /// freezer or when the cgroup is gone.
    pub fn is_frozen(&self) -> bool {
        match &self.freezer {
            Some((Version::V1, dir)) => fs::read_to_string(dir.join("freezer.state"))
                .is_ok_and(|s| matches!(s.trim(), "FROZEN" | "FREEZING")),
            Some((Version::V2, dir)) => {
                fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
            }
            None => false,
        }
    }

    /// Freeze every process of the cgroup and wait until the kernel says they all are (v1
    /// `freezer.state` FROZEN, v2 `frozen 1` in `cgroup.events`). A freeze that does not
    /// complete within 10 s is undone and an error. `container` names it in errors.
    pub fn freeze(&self, container: &str) -> Result<()> {
        self.freeze_within(container, FREEZE_TIMEOUT)
    }

    fn freeze_within(&self, container: &str, timeout: Duration) -> Result<()> {
        let (version, dir) = self.freezer.as_ref().ok_or_else(|| no_freezer(container))?;
        let (file, value, check, done) = match version {
            Version::V1 => ("freezer.state", "FROZEN", "freezer.state", "FROZEN"),
            Version::V2 => ("cgroup.freeze", "1", "cgroup.events", "frozen 1"),
        };
        write(&dir.join(file), value)?;
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_micros(100);
        let mut last = String::new();
        while Instant::now() < deadline {
            last = fs::read_to_string(dir.join(check))
                .map_err(|e| Error::io_path("reading", &dir.join(check), e))?;
            if last.lines().any(|l| l.trim() == done) {
                return Ok(());
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(10));
        }
        let thawed = self.thaw();
        Err(Error::new(
            crate::error::ErrorKind::Io,
            format!(
                "container {container} did not freeze within {} s ({check}: {:?}); {}",
                timeout.as_secs_f32(),
                last.trim(),
                match thawed {
                    Ok(()) => "it was thawed again".to_string(),
                    Err(e) => format!("thawing it again failed too: {e}"),
                }
            ),
        ))
    }

    /// Let the cgroup's processes run again (nothing without a freezer).
    pub fn thaw(&self) -> Result<()> {
        match &self.freezer {
            Some((Version::V1, dir)) => write(&dir.join("freezer.state"), "THAWED"),
            Some((Version::V2, dir)) => write(&dir.join("cgroup.freeze"), "0"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `/sys/fs/cgroup` in a temporary folder, removed on drop.
    struct FakeBase(PathBuf);

    impl FakeBase {
        fn new(tag: &str, files: &[(&str, &str)]) -> FakeBase {
            let p = std::env::temp_dir().join(format!("dr-cgroup-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            for (file, content) in files {
                let f = p.join(file);
                fs::create_dir_all(f.parent().unwrap()).unwrap();
                fs::write(f, content).unwrap();
            }
            fs::create_dir_all(&p).unwrap();
            FakeBase(p)
        }

        fn read(&self, file: &str) -> String {
            fs::read_to_string(self.0.join(file)).unwrap()
        }
    }

    impl Drop for FakeBase {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn v2_one_folder_freezes_and_limits_memory() {
        let base = FakeBase::new("v2", &[("cgroup.controllers", "cpu memory pids\n")]);
        let layout = Layout::detect(&base.0);
        assert_eq!(layout.freezer.as_ref().unwrap().version, Version::V2);
        assert_eq!(layout.memory.as_ref().unwrap().root, base.0);
        // Without a limit: only the folder (no write to the hierarchy's files).
        let cg = layout.create("a", None).unwrap().unwrap();
        assert_eq!(cg.dirs, [base.0.join("docker-runtime/a")]);
        assert!(!base.0.join("cgroup.subtree_control").exists());
        // With one: the same folder, the controller delegated, the limit written.
        let cg = layout.create("b", Some((64 << 20, 0))).unwrap().unwrap();
        assert_eq!(cg.dirs, [base.0.join("docker-runtime/b")]);
        assert_eq!(
            base.read("docker-runtime/cgroup.subtree_control"),
            "+memory"
        );
        assert_eq!(base.read("docker-runtime/b/memory.max"), "67108864");
        // The process is created inside: nothing to join.
        assert_eq!(cg.start_dir(), Some(cg.dirs[0].as_path()));
        assert!(!cg.needs_join());
        cg.add(42).unwrap();
        assert!(!base.0.join("docker-runtime/b/cgroup.procs").exists());
        assert_eq!(layout.find("b"), Some(cg.clone()));
        assert_eq!(layout.find("nothere"), None);

        // The freeze waits for the kernel's word in cgroup.events (played here by a thread).
        fs::write(cg.dirs[0].join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let events = cg.dirs[0].join("cgroup.events");
        let kernel = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            fs::write(events, "populated 1\nfrozen 1\n").unwrap();
        });
        let t = Instant::now();
        cg.freeze("b").unwrap();
        assert!(t.elapsed() >= Duration::from_millis(50));
        kernel.join().unwrap();
        assert_eq!(base.read("docker-runtime/b/cgroup.freeze"), "1");
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert_eq!(base.read("docker-runtime/b/cgroup.freeze"), "0");
        assert!(!cg.is_frozen());

        // A freeze the kernel never completes is undone and an error.
        fs::write(cg.dirs[0].join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let e = cg
            .freeze_within("b", Duration::from_millis(30))
            .unwrap_err();
        assert!(e.message().contains("did not freeze"), "{e}");
        assert!(e.message().contains("thawed again"), "{e}");
        assert_eq!(base.read("docker-runtime/b/cgroup.freeze"), "0");
    }

    #[test]
    fn hybrid_v2_freezer_next_to_v1_memory() {
        let base = FakeBase::new(
            "hybrid",
            &[
                ("freezer/cgroup.procs", ""),
                ("memory/cgroup.procs", ""),
                ("memory/memory.limit_in_bytes", "max"),
                ("unified/cgroup.controllers", ""),
            ],
        );
        let layout = Layout::detect(&base.0);
        let (unified, memory) = (base.0.join("unified"), base.0.join("memory"));
        assert_eq!(layout.freezer, hierarchy(Version::V2, unified.clone()));
        assert_eq!(layout.memory, hierarchy(Version::V1, memory.clone()));
        let cg = layout.create("a", None).unwrap().unwrap();
        assert_eq!(cg.dirs, [unified.join("docker-runtime/a")]);
        assert!(!cg.needs_join());
        // With a limit, the process created in the v2 folder joins the v1 memory cgroup.
        let cg = layout.create("b", Some((8 << 20, 0))).unwrap().unwrap();
        let dirs = [
            unified.join("docker-runtime/b"),
            memory.join("docker-runtime/b"),
        ];
        assert_eq!(cg.dirs, dirs);
        assert_eq!(cg.start_dir(), Some(dirs[0].as_path()));
        assert_eq!(
            base.read("memory/docker-runtime/b/memory.limit_in_bytes"),
            "8388608"
        );
        assert!(cg.needs_join());
        cg.add(7).unwrap();
        assert!(!dirs[0].join("cgroup.procs").exists());
        assert_eq!(base.read("memory/docker-runtime/b/cgroup.procs"), "7");
        assert_eq!(layout.find("b"), Some(cg));
    }

    #[test]
    fn v1_only_a_folder_per_controller_joined_by_pid() {
        let base = FakeBase::new(
            "v1",
            &[
                ("freezer/cgroup.procs", ""),
                ("memory/cgroup.procs", ""),
                ("memory/memory.limit_in_bytes", "max"),
            ],
        );
        let layout = Layout::detect(&base.0);
        let (freezer, memory) = (base.0.join("freezer"), base.0.join("memory"));
        assert_eq!(layout.freezer, hierarchy(Version::V1, freezer.clone()));
        let cg = layout.create("b", Some((8 << 20, 0))).unwrap().unwrap();
        let dirs = [
            freezer.join("docker-runtime/b"),
            memory.join("docker-runtime/b"),
        ];
        assert_eq!(cg.dirs, dirs);
        assert_eq!(cg.start_dir(), None);
        cg.add(7).unwrap();
        for d in &dirs {
            assert_eq!(fs::read_to_string(d.join("cgroup.procs")).unwrap(), "7");
        }
        assert_eq!(layout.find("b"), Some(cg.clone()));
        cg.freeze("b").unwrap();
        assert_eq!(
            base.read("freezer/docker-runtime/b/freezer.state"),
            "FROZEN"
        );
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen());
    }

    #[test]
    fn without_a_freezer_containers_still_run_and_pausing_says_why() {
        // Memory only: nothing to make without a limit; a limit makes a cgroup that cannot
        // be frozen.
        let base = FakeBase::new("nofreezer", &[("memory/memory.limit_in_bytes", "max")]);
        let layout = Layout::detect(&base.0);
        assert_eq!(layout.freezer, None);
        assert_eq!(layout.create("a", None).unwrap(), None);
        let cg = layout.create("b", Some((8 << 20, 0))).unwrap().unwrap();
        assert!(!cg.has_freezer() && !cg.is_frozen());
        let e = cg.freeze("b").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Unsupported);
        assert!(e.message().contains("no cgroup freezer"), "{e}");
        // Nothing at all: a limit is refused clearly.
        let base = FakeBase::new("none", &[]);
        let e = Layout::detect(&base.0)
            .create("c", Some((8 << 20, 0)))
            .unwrap_err();
        assert!(e.message().contains("no memory cgroup controller"), "{e}");
    }
}
