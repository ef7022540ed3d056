//! `-u USER[:GROUP]` resolved in the container's own `/etc/passwd` and `/etc/group` (as
//! docker's daemon does before it writes the runtime spec, which carries only numbers). The
//! files are read from the mounted root file system with symbolic links resolved inside it,
//! only when they are regular files, and at most [`MAX_FILE`] bytes of each: an image cannot
//! make the library read a host file, a device or a FIFO.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag, OpenHow, ResolveFlag};

use crate::error::{Error, Result};

/// The largest passwd or group file read.
pub const MAX_FILE: u64 = 1 << 20;

fn open_in_root(root: &OwnedFd, path: &str) -> std::io::Result<Option<std::fs::File>> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match fcntl::openat2(root.as_fd(), path, how) {
        Ok(fd) => Ok(Some(std::fs::File::from(fd))),
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

/// The text of `path` (relative, e.g. `etc/passwd`) in the root file system held by `root`;
/// empty when it does not exist.
fn read_in_root(root: &OwnedFd, path: &str) -> Result<String> {
    let what = || format!("the container's /{path}");
    let Some(file) =
        open_in_root(root, path).map_err(|e| Error::io(format!("opening {}", what()), e))?
    else {
        return Ok(String::new());
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("reading {}", what()), e))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!("{} is not a regular file", what())));
    }
    if meta.len() > MAX_FILE {
        return Err(Error::invalid(format!(
            "{} is larger than {MAX_FILE} bytes",
            what()
        )));
    }
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(format!("reading {}", what()), e))?;
    Ok(text)
}

/// Resolve `spec` (see [`resolve`]) in the passwd and group files of the root file system at
/// `rootfs`.
pub fn lookup(rootfs: &Path, spec: &str) -> Result<Identity> {
    let root: OwnedFd = fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::errno(format_args!("opening {}", rootfs.display()), e))?;
    let passwd = read_in_root(&root, "etc/passwd")?;
    let group = read_in_root(&root, "etc/group")?;
    resolve(spec, &passwd, &group).map_err(Error::invalid)
}

/// Who the program runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub name: Option<String>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
        })
    })
}

/// (name, gid, members)
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.starts_with('#') {
            return None;
        }
        let members = f
            .get(3)
            .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

fn numeric(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Resolve `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) against the texts of the
/// container's passwd and group files (empty when absent). A numeric uid missing from passwd
/// is allowed (gid 0), as docker allows it; an unknown name is an error.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> std::result::Result<Identity, String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd_entries(passwd).find(|e| match numeric(user) {
        Some(uid) => e.uid == uid,
        None => e.name == user,
    });
    let (uid, mut gid, name) = match (entry, numeric(user)) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name.to_string())),
        (None, Some(uid)) => (uid, 0, None),
        (None, None) => {
            return Err(format!(
                "unable to find user {user}: no matching entries in passwd file"
            ))
        }
    };
    if let Some(g) = grp {
        gid = match numeric(g) {
            Some(n) => n,
            None => group_entries(group)
                .find(|(n, _, _)| *n == g)
                .map(|(_, id, _)| id)
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        };
    }
    let mut groups = vec![gid];
    if let Some(n) = &name {
        for (_, id, members) in group_entries(group) {
            if members.contains(&n.as_str()) && !groups.contains(&id) {
                groups.push(id);
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nweb:x:33:33::/var/www:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nnogroup:x:65534:\nextra:x:500:web,other\n";

    #[test]
    fn names_and_numbers() {
        let r = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (0, 0));
        let n = resolve("nobody", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid), (65534, 65534));
        let w = resolve("web", PASSWD, GROUP).unwrap();
        assert_eq!(w.groups, vec![33, 500]);
        let u = resolve("1234", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.name), (1234, 0, None));
        let g = resolve("web:nogroup", PASSWD, GROUP).unwrap();
        assert_eq!(g.gid, 65534);
        assert_eq!(resolve("33:7", PASSWD, GROUP).unwrap().gid, 7);
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = resolve("nosuchuser", PASSWD, GROUP).unwrap_err();
        assert!(e.contains("unable to find user nosuchuser"), "{e}");
        assert!(resolve("web:nosuchgroup", PASSWD, GROUP).is_err());
        assert!(resolve("nobody", "", "").is_err());
    }
}
