//! The spec's isolation as the helper makes it: `linux.namespaces` (made, or joined by path),
//! the user namespace's `uidMappings`/`gidMappings`, and `linux.devices`. What the helper
//! cannot make is refused with an `Unsupported` error naming it.

use std::os::fd::AsRawFd;

use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

use crate::error::{Error, Result};
use crate::spawn::protocol::DeviceNode;

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::unsupported(format!(
        "the runtime spec asks for {what}, which this engine does not support"
    ))
}

/// The namespaces every container has, made or joined (the others are optional).
pub const REQUIRED: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
];

/// The optional ones the helper makes when asked.
pub const OPTIONAL: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::Network,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Cgroup,
];

/// What the helper makes and joins.
#[derive(Debug, Default, PartialEq)]
pub struct Namespaces {
    /// A new network namespace.
    pub new_net: bool,
    /// Joined by path: (`net`|`ipc`|`uts`|`pid`|`user`|`cgroup`, path).
    pub joined: Vec<(String, String)>,
    /// A new user namespace (with the spec's maps).
    pub user: bool,
    /// A user namespace joined by path (a user-namespaced pod's).
    pub joined_user: bool,
    /// A new cgroup namespace.
    pub cgroup: bool,
}

/// The helper's name of a namespace type that can be joined by path, and its `CLONE_NEW*`.
fn joinable(t: LinuxNamespaceType) -> Option<(&'static str, libc::c_int)> {
    match t {
        LinuxNamespaceType::Network => Some(("net", libc::CLONE_NEWNET)),
        LinuxNamespaceType::Ipc => Some(("ipc", libc::CLONE_NEWIPC)),
        LinuxNamespaceType::Uts => Some(("uts", libc::CLONE_NEWUTS)),
        LinuxNamespaceType::Pid => Some(("pid", libc::CLONE_NEWPID)),
        LinuxNamespaceType::User => Some(("user", libc::CLONE_NEWUSER)),
        LinuxNamespaceType::Cgroup => Some(("cgroup", libc::CLONE_NEWCGROUP)),
        _ => None,
    }
}

/// `NS_GET_NSTYPE` (`include/uapi/linux/nsfs.h`: `_IO(0xb7, 0x3)`).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Check that `path` is a namespace of type `flag` before anything is made for the
/// container: a missing file or another kind of file is a clear error naming it.
fn check_namespace_file(kind: &str, flag: libc::c_int, path: &str) -> Result<()> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::invalid(format!("opening the {kind} namespace {path}: {e}")))?;
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the descriptor's namespace.
    let typ = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    if typ < 0 {
        return Err(Error::invalid(format!(
            "the {kind} namespace {path} is not a namespace file"
        )));
    }
    if typ != flag {
        return Err(Error::invalid(format!("{path} is not a {kind} namespace")));
    }
    Ok(())
}

/// The spec's namespaces. PID, mount, UTS and IPC must be asked for (made, or for all but
/// mount joined by path: what a pod's containers share); network, user and cgroup are made or
/// joined. A mount namespace given by path is refused: the spec's root and mounts are set up
/// in a new one (runc joins the namespace and then sets the root up in it, `pivot_root`
/// included, which changes the root of every process already there; runc issue 1700). A new
/// user namespace joins nothing by path (the joined ones would be owned by another user
/// namespace, in which the container is powerless); a joined one (a user-namespaced pod's) is
/// entered first, and owns what the container makes.
pub fn namespaces(linux: &Linux) -> Result<Namespaces> {
    let list = linux.namespaces().clone().unwrap_or_default();
    let mut out = Namespaces::default();
    for ns in &list {
        let typ = ns.typ();
        if !REQUIRED.contains(&typ) && !OPTIONAL.contains(&typ) {
            return Err(unsupported(format_args!("a {typ:?} namespace")));
        }
        match (ns.path(), joinable(typ)) {
            (Some(p), Some((kind, flag))) => {
                let path = p.display().to_string();
                check_namespace_file(kind, flag, &path)?;
                out.joined_user |= kind == "user";
                out.joined.push((kind.to_string(), path));
            }
            (Some(p), None) => {
                return Err(unsupported(format_args!(
                    "joining the {typ:?} namespace at {} (the root and the mounts are set up \
                     in a new mount namespace: set up in a joined one, pivot_root would change \
                     the root of the processes already there)",
                    p.display()
                )))
            }
            (None, _) => match typ {
                LinuxNamespaceType::Network => out.new_net = true,
                LinuxNamespaceType::User => out.user = true,
                LinuxNamespaceType::Cgroup => out.cgroup = true,
                _ => {}
            },
        }
    }
    for typ in REQUIRED {
        if !list.iter().any(|ns| ns.typ() == *typ) {
            return Err(unsupported(format_args!(
                "sharing the host's {typ:?} namespace"
            )));
        }
    }
    if out.user && !out.joined.is_empty() {
        return Err(unsupported(
            "namespaces joined by path together with a new user namespace",
        ));
    }
    Ok(out)
}

