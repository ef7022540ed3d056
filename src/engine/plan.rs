//! From an OCI runtime spec to the helper's steps ([`InitConfig`]): the one place where a
//! spec is read. What this engine does not execute is refused with an `Unsupported` error
//! naming it, never silently dropped.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxNamespaceType, Mount, PosixRlimitType, Process, Spec};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::cgroup::{CgroupPath, Resources};
use crate::error::{Error, Result};
use crate::spawn::protocol::{InitConfig, PROTOCOL_VERSION};

/// The kernel's capability numbers, by name (`include/uapi/linux/capability.h`).
const CAPABILITY_NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The kernel's number of a capability.
pub fn capability_number(cap: &Capability) -> Result<u32> {
    let name = serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    CAPABILITY_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|n| n as u32)
        .ok_or_else(|| Error::unsupported(format!("capability {name} is unknown to this engine")))
}

/// The spec's name of a capability number (for building specs).
pub fn capability_name(number: u32) -> Option<&'static str> {
    CAPABILITY_NAMES.get(number as usize).copied()
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::unsupported(format!(
        "the runtime spec asks for {what}, which this engine does not support"
    ))
}

/// The namespaces the helper always makes; the network one is optional.
const REQUIRED_NAMESPACES: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
];

/// The namespaces: whether the container gets a new network namespace, and those it joins by
/// path (network, IPC, UTS: what a pod's containers share), as (`net`|`ipc`|`uts`, path).
/// The PID and mount namespaces are always new; every namespace must be asked for, and none
/// besides these.
fn namespaces(spec: &Spec) -> Result<(bool, Vec<(String, String)>)> {
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| unsupported("no linux section"))?;
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let mut joined = Vec::new();
    for ns in &namespaces {
        let kind = match ns.typ() {
            LinuxNamespaceType::Network => Some("net"),
            LinuxNamespaceType::Ipc => Some("ipc"),
            LinuxNamespaceType::Uts => Some("uts"),
            _ => None,
        };
        match (ns.path(), kind) {
            (Some(p), Some(kind)) => joined.push((kind.to_string(), p.display().to_string())),
            (Some(p), None) => {
                return Err(unsupported(format_args!(
                    "joining the {:?} namespace at {}",
                    ns.typ(),
                    p.display()
                )))
            }
            _ => {}
        }
        if !REQUIRED_NAMESPACES.contains(&ns.typ()) && ns.typ() != LinuxNamespaceType::Network {
            return Err(unsupported(format_args!("a {:?} namespace", ns.typ())));
        }
    }
    for typ in REQUIRED_NAMESPACES {
        if !namespaces.iter().any(|ns| ns.typ() == *typ) {
            return Err(unsupported(format_args!(
                "sharing the host's {typ:?} namespace"
            )));
        }
    }
    let new_net = namespaces
        .iter()
        .any(|ns| ns.typ() == LinuxNamespaceType::Network && ns.path().is_none());
    Ok((new_net, joined))
}

/// The kinds of mount the helper makes itself (it mounts them at these places, always), and
/// the read-only binds it takes from the spec.
const HELPER_MOUNTS: &[(&str, &str)] = &[
    ("/proc", "proc"),
    ("/sys", "sysfs"),
    ("/dev", "tmpfs"),
    ("/dev/pts", "devpts"),
    ("/dev/shm", "tmpfs"),
    ("/dev/mqueue", "mqueue"),
];

