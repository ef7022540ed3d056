//! Spare cgroups: the v1 folders of a container's cgroup made ahead, under a name no container
//! has (`docker-runtime/.warm-PID-N`, PID the runtime's process), for a helper started ahead
//! in them (`engine::warm`). A start that claims one renames each v1 folder to the
//! container's name (cgroup v1 allows a rename within the same parent) with the helper
//! inside, makes the v2 folder (v2 allows no rename there) and writes the resources: the
//! cgroup ends up as [`Layout::create`] makes it, without the v1 mkdirs on the start's path.

use std::fs;
use std::path::PathBuf;

use super::group::{mkdir, wanted, Cgroup};
use super::layout::{CgroupPath, Layout, PARENT};
use super::resources::{Controller, Resources};
use crate::error::{Error, Result};

/// How a spare folder's name starts (a container id or name cannot start with a dot).
const PREFIX: &str = ".warm-";

/// The name of the `n`th spare of process `pid`.
pub fn spare_name(pid: u32, n: u64) -> String {
    format!("{PREFIX}{pid}-{n}")
}

/// The process a spare's folder name says it belongs to; None for any other name.
fn owner_of(name: &str) -> Option<i32> {
    let (pid, n) = name.strip_prefix(PREFIX)?.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse::<i32>().ok().filter(|p| *p > 0)
}

impl Layout {
    /// Make the spare `name`: a folder in each v1 hierarchy a cgroup without resources gets
    /// (no v2 folder). What was made is removed on failure.
    fn make_spare(&self, name: &str) -> Result<Cgroup> {
        let path = CgroupPath::named(name);
        let mut cg = Cgroup {
            v2: None,
            v2_controllers: self.pure_v2(),
            v2_hugetlb: self.in_v2(Controller::Hugetlb),
            v1: Vec::new(),
        };
        for (c, root) in &self.v1 {
            if !wanted(*c, &Resources::default()) {
                continue;
            }
            let dir = self.dir(root, c.name(), &path);
            if let Err(e) = mkdir(&dir) {
                cg.remove();
                return Err(e);
            }
            cg.v1.push((*c, dir));
        }
        Ok(cg)
    }

    /// Whether `spare` can become the cgroup at `path` with `res`: a host with a hierarchy, the
    /// runtime's own naming, the v1 folders [`Layout::create`] would make for `res` (cpuset's
    /// and blkio's are not made ahead), every controller `res` needs offered, and no folder of
    /// that name yet.
    fn fits(&self, spare: &Cgroup, path: &CgroupPath, res: &Resources) -> bool {
        // Without any hierarchy a container has no cgroup at all (`create` gives none).
        if !matches!(path, CgroupPath::Named(_)) || (self.v2.is_none() && self.v1.is_empty()) {
            return false;
        }
        if !res.controllers().iter().all(|c| self.offers(*c)) {
            return false;
        }
        let needed: Vec<_> = self
            .v1
            .iter()
            .filter(|(c, _)| wanted(*c, res))
            .map(|(c, root)| (*c, self.dir(root, c.name(), path)))
            .collect();
        let same = needed.len() == spare.v1.len()
            && needed.iter().zip(&spare.v1).all(|((a, _), (b, _))| a == b);
        same && needed.iter().all(|(_, d)| !d.exists())
    }

    /// Turn `spare` into the cgroup at `path` with `res` (see the module documentation).
    /// On failure `spare` names the folders as they are then (some renamed), to be removed.
    fn adopt(&self, spare: &mut Cgroup, path: &CgroupPath, res: &Resources) -> Result<()> {
        for (c, dir) in spare.v1.iter_mut() {
            let root = self
                .v1_root(*c)
                .ok_or_else(|| Error::unsupported(format!("no {} cgroup hierarchy", c.name())))?;
            let target = self.dir(root, c.name(), path);
            // Co-mounted controllers share a folder: renamed once.
            if dir.exists() || !target.exists() {
                fs::rename(&*dir, &target).map_err(|e| {
                    Error::io(
                        format_args!("renaming {} to {}", dir.display(), target.display()),
                        e,
                    )
                })?;
            }
            *dir = target;
        }
        self.make_v2(spare, path, res)?;
        spare.apply(res)
    }

