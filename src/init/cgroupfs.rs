//! The container's cgroup namespace and its `cgroup` mounts.
//!
//! The namespace is made once the process is in every cgroup of the container (after `Run`:
//! the library has then moved it into the v1 hierarchies it was not created in), so that its
//! cgroups are the namespace's roots and `/proc/self/cgroup` reads `0::/`.
//!
//! A `cgroup` mount is what the host has: on a pure v2 host `cgroup2` at the destination; on
//! a hybrid one (v1 controllers, v2 without them at `unified`) what runc makes, a tmpfs at the
//! destination with each v1 hierarchy mounted below it by its name and the v2 one at
//! `unified`. The hierarchies come from the process's own `/proc/self/cgroup` (one line per
//! hierarchy). In a cgroup namespace every mount shows the container's cgroup as its root.
//! Read-only unless the spec says `rw`.

use nix::mount::MsFlags;
use nix::sched::{unshare, CloneFlags};

use super::sys::{errno_msg, mnt, Res};

pub fn new_namespace() -> Res<()> {
    unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| errno_msg("creating the cgroup namespace", e))
}

/// The v1 hierarchies in `/proc/self/cgroup` text: their mount options (`cpu,cpuacct`,
/// `name=systemd`), in order.
fn v1_hierarchies(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (id, controllers) = (parts.next()?, parts.next()?);
            (id != "0" && !controllers.is_empty()).then(|| controllers.to_string())
        })
        .collect()
}

/// Mount the host's cgroup hierarchies at `dst` (see the module documentation).
pub fn mount(dst: &str, readonly: bool) -> Res<()> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
    let ro = if readonly {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME;
    std::fs::create_dir_all(dst).map_err(|e| format!("making the mount point {dst}: {e}"))?;
    let v1 = v1_hierarchies(&text);
    if v1.is_empty() {
        return mnt(Some("cgroup2"), dst, Some("cgroup2"), flags | ro, None);
    }
    mnt(Some("tmpfs"), dst, Some("tmpfs"), flags, Some("mode=755"))?;
    for options in &v1 {
        let name = options.replace("name=", "");
        let target = format!("{dst}/{name}");
        std::fs::create_dir(&target).map_err(|e| format!("creating {target}: {e}"))?;
        mnt(
            Some("cgroup"),
            &target,
            Some("cgroup"),
            flags | ro,
            Some(options),
        )?;
    }
    let unified = format!("{dst}/unified");
    std::fs::create_dir(&unified).map_err(|e| format!("creating {unified}: {e}"))?;
    mnt(Some("cgroup2"), &unified, Some("cgroup2"), flags | ro, None)?;
    if readonly {
        mnt(
            None,
            dst,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            None,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_are_read_from_proc_self_cgroup() {
        let hybrid = "9:name=systemd:/\n2:cpu,cpuacct:/x\n1:memory:/\n0::/\n";
        assert_eq!(
            v1_hierarchies(hybrid),
            ["name=systemd", "cpu,cpuacct", "memory"]
        );
        assert!(v1_hierarchies("0::/\n").is_empty());
    }
}
