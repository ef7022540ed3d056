//! One container's cgroup: its folder in each hierarchy ([`super::layout`]), made with its
//! resources written, entered, updated, frozen and removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::layout::{CgroupPath, Layout};
use super::resources::{Controller, Resources, Version};
use crate::error::{Error, Result};

/// How long a freeze may take before it is given up (and the cgroup thawed again).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io_path("creating", dir, e))
}

pub(super) fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value)
        .map_err(|e| Error::io(format_args!("writing {value:?} to {}", path.display()), e))
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The error for pausing where no freezer is.
pub fn no_freezer(container: &str) -> Error {
    Error::unsupported(format!(
        "container {container} cannot be paused: no cgroup freezer (this host has neither a writable cgroup v1 freezer controller nor a writable cgroup v2 hierarchy with cgroup.freeze under /sys/fs/cgroup)"
    ))
}

/// One container's cgroup: its v2 folder (the freezer and the list of its processes; on a
/// pure v2 host also its controllers) and its folder in each v1 controller's hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub(super) v2: Option<PathBuf>,
    /// Whether the v2 folder holds the controllers (a pure v2 host).
    pub(super) v2_controllers: bool,
    /// Whether the v2 folder holds hugetlb's files (a pure v2 host, or a hybrid one whose
    /// hugetlb controller is v2's).
    pub(super) v2_hugetlb: bool,
    /// Per controller (co-mounted controllers share a folder).
    pub(super) v1: Vec<(Controller, PathBuf)>,
}

/// Whether a cgroup with `res` gets a folder in v1 controller `c`'s hierarchy: cpuset's only
/// for CPUs or memory nodes, blkio's only for a weight, hugetlb's only for huge page limits,
/// the others always.
pub(super) fn wanted(c: Controller, res: &Resources) -> bool {
    match c {
        Controller::Cpuset => res.cpus.is_some() || res.mems.is_some(),
        Controller::Blkio => res.blkio_weight.is_some(),
        Controller::Hugetlb => !res.hugepages.is_empty(),
        _ => true,
    }
}

/// Give a new v1 cpuset folder (and each new ancestor below `root`) its parent's CPUs and
/// memory nodes: the kernel refuses processes in a cpuset without them.
fn init_cpuset(root: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let mut cur = root.to_path_buf();
    for part in rel.iter() {
        let parent = cur.clone();
        cur.push(part);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if read_trimmed(&cur.join(file)).is_some_and(|v| v.is_empty()) {
                let value = read_trimmed(&parent.join(file)).unwrap_or_default();
                write(&cur.join(file), &value)?;
            }
        }
    }
    Ok(())
}

/// Turn on controllers for the children of each folder from `root` down to `dir`'s parent
/// (cgroup v2 delegation), making the folders on the way: those in `required` (one write
/// per folder, an error when refused), and with `accounting` (a pure v2 host) the
/// accounting ones (`memory`, `pids`, `cpu`) as far as the host lets them.
fn delegate(root: &Path, dir: &Path, required: &[&str], accounting: bool) -> Result<()> {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<_> = rel.iter().collect();
    let mut cur = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let control = cur.join("cgroup.subtree_control");
        for c in ["memory", "pids", "cpu"] {
            if accounting && !required.contains(&c) {
                let _ = write(&control, &format!("+{c}"));
            }
        }
        if !required.is_empty() {
            let list: Vec<String> = required.iter().map(|c| format!("+{c}")).collect();
            write(&control, &list.join(" "))
                .map_err(|e| e.context("enabling the cgroup controllers the resources need"))?;
        }
        cur.push(part);
        if i + 1 < parts.len() {
            mkdir(&cur)?;
        }
    }
    Ok(())
}

/// Whether the v2 controllers `names` are on for `dir` (in its parent's
/// `cgroup.subtree_control`).
fn turned_on(dir: &Path, names: &[&str]) -> bool {
    let on = dir
        .parent()
        .and_then(|p| read_trimmed(&p.join("cgroup.subtree_control")))
        .unwrap_or_default();
    names.iter().all(|n| {
        on.split_whitespace()
            .any(|c| c.trim_start_matches('+') == *n)
    })
}

