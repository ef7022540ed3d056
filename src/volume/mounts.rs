//! From a request's `-v` and `--mount` specs to the mounts a container records: named
//! volumes found or made, anonymous ones made, binds and tmpfs mounts as given; and the checks that tie volumes to the
//! containers using them (`volume rm`, `rm -v`).

use super::spec::{MountPoint, Source, VolumeSpec};
use super::store::VolumeStore;
use crate::error::{Error, Result};

/// The mounts of a new container, and the names of the volumes made for it (to remove if
/// the container is not made after all). Call with the store's lock held.
pub fn mounts_for(
    store: &VolumeStore,
    specs: &[VolumeSpec],
) -> Result<(Vec<MountPoint>, Vec<String>)> {
    let mut out = Vec::new();
    let mut made = Vec::new();
    for s in specs {
        let mode = if s.readonly { "ro" } else { "" };
        let point = match &s.source {
            Source::Bind(host) => MountPoint {
                kind: "bind".into(),
                name: String::new(),
                source: host.clone(),
                destination: s.target.clone(),
                driver: String::new(),
                mode: mode.into(),
                rw: !s.readonly,
                propagation: "rprivate".into(),
                no_copy: false,
                tmpfs_options: None,
            },
            Source::Tmpfs(opts) => MountPoint {
                kind: "tmpfs".into(),
                name: String::new(),
                source: String::new(),
                destination: s.target.clone(),
                driver: String::new(),
                mode: String::new(),
                rw: !s.readonly,
                propagation: String::new(),
                no_copy: false,
                tmpfs_options: Some(*opts),
            },
            Source::Named(_) | Source::Anonymous => {
                let name = match &s.source {
                    Source::Named(n) => Some(n.as_str()),
                    _ => None,
                };
                let (v, new) = match store.create(name) {
                    Ok(r) => r,
                    Err(e) => {
                        undo(store, &made);
                        return Err(e);
                    }
                };
                if new {
                    made.push(v.name.clone());
                }
                MountPoint {
                    kind: "volume".into(),
                    name: v.name,
                    source: v.mountpoint.display().to_string(),
                    destination: s.target.clone(),
                    driver: v.driver.into(),
                    mode: mode.into(),
                    rw: !s.readonly,
                    propagation: String::new(),
                    no_copy: s.no_copy,
                    tmpfs_options: None,
                }
            }
        };
        out.push(point);
    }
    Ok((out, made))
}

/// Remove the volumes `made` for a container that was not made.
pub fn undo(store: &VolumeStore, made: &[String]) {
    for name in made {
        let _ = store.remove(name);
    }
}

/// The containers (ids) among `containers` (id, mounts) that use the volume `name`.
pub fn users<'a>(
    name: &str,
    containers: impl IntoIterator<Item = (&'a str, &'a [MountPoint])>,
) -> Vec<String> {
    containers
        .into_iter()
        .filter(|(_, mounts)| mounts.iter().any(|m| m.is_volume() && m.name == name))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// docker's refusal to remove a volume that containers use.
pub fn in_use(name: &str, users: &[String]) -> Error {
    Error::in_use(format!(
        "remove {name}: volume is in use - [{}]",
        users.join(", ")
    ))
}
