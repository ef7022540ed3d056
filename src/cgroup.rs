//! A memory limit (`run -m`) through the cgroup of a container: `docker-runtime/ID` under the
//! memory controller, on cgroup v1 (`/sys/fs/cgroup/memory`, also in the hybrid layout where v2
//! sits at `/sys/fs/cgroup/unified`) or on a pure v2 hierarchy. Devices need no cgroup: every
//! place a container can create a node is mounted nodev (see `init::setup_dev`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const BASE: &str = "/sys/fs/cgroup";
const PARENT: &str = "docker-runtime";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Memory {
    V1,
    V2,
}

fn memory_controller(base: &Path) -> Option<(Memory, PathBuf)> {
    let v1 = base.join("memory");
    if v1.join("memory.limit_in_bytes").exists() {
        return Some((Memory::V1, v1));
    }
    let controllers = fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
    controllers
        .split_whitespace()
        .any(|c| c == "memory")
        .then(|| (Memory::V2, base.to_path_buf()))
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value)
        .map_err(|e| Error::io(format_args!("writing {value:?} to {}", path.display()), e))
}

/// One container's memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// The cgroup container `id` would have, whether or not it exists (None without a memory
    /// controller).
    pub fn of(id: &str) -> Option<Cgroup> {
        memory_controller(Path::new(BASE)).map(|(_, root)| Cgroup {
            path: root.join(PARENT).join(id),
        })
    }

    /// A cgroup at a known path (for the engine's fake kernel in unit tests).
    #[cfg(test)]
    pub(crate) fn at(path: PathBuf) -> Cgroup {
        Cgroup { path }
    }

    /// Create the cgroup of container `id` with a memory limit of `memory` bytes and, when
    /// `swap` is positive, a memory+swap limit of `swap` bytes (as `docker run -m`).
    pub fn create(id: &str, memory: i64, swap: i64) -> Result<Cgroup> {
        let (version, root) = memory_controller(Path::new(BASE)).ok_or_else(|| {
            Error::unsupported(
                "no memory cgroup controller found under /sys/fs/cgroup (v1 memory or v2 with memory)",
            )
        })?;
        let parent = root.join(PARENT);
        if version == Memory::V2 {
            // Delegate the memory controller down to our containers.
            let _ = write(&root.join("cgroup.subtree_control"), "+memory");
            fs::create_dir_all(&parent).map_err(|e| Error::io_path("creating", &parent, e))?;
            write(&parent.join("cgroup.subtree_control"), "+memory")?;
        }
        let path = parent.join(id);
        fs::create_dir_all(&path).map_err(|e| Error::io_path("creating", &path, e))?;
        let cg = Cgroup { path };
        let limits = match version {
            Memory::V1 => {
                let mut l = vec![("memory.limit_in_bytes", memory.to_string())];
                if swap > 0 && cg.path.join("memory.memsw.limit_in_bytes").exists() {
                    l.push(("memory.memsw.limit_in_bytes", swap.to_string()));
                }
                l
            }
            Memory::V2 => {
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

    /// Remove the cgroup (its processes are gone); a missing one is fine.
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

    /// Whether the cgroup exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }
}
