//! Where the cgroup hierarchies are on this host, and where a container's cgroup is in each
//! (its [`CgroupPath`]).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use super::resources::Controller;
use crate::error::{Error, Result};

pub const BASE: &str = "/sys/fs/cgroup";
/// The parent of the cgroups the runtime names itself.
pub const PARENT: &str = "docker-runtime";

/// Where a container's cgroup is, in every hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPath {
    /// `docker-runtime/NAME` under each hierarchy's root (the runtime's own choice).
    Named(String),
    /// An absolute `linux.cgroupsPath`: under each hierarchy's root (runc's cgroupfs driver;
    /// containerd passes `/default/ID`, Kubernetes `/k8s.io/ID`).
    Absolute(PathBuf),
    /// A relative `linux.cgroupsPath`: under the runtime's own cgroup in each hierarchy.
    Relative(PathBuf),
}

impl CgroupPath {
    pub fn named(name: &str) -> CgroupPath {
        CgroupPath::Named(name.to_string())
    }

    /// A spec's `linux.cgroupsPath`. systemd's `slice:prefix:name` form is refused (this
    /// runtime is a cgroupfs driver), as is a path that climbs (`..`) or names a
    /// hierarchy's root.
    pub fn from_oci(path: &str) -> Result<CgroupPath> {
        if path.contains(':') {
            return Err(Error::unsupported(format!(
                "linux.cgroupsPath {path:?} is systemd's slice:prefix:name form; this runtime manages cgroups as runc's cgroupfs driver does (give a path such as /default/ID)"
            )));
        }
        let p = Path::new(path);
        let mut rel = PathBuf::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => rel.push(n),
                Component::RootDir | Component::CurDir => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "invalid linux.cgroupsPath {path:?}: it may not climb out with .."
                    )))
                }
            }
        }
        if rel.as_os_str().is_empty() || path.contains('\0') {
            return Err(Error::invalid(format!(
                "invalid linux.cgroupsPath {path:?}: it names no cgroup below the hierarchy's root"
            )));
        }
        Ok(if p.is_absolute() {
            CgroupPath::Absolute(rel)
        } else {
            CgroupPath::Relative(rel)
        })
    }
}

/// Where the controllers are mounted, and our own cgroup in each hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The writable v2 hierarchy: `/sys/fs/cgroup` on a pure v2 host, `unified` in the hybrid
    /// layout (where it holds the controllers no v1 hierarchy is bound to, often none or only
    /// `hugetlb`, and still `cgroup.freeze`).
    pub v2: Option<PathBuf>,
    /// The controllers the v2 hierarchy offers (its `cgroup.controllers`).
    pub v2_controllers: Vec<String>,
    /// Whether the v2 hierarchy is `/sys/fs/cgroup` itself, holding the controllers (a pure v2
    /// host).
    pure: bool,
    /// The writable v1 hierarchies of the controllers this runtime uses.
    pub v1: Vec<(Controller, PathBuf)>,
    /// Our own cgroup in each hierarchy (by v1 controller name; `""` for v2), from
    /// `/proc/self/cgroup`, for a relative cgroupsPath.
    own: BTreeMap<String, PathBuf>,
}

fn writable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// `/proc/PID/cgroup`'s lines (`ID:CONTROLLERS:PATH`) by controller name (`""`: v2).
fn own_cgroups(text: &str) -> BTreeMap<String, PathBuf> {
    let mut own = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, names, path) = (parts.next(), parts.next(), parts.next());
        let (Some(names), Some(path)) = (names, path) else {
            continue;
        };
        let rel = PathBuf::from(path.trim_start_matches('/'));
        if names.is_empty() {
            own.insert(String::new(), rel);
        } else {
            for n in names.split(',') {
                own.insert(n.to_string(), rel.clone());
            }
        }
    }
    own
}

