//! Overlay mounts of a container's layers, and finding what is mounted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};

/// Mount `lowers` (topmost first) with the read-write `upper` (and overlay's `work`) at
/// `target`.
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    let mut parts = Vec::with_capacity(lowers.len());
    for p in lowers.iter().map(|p| p.as_path()).chain([upper, work]) {
        let s = p
            .to_str()
            .ok_or_else(|| Error::invalid(format!("layer path {} is not UTF-8", p.display())))?;
        if s.contains([',', ':', '\\']) {
            return Err(Error::invalid(format!(
                "layer path {s} contains ',', ':' or '\\', which overlayfs options cannot carry"
            )));
        }
        parts.push(s);
    }
    let (uppers, lower) = parts.split_at(lowers.len());
    // No redirects and no metadata-only copies: the upper directory must hold every change
    // as plain files, directories and whiteouts, so that a packed layer is complete.
    let data = format!(
        "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off",
        uppers.join(":"),
        lower[0],
        lower[1]
    );
    // The kernel takes at most a page of mount options.
    if data.len() >= 4096 {
        return Err(Error::unsupported(format!(
            "the image has too many layers ({}) for one overlay mount",
            lowers.len()
        )));
    }
    // The mount point is opened without following a symbolic link, and the mount made on
    // that very directory: a link swapped in under the root cannot lead the mount elsewhere.
    let dir = nix::fcntl::open(
        target,
        nix::fcntl::OFlag::O_PATH
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_DIRECTORY
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        Error::errno(
            format_args!("opening the mount point {}", target.display()),
            e,
        )
    })?;
    let at = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
    mount(
        Some("overlay"),
        at.as_str(),
        Some("overlay"),
        // nodev: a device node an image carries is data, never a way to a host device.
        MsFlags::MS_NODEV,
        Some(data.as_str()),
    )
    .map_err(|e| Error::errno(format_args!("mounting overlay on {}", target.display()), e))
}

/// Detach whatever is mounted at `target`; nothing mounted there is fine.
pub fn unmount(target: &Path) -> Result<()> {
    match umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::errno(
            format_args!("unmounting {}", target.display()),
            e,
        )),
    }
}

/// Every mount point of this process's mount namespace.
pub fn mount_points() -> Result<HashSet<PathBuf>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect())
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert!(mount_points().unwrap().contains(Path::new("/")));
    }
}