impl Layout {
    /// Make the cgroup at `path` with `res` written: the v2 folder, and a folder in every v1
    /// hierarchy this runtime accounts with (memory, pids, cpu, cpuacct; the freezer
    /// without v2), in cpuset's when `res` sets CPUs or memory nodes, and in blkio's when it
    /// sets a weight (each folder costs a start ~0.1-0.2 ms). None when the host offers no
    /// writable hierarchy (and nothing is asked). What was made is removed on failure.
    pub fn create(&self, path: &CgroupPath, res: &Resources) -> Result<Option<Cgroup>> {
        for c in res.controllers() {
            if !self.offers(c) {
                return Err(Error::unsupported(format!(
                    "linux.resources needs the {} cgroup controller, which this host does not offer (writable) under /sys/fs/cgroup",
                    c.name()
                )));
            }
        }
        let mut cg = Cgroup {
            v2: None,
            v2_controllers: self.pure_v2(),
            v2_hugetlb: self.in_v2(Controller::Hugetlb),
            v1: Vec::new(),
        };
        match self.make(&mut cg, path, res) {
            Ok(()) if cg.v2.is_none() && cg.v1.is_empty() => Ok(None),
            Ok(()) => Ok(Some(cg)),
            Err(e) => {
                cg.remove();
                Err(e)
            }
        }
    }

    fn make(&self, cg: &mut Cgroup, path: &CgroupPath, res: &Resources) -> Result<()> {
        self.make_v2(cg, path, res)?;
        for (c, root) in &self.v1 {
            if !wanted(*c, res) {
                continue;
            }
            let dir = self.dir(root, c.name(), path);
            mkdir(&dir)?;
            cg.v1.push((*c, dir.clone()));
            if *c == Controller::Cpuset {
                init_cpuset(root, &dir)?;
            }
        }
        cg.apply(res)
    }

    /// Make the v2 folder of the cgroup at `path` (delegating the controllers `res` needs on
    /// a pure v2 host).
    pub(super) fn make_v2(
        &self,
        cg: &mut Cgroup,
        path: &CgroupPath,
        res: &Resources,
    ) -> Result<()> {
        if let Some(root) = &self.v2 {
            let dir = self.dir(root, "", path);
            // Hybrid: only a hugetlb limit needs the v2 parents' delegation (none otherwise,
            // which keeps a plain start's cost).
            let required = self.v2_required(res);
            if self.pure_v2() || !required.is_empty() {
                delegate(root, &dir, &required, self.pure_v2())?;
            }
            mkdir(&dir)?;
            cg.v2 = Some(dir);
        }
        Ok(())
    }

    /// Give the cgroup `cg` new resources (an update): on the v2 hierarchy, the controllers
    /// they need are turned on for it first where its create did not (a container made
    /// without huge page limits, on a host whose hugetlb is v2's), as runc's update does;
    /// nothing is written for those already on.
    pub fn update(&self, cg: &Cgroup, res: &Resources) -> Result<()> {
        if let (Some(root), Some(dir)) = (&self.v2, &cg.v2) {
            let required = self.v2_required(res);
            if !required.is_empty() && !turned_on(dir, &required) {
                delegate(root, dir, &required, false)?;
            }
        }
        cg.apply(res)
    }

    /// The controllers `res` writes through the v2 hierarchy here, by their v2 names.
    fn v2_required(&self, res: &Resources) -> Vec<&'static str> {
        res.controllers()
            .into_iter()
            .filter(|c| self.in_v2(*c))
            .filter_map(|c| c.v2_name())
            .collect()
    }

    /// The names under `docker-runtime/` in any hierarchy: the containers that have (part of)
    /// a cgroup of the runtime's naming, one listing per hierarchy.
    fn named_children(&self) -> std::collections::HashSet<String> {
        let roots = self.v2.iter().chain(self.v1.iter().map(|(_, r)| r));
        roots
            .filter_map(|r| std::fs::read_dir(r.join(super::layout::PARENT)).ok())
            .flat_map(|dir| dir.flatten())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    }

    /// The folders of the cgroup at `path` that exist.
    pub fn find(&self, path: &CgroupPath) -> Option<Cgroup> {
        let v2 = self
            .v2
            .as_ref()
            .map(|root| self.dir(root, "", path))
            .filter(|d| d.is_dir());
        let v1: Vec<_> = self
            .v1
            .iter()
            .map(|(c, root)| (*c, self.dir(root, c.name(), path)))
            .filter(|(_, d)| d.is_dir())
            .collect();
        (v2.is_some() || !v1.is_empty()).then_some(Cgroup {
            v2,
            v2_controllers: self.pure_v2(),
            v2_hugetlb: self.in_v2(Controller::Hugetlb),
            v1,
        })
    }
}