impl Layout {
    /// The hierarchies under `base` (`/sys/fs/cgroup`, or a fake folder in the unit tests),
    /// `own` being `/proc/self/cgroup`'s text. A hierarchy must be writable: a read-only
    /// `/sys/fs/cgroup` (as inside many containers) means no cgroup, not a failed start.
    pub fn detect(base: &Path, own: &str) -> Layout {
        let controllers = fs::read_to_string(base.join("cgroup.controllers")).ok();
        let unified = base.join("unified");
        let list = |c: String| c.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let (v2, v2_controllers) = match controllers {
            Some(c) if writable(base) => (Some(base.to_path_buf()), list(c)),
            Some(_) => (None, Vec::new()),
            None => match fs::read_to_string(unified.join("cgroup.controllers")) {
                Ok(c) if writable(&unified) => (Some(unified), list(c)),
                _ => (None, Vec::new()),
            },
        };
        let pure = v2.as_deref() == Some(base) && !v2_controllers.is_empty();
        let v1 = if base.join("cgroup.controllers").exists() {
            Vec::new()
        } else {
            Controller::ALL
                .into_iter()
                .filter(|c| *c != Controller::Freezer || v2.is_none())
                .map(|c| (c, base.join(c.name())))
                .filter(|(_, d)| d.join("cgroup.procs").exists() && writable(d))
                .collect()
        };
        Layout {
            v2,
            v2_controllers,
            pure,
            v1,
            own: own_cgroups(own),
        }
    }

    /// The host's layout, found at the first call.
    pub fn host() -> &'static Layout {
        static HOST: OnceLock<Layout> = OnceLock::new();
        HOST.get_or_init(|| {
            let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            Layout::detect(Path::new(BASE), &own)
        })
    }

    /// The folder of `path` in the hierarchy at `root` (`key`: its v1 controller name, `""`
    /// for v2).
    pub fn dir(&self, root: &Path, key: &str, path: &CgroupPath) -> PathBuf {
        match path {
            CgroupPath::Named(n) => root.join(PARENT).join(n),
            CgroupPath::Absolute(p) => root.join(p),
            CgroupPath::Relative(p) => match self.own.get(key) {
                Some(own) => root.join(own).join(p),
                None => root.join(p),
            },
        }
    }

    /// Whether the v2 hierarchy holds the controllers (a pure v2 host).
    pub fn pure_v2(&self) -> bool {
        self.pure
    }

    /// Whether `c` is used through the v2 hierarchy here: any controller it offers on a pure
    /// v2 host; in the hybrid layout only `hugetlb` (whose files this runtime writes in either
    /// form), when no v1 hierarchy is bound to it (as on this kernel).
    pub fn in_v2(&self, c: Controller) -> bool {
        let offered = c
            .v2_name()
            .is_some_and(|n| self.v2_controllers.iter().any(|x| x == n));
        offered && (self.pure || (c == Controller::Hugetlb && self.v1_root(c).is_none()))
    }

    /// The v1 hierarchy of `c`, when mounted here.
    pub fn v1_root(&self, c: Controller) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, p)| p.as_path())
    }

    /// Whether this host can limit through `c`.
    pub fn offers(&self, c: Controller) -> bool {
        self.v1_root(c).is_some() || self.in_v2(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_paths_as_runc_reads_them() {
        assert_eq!(
            CgroupPath::from_oci("/default/c1").unwrap(),
            CgroupPath::Absolute("default/c1".into())
        );
        assert_eq!(
            CgroupPath::from_oci("pods/./c1").unwrap(),
            CgroupPath::Relative("pods/c1".into())
        );
        for bad in ["/../etc", "a/../../b", "/", ""] {
            let e = CgroupPath::from_oci(bad).unwrap_err();
            assert!(e.message().contains("linux.cgroupsPath"), "{e}");
        }
        let e = CgroupPath::from_oci("system.slice:docker:c1").unwrap_err();
        assert!(e.message().contains("systemd"), "{e}");
        let own = "4:memory:/process_api/x\n1:cpu,cpuacct:/\n0::/user.slice\n";
        let l = Layout::detect(Path::new("/nonexistent"), own);
        let rel = CgroupPath::from_oci("r/c1").unwrap();
        assert_eq!(
            l.dir(Path::new("/m"), "memory", &rel),
            Path::new("/m/process_api/x/r/c1")
        );
        assert_eq!(
            l.dir(Path::new("/c"), "cpuacct", &rel),
            Path::new("/c/r/c1")
        );
        assert_eq!(
            l.dir(Path::new("/u"), "", &rel),
            Path::new("/u/user.slice/r/c1")
        );
        assert_eq!(
            l.dir(Path::new("/u"), "", &CgroupPath::named("c1")),
            Path::new("/u/docker-runtime/c1")
        );
    }
}
