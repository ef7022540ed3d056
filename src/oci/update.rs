//! `update`: a running container's cgroup given new resources, from `--resources FILE|-` (a
//! runtime-spec `LinuxResources` JSON, as containerd's shim writes it) and runc's flags
//! (`--memory 64m`, `--cpu-share`, `--cpu-quota`, `--cpu-period`, `--cpuset-cpus`,
//! `--cpuset-mems`, `--pids-limit`, `--memory-reservation`, `--memory-swap`,
//! `--blkio-weight`), a flag taking over the file's field. Only what is named changes.

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};

use super::cli::Invocation;
use super::store::{Status, Store};
use crate::error::{Error, Result};

/// The runc flags: (flag, section, field, whether the value is a size in bytes).
const FLAGS: &[(&str, &str, &str, bool)] = &[
    ("memory", "memory", "limit", true),
    ("memory-reservation", "memory", "reservation", true),
    ("memory-swap", "memory", "swap", true),
    ("cpu-share", "cpu", "shares", false),
    ("cpu-quota", "cpu", "quota", false),
    ("cpu-period", "cpu", "period", false),
    ("cpuset-cpus", "cpu", "cpus", false),
    ("cpuset-mems", "cpu", "mems", false),
    ("pids-limit", "pids", "limit", false),
    ("blkio-weight", "blockIO", "weight", false),
];

/// A size as runc's flags take it: bytes, or with k, m, g (KiB, MiB, GiB; any case, an
/// optional `b`); -1: no limit.
fn size(flag: &str, s: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(format!(
            "invalid --{flag} {s:?}: want a number of bytes, optionally with k, m or g, or -1"
        ))
    };
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 10),
        Some((i, 'm')) => (&t[..i], 20),
        Some((i, 'g')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift)
        .filter(|n| *n >= 0)
        .ok_or_else(bad)
}

/// The value of one flag as the spec's JSON has it.
fn flag_value(flag: &str, bytes: bool, s: &str) -> Result<Value> {
    if bytes {
        return size(flag, s).map(Value::from);
    }
    if flag.starts_with("cpuset") {
        return Ok(Value::from(s));
    }
    s.parse::<i64>()
        .map(Value::from)
        .map_err(|_| Error::invalid(format!("invalid --{flag} {s:?}: want a number")))
}

/// The resources asked for: the file's, then the flags'.
fn requested(inv: &Invocation) -> Result<Value> {
    let mut v = match inv.value("resources") {
        Some(source) => {
            let mut text = Vec::new();
            let read = if source == "-" {
                std::io::stdin().read_to_end(&mut text).map(drop)
            } else {
                std::fs::File::open(source).and_then(|mut f| f.read_to_end(&mut text).map(drop))
            };
            read.map_err(|e| Error::io_path("reading the resources", Path::new(source), e))?;
            serde_json::from_slice::<Value>(&text)
                .map_err(|e| Error::invalid(format!("the resources {source}: not JSON ({e})")))?
        }
        None => json!({}),
    };
    if !v.is_object() {
        return Err(Error::invalid(
            "the resources must be a JSON object (the runtime spec's linux.resources)",
        ));
    }
    for (flag, section, field, bytes) in FLAGS {
        if let Some(s) = inv.value(flag) {
            let value = flag_value(flag, *bytes, s)?;
            let sec = v
                .as_object_mut()
                .map(|o| o.entry(*section).or_insert_with(|| json!({})));
            match sec.and_then(Value::as_object_mut) {
                Some(o) => {
                    o.insert(field.to_string(), value);
                }
                None => {
                    return Err(Error::invalid(format!(
                        "the resources' {section:?} is not an object"
                    )))
                }
            }
        }
    }
    Ok(v)
}

/// `update`: check everything, then write it into the container's cgroup.
pub fn update(inv: &Invocation) -> Result<()> {
    let store = Store::open(&inv.globals.root)?;
    let id = inv.args[0].as_str();
    let _lock = store.lock(id)?;
    let rec = store.load(id)?;
    if matches!(store.status(&rec), Status::Stopped | Status::Creating) {
        return Err(Error::in_use(format!("container \"{id}\" not running")));
    }
    let json = requested(inv)?;
    let typed: oci_spec::runtime::LinuxResources =
        serde_json::from_value(json).map_err(|e| Error::invalid(format!("the resources: {e}")))?;
    let spec = super::create::load_spec(&rec.bundle)?;
    let res = crate::engine::plan::update_resources(&typed, &spec)?;
    let cg = rec.cgroup().ok_or_else(|| {
        Error::unsupported(format!(
            "container \"{id}\" has no cgroup to update (this host offers none)"
        ))
    })?;
    cg.update(&res)
        .map_err(|e| e.context(format_args!("updating container \"{id}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_runc_reads_them() {
        assert_eq!(size("memory", "64m").unwrap(), 64 << 20);
        assert_eq!(size("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(size("memory", "512kb").unwrap(), 512 << 10);
        assert_eq!(size("memory", "-1").unwrap(), -1);
        for bad in ["", "m", "-5", "1t", "x1"] {
            let e = size("memory", bad).unwrap_err();
            assert!(e.message().contains("--memory"), "{e}");
        }
        assert_eq!(
            flag_value("cpuset-cpus", false, "0-1").unwrap(),
            json!("0-1")
        );
        assert!(flag_value("pids-limit", false, "lots").is_err());
    }
}