impl Cgroup {
    /// The cgroup at `path` as it is on this host (the folders that exist); None when it has
    /// none.
    pub fn find(path: &CgroupPath) -> Option<Cgroup> {
        Layout::host().find(path)
    }

    /// The names that have a cgroup under `docker-runtime/` on this host, in any hierarchy
    /// (what a restore checks for leftovers, without a lookup per container).
    pub fn named() -> std::collections::HashSet<String> {
        Layout::host().named_children()
    }

    /// Give the cgroup new resources on this host (see [`Layout::update`]).
    pub fn update(&self, res: &Resources) -> Result<()> {
        Layout::host().update(self, res)
    }

    /// Make the cgroup at `path` on this host with `res` written (see [`Layout::create`]).
    pub fn create(path: &CgroupPath, res: &Resources) -> Result<Option<Cgroup>> {
        Layout::host().create(path, res)
    }

    /// A v2 cgroup at a known path (for the engine's fake kernel in unit tests).
    #[cfg(test)]
    pub(crate) fn at(path: PathBuf) -> Cgroup {
        Cgroup {
            v2: Some(path),
            v2_controllers: false,
            v2_hugetlb: false,
            v1: Vec::new(),
        }
    }

    /// The cgroup v2 folder the container's first process is created in (`clone3` with
    /// `CLONE_INTO_CGROUP`, see `init`).
    pub fn start_dir(&self) -> Option<&Path> {
        self.v2.as_deref()
    }