    /// The calling process's own cgroup in each v1 hierarchy the runtime accounts with.
    fn home(&self) -> Cgroup {
        let v1 = self
            .v1
            .iter()
            .map(|(c, root)| {
                (
                    *c,
                    self.dir(root, c.name(), &CgroupPath::Relative(PathBuf::new())),
                )
            })
            .collect();
        Cgroup {
            v2: None,
            v2_controllers: false,
            v2_hugetlb: false,
            v1,
        }
    }

    /// The spare folders (in any hierarchy) whose owner process is gone.
    fn stale_spares(&self) -> Vec<PathBuf> {
        let roots = self.v2.iter().chain(self.v1.iter().map(|(_, r)| r));
        roots
            .filter_map(|r| fs::read_dir(r.join(PARENT)).ok())
            .flat_map(|dir| dir.flatten())
            .filter(|e| {
                let name = e.file_name();
                owner_of(&name.to_string_lossy()).is_some_and(|pid| !process_exists(pid))
            })
            .map(|e| e.path())
            .collect()
    }
}

fn process_exists(pid: i32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

impl Cgroup {
    /// Make the spare `name` on this host (see [`Layout::make_spare`]).
    pub fn spare(name: &str) -> Result<Cgroup> {
        Layout::host().make_spare(name)
    }

    /// Whether this spare can become the cgroup at `path` with `res` on this host.
    pub fn fits(&self, path: &CgroupPath, res: &Resources) -> bool {
        Layout::host().fits(self, path, res)
    }

    /// Turn this spare into the cgroup at `path` with `res` (see [`Layout::adopt`]).
    pub fn adopt(&mut self, path: &CgroupPath, res: &Resources) -> Result<()> {
        Layout::host().adopt(self, path, res)
    }

    /// Move the calling thread back into the process's own v1 cgroups (after
    /// [`Cgroup::enter_v1`] by a thread that lives on).
    pub fn leave_v1() -> Result<()> {
        Layout::host().home().enter_v1()
    }

    /// Remove the spare folders whose owner process is gone (a runtime that crashed); those
    /// of a live process are another runtime's. Returns how many went.
    pub fn remove_stale_spares() -> usize {
        Layout::host()
            .stale_spares()
            .iter()
            .filter(|d| fs::remove_dir(d).is_ok())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_spares_name_names_its_owner() {
        assert_eq!(owner_of(&spare_name(4242, 7)), Some(4242));
        for other in [
            "4242",
            ".warm-",
            ".warm-4242",
            ".warm-x-1",
            ".warm-4242-x",
            ".warm--1-2",
            ".warm-0-1",
            "abc.warm-1-2",
        ] {
            assert_eq!(owner_of(other), None, "{other}");
        }
    }

    #[test]
    fn a_spare_fits_the_runtimes_own_naming_with_the_same_v1_folders() {
        use super::super::resources::Controller;
        let mut l = Layout::detect(std::path::Path::new("/nonexistent"), "0::/\n");
        l.v1 = vec![
            (Controller::Memory, "/nonexistent/memory".into()),
            (Controller::Cpuset, "/nonexistent/cpuset".into()),
        ];
        let spare = Cgroup {
            v2: None,
            v2_controllers: false,
            v2_hugetlb: false,
            v1: vec![(
                Controller::Memory,
                "/nonexistent/memory/docker-runtime/.warm-1-1".into(),
            )],
        };
        let named = CgroupPath::named("c1");
        let limit = Resources {
            memory: Some(1 << 20),
            ..Resources::default()
        };
        assert!(l.fits(&spare, &named, &Resources::default()));
        assert!(l.fits(&spare, &named, &limit));
        let oci = CgroupPath::from_oci("/default/c1").unwrap();
        assert!(!l.fits(&spare, &oci, &limit), "an OCI cgroupsPath");
        let cpus = Resources {
            cpus: Some("0".into()),
            ..Resources::default()
        };
        assert!(!l.fits(&spare, &named, &cpus), "a cpuset folder is needed");
        let pids = Resources {
            pids: Some(10),
            ..Resources::default()
        };
        assert!(!l.fits(&spare, &named, &pids), "no pids hierarchy offered");
        l.v1.clear();
        let bare = Cgroup {
            v1: Vec::new(),
            ..spare
        };
        assert!(
            !l.fits(&bare, &named, &Resources::default()),
            "no hierarchy"
        );
    }
}
