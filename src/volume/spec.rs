//! `-v` as docker reads it: `HOST:CONTAINER[:ro|:rw]` (a bind of an absolute host path),
//! `NAME:CONTAINER[:MODE]` (a named volume) and `CONTAINER` (an anonymous volume); `--mount
//! type=bind|volume|tmpfs,source=..,target=..[,readonly][,volume-nocopy][,tmpfs-size=..]
//! [,tmpfs-mode=..]` as docker reads it (see [`parse_mount`]); and the mount as the
//! container's record keeps it (docker's `Mounts` entries).

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
    /// A new tmpfs (`--mount type=tmpfs`), gone with the container's run.
    Tmpfs(TmpfsOptions),
}

/// A tmpfs mount's size and mode (docker's `TmpfsOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsOptions {
    /// Bytes; 0: the kernel's default (half the memory).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_bytes: u64,
    /// Permission bits of its root; 0: the kernel's default (1777).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mode: u32,
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One `-v` as given, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: Source,
    /// The absolute path in the container.
    pub target: String,
    pub readonly: bool,
    /// `volume-nocopy`: a new volume is not filled from the image.
    pub no_copy: bool,
}

/// A mount as the record keeps it and `inspect` shows it (docker's `Mounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The host path bound (a volume's `_data` folder; empty for a tmpfs).
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
    /// A volume not filled from the image (`volume-nocopy`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_copy: bool,
    /// A tmpfs's size and mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

impl MountPoint {
    pub fn is_volume(&self) -> bool {
        self.kind == "volume"
    }

    pub fn is_tmpfs(&self) -> bool {
        self.kind == "tmpfs"
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

/// `path` without repeated or trailing slashes (`//a/b/` is `/a/b`).
fn clean_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    format!("/{}", parts.join("/"))
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
        no_copy: false,
    })
}

/// docker's error for a bad `--mount` value.
fn bad_mount(value: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "invalid argument {value:?} for \"--mount\" flag: {why}"
    ))
}

/// docker's error for a mount its type does not allow.
fn bad_config(kind: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid mount config for type {kind:?}: {why}"))
}

/// go-units' `RAMInBytes`: `64m`, `1.5g`, `512KiB`, `100` (bytes); binary multiples.
fn ram_in_bytes(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    let num_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(num_end);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim_start_matches(' ');
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return None,
    };
    let bytes = num * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A `--mount` value's fields, as docker's CLI reads them (keys case-insensitive).
#[derive(Default)]
struct MountFields {
    kind: String,
    source: String,
    target: String,
    readonly: bool,
    /// Some when a `volume-*` option was given: its no-copy.
    no_copy: Option<bool>,
    /// Some when a `tmpfs-*` option was given.
    tmpfs: Option<TmpfsOptions>,
}

fn read_fields(value: &str) -> Result<MountFields> {
    let bool_of = |key: &str, v: &str| match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(bad_mount(
            value,
            format_args!("invalid value for {key}: {v}"),
        )),
    };
    let mut m = MountFields {
        kind: "volume".into(),
        ..Default::default()
    };
    for field in value.split(',') {
        let (key, v) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), v) {
            ("readonly" | "ro", None) => m.readonly = true,
            ("volume-nocopy", None) => m.no_copy = Some(true),
            (_, None) => {
                return Err(bad_mount(
                    value,
                    format_args!("invalid field '{field}' must be a key=value pair"),
                ))
            }
            ("type", Some(v)) => m.kind = v.to_ascii_lowercase(),
            ("source" | "src", Some(v)) => m.source = v.to_string(),
            ("target" | "dst" | "destination", Some(v)) => m.target = v.to_string(),
            ("readonly" | "ro", Some(v)) => m.readonly = bool_of(&key, v)?,
            ("volume-nocopy", Some(v)) => m.no_copy = Some(bool_of(&key, v)?),
            ("tmpfs-size", Some(v)) => {
                let size = ram_in_bytes(v).ok_or_else(|| {
                    bad_mount(value, format_args!("invalid value for {key}: {v}"))
                })?;
                m.tmpfs.get_or_insert_with(Default::default).size_bytes = size;
            }
            ("tmpfs-mode", Some(v)) => {
                let mode = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        bad_mount(value, format_args!("invalid value for {key}: {v}"))
                    })?;
                m.tmpfs.get_or_insert_with(Default::default).mode = mode;
            }
            (_, Some(_)) => {
                return Err(bad_mount(
                    value,
                    format_args!("unexpected key '{key}' in '{field}'"),
                ))
            }
        }
    }
    Ok(m)
}

