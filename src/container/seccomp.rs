//! Seccomp profiles in docker's format (`--security-opt seccomp=PROFILE.json`, and the default
//! profile `seccomp-default.json` beside this file) resolved for one container, as docker's
//! daemon does before it writes the runtime spec: the rules that apply to the container's
//! bounding capabilities, to this machine's architecture and to the running kernel are kept,
//! and the result is the spec's `linux.seccomp` (which the engine compiles).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use oci_spec::runtime::LinuxSeccomp;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// docker's default profile, in docker's format.
pub const DEFAULT_PROFILE: &str = include_str!("seccomp-default.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: Value,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Option<Vec<String>>,
    /// The older single-name form.
    #[serde(default)]
    name: Option<String>,
    action: Value,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Value>>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// This machine's architecture as docker names it (Go's names).
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

/// The libseccomp name of this machine's architecture.
fn native_scmp_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// `major.minor` of a kernel release (`6.1.0-18-amd64` -> (6, 1)).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn running_kernel() -> Option<(u32, u32)> {
    let uts = nix::sys::utsname::uname().ok()?;
    kernel_version(&uts.release().to_string_lossy())
}

/// Whether `rule` applies to a container whose bounding set is `caps` (names).
fn applies(rule: &Rule, caps: &[String], kernel: Option<(u32, u32)>) -> Result<bool> {
    let arch = native_arch();
    let inc = rule.includes.as_ref();
    let exc = rule.excludes.as_ref();
    let list = |f: Option<&Filter>, pick: fn(&Filter) -> &Option<Vec<String>>| {
        f.and_then(|f| pick(f).clone()).unwrap_or_default()
    };
    let (inc_arches, inc_caps) = (list(inc, |f| &f.arches), list(inc, |f| &f.caps));
    let (exc_arches, exc_caps) = (list(exc, |f| &f.arches), list(exc, |f| &f.caps));
    if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == arch) {
        return Ok(false);
    }
    if !inc_caps.iter().all(|c| caps.contains(c)) {
        return Ok(false);
    }
    if exc_arches.iter().any(|a| a == arch) || exc_caps.iter().any(|c| caps.contains(c)) {
        return Ok(false);
    }
    if let Some(min) = inc.and_then(|f| f.min_kernel.as_deref()) {
        let want = kernel_version(min)
            .ok_or_else(|| Error::invalid(format!("seccomp profile: bad minKernel {min:?}")))?;
        if kernel.is_some_and(|k| k < want) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The architectures the filter covers: the profile's list, or this machine's entry of its
/// `archMap` with its sub-architectures.
fn architectures(p: &Profile) -> Vec<String> {
    if let Some(a) = p.architectures.as_ref().filter(|a| !a.is_empty()) {
        return a.clone();
    }
    let native = native_scmp_arch();
    let mut out = vec![native.to_string()];
    for m in p.arch_map.iter().flatten() {
        if m.architecture == native {
            out.extend(m.sub_architectures.iter().flatten().cloned());
        }
    }
    out
}

/// Resolved profiles by the sha256 of their text and the capabilities.
type Resolved = Mutex<HashMap<[u8; 32], LinuxSeccomp>>;

/// The spec's `linux.seccomp` for a container with the bounding capabilities `caps` (names
/// such as `CAP_SYS_ADMIN`), from `profile` (docker's JSON format), resolved once per profile
/// and set of capabilities. A profile that is not valid JSON, or names an unknown action,
/// operator or architecture, is an error that says so.
pub fn resolve(profile: &str, caps: &[String]) -> Result<LinuxSeccomp> {
    static RESOLVED: OnceLock<Resolved> = OnceLock::new();
    let mut h = Sha256::new();
    h.update(profile.as_bytes());
    for c in caps {
        h.update([0]);
        h.update(c.as_bytes());
    }
    let key: [u8; 32] = h.finalize().into();
    let cache = RESOLVED.get_or_init(Mutex::default);
    if let Some(r) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(r.clone());
    }
    let r = resolve_uncached(profile, caps)?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, r.clone());
    Ok(r)
}

fn resolve_uncached(profile: &str, caps: &[String]) -> Result<LinuxSeccomp> {
    let bad = |e: serde_json::Error| Error::invalid(format!("seccomp profile: {e}"));
    let p: Profile = serde_json::from_str(profile).map_err(bad)?;
    let kernel = running_kernel();
    let mut syscalls = Vec::new();
    for rule in p.syscalls.iter().flatten() {
        if !applies(rule, caps, kernel)? {
            continue;
        }
        let mut names = rule.names.clone().unwrap_or_default();
        names.extend(rule.name.clone());
        if names.is_empty() {
            continue;
        }
        let mut s = json!({"names": names, "action": rule.action});
        if let Some(e) = rule.errno_ret {
            s["errnoRet"] = json!(e);
        }
        if let Some(args) = &rule.args {
            s["args"] = json!(args);
        }
        syscalls.push(s);
    }
    let mut out = json!({
        "defaultAction": p.default_action,
        "architectures": architectures(&p),
        "syscalls": syscalls,
    });
    if let Some(e) = p.default_errno_ret {
        out["defaultErrnoRet"] = json!(e);
    }
    serde_json::from_value(out).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn allowed(s: &LinuxSeccomp, name: &str) -> bool {
        s.syscalls()
            .iter()
            .flatten()
            .any(|r| r.names().iter().any(|n| n == name) && r.args().is_none())
    }

    #[test]
    fn the_default_profile_follows_the_capabilities() {
        let plain = resolve(DEFAULT_PROFILE, &caps(&["CAP_CHOWN", "CAP_SYS_CHROOT"])).unwrap();
        assert!(allowed(&plain, "openat"));
        assert!(allowed(&plain, "chroot"));
        for name in [
            "mount",
            "unshare",
            "setns",
            "bpf",
            "keyctl",
            "io_uring_setup",
            "kexec_load",
        ] {
            assert!(!allowed(&plain, name), "{name} must not be allowed");
        }
        assert_eq!(plain.default_errno_ret(), Some(1));
        let admin = resolve(DEFAULT_PROFILE, &caps(&["CAP_SYS_ADMIN"])).unwrap();
        assert!(allowed(&admin, "mount") && allowed(&admin, "unshare"));
        assert!(!allowed(&admin, "chroot"));
    }

    #[test]
    fn bad_profiles_are_clear_errors() {
        for (text, what) in [
            ("{", "seccomp profile: EOF"),
            (r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#, "SCMP_ACT_MAYBE"),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}"#,
                "SCMP_CMP_SOMETIMES",
            ),
        ] {
            let e = resolve(text, &[]).unwrap_err();
            assert!(e.message().contains(what), "{e}");
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(kernel_version("4.8"), Some((4, 8)));
        assert_eq!(kernel_version("x"), None);
    }
}