    /// The folder of controller `c`.
    pub(super) fn dir_of(&self, c: Controller) -> Option<&Path> {
        if self.v2_controllers || (c == Controller::Hugetlb && self.v2_hugetlb) {
            return self.v2.as_deref();
        }
        self.v1
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, d)| d.as_path())
    }

    /// The distinct v1 folders the helper is born in: all but the freezer's (the helper's
    /// monitor half must not be frozen with the container).
    fn born_in(&self) -> Vec<&Path> {
        let freezer = self.v1_freezer();
        self.v1_dirs()
            .into_iter()
            .filter(|d| Some(*d) != freezer)
            .collect()
    }

    /// The v1 freezer folder (a host without a v2 hierarchy).
    fn v1_freezer(&self) -> Option<&Path> {
        match self.freezer() {
            Some((Version::V1, d)) => Some(d),
            _ => None,
        }
    }

    /// Whether the container's process must still be moved into a folder by pid once it
    /// exists ([`Cgroup::add`]): only v1's freezer, on a host without a v2 hierarchy.
    pub fn needs_join(&self) -> bool {
        self.v1_freezer().is_some()
    }

    /// Move process `pid` into the v1 freezer folder (one write, with the RCU wait; its
    /// children follow). Nothing to do on a host with a v2 hierarchy.
    pub fn add(&self, pid: i32) -> Result<()> {
        match self.v1_freezer() {
            Some(d) => write(&d.join("cgroup.procs"), &pid.to_string()),
            None => Ok(()),
        }
    }

    /// The distinct v1 folders.
    fn v1_dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::new();
        for (_, d) in &self.v1 {
            if !dirs.contains(&d.as_path()) {
                dirs.push(d);
            }
        }
        dirs
    }

    /// Whether the helper must be born in v1 folders (the hybrid and v1 layouts).
    pub fn has_v1(&self) -> bool {
        !self.born_in().is_empty()
    }

    /// Move the calling thread (alone) into the cgroup's v1 folders, so that what it forks
    /// from now on is born in them. A thread moving itself through `tasks` takes no global
    /// lock; moving a process by pid (`cgroup.procs`) waits for an RCU grace period (~10 ms
    /// on this kernel) and holds every cgroup change of the host meanwhile.
    pub fn enter_v1(&self) -> Result<()> {
        self.born_in()
            .into_iter()
            .try_for_each(|d| write(&d.join("tasks"), "0"))
    }

    /// Write `res` into the cgroup (a create's limits, or an update's changes).
    pub fn apply(&self, res: &Resources) -> Result<()> {
        if *res == Resources::default() {
            return Ok(());
        }
        let has = |c: Controller, file: &str| self.dir_of(c).is_some_and(|d| d.join(file).exists());
        let (writes, memory_file) = if self.v2_controllers {
            (
                res.v2_writes(&has, self.current(Controller::Memory, "memory.max"))?,
                "memory.max",
            )
        } else {
            let cur = self.current(Controller::Memory, "memory.limit_in_bytes");
            (res.v1_writes(&has, cur)?, "memory.limit_in_bytes")
        };
        // The huge page sizes are checked before the first write.
        let hugetlb = self.hugetlb_writes(res)?;
        for (c, file, value) in writes {
            let dir = self.folder(c)?;
            write(&dir.join(file), &value).map_err(|e| {
                if file == memory_file {
                    e.context("setting the memory limit (below what the container uses?)")
                } else {
                    e
                }
            })?;
        }
        for (file, value) in hugetlb {
            write(&file, &value)?;
        }
        Ok(())
    }

    /// The folder of controller `c`, or an error saying why there is none.
    fn folder(&self, c: Controller) -> Result<&Path> {
        self.dir_of(c).ok_or_else(|| {
            Error::unsupported(format!(
                "the container's cgroup has no {} controller folder (a cpuset one is made when the create sets linux.resources.cpu.cpus or mems, a blkio one when it sets blockIO.weight, a hugetlb one when it sets hugepageLimits)",
                c.name()
            ))
        })
    }

    /// The hugetlb writes for `res`: (file, value), none when it sets no huge page limit.
    fn hugetlb_writes(&self, res: &Resources) -> Result<Vec<(PathBuf, String)>> {
        if res.hugepages.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.folder(Controller::Hugetlb)?;
        let version = if self.v2_controllers || self.v2_hugetlb {
            // The v2 folder always exists; its hugetlb files only once the parents delegate
            // the controller, which the create does when it sets huge page limits.
            let enabled = fs::read_to_string(dir.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|x| x == "hugetlb"));
            if !enabled {
                return Err(Error::unsupported(format!(
                    "the container's cgroup {} has no hugetlb controller (it is turned on when the create sets linux.resources.hugepageLimits)",
                    dir.display()
                )));
            }
            Version::V2
        } else {
            Version::V1
        };
        let writes = res.hugetlb_writes(version, &|f| dir.join(f).exists())?;
        Ok(writes.into_iter().map(|(f, v)| (dir.join(f), v)).collect())
    }

    /// A controller file's number (`max` and v1's huge "unlimited" read as -1).
    fn current(&self, c: Controller, file: &str) -> Option<i64> {
        let v = read_trimmed(&self.dir_of(c)?.join(file))?;
        if v == "max" {
            return Some(-1);
        }
        v.parse::<u64>()
            .ok()
            .map(|n| i64::try_from(n).unwrap_or(-1))
    }

    /// Remove the cgroup's folders (its processes are gone); a missing folder is fine.
    pub fn remove(&self) {
        let dirs = self.v2.iter().map(PathBuf::as_path).chain(self.v1_dirs());
        for dir in dirs {
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

    /// The folder listing every process of the container (v2's; v1's freezer without it).
    fn procs_dir(&self) -> Option<&Path> {
        self.v2
            .as_deref()
            .or_else(|| self.dir_of(Controller::Freezer))
            .or_else(|| self.v1.first().map(|(_, d)| d.as_path()))
    }

    /// The processes in the cgroup, in the kernel's order.
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.procs_dir() else {
            return Vec::new();
        };
        fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The freezer: its version and folder.
    fn freezer(&self) -> Option<(Version, &Path)> {
        match (
            &self.v2,
            self.v1.iter().find(|(c, _)| *c == Controller::Freezer),
        ) {
            (Some(d), _) => Some((Version::V2, d)),
            (None, Some((_, d))) => Some((Version::V1, d)),
            _ => None,
        }
    }

    /// Whether the cgroup can be frozen.
    pub fn has_freezer(&self) -> bool {
        self.freezer().is_some()
    }

    /// Whether the kernel was asked to freeze the cgroup (v1 `freezer.state` FREEZING or
    /// FROZEN, v2 `cgroup.freeze` 1): what `ps` and `inspect` call paused. False without a
    /// freezer or when the cgroup is gone.
    pub fn is_frozen(&self) -> bool {
        match self.freezer() {
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
        let (version, dir) = self.freezer().ok_or_else(|| no_freezer(container))?;
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
        match self.freezer() {
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

        fn layout(&self) -> Layout {
            Layout::detect(&self.0, "1:memory:/me\n0::/me\n")
        }
    }

    impl Drop for FakeBase {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn named(n: &str) -> CgroupPath {
        CgroupPath::named(n)
    }

    fn res(v: serde_json::Value) -> Resources {
        Resources::from_json(&v).unwrap()
    }

    #[test]
    fn v2_one_folder_holds_every_limit_and_freezes() {
        let base = FakeBase::new(
            "v2",
            &[("cgroup.controllers", "cpuset cpu io memory pids\n")],
        );
        let layout = base.layout();
        assert!(layout.pure_v2() && layout.v1.is_empty());
        // Without limits: the folder, the accounting controllers turned on for it.
        let cg = layout
            .create(&named("a"), &Resources::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            cg.start_dir(),
            Some(base.0.join("docker-runtime/a").as_path())
        );
        assert!(!cg.has_v1());
        assert_eq!(base.read("docker-runtime/cgroup.subtree_control"), "+cpu");
        // With them: the needed controllers delegated in one write, the files written.
        let r = res(
            serde_json::json!({"memory": {"limit": 64 << 20, "reservation": 1 << 20,
            "swap": 96 << 20}, "cpu": {"shares": 1024, "quota": 20000, "period": 100000,
            "cpus": "0-1", "mems": "0"}, "pids": {"limit": 5}}),
        );
        fs::create_dir_all(base.0.join("docker-runtime/b")).unwrap();
        fs::write(base.0.join("docker-runtime/b/memory.swap.max"), "max").unwrap();
        let cg = layout.create(&named("b"), &r).unwrap().unwrap();
        assert_eq!(
            base.read("docker-runtime/cgroup.subtree_control"),
            "+memory +cpu +cpuset +pids"
        );
        for (file, want) in [
            ("memory.max", "67108864"),
            ("memory.low", "1048576"),
            ("memory.swap.max", "33554432"),
            ("cpu.weight", "39"),
            ("cpu.max", "20000 100000"),
            ("cpuset.cpus", "0-1"),
            ("cpuset.mems", "0"),
            ("pids.max", "5"),
        ] {
            assert_eq!(
                base.read(&format!("docker-runtime/b/{file}")),
                want,
                "{file}"
            );
        }
        // An update writes only what it names.
        cg.apply(&res(serde_json::json!({"pids": {"limit": -1}})))
            .unwrap();
        assert_eq!(base.read("docker-runtime/b/pids.max"), "max");
        assert_eq!(base.read("docker-runtime/b/memory.max"), "67108864");
        assert_eq!(layout.find(&named("b")), Some(cg.clone()));
        assert_eq!(layout.find(&named("nothere")), None);

        // The freeze waits for the kernel's word in cgroup.events (played here by a thread).
        let dir = cg.start_dir().unwrap().to_path_buf();
        fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let events = dir.join("cgroup.events");
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
        assert!(!cg.is_frozen());
        // A freeze the kernel never completes is undone and an error.
        fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let e = cg
            .freeze_within("b", Duration::from_millis(30))
            .unwrap_err();
        assert!(e.message().contains("did not freeze"), "{e}");
        assert!(e.message().contains("thawed again"), "{e}");
        assert_eq!(base.read("docker-runtime/b/cgroup.freeze"), "0");

        // v2 has no swappiness: refused, and the folder made for it removed again.
        let e = layout
            .create(
                &named("c"),
                &res(serde_json::json!({"memory": {"swappiness": 1}})),
            )
            .unwrap_err();
        assert!(e.message().contains("swappiness"), "{e}");
        assert!(!base.0.join("docker-runtime/c").exists());
    }

    #[test]
    fn usage_is_read_from_the_v2_folder_or_the_v1_controllers() {
        let base = FakeBase::new("usage2", &[("cgroup.controllers", "cpu io memory pids\n")]);
        let cg = base
            .layout()
            .create(&named("u"), &Resources::default())
            .unwrap()
            .unwrap();
        for (file, text) in [
            ("memory.current", "10485760\n"),
            ("memory.max", "67108864\n"),
            ("memory.stat", "anon 1\ninactive_file 2097152\n"),
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\n"),
            ("cgroup.threads", "7\n8\n9\n"),
            ("io.stat", "8:0 rbytes=4096 wbytes=512 rios=1 wios=1\n"),
        ] {
            fs::write(base.0.join("docker-runtime/u").join(file), text).unwrap();
        }
        let u = cg.usage();
        assert_eq!(
            u,
            crate::cgroup::Usage {
                cpu_ns: 1_500_000,
                memory: 8 << 20,
                memory_limit: Some(64 << 20),
                pids: 3,
                block: Some((4096, 512)),
            }
        );
        // v1: the controllers' files; no limit reads as none; no blkio folder, no block I/O.
        let procs: Vec<String> = ["memory", "pids", "cpu", "cpuacct", "blkio"]
            .iter()
            .map(|c| format!("{c}/cgroup.procs"))
            .collect();
        let files: Vec<(&str, &str)> = procs.iter().map(|p| (p.as_str(), "")).collect();
        let base = FakeBase::new("usage1", &files);
        let cg = base
            .layout()
            .create(&named("u"), &Resources::default())
            .unwrap()
            .unwrap();
        for (file, text) in [
            ("memory/docker-runtime/u/memory.usage_in_bytes", "3000000"),
            (
                "memory/docker-runtime/u/memory.limit_in_bytes",
                "9223372036854771712",
            ),
            (
                "memory/docker-runtime/u/memory.stat",
                "total_inactive_file 1000000\n",
            ),
            ("cpuacct/docker-runtime/u/cpuacct.usage", "123456"),
            ("pids/docker-runtime/u/pids.current", "4"),
        ] {
            fs::write(base.0.join(file), text).unwrap();
        }
        let u = cg.usage();
        assert_eq!(
            (u.cpu_ns, u.memory, u.memory_limit, u.pids, u.block),
            (123_456, 2_000_000, None, 4, None)
        );
    }

    #[test]
    fn hybrid_v2_folder_next_to_a_folder_per_v1_controller() {
        let mut files = vec![("unified/cgroup.controllers", "")];
        let procs: Vec<String> = [
            "memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "freezer",
        ]
        .iter()
        .map(|c| format!("{c}/cgroup.procs"))
        .collect();
        files.extend(procs.iter().map(|p| (p.as_str(), "")));
        let base = FakeBase::new("hybrid", &files);
        let layout = base.layout();
        let unified = base.0.join("unified");
        assert_eq!(layout.v2, Some(unified.clone()));
        // The freezer is v2's: v1's is not used.
        let used: Vec<_> = layout.v1.iter().map(|(c, _)| c.name()).collect();
        assert_eq!(
            used,
            ["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio"]
        );
        // Without CPUs or memory nodes asked, no cpuset folder (and no update of them).
        let plain = layout
            .create(&named("p"), &Resources::default())
            .unwrap()
            .unwrap();
        assert!(base.0.join("memory/docker-runtime/p").is_dir());
        assert!(!base.0.join("cpuset/docker-runtime/p").exists());
        let e = plain
            .apply(&res(serde_json::json!({"cpu": {"cpus": "0"}})))
            .unwrap_err();
        assert!(e.message().contains("no cpuset controller folder"), "{e}");
        plain.remove();
        // An absolute cgroupsPath is under each root; the process is born in every folder.
        let path = CgroupPath::from_oci("/default/c1").unwrap();
        let r = res(
            serde_json::json!({"memory": {"limit": 8 << 20}, "pids": {"limit": 5},
            "cpu": {"shares": 512, "cpus": "0"}}),
        );
        let cg = layout.create(&path, &r).unwrap().unwrap();
        assert_eq!(cg.start_dir(), Some(unified.join("default/c1").as_path()));
        assert_eq!(
            base.read("memory/default/c1/memory.limit_in_bytes"),
            "8388608"
        );
        assert_eq!(base.read("pids/default/c1/pids.max"), "5");
        assert_eq!(base.read("cpu/default/c1/cpu.shares"), "512");
        assert_eq!(base.read("cpuset/default/c1/cpuset.cpus"), "0");
        cg.enter_v1().unwrap();
        for c in &used[..5] {
            assert_eq!(base.read(&format!("{c}/default/c1/tasks")), "0", "{c}");
        }
        // No block I/O weight asked: no blkio folder.
        assert!(!base.0.join("blkio/default/c1").exists());
        assert_eq!(layout.find(&path), Some(cg.clone()));
        // A relative one is under our own cgroup of each hierarchy.
        let rel = CgroupPath::from_oci("pod/c2").unwrap();
        let cg2 = layout.create(&rel, &Resources::default()).unwrap().unwrap();
        assert!(base.0.join("memory/me/pod/c2").is_dir());
        assert!(base.0.join("pids/pod/c2").is_dir());
        assert!(base.0.join("unified/me/pod/c2").is_dir());
        cg2.remove();
        assert!(!base.0.join("memory/me/pod/c2").exists());
        assert!(!base.0.join("unified/me/pod/c2").exists());
    }

    /// This host's hybrid layout: hugetlb is v2's (`unified`), every other controller v1's. A
    /// huge page limit turns it on for the v2 parents and writes the v2 files; without one
    /// nothing is delegated (a plain start pays nothing for it).
    #[test]
    fn hybrid_hugetlb_is_v2s_and_v1s_where_mounted() {
        let base = FakeBase::new(
            "huge2",
            &[
                ("unified/cgroup.controllers", "hugetlb\n"),
                ("memory/cgroup.procs", ""),
            ],
        );
        let layout = base.layout();
        assert!(!layout.pure_v2());
        assert!(layout.offers(Controller::Hugetlb) && layout.in_v2(Controller::Hugetlb));
        assert!(!layout.in_v2(Controller::Memory));
        let plain = layout
            .create(&named("p"), &Resources::default())
            .unwrap()
            .unwrap();
        assert!(!base.0.join("unified/cgroup.subtree_control").exists());
        let r = res(
            serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 0},
            {"pageSize": "1GB", "limit": 1073741824u64}]}),
        );
        // A container made without huge page limits: the controller is not on for it, and
        // writing alone is refused clearly.
        let p = base.0.join("unified/docker-runtime/p");
        fs::write(p.join("cgroup.controllers"), "").unwrap();
        let e = plain.apply(&r).unwrap_err();
        assert!(e.message().contains("no hugetlb controller"), "{e}");
        // An update turns it on for the parents first (the kernel's files played here).
        for (file, text) in [
            ("cgroup.controllers", "hugetlb\n"),
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.1GB.max", "max"),
        ] {
            fs::write(p.join(file), text).unwrap();
        }
        layout.update(&plain, &r).unwrap();
        assert_eq!(base.read("unified/cgroup.subtree_control"), "+hugetlb");
        assert_eq!(
            base.read("unified/docker-runtime/cgroup.subtree_control"),
            "+hugetlb"
        );
        assert_eq!(base.read("unified/docker-runtime/p/hugetlb.2MB.max"), "0");
        // Already on: nothing written to the parents.
        fs::remove_file(base.0.join("unified/cgroup.subtree_control")).unwrap();
        layout.update(&plain, &r).unwrap();
        assert!(!base.0.join("unified/cgroup.subtree_control").exists());
        fs::remove_file(base.0.join("unified/docker-runtime/cgroup.subtree_control")).unwrap();
        // The kernel's files, as delegation makes them appear.
        let dir = base.0.join("unified/docker-runtime/h");
        for (file, text) in [
            ("cgroup.controllers", "hugetlb\n"),
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.2MB.rsvd.max", "max"),
            ("hugetlb.1GB.max", "max"),
        ] {
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(file), text).unwrap();
        }
        let cg = layout.create(&named("h"), &r).unwrap().unwrap();
        assert_eq!(base.read("unified/cgroup.subtree_control"), "+hugetlb");
        assert_eq!(
            base.read("unified/docker-runtime/cgroup.subtree_control"),
            "+hugetlb"
        );
        assert_eq!(base.read("unified/docker-runtime/h/hugetlb.2MB.max"), "0");
        assert_eq!(
            base.read("unified/docker-runtime/h/hugetlb.2MB.rsvd.max"),
            "0"
        );
        assert_eq!(
            base.read("unified/docker-runtime/h/hugetlb.1GB.max"),
            "1073741824"
        );
        // The memory folder is v1's as before.
        assert!(base.0.join("memory/docker-runtime/h").is_dir());
        // An unknown page size: named, nothing written.
        let e = cg
            .apply(&res(serde_json::json!({"hugepageLimits": [
                {"pageSize": "2MB", "limit": 4194304}, {"pageSize": "64KB", "limit": 0}]})))
            .unwrap_err();
        assert!(e.message().contains("pageSize \"64KB\""), "{e}");
        assert_eq!(base.read("unified/docker-runtime/h/hugetlb.2MB.max"), "0");

        // v1's hugetlb hierarchy: a folder there only when limits are set, v1's file names.
        let base = FakeBase::new(
            "huge1",
            &[("memory/cgroup.procs", ""), ("hugetlb/cgroup.procs", "")],
        );
        let layout = base.layout();
        assert!(layout.offers(Controller::Hugetlb) && !layout.in_v2(Controller::Hugetlb));
        layout.create(&named("p"), &Resources::default()).unwrap();
        assert!(!base.0.join("hugetlb/docker-runtime/p").exists());
        let d = base.0.join("hugetlb/docker-runtime/h");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("hugetlb.2MB.limit_in_bytes"), "").unwrap();
        let r = res(serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}));
        let cg = layout.create(&named("h"), &r).unwrap().unwrap();
        assert_eq!(
            base.read("hugetlb/docker-runtime/h/hugetlb.2MB.limit_in_bytes"),
            "0"
        );
        // The helper is born in it.
        cg.enter_v1().unwrap();
        assert_eq!(base.read("hugetlb/docker-runtime/h/tasks"), "0");
        // A host with no hugetlb controller at all refuses the limit.
        let base = FakeBase::new("huge0", &[("memory/cgroup.procs", "")]);
        let e = base.layout().create(&named("x"), &r).unwrap_err();
        assert!(e.message().contains("hugetlb cgroup controller"), "{e}");
    }

    #[test]
    fn v1_only_the_freezer_is_v1s() {
        let base = FakeBase::new(
            "v1",
            &[("freezer/cgroup.procs", ""), ("memory/cgroup.procs", "")],
        );
        let layout = base.layout();
        let cg = layout
            .create(&named("b"), &Resources::default())
            .unwrap()
            .unwrap();
        assert_eq!(cg.start_dir(), None);
        // The helper is born in memory's folder, never the freezer's: the process joins that
        // one by pid.
        cg.enter_v1().unwrap();
        assert_eq!(base.read("memory/docker-runtime/b/tasks"), "0");
        assert!(!base.0.join("freezer/docker-runtime/b/tasks").exists());
        assert!(cg.needs_join());
        cg.add(7).unwrap();
        assert_eq!(base.read("freezer/docker-runtime/b/cgroup.procs"), "7");
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
    fn what_the_host_lacks_is_refused_clearly() {
        // Memory only: a container can still run, but cannot be paused or limit its pids.
        let base = FakeBase::new("nofreezer", &[("memory/cgroup.procs", "")]);
        let layout = base.layout();
        let cg = layout
            .create(&named("a"), &Resources::default())
            .unwrap()
            .unwrap();
        assert!(!cg.has_freezer() && !cg.is_frozen());
        let e = cg.freeze("a").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Unsupported);
        assert!(e.message().contains("no cgroup freezer"), "{e}");
        let e = layout
            .create(&named("b"), &res(serde_json::json!({"pids": {"limit": 3}})))
            .unwrap_err();
        assert!(e.message().contains("pids cgroup controller"), "{e}");
        // Nothing at all: no cgroup, and a limit is refused.
        let base = FakeBase::new("none", &[]);
        let layout = base.layout();
        assert_eq!(
            layout.create(&named("c"), &Resources::default()).unwrap(),
            None
        );
        let e = layout
            .create(
                &named("c"),
                &res(serde_json::json!({"memory": {"limit": 8388608}})),
            )
            .unwrap_err();
        assert!(e.message().contains("memory cgroup controller"), "{e}");
    }
}