/// Read one `--mount` value as docker does: `type` (`volume` when not given), `source`/`src`,
/// `target`/`dst`/`destination`, `readonly`/`ro[=BOOL]`, `volume-nocopy[=BOOL]`,
/// `tmpfs-size=SIZE`, `tmpfs-mode=OCTAL`; an unknown key, a missing target, a type this
/// runtime has not, or an option of another type is an error.
pub fn parse_mount(value: &str) -> Result<VolumeSpec> {
    let m = read_fields(value)?;
    if m.target.is_empty() {
        return Err(bad_mount(value, "target is required"));
    }
    if m.no_copy.is_some() && m.kind != "volume" {
        let kind = &m.kind;
        return Err(bad_mount(
            value,
            format_args!("cannot mix 'volume-*' options with mount type '{kind}'"),
        ));
    }
    if m.tmpfs.is_some() && m.kind != "tmpfs" {
        let kind = &m.kind;
        return Err(bad_mount(
            value,
            format_args!("cannot mix 'tmpfs-*' options with mount type '{kind}'"),
        ));
    }
    let source = match m.kind.as_str() {
        "bind" if m.source.is_empty() => {
            return Err(bad_config("bind", "field Source must not be empty"))
        }
        "bind" if !m.source.starts_with('/') => {
            return Err(bad_config(
                "bind",
                format_args!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                ),
            ))
        }
        "bind" => Source::Bind(m.source),
        "volume" if m.source.is_empty() => Source::Anonymous,
        "volume" => {
            check_name(&m.source)?;
            Source::Named(m.source)
        }
        "tmpfs" if !m.source.is_empty() => {
            return Err(bad_config("tmpfs", "field Source must not be specified"))
        }
        // The helper mounts its own tmpfs there (see `engine::plan`): a second would be lost.
        "tmpfs" if ["/dev", "/dev/shm"].contains(&clean_path(&m.target).as_str()) => {
            return Err(bad_config(
                "tmpfs",
                format_args!(
                    "{} is the runtime's own tmpfs: another tmpfs mount there is not supported",
                    m.target
                ),
            ))
        }
        "tmpfs" => Source::Tmpfs(m.tmpfs.unwrap_or_default()),
        other => {
            return Err(bad_config(
                other,
                "mount type unknown (use bind, volume or tmpfs)",
            ))
        }
    };
    check_target(&m.target)?;
    Ok(VolumeSpec {
        source,
        target: m.target,
        readonly: m.readonly,
        no_copy: m.no_copy.unwrap_or(false),
    })
}

/// Read every `-v` and `--mount` of a request: each checked, no target twice, every bind's
/// host path there.
pub fn parse_all(volumes: &[String], mounts: &[String]) -> Result<Vec<VolumeSpec>> {
    let mut out: Vec<VolumeSpec> = Vec::new();
    let given = (volumes.iter().map(|v| parse(v))).chain(mounts.iter().map(|m| parse_mount(m)));
    for v in given {
        let v = v?;
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
        let e = parse_all(&["/tmp:/x".into(), "v1:/x/".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("Duplicate mount point"), "{e}");
        let e = parse_all(&["/tmp:/x".into()], &["type=tmpfs,dst=/x".into()]).unwrap_err();
        assert!(e.to_string().contains("Duplicate mount point"), "{e}");
        let e = parse_all(&["/nonexistent/nowhere:/x".into()], &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("bind source path does not exist: /nonexistent/nowhere"),
            "{e}"
        );
    }

    #[test]
    fn mount_forms_are_read_as_docker_reads_them() {
        let m = parse_mount("type=bind,source=/tmp,target=/mnt,readonly").unwrap();
        assert_eq!(m.source, Source::Bind("/tmp".into()));
        assert_eq!((m.target.as_str(), m.readonly), ("/mnt", true));
        let m = parse_mount("Type=BIND,src=/tmp,dst=/mnt,ro=false").unwrap();
        assert!(!m.readonly);
        let m = parse_mount("src=data,destination=/d,volume-nocopy").unwrap();
        assert_eq!((m.source, m.no_copy), (Source::Named("data".into()), true));
        let m = parse_mount("type=volume,target=/d,ro=1").unwrap();
        assert_eq!((m.source, m.readonly), (Source::Anonymous, true));
        let m = parse_mount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        let opts = TmpfsOptions {
            size_bytes: 64 << 20,
            mode: 0o1770,
        };
        assert_eq!(m.source, Source::Tmpfs(opts));
        assert_eq!(ram_in_bytes("1.5KiB"), Some(1536));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("2 GB"), Some(2 << 30));
    }

    #[test]
    fn bad_mounts_are_refused() {
        for (value, says) in [
            (
                "type=bind,source=/tmp,target=/x,foo=1",
                "unexpected key 'foo' in 'foo=1'",
            ),
            ("type=bind,source=/tmp", "target is required"),
            (
                "type=nfs,target=/x",
                "invalid mount config for type \"nfs\": mount type unknown",
            ),
            ("type=bind,target=/x", "field Source must not be empty"),
            ("type=bind,src=rel,target=/x", "mount path must be absolute"),
            (
                "type=tmpfs,src=/tmp,target=/x",
                "field Source must not be specified",
            ),
            (
                "type=bind,src=/tmp,target=/x,tmpfs-size=1m",
                "cannot mix 'tmpfs-*'",
            ),
            (
                "type=tmpfs,target=/x,volume-nocopy",
                "cannot mix 'volume-*'",
            ),
            (
                "type=tmpfs,target=/x,tmpfs-size=lots",
                "invalid value for tmpfs-size: lots",
            ),
            (
                "type=tmpfs,target=/x,tmpfs-mode=9",
                "invalid value for tmpfs-mode: 9",
            ),
            (
                "type=bind,src=/tmp,target=/x,ro=maybe",
                "invalid value for ro: maybe",
            ),
            (
                "type=bind,src=/tmp,target=/x,bogus",
                "invalid field 'bogus'",
            ),
            ("type=tmpfs,target=rel", "must be absolute"),
            ("type=tmpfs,target=/", "destination can't be '/'"),
            ("type=tmpfs,target=/dev/shm/", "the runtime's own tmpfs"),
            ("type=tmpfs,target=//dev", "the runtime's own tmpfs"),
            ("src=a/b,target=/x", "invalid characters"),
        ] {
            let e = parse_mount(value).unwrap_err().to_string();
            assert!(e.contains(says), "{value}: {e}");
        }
        let e = parse_all(&[], &["type=bind,src=/nonexistent/nowhere,dst=/x".into()]).unwrap_err();
        assert!(
            e.to_string().contains("bind source path does not exist"),
            "{e}"
        );
    }
}