/// An id map: (container id, host id, count) lines.
pub type IdMap = Vec<(u32, u32, u32)>;

/// Everything of the spec's isolation the helper is told.
#[derive(Debug, Default)]
pub struct Isolation {
    pub namespaces: Namespaces,
    pub uid_map: IdMap,
    pub gid_map: IdMap,
    pub devices: Vec<DeviceNode>,
}

/// The spec's namespaces, id maps and devices, read and checked (`cgroup_mounts`: whether the
/// spec mounts cgroup file systems, which in a user namespace needs a cgroup namespace: the
/// kernel mounts the host's hierarchies only from one the user namespace owns).
pub fn isolation(linux: &Linux, cgroup_mounts: bool) -> Result<Isolation> {
    let ns = namespaces(linux)?;
    let userns = ns.user || ns.joined_user;
    let (uid_map, gid_map) = id_maps(linux, userns)?;
    let cgroupns = ns.cgroup || ns.joined.iter().any(|(k, _)| k == "cgroup");
    if userns && !cgroupns && cgroup_mounts {
        return Err(unsupported(
            "a cgroup mount in a user namespace without a cgroup namespace",
        ));
    }
    Ok(Isolation {
        devices: devices(linux, &uid_map, &gid_map)?,
        namespaces: ns,
        uid_map,
        gid_map,
    })
}

/// The kernel's limit on the lines of one id map.
const MAX_MAP_LINES: usize = 340;

/// One of the user namespace's maps as (container id, host id, count): present exactly when
/// the user namespace is, with no empty or overflowing range, and mapping the container's
/// root (the helper becomes uid and gid 0 inside before it sets up the container).
fn id_map(what: &str, map: &[LinuxIdMapping]) -> Result<IdMap> {
    if map.is_empty() || map.len() > MAX_MAP_LINES {
        return Err(Error::invalid(format!(
            "a user namespace needs 1 to {MAX_MAP_LINES} {what} mappings, not {}",
            map.len()
        )));
    }
    let mut out = Vec::new();
    for m in map {
        let (inside, host, size) = (m.container_id(), m.host_id(), m.size());
        if size == 0
            || inside.checked_add(size - 1).is_none()
            || host.checked_add(size - 1).is_none()
        {
            return Err(Error::invalid(format!(
                "the {what} mapping {inside} -> {host} ({size} ids) is empty or overflows"
            )));
        }
        out.push((inside, host, size));
    }
    if !out.iter().any(|&(inside, _, size)| inside == 0 && size > 0) {
        return Err(Error::invalid(format!(
            "the {what} mappings do not map the container's root (id 0)"
        )));
    }
    Ok(out)
}

/// The user namespace's (uid, gid) maps; both empty without one. Maps without a user
/// namespace are an error, as is one without maps (a joined one's too: they say who owns the
/// device nodes and the start gate, as containerd gives them with the path).
pub fn id_maps(linux: &Linux, user: bool) -> Result<(IdMap, IdMap)> {
    let uids = linux.uid_mappings().clone().unwrap_or_default();
    let gids = linux.gid_mappings().clone().unwrap_or_default();
    if !user {
        if !uids.is_empty() || !gids.is_empty() {
            return Err(Error::invalid(
                "user id mappings are given without a user namespace",
            ));
        }
        return Ok((Vec::new(), Vec::new()));
    }
    Ok((id_map("uid", &uids)?, id_map("gid", &gids)?))
}

