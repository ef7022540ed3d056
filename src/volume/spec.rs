//! `-v` as docker reads it: `HOST:CONTAINER[:ro|:rw]` (a bind of an absolute host path),
//! `NAME:CONTAINER[:MODE]` (a named volume) and `CONTAINER` (an anonymous volume); and the
//! mount as the container's record keeps it (docker's `Mounts` entries).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a `-v` mount comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An absolute host path.
    Bind(String),
    /// A named volume.
    Named(String),
    /// A new volume with a generated name.
    Anonymous,
}

/// One `-v` as given, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: Source,
    /// The absolute path in the container.
    pub target: String,
    pub readonly: bool,
}

/// A mount as the record keeps it and `inspect` shows it (docker's `Mounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind` or `volume`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The host path bound (a volume's `_data` folder).
    pub source: String,
    pub destination: String,
    /// `local` (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// As given after the second colon (`ro`, `rw` or empty).
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// `rprivate` for binds (volumes: empty, as docker shows them).
    #[serde(default)]
    pub propagation: String,
}

impl MountPoint {
    pub fn is_volume(&self) -> bool {
        self.kind == "volume"
    }
}

fn invalid_spec(spec: &str, why: &str) -> Error {
    Error::invalid(format!("invalid spec: {spec}: {why}"))
}

/// Check a volume name as docker's local driver does: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if name.len() < 2 || !first_ok || !rest_ok {
        return Err(Error::invalid(format!(
            "create {name}: {name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

/// Check a mount's path in the container: absolute, no `..`, neither `/` nor in `/proc`.
pub fn check_target(target: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid mount config: invalid mount path: {target:?} {why}"
        )))
    };
    if !target.starts_with('/') {
        return bad("mount path must be absolute");
    }
    if target.split('/').any(|c| c == "..") {
        return bad("must not contain '..'");
    }
    let clean = format!("/{}", target.trim_matches('/'));
    if clean == "/" {
        return Err(Error::invalid(format!(
            "invalid specification: destination can't be '/' in {target:?}"
        )));
    }
    if clean == "/proc" || clean.starts_with("/proc/") {
        return bad("is inside /proc: it cannot be mounted over");
    }
    Ok(())
}

/// Read one `-v` value.
pub fn parse(spec: &str) -> Result<VolumeSpec> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid_spec(spec, "empty section between colons"));
    }
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [_, m] if ["ro", "rw"].contains(m) => {
            return Err(invalid_spec(
                spec,
                "a mode needs a source (volumes cannot include a mode)",
            ))
        }
        [source, target] => (Some(*source), *target, ""),
        [source, target, mode] => (Some(*source), *target, *mode),
        _ => return Err(invalid_spec(spec, "too many colons")),
    };
    if !["", "ro", "rw"].contains(&mode) {
        return Err(Error::invalid(format!(
            "invalid mode: {mode} in {spec:?} (use ro or rw)"
        )));
    }
    check_target(target)?;
    let source = match source {
        None => Source::Anonymous,
        Some(s) if s.starts_with('/') => Source::Bind(s.to_string()),
        Some(s) => {
            check_name(s)?;
            Source::Named(s.to_string())
        }
    };
    Ok(VolumeSpec {
        source,
        target: target.to_string(),
        readonly: mode == "ro",
    })
}

/// Read every `-v` of a request: each checked, no target twice, every bind's host path there.
pub fn parse_all(specs: &[String]) -> Result<Vec<VolumeSpec>> {
    let mut out: Vec<VolumeSpec> = Vec::new();
    for s in specs {
        let v = parse(s)?;
        let clean = |t: &str| format!("/{}", t.trim_matches('/'));
        if out.iter().any(|o| clean(&o.target) == clean(&v.target)) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                v.target
            )));
        }
        if let Source::Bind(host) = &v.source {
            if std::fs::metadata(Path::new(host)).is_err() {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {host}"
                )));
            }
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_forms_are_read() {
        let v = parse("/tmp:/mnt:ro").unwrap();
        assert_eq!(v.source, Source::Bind("/tmp".into()));
        assert_eq!((v.target.as_str(), v.readonly), ("/mnt", true));
        assert!(!parse("/tmp:/mnt").unwrap().readonly);
        assert!(!parse("/tmp:/mnt:rw").unwrap().readonly);
        assert_eq!(
            parse("data:/d").unwrap().source,
            Source::Named("data".into())
        );
        assert_eq!(parse("/d").unwrap().source, Source::Anonymous);
    }

    #[test]
    fn bad_specs_are_refused() {
        for (spec, says) in [
            ("a:b:c:d", "too many colons"),
            ("/x:ro", "a mode needs a source"),
            ("./rel:/x", "invalid characters"),
            ("rel/dir:/x", "invalid characters"),
            ("..:/x", "invalid characters"),
            ("/tmp:/", "destination can't be '/'"),
            ("/tmp:/proc/sys", "inside /proc"),
            ("/tmp:/proc", "inside /proc"),
            ("/tmp:/a/../b", "'..'"),
            ("/tmp:rel", "must be absolute"),
            ("/tmp:/x:z", "invalid mode"),
            ("/tmp::/x", "empty section"),
            ("", "empty section"),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
        }
        let e = parse_all(&["/tmp:/x".into(), "v1:/x/".into()]).unwrap_err();
        assert!(e.to_string().contains("Duplicate mount point"), "{e}");
        let e = parse_all(&["/nonexistent/nowhere:/x".into()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("bind source path does not exist: /nonexistent/nowhere"),
            "{e}"
        );
    }
}