/// A tmpfs mount's options as mount flags and the data string (`mode=`, `size=`, ...);
/// an option this engine does not know is refused.
fn tmpfs_options(dst: &str, opts: &[String]) -> Result<(u64, String)> {
    use nix::mount::MsFlags as F;
    let mut flags = F::empty();
    let mut data = Vec::new();
    for o in opts {
        let flag = match o.as_str() {
            "ro" => F::MS_RDONLY,
            "nosuid" => F::MS_NOSUID,
            "nodev" => F::MS_NODEV,
            "noexec" => F::MS_NOEXEC,
            "sync" => F::MS_SYNCHRONOUS,
            "dirsync" => F::MS_DIRSYNC,
            "noatime" => F::MS_NOATIME,
            "nodiratime" => F::MS_NODIRATIME,
            "relatime" => F::MS_RELATIME,
            "strictatime" => F::MS_STRICTATIME,
            "rw" | "suid" | "dev" | "exec" | "atime" | "diratime" | "async" => F::empty(),
            _ if ["mode=", "size=", "nr_inodes=", "nr_blocks=", "uid=", "gid="]
                .iter()
                .any(|p| o.starts_with(p)) =>
            {
                data.push(o.as_str());
                F::empty()
            }
            _ => return Err(unsupported(format_args!("the tmpfs option {o:?} on {dst}"))),
        };
        flags |= flag;
    }
    Ok((flags.bits(), data.join(",")))
}

/// The spec's mounts: the helper's own (`/proc`, `/sys`, `/dev`, which a spec must ask for,
/// as runc's default spec does) are skipped; the rest are read-only bind mounts of host files
/// or folders, and tmpfs mounts.
#[allow(clippy::type_complexity)]
fn split_mounts(mounts: &[Mount]) -> Result<(Vec<(String, String)>, Vec<(String, u64, String)>)> {
    let (mut binds, mut tmpfs) = (Vec::new(), Vec::new());
    for m in mounts {
        let dst = m.destination().display().to_string();
        let typ = m.typ().clone().unwrap_or_default();
        if HELPER_MOUNTS.iter().any(|(d, t)| *d == dst && *t == typ) {
            continue;
        }
        let opts = m.options().clone().unwrap_or_default();
        if typ == "tmpfs" {
            if !dst.starts_with('/') || dst.split('/').any(|c| c == "..") {
                return Err(Error::invalid(format!("invalid tmpfs mount point {dst:?}")));
            }
            let (flags, data) = tmpfs_options(&dst, &opts)?;
            tmpfs.push((dst, flags, data));
            continue;
        }
        let is_bind = opts.iter().any(|o| o == "bind" || o == "rbind");
        match (is_bind, m.source()) {
            (true, Some(src)) if opts.iter().any(|o| o == "ro") => {
                binds.push((src.display().to_string(), dst))
            }
            (true, Some(_)) => {
                return Err(unsupported(format_args!("a writable bind mount on {dst}")))
            }
            _ => return Err(unsupported(format_args!("a {typ:?} mount on {dst}"))),
        }
    }
    for (dst, typ) in HELPER_MOUNTS {
        if !mounts.iter().any(|m| m.destination() == Path::new(dst)) {
            return Err(unsupported(format_args!("no {typ} mount on {dst}")));
        }
    }
    Ok((binds, tmpfs))
}

/// The kernel's number of a resource limit (`include/uapi/asm-generic/resource.h`).
fn rlimit_number(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => 0,
        RlimitFsize => 1,
        RlimitData => 2,
        RlimitStack => 3,
        RlimitCore => 4,
        RlimitRss => 5,
        RlimitNproc => 6,
        RlimitNofile => 7,
        RlimitMemlock => 8,
        RlimitAs => 9,
        RlimitLocks => 10,
        RlimitSigpending => 11,
        RlimitMsgqueue => 12,
        RlimitNice => 13,
        RlimitRtprio => 14,
        RlimitRttime => 15,
    }
}

