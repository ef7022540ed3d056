//! A container's cgroups: `docker-runtime/ID` under the `devices` controller (cgroup v1: only
//! the standard devices may be opened, whatever nodes the container makes or its image holds)
//! and, with `-m`, under the memory controller, on cgroup v1 (`/sys/fs/cgroup/memory`, also in
//! the hybrid layout where v2 sits at `/sys/fs/cgroup/unified`) or on a pure v2 hierarchy.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const BASE: &str = "/sys/fs/cgroup";
const PARENT: &str = "docker-runtime";

/// The devices a container may open (modern docker's defaults): creating any node is
/// allowed, opening only these.
const ALLOWED_DEVICES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

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

fn devices_controller(base: &Path) -> Option<PathBuf> {
    let v1 = base.join("devices");
    v1.join("devices.allow").exists().then_some(v1)
}

/// Whether containers' device access can be restricted here (the v1 devices controller).
/// Without it, the init helper drops CAP_MKNOD instead.
pub fn restricts_devices() -> bool {
    devices_controller(Path::new(BASE)).is_some()
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value)
        .map_err(|e| Error::io(format_args!("writing {value:?} to {}", path.display()), e))
}

/// One container's cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    paths: Vec<PathBuf>,
}

impl Cgroup {
    /// The cgroups container `id` may have, whether or not they exist.
    pub fn of(id: &str) -> Cgroup {
        let base = Path::new(BASE);
        let mut paths = Vec::new();
        if let Some(d) = devices_controller(base) {
            paths.push(d.join(PARENT).join(id));
        }
        if let Some((_, m)) = memory_controller(base) {
            paths.push(m.join(PARENT).join(id));
        }
        Cgroup { paths }
    }

    /// Create the cgroups of container `id`: the devices one (when the controller exists) and,
    /// when `memory` is positive, a memory limit of `memory` bytes and, when `swap` is positive,
    /// a memory+swap limit of `swap` bytes (as `docker run -m`).
    pub fn create(id: &str, memory: i64, swap: i64) -> Result<Cgroup> {
        let base = Path::new(BASE);
        let mut cg = Cgroup { paths: Vec::new() };
        let made = (|| {
            if let Some(d) = devices_controller(base) {
                let path = d.join(PARENT).join(id);
                fs::create_dir_all(&path).map_err(|e| Error::io_path("creating", &path, e))?;
                cg.paths.push(path.clone());
                write(&path.join("devices.deny"), "a")?;
                for rule in ALLOWED_DEVICES {
                    write(&path.join("devices.allow"), rule)?;
                }
            }
            if memory > 0 {
                cg.paths.push(create_memory(base, id, memory, swap)?);
            }
            Ok(())
        })();
        match made {
            Ok(()) => Ok(cg),
            Err(e) => {
                cg.remove();
                Err(e)
            }
        }
    }

    /// Move process `pid` into every cgroup of the container.
    pub fn add(&self, pid: i32) -> Result<()> {
        for p in &self.paths {
            write(&p.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Remove the cgroups (their processes are gone); missing ones are fine.
    pub fn remove(&self) {
        for p in &self.paths {
            // The kernel may need a moment after the last process exits.
            for _ in 0..50 {
                match fs::remove_dir(p) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
                }
            }
        }
    }
}

fn create_memory(base: &Path, id: &str, memory: i64, swap: i64) -> Result<PathBuf> {
    let (version, root) = memory_controller(base).ok_or_else(|| {
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
    let limits = match version {
        Memory::V1 => {
            let mut l = vec![("memory.limit_in_bytes", memory.to_string())];
            if swap > 0 && path.join("memory.memsw.limit_in_bytes").exists() {
                l.push(("memory.memsw.limit_in_bytes", swap.to_string()));
            }
            l
        }
        Memory::V2 => {
            let mut l = vec![("memory.max", memory.to_string())];
            if swap > 0 && path.join("memory.swap.max").exists() {
                l.push(("memory.swap.max", (swap - memory).max(0).to_string()));
            }
            l
        }
    };
    for (file, value) in limits {
        if let Err(e) = write(&path.join(file), &value) {
            let _ = fs::remove_dir(&path);
            return Err(e);
        }
    }
    Ok(path)
}