/// The host id a container id maps to (itself without a user namespace).
fn host_id(map: &[(u32, u32, u32)], id: u32, what: &str, path: &str) -> Result<u32> {
    if map.is_empty() {
        return Ok(id);
    }
    map.iter()
        .find(|&&(inside, _, size)| id >= inside && id - inside < size)
        .map(|&(inside, host, _)| host + (id - inside))
        .ok_or_else(|| {
            Error::invalid(format!(
                "the owner {what} {id} of the device {path} is not mapped in the user namespace"
            ))
        })
}

/// `linux.devices` as the helper makes them: a path under `/dev` (no `..`), a type `c` (or
/// `u`), `b` or `p`, the mode's permission bits (default 0666), the owner mapped to the host.
pub fn devices(
    linux: &Linux,
    uid_map: &[(u32, u32, u32)],
    gid_map: &[(u32, u32, u32)],
) -> Result<Vec<DeviceNode>> {
    let mut out = Vec::new();
    for d in linux.devices().iter().flatten() {
        let path = d.path().display().to_string();
        let rel = path.strip_prefix("/dev/").unwrap_or_default();
        if rel.is_empty()
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid(format!(
                "the device path {path:?} is not a plain path under /dev"
            )));
        }
        let kind = match d.typ().as_str() {
            "c" | "u" => 'c',
            "b" => 'b',
            "p" => 'p',
            other => {
                return Err(Error::invalid(format!(
                    "the device {path} has an unknown type {other:?}"
                )))
            }
        };
        let number = |n: i64| {
            u64::try_from(n)
                .map_err(|_| Error::invalid(format!("the device {path} has a negative number")))
        };
        out.push(DeviceNode {
            kind,
            major: number(d.major())?,
            minor: number(d.minor())?,
            mode: d.file_mode().unwrap_or(0o666) & 0o777,
            uid: host_id(uid_map, d.uid().unwrap_or(0), "uid", &path)?,
            gid: host_id(gid_map, d.gid().unwrap_or(0), "gid", &path)?,
            path,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(v: serde_json::Value) -> Linux {
        serde_json::from_value(v).unwrap()
    }

    const BASE: [&str; 4] = ["pid", "mount", "uts", "ipc"];

    fn with(extra: serde_json::Value) -> Linux {
        let mut list: Vec<serde_json::Value> = BASE
            .iter()
            .filter(|t| extra["type"] != **t)
            .map(|t| serde_json::json!({"type": t}))
            .collect();
        list.push(extra);
        linux(serde_json::json!({"namespaces": list}))
    }

    #[test]
    fn namespaces_are_made_or_joined_and_paths_are_checked() {
        let ns = namespaces(&with(serde_json::json!({"type": "network"}))).unwrap();
        assert_eq!(
            ns,
            Namespaces {
                new_net: true,
                ..Namespaces::default()
            }
        );
        let own = format!("/proc/{}/ns/pid", std::process::id());
        let ns = namespaces(&with(serde_json::json!({"type": "pid", "path": own}))).unwrap();
        assert_eq!(ns.joined, [("pid".to_string(), own.clone())]);
        let e = namespaces(&with(serde_json::json!({"type": "uts", "path": own}))).unwrap_err();
        assert!(e.to_string().contains("is not a uts namespace"), "{e}");
        let e = namespaces(&with(
            serde_json::json!({"type": "ipc", "path": "/nonexistent"}),
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("opening the ipc namespace /nonexistent"),
            "{e}"
        );
        let user = namespaces(&with(serde_json::json!({"type": "user"}))).unwrap();
        assert!(user.user && !user.cgroup && !user.joined_user);
        let own_user = format!("/proc/{}/ns/user", std::process::id());
        let joined = namespaces(&with(serde_json::json!({"type": "user", "path": own_user})));
        assert!(joined.unwrap().joined_user);
        let own_cgroup = format!("/proc/{}/ns/cgroup", std::process::id());
        let ns = namespaces(&with(
            serde_json::json!({"type": "cgroup", "path": own_cgroup}),
        ));
        assert_eq!(ns.unwrap().joined, [("cgroup".to_string(), own_cgroup)]);
        let e = namespaces(&with(
            serde_json::json!({"type": "mount", "path": "/proc/self/ns/mnt"}),
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("pivot_root would change the root"),
            "{e}"
        );
        let mut list = with(serde_json::json!({"type": "user"}));
        let mut all = list.namespaces().clone().unwrap();
        all.push(serde_json::from_value(serde_json::json!({"type": "pid", "path": own})).unwrap());
        all.retain(|n| n.typ() != LinuxNamespaceType::Pid || n.path().is_some());
        list.set_namespaces(Some(all));
        let e = namespaces(&list).unwrap_err();
        assert!(
            e.to_string().contains("together with a new user namespace"),
            "{e}"
        );
        let e =
            namespaces(&linux(serde_json::json!({"namespaces": [{"type": "pid"}]}))).unwrap_err();
        assert!(
            e.to_string().contains("sharing the host's Mount namespace"),
            "{e}"
        );
    }

    #[test]
    fn id_maps_must_map_root_and_be_sane() {
        let m =
            |c: u32, h: u32, s: u32| serde_json::json!({"containerID": c, "hostID": h, "size": s});
        let l = linux(serde_json::json!({"uidMappings": [m(0, 100000, 65536)],
            "gidMappings": [m(0, 100000, 1), m(5, 100005, 1)]}));
        let (u, g) = id_maps(&l, true).unwrap();
        assert_eq!(u, [(0, 100000, 65536)]);
        assert_eq!(g, [(0, 100000, 1), (5, 100005, 1)]);
        assert!(id_maps(&l, false).is_err(), "maps without a user namespace");
        for (uids, what) in [
            (
                serde_json::json!([m(1, 100000, 10)]),
                "do not map the container's root",
            ),
            (
                serde_json::json!([m(0, 100000, 0)]),
                "is empty or overflows",
            ),
            (
                serde_json::json!([m(0, u32::MAX, 2)]),
                "is empty or overflows",
            ),
            (serde_json::json!([]), "needs 1 to 340 uid mappings, not 0"),
        ] {
            let l = linux(serde_json::json!({"uidMappings": uids, "gidMappings": [m(0, 1, 1)]}));
            let e = id_maps(&l, true).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
    }

    #[test]
    fn devices_stay_under_dev_and_their_owners_are_mapped() {
        let l = linux(serde_json::json!({"devices": [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "uid": 5, "gid": 6},
            {"path": "/dev/net/tun", "type": "u", "major": 10, "minor": 200, "fileMode": 0o20600},
            {"path": "/dev/p", "type": "p", "major": 0, "minor": 0}
        ]}));
        let map = [(0, 100000, 65536)];
        let d = devices(&l, &map, &map).unwrap();
        assert_eq!((d[0].uid, d[0].gid, d[0].mode), (100005, 100006, 0o666));
        assert_eq!((d[1].kind, d[1].mode, d[1].uid), ('c', 0o600, 100000));
        assert_eq!(d[2].kind, 'p');
        assert_eq!(devices(&l, &[], &[]).unwrap()[0].uid, 5);
        let e = devices(&l, &[(0, 100000, 1)], &map).unwrap_err();
        assert!(
            e.to_string().contains("uid 5 of the device /dev/fuse"),
            "{e}"
        );
        for path in [
            "/dev",
            "/dev/",
            "/dev/a/../../etc",
            "/etc/x",
            "/dev//x",
            "dev/x",
        ] {
            let l = linux(serde_json::json!({"devices": [
                {"path": path, "type": "c", "major": 1, "minor": 3}]}));
            let e = devices(&l, &[], &[]).unwrap_err();
            assert!(
                e.to_string().contains("not a plain path under /dev"),
                "{path}: {e}"
            );
        }
    }
}