/// The process's resource limits: (resource, soft, hard); a soft limit above the hard one is
/// an error.
fn rlimits(p: &Process) -> Result<Vec<(u32, u64, u64)>> {
    let mut out = Vec::new();
    for r in p.rlimits().iter().flatten() {
        if r.soft() > r.hard() {
            return Err(Error::invalid(format!(
                "rlimit {:?}: the soft limit {} is above the hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            )));
        }
        out.push((rlimit_number(r.typ()), r.soft(), r.hard()));
    }
    Ok(out)
}

/// What of the process the helper executes; the rest must be unset.
fn check_process(p: &Process) -> Result<()> {
    if p.apparmor_profile().is_some() || p.selinux_label().is_some() {
        return Err(unsupported("an AppArmor or SELinux label"));
    }
    if p.io_priority().is_some() || p.scheduler().is_some() {
        return Err(unsupported("an I/O priority or a scheduler policy"));
    }
    if p.exec_cpu_affinity().is_some() {
        return Err(unsupported("execCPUAffinity"));
    }
    Ok(())
}

/// The bounding set, which is also root's effective, permitted and inheritable set (a user
/// other than root starts without any, as in docker).
fn capabilities(p: &Process) -> Result<Vec<u32>> {
    let caps = p
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default();
    let mut out = caps
        .iter()
        .map(capability_number)
        .collect::<Result<Vec<u32>>>()?;
    out.sort_unstable();
    Ok(out)
}

/// The device nodes every container has (`/dev/null`, `zero`, `full`, `random`, `urandom`,
/// `tty`, `pts/ptmx` and the terminals): (type, major, minor; None: any minor).
const STANDARD_DEVICES: &[(char, i64, Option<i64>)] = &[
    ('c', 1, Some(3)),
    ('c', 1, Some(5)),
    ('c', 1, Some(7)),
    ('c', 1, Some(8)),
    ('c', 1, Some(9)),
    ('c', 5, Some(0)),
    ('c', 5, Some(2)),
    ('c', 136, None),
];

/// Device rules (`linux.resources.devices`). There is no device cgroup here: a container's
/// `/dev` holds only the standard nodes and every file system it can write is `nodev`, so a
/// node it makes itself cannot be used whatever the rules allow (`m`). What the engine cannot
/// honour is refused: rules that take read or write access to a standard node away.
fn check_device_rules(rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
    for &(typ, major, minor) in STANDARD_DEVICES {
        let mut allowed = true;
        for r in rules {
            let t = r
                .typ()
                .map_or('a', |t| t.as_str().chars().next().unwrap_or('a'));
            let matches = (t == 'a' || t == typ)
                && r.major().is_none_or(|m| m == major)
                && (r.minor().is_none() || r.minor() == minor);
            let access = r.access().clone().unwrap_or_else(|| "rwm".into());
            let (read, write) = (access.contains('r'), access.contains('w'));
            if !matches || (!read && !write) {
                continue;
            }
            if r.allow() != allowed && !(read && write) {
                return Err(unsupported(format_args!(
                    "a device rule that changes only {access:?} access of {typ} {major}:{}",
                    minor.map_or("*".into(), |m| m.to_string())
                )));
            }
            allowed = r.allow();
        }
        if !allowed {
            return Err(unsupported(format_args!(
                "device rules that deny {typ} {major}:{}, a standard device every container has",
                minor.map_or("*".into(), |m| m.to_string())
            )));
        }
    }
    Ok(())
}

/// The resources the engine executes: device rules (see above) and what the container's
/// cgroup is given ([`Resources`]: memory, cpu, pids, the block I/O weight); any other
/// resource is refused, and a value out of range is an error.
fn check_resources(r: &oci_spec::runtime::LinuxResources) -> Result<Resources> {
    check_device_rules(r.devices().as_deref().unwrap_or_default())?;
    Resources::from_oci(r)
}

/// The resources of an update (`docker-runtime-oci update`), checked as a create's are (the
/// device rules too, which containerd sends again with every update).
pub fn update_resources(r: &oci_spec::runtime::LinuxResources) -> Result<Resources> {
    check_resources(r)
}

/// The resources of `spec`'s cgroup (none asked: the default).
pub fn resources(spec: &Spec) -> Result<Resources> {
    match spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        Some(r) => check_resources(r),
        None => Ok(Resources::default()),
    }
}

/// Where `spec`'s cgroup is: its `linux.cgroupsPath`, else `docker-runtime/NAME`.
pub fn cgroup_path(spec: &Spec, name: &str) -> Result<CgroupPath> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
    {
        Some(p) => CgroupPath::from_oci(&p.to_string_lossy()),
        None => Ok(CgroupPath::named(name)),
    }
}

/// The spec's sysctls, sorted: only those the container's own namespaces hold (IPC's
/// `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`; `net.*` with a network namespace
/// of its own); any other would change the host.
fn sysctls(spec: &Spec, new_netns: bool) -> Result<Vec<(String, String)>> {
    let Some(all) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, String)> = all.into_iter().collect();
    out.sort();
    for (key, value) in &out {
        let ipc = [
            "kernel.msgmax",
            "kernel.msgmnb",
            "kernel.msgmni",
            "kernel.sem",
        ]
        .contains(&key.as_str())
            || key.starts_with("kernel.shm")
            || key.starts_with("fs.mqueue.");
        let net = key.starts_with("net.") && new_netns;
        let clean = !key.is_empty()
            && key
                .split('.')
                .all(|c| !c.is_empty() && c != ".." && !c.contains('/'))
            && !value.contains('\n');
        if !(ipc || net) || !clean {
            return Err(unsupported(format_args!(
                "the sysctl {key:?} (only the container's own namespaces' parameters can be set)"
            )));
        }
    }
    Ok(out)
}

