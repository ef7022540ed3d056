//! User namespaces. The container's process is cloned into a new user namespace together
//! with its PID namespace (`CLONE_NEWUSER | CLONE_NEWPID`), so that the new user namespace
//! owns it, and every namespace the process makes afterwards (mount, UTS, IPC, network,
//! cgroup): the kernel lets it mount `proc`, `sysfs`, `mqueue` and `cgroup` only then. The
//! helper, still root on the host, writes the uid and gid maps from outside (no `newuidmap`
//! is needed) and then lets the process go on; it becomes uid and gid 0 inside, with the
//! spec's capabilities there and none on the host.
//!
//! What the root file system needs (the bundle's job, as with runc): its files are seen
//! through the maps, so a file the container must own or write belongs to the host ids its
//! container ids map to (`chown -R 100000:100000 rootfs` for a root mapped to 100000); files
//! of unmapped host ids (the host's root, say) appear as `nobody` and can be read and run as
//! their mode allows, never written through an owner's rights.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::unistd::{Gid, Pid, Uid};

use super::sys::{errno_msg, Res};

/// The pipe the helper lets the process go on by, once the maps are written: (read end,
/// write end).
pub fn pipe() -> Res<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| errno_msg("making the user namespace's pipe", e))
}

fn map_text(map: &[(u32, u32, u32)]) -> String {
    map.iter()
        .map(|(inside, host, count)| format!("{inside} {host} {count}\n"))
        .collect()
}

/// The helper's side: write the maps of process `child` (host pid), then let it go on.
pub fn write_maps(
    child: Pid,
    uid_map: &[(u32, u32, u32)],
    gid_map: &[(u32, u32, u32)],
    go: OwnedFd,
) -> Res<()> {
    for (name, map) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let path = format!("/proc/{child}/{name}");
        std::fs::write(&path, map_text(map))
            .map_err(|e| format!("writing the user namespace's {name} ({path}): {e}"))?;
    }
    File::from(go)
        .write_all(b"1")
        .map_err(|e| format!("letting the container's process go on: {e}"))
}

/// The process's side: wait until the maps are written (end of file: the helper failed).
pub fn wait_for_maps(go: OwnedFd) -> Res<()> {
    let mut byte = [0u8; 1];
    match File::from(go).read(&mut byte) {
        Ok(1) => Ok(()),
        Ok(_) => Err("the helper did not write the user namespace's maps".into()),
        Err(e) => Err(format!("waiting for the user namespace's maps: {e}")),
    }
}

/// Become root (uid and gid 0) of the user namespace the process is in (made or joined):
/// until then it is the host's root, which the namespace does not map.
pub fn become_root() -> Res<()> {
    let (root_g, root_u) = (Gid::from_raw(0), Uid::from_raw(0));
    nix::unistd::setresgid(root_g, root_g, root_g)
        .map_err(|e| errno_msg("becoming gid 0 in the user namespace", e))?;
    nix::unistd::setresuid(root_u, root_u, root_u)
        .map_err(|e| errno_msg("becoming uid 0 in the user namespace", e))
}

/// Whether container gid `gid` is in `map` (an empty map: no user namespace, every id is).
pub fn maps_id(map: &[(u32, u32, u32)], id: u32) -> bool {
    map.is_empty()
        || map
            .iter()
            .any(|&(inside, _, count)| id >= inside && id - inside < count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_written_as_the_kernel_reads_them() {
        assert_eq!(
            map_text(&[(0, 100000, 65536), (65536, 5000, 1)]),
            "0 100000 65536\n65536 5000 1\n"
        );
        assert!(maps_id(&[], 5));
        assert!(maps_id(&[(0, 100000, 65536)], 5));
        assert!(!maps_id(&[(0, 100000, 1)], 5));
    }
}
