//! A memory limit through the cgroup of a container: `docker-runtime/ID` under the memory
//! controller, on cgroup v1 (`/sys/fs/cgroup/memory`, also in the hybrid layout where v2 sits
//! at `/sys/fs/cgroup/unified`) or on a pure v2 hierarchy.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const PARENT: &str = "docker-runtime";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

fn detect(base: &Path) -> Result<(Version, PathBuf)> {
    let v1 = base.join("memory");
    if v1.join("memory.limit_in_bytes").exists() {
        return Ok((Version::V1, v1));
    }
    let controllers = fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "memory") {
        return Ok((Version::V2, base.to_path_buf()));
    }
    Err(Error::unsupported(
        "no memory cgroup controller found under /sys/fs/cgroup (v1 memory or v2 with memory)",
    ))
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value)
        .map_err(|e| Error::io(format_args!("writing {value:?} to {}", path.display()), e))
}

/// One container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// The cgroup of container `id`, whether or not it exists.
    pub fn of(id: &str) -> Result<Cgroup> {
        let (_, root) = detect(Path::new("/sys/fs/cgroup"))?;
        Ok(Cgroup {
            path: root.join(PARENT).join(id),
        })
    }

    /// Create the cgroup of container `id` with a memory limit of `memory` bytes and, when
    /// `swap` is positive, a memory+swap limit of `swap` bytes (as `docker run -m`).
    pub fn create(id: &str, memory: i64, swap: i64) -> Result<Cgroup> {
        let (version, root) = detect(Path::new("/sys/fs/cgroup"))?;
        let parent = root.join(PARENT);
        if version == Version::V2 {
            // Delegate the memory controller down to our containers.
            let _ = write(&root.join("cgroup.subtree_control"), "+memory");
            fs::create_dir_all(&parent).map_err(|e| Error::io_path("creating", &parent, e))?;
            write(&parent.join("cgroup.subtree_control"), "+memory")?;
        }
        let path = parent.join(id);
        fs::create_dir_all(&path).map_err(|e| Error::io_path("creating", &path, e))?;
        let cg = Cgroup { path };
        let limits = match version {
            Version::V1 => {
                let mut l = vec![("memory.limit_in_bytes", memory.to_string())];
                if swap > 0 && cg.path.join("memory.memsw.limit_in_bytes").exists() {
                    l.push(("memory.memsw.limit_in_bytes", swap.to_string()));
                }
                l
            }
            Version::V2 => {
                let mut l = vec![("memory.max", memory.to_string())];
                if swap > 0 && cg.path.join("memory.swap.max").exists() {
                    l.push(("memory.swap.max", (swap - memory).max(0).to_string()));
                }
                l
            }
        };
        for (file, value) in limits {
            if let Err(e) = write(&cg.path.join(file), &value) {
                cg.remove();
                return Err(e);
            }
        }
        Ok(cg)
    }

    /// Move process `pid` into the cgroup.
    pub fn add(&self, pid: i32) -> Result<()> {
        write(&self.path.join("cgroup.procs"), &pid.to_string())
    }

    /// Remove the cgroup (its processes are gone); a missing cgroup is fine.
    pub fn remove(&self) {
        // The kernel may need a moment after the last process exits.
        for _ in 0..50 {
            match fs::remove_dir(&self.path) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