/// The checks of the spec's parts this engine does not execute.
fn check_linux(spec: &Spec) -> Result<()> {
    if spec.hooks().is_some() {
        return Err(unsupported("hooks"));
    }
    let Some(linux) = spec.linux() else {
        return Err(unsupported("no linux section"));
    };
    if linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
    {
        return Err(unsupported("user id mappings"));
    }
    if linux.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(unsupported("extra devices"));
    }
    if let Some(r) = linux.resources() {
        check_resources(r)?;
    }
    if let Some(p) = linux.cgroups_path() {
        CgroupPath::from_oci(&p.to_string_lossy())?;
    }
    // The helper makes every mount private; a spec asking the same is fine.
    if let Some(p) = linux.rootfs_propagation() {
        if p != "private" && p != "rprivate" {
            return Err(unsupported(format_args!("rootfsPropagation {p:?}")));
        }
    }
    if linux.mount_label().is_some() || linux.intel_rdt().is_some() {
        return Err(unsupported("an SELinux mount label or Intel RDT"));
    }
    if linux.personality().is_some() || linux.time_offsets().is_some() {
        return Err(unsupported("a personality or time namespace offsets"));
    }
    Ok(())
}

/// The helper's steps for `spec`, whose root file system is mounted at `rootfs` (the bundle's
/// root path, resolved by the caller), and which records its exit status in `exit_file`;
/// compiled seccomp programs are kept in `cache` when given.
pub fn init_config(
    spec: &Spec,
    rootfs: &Path,
    exit_file: &Path,
    cache: Option<&Path>,
) -> Result<InitConfig> {
    check_linux(spec)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| unsupported("no process"))?;
    check_process(process)?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    let user = process.user();
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| unsupported("no linux section"))?;
    let (binds, tmpfs) = split_mounts(&spec.mounts().clone().unwrap_or_default())?;
    let (new_netns, join_namespaces) = namespaces(spec)?;
    let hostname = spec.hostname().clone().unwrap_or_default();
    let names_set =
        !hostname.is_empty() || spec.domainname().as_ref().is_some_and(|d| !d.is_empty());
    if names_set && join_namespaces.iter().any(|(k, _)| k == "uts") {
        return Err(Error::invalid(
            "a hostname or domain name cannot be set in a joined UTS namespace",
        ));
    }
    let mut groups = vec![user.gid()];
    for g in user.additional_gids().clone().unwrap_or_default() {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(InitConfig {
        version: PROTOCOL_VERSION,
        rootfs: rootfs.display().to_string(),
        hostname,
        args,
        env: process.env().clone().unwrap_or_default(),
        uid: user.uid(),
        gid: user.gid(),
        groups,
        capabilities: capabilities(process)?,
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        seccomp: match linux.seccomp() {
            Some(profile) => Some(BASE64.encode(&*super::seccomp::compile(profile, cache)?)),
            None => None,
        },
        workdir: process.cwd().display().to_string(),
        tty: process.terminal().unwrap_or(false),
        new_netns,
        binds,
        exit_file: exit_file.display().to_string(),
        // Set by the launch once the cgroup is made.
        cgroup: String::new(),
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        gate: String::new(),
        rlimits: rlimits(process)?,
        tmpfs,
        join: 0,
        join_namespaces,
        new_session_keyring: true,
        oom_score_adj: process.oom_score_adj(),
        umask: user.umask(),
        domainname: spec.domainname().clone().unwrap_or_default(),
        sysctls: sysctls(spec, new_netns)?,
        tty_size: None,
        readonly_root: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
    })
}

/// What of the runtime spec this engine executes, as the runtime-spec `features` document
/// says it (`runc features`): what the checks above let through, and nothing else.
pub fn features() -> serde_json::Value {
    // The spec's names (`mount`, `network`), as serde writes them.
    let mut namespaces: Vec<String> = REQUIRED_NAMESPACES
        .iter()
        .chain([&LinuxNamespaceType::Network])
        .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_string))
        .collect();
    namespaces.sort();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": [],
        "mountOptions": [
            "bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
            "sync", "async", "dirsync", "noatime", "atime", "nodiratime", "diratime",
            "relatime", "strictatime", "mode", "size", "nr_inodes", "nr_blocks", "uid", "gid"
        ],
        "linux": {
            "namespaces": namespaces,
            "capabilities": CAPABILITY_NAMES,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": super::seccomp::ACTIONS,
                "operators": super::seccomp::OPERATORS,
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
        },
    })
}

/// The root file system of `spec`, relative paths taken from `bundle`.
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec.root().as_ref().ok_or_else(|| unsupported("no root"))?;
    Ok(bundle.join(root.path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::mount::MsFlags as F;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tmpfs_options_become_flags_and_data() {
        let (flags, data) =
            tmpfs_options("/run", &opts(&["nosuid", "rw", "mode=755", "size=64k"])).unwrap();
        assert_eq!(flags, F::MS_NOSUID.bits());
        assert_eq!(data, "mode=755,size=64k");
        let (flags, data) = tmpfs_options("/t", &opts(&["ro", "noexec", "strictatime"])).unwrap();
        assert_eq!(
            flags,
            (F::MS_RDONLY | F::MS_NOEXEC | F::MS_STRICTATIME).bits()
        );
        assert_eq!(data, "");
        let e = tmpfs_options("/t", &opts(&["size=1m", "huge=always"])).unwrap_err();
        assert!(e.to_string().contains("\"huge=always\" on /t"), "{e}");
    }

    fn resources(v: serde_json::Value) -> oci_spec::runtime::LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn device_rules_and_resources() {
        // containerd's default: deny all, then the standard devices (and tun, mknod of any).
        let containerd = serde_json::json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": true, "type": "b", "access": "m"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}
        ], "memory": {"limit": 1048576}, "cpu": {"shares": 1024}});
        check_resources(&resources(containerd)).unwrap();
        check_resources(&resources(serde_json::json!({}))).unwrap();
        // Deny all and nothing back: /dev/null would stay usable, so it is refused.
        let deny = resources(serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]}));
        let e = check_resources(&deny).unwrap_err();
        assert!(e.to_string().contains("deny c 1:3"), "{e}");
        let read_only = resources(serde_json::json!({"devices": [
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "w"}]}));
        assert!(check_resources(&read_only).is_err());
        for (v, what) in [
            (serde_json::json!({"cpu": {"shares": 1}}), "cpu.shares"),
            (serde_json::json!({"pids": {"limit": -3}}), "pids.limit"),
            (
                serde_json::json!({"memory": {"limit": 1, "kernel": 1}}),
                "memory.kernel",
            ),
        ] {
            let e = check_resources(&resources(v)).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
    }

    #[test]
    fn rlimits_are_numbered_and_checked() {
        let p: Process = serde_json::from_value(serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
                        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        }))
        .unwrap();
        assert_eq!(
            rlimits(&p).unwrap(),
            [(libc::RLIMIT_NOFILE, 10, 20), (libc::RLIMIT_CORE, 0, 0)]
        );
    }
}
