//! From an OCI runtime spec to the helper's steps ([`InitConfig`]): the one place where a
//! spec is read. What this engine does not execute is refused with an `Unsupported` error
//! naming it, never silently dropped.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, Hook, Hooks, Mount, PosixRlimitType, Process, Spec};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::{namespaces, propagation};
use crate::cgroup::{CgroupPath, Resources};
use crate::error::{Error, Result};
use crate::spawn::protocol::{Bind, InitConfig, PROTOCOL_VERSION};

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

/// The kinds of mount the helper makes itself (it mounts them at these places, always).
const HELPER_MOUNTS: &[(&str, &str)] = &[
    ("/proc", "proc"),
    ("/sys", "sysfs"),
    ("/dev", "tmpfs"),
    ("/dev/pts", "devpts"),
    ("/dev/shm", "tmpfs"),
    ("/dev/mqueue", "mqueue"),
];

/// A tmpfs mount's options as mount flags and the data string (`mode=`, `size=`, ...);
/// an option this engine does not know is refused, and so is `dev`: every file system the
/// container can write is `nodev` (see `init::devices`).
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
            "rw" | "suid" | "exec" | "atime" | "diratime" | "async" => F::empty(),
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
    // Always nodev: with no device cgroup, a node the container made there would open.
    Ok(((flags | F::MS_NODEV).bits(), data.join(",")))
}

/// The spec's mounts as the helper makes them.
#[derive(Debug, Default)]
struct Mounts {
    /// Bind mounts of host files and folders.
    binds: Vec<Bind>,
    /// tmpfs mounts: (container path, flags, data).
    tmpfs: Vec<(String, u64, String)>,
    /// cgroup mounts: (container path, read-only).
    cgroup: Vec<(String, bool)>,
}

/// A `cgroup` mount's options: read-only unless `rw` is given (`ro` wins); the usual flags
/// (which the helper always sets) are accepted.
fn cgroup_readonly(dst: &str, opts: &[String]) -> Result<bool> {
    for o in opts {
        let known = [
            "ro", "rw", "nosuid", "nodev", "noexec", "relatime", "bind", "rbind",
        ];
        if !known.contains(&o.as_str()) {
            return Err(unsupported(format_args!(
                "the cgroup option {o:?} on {dst}"
            )));
        }
    }
    Ok(opts.iter().any(|o| o == "ro") || !opts.iter().any(|o| o == "rw"))
}

/// The spec's mounts: the helper's own (`/proc`, `/sys`, `/dev`, which a spec must ask for,
/// as runc's default spec does) are skipped; the rest are bind mounts of host files or
/// folders (see [`bind`]; `limit`: [`propagation::bind_limit`]), tmpfs mounts and cgroup
/// mounts.
fn split_mounts(mounts: &[Mount], limit: u64) -> Result<Mounts> {
    let mut out = Mounts::default();
    for m in mounts {
        let dst = m.destination().display().to_string();
        let typ = m.typ().clone().unwrap_or_default();
        if HELPER_MOUNTS.iter().any(|(d, t)| *d == dst && *t == typ) {
            continue;
        }
        let opts = m.options().clone().unwrap_or_default();
        if (typ == "tmpfs" || typ == "cgroup")
            && (!dst.starts_with('/') || dst.split('/').any(|c| c == ".."))
        {
            return Err(Error::invalid(format!("invalid {typ} mount point {dst:?}")));
        }
        if typ == "tmpfs" {
            let (flags, data) = tmpfs_options(&dst, &opts)?;
            out.tmpfs.push((dst, flags, data));
            continue;
        }
        if typ == "cgroup" {
            let readonly = cgroup_readonly(&dst, &opts)?;
            out.cgroup.push((dst, readonly));
            continue;
        }
        let is_bind = opts.iter().any(|o| o == "bind" || o == "rbind");
        match (is_bind, m.source()) {
            (true, Some(src)) => out.binds.push(bind(src, &dst, &opts, limit)?),
            _ => return Err(unsupported(format_args!("a {typ:?} mount on {dst}"))),
        }
    }
    for (dst, typ) in HELPER_MOUNTS {
        if !mounts.iter().any(|m| m.destination() == Path::new(dst)) {
            return Err(unsupported(format_args!("no {typ} mount on {dst}")));
        }
    }
    Ok(out)
}

/// `mount_setattr(2)`'s attribute bits.
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// A bind mount of `src` on `dst`: `bind` or `rbind` (its submounts too), `ro` (on every mount
/// of it), `nosuid`, `noexec`, and its propagation (see [`propagation::bind`]; private by
/// default: nothing mounted under it on either side reaches the other; no more connected to
/// the host than `limit`). Always `nodev`, as
/// every file system the container can write (see `init::devices`). Its target must be
/// absolute, without `..`, and neither `/` nor in `/proc`.
fn bind(src: &Path, dst: &str, opts: &[String], limit: u64) -> Result<Bind> {
    let in_proc = dst == "/proc" || dst.starts_with("/proc/");
    if !dst.starts_with('/')
        || dst.split('/').any(|c| c == "..")
        || dst.trim_matches('/').is_empty()
        || in_proc
    {
        return Err(Error::invalid(format!(
            "invalid bind mount target {dst:?}: it must be an absolute path without '..', neither / nor in /proc"
        )));
    }
    let mut attr = MOUNT_ATTR_NODEV;
    for o in opts {
        attr |= match o.as_str() {
            "ro" => MOUNT_ATTR_RDONLY,
            "nosuid" => MOUNT_ATTR_NOSUID,
            "noexec" => MOUNT_ATTR_NOEXEC,
            "nodev" | "bind" | "rbind" | "rw" | "suid" | "exec" => 0,
            w if propagation::word(w).is_some() => 0,
            _ => {
                return Err(unsupported(format_args!(
                    "the bind mount option {o:?} on {dst}"
                )))
            }
        };
    }
    let (propagation, tree_propagation) = propagation::bind(dst, opts, limit)?;
    Ok(Bind {
        source: src.display().to_string(),
        target: dst.to_string(),
        recursive: opts.iter().any(|o| o == "rbind"),
        attr,
        propagation,
        tree_propagation,
    })
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

/// Device rules (`linux.resources.devices`), with runc's and crun's meaning: the spec's rules,
/// then the standard devices allowed (they append those, so no rule takes `/dev/null` and the
/// like away; `crun spec`'s single deny-all rule is the usual case). There is no device cgroup
/// here: a container's `/dev` holds only the standard nodes and the spec's `linux.devices`,
/// and every file system it can write is `nodev`, so a node it makes itself cannot be used
/// whatever the rules allow (`m`). What the engine cannot honour is refused: a node of
/// `linux.devices` the rules leave without read or write access (it would be usable here).
fn check_device_rules(
    rules: &[oci_spec::runtime::LinuxDeviceCgroup],
    nodes: &[oci_spec::runtime::LinuxDevice],
) -> Result<()> {
    for node in nodes {
        let typ = match node.typ().as_str().chars().next() {
            Some('c' | 'u') => 'c',
            Some('b') => 'b',
            // A FIFO is no device: the rules do not apply to it.
            _ => continue,
        };
        // The device cgroup's start: nothing allowed; the last rule that matches decides.
        let (mut read, mut write) = (false, false);
        for r in rules {
            let t = r
                .typ()
                .map_or('a', |t| t.as_str().chars().next().unwrap_or('a'));
            let matches = (t == 'a' || t == typ)
                && r.major().is_none_or(|m| m == node.major())
                && r.minor().is_none_or(|m| m == node.minor());
            if !matches {
                continue;
            }
            let access = r.access().clone().unwrap_or_else(|| "rwm".into());
            if access.contains('r') {
                read = r.allow();
            }
            if access.contains('w') {
                write = r.allow();
            }
        }
        if !(read && write) {
            return Err(unsupported(format_args!(
                "device rules that deny {} ({typ} {}:{}) of linux.devices (without a device \
                 cgroup a node the container has stays usable)",
                node.path().display(),
                node.major(),
                node.minor()
            )));
        }
    }
    Ok(())
}

/// The resources the engine executes: device rules (see above; `nodes`: the spec's
/// `linux.devices`) and what the container's cgroup is given ([`Resources`]: memory, cpu,
/// pids, the block I/O weight, huge page limits); any other resource is refused, and a value
/// out of range is an error.
fn check_resources(
    r: &oci_spec::runtime::LinuxResources,
    nodes: &[oci_spec::runtime::LinuxDevice],
) -> Result<Resources> {
    check_device_rules(r.devices().as_deref().unwrap_or_default(), nodes)?;
    Resources::from_oci(r)
}

/// The resources of an update (`docker-runtime-oci update`) of a container made from `spec`,
/// checked as a create's are (the device rules too, which containerd sends again with every
/// update).
pub fn update_resources(r: &oci_spec::runtime::LinuxResources, spec: &Spec) -> Result<Resources> {
    let nodes = spec.linux().as_ref().and_then(|l| l.devices().clone());
    check_resources(r, nodes.as_deref().unwrap_or_default())
}

/// The resources of `spec`'s cgroup (none asked: the default).
pub fn resources(spec: &Spec) -> Result<Resources> {
    let Some(linux) = spec.linux() else {
        return Ok(Resources::default());
    };
    match linux.resources() {
        Some(r) => check_resources(r, linux.devices().as_deref().unwrap_or_default()),
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
    let Some(linux) = spec.linux() else {
        return Err(unsupported("no linux section"));
    };
    if let Some(r) = linux.resources() {
        check_resources(r, linux.devices().as_deref().unwrap_or_default())?;
    }
    if let Some(p) = linux.cgroups_path() {
        CgroupPath::from_oci(&p.to_string_lossy())?;
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
    let all_hooks = spec.hooks().as_ref();
    for kind in HookKind::ALL {
        hooks(all_hooks, kind)?;
    }
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
    let root_propagation = linux.rootfs_propagation().as_deref();
    let limit = propagation::bind_limit(root_propagation)?;
    let mounts = split_mounts(&spec.mounts().clone().unwrap_or_default(), limit)?;
    let iso = namespaces::isolation(linux, !mounts.cgroup.is_empty())?;
    let join_namespaces = iso.namespaces.joined;
    let new_netns = iso.namespaces.new_net;
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
        binds: mounts.binds,
        exit_file: exit_file.display().to_string(),
        // Set by the launch once the cgroup is made.
        cgroup: String::new(),
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        gate: String::new(),
        rlimits: rlimits(process)?,
        tmpfs: mounts.tmpfs,
        join: 0,
        join_monitor: false,
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
        runtime_hooks: !hooks(all_hooks, HookKind::Prestart)?.is_empty()
            || !hooks(all_hooks, HookKind::CreateRuntime)?.is_empty(),
        create_container_hooks: hooks(all_hooks, HookKind::CreateContainer)?,
        start_container_hooks: hooks(all_hooks, HookKind::StartContainer)?,
        // Set by the launch, from its caller's state.
        hook_state: String::new(),
        uid_map: iso.uid_map,
        gid_map: iso.gid_map,
        new_cgroupns: iso.namespaces.cgroup,
        cgroup_mounts: mounts.cgroup,
        devices: iso.devices,
        root_propagation: propagation::root(root_propagation)?,
    })
}

/// The six kinds of OCI hook, in the order of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    /// The spec's name (`createRuntime`).
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }
}

/// The hooks of one kind (of a spec's `hooks`), checked: an absolute path, a timeout above
/// zero.
pub fn hooks(all: Option<&Hooks>, kind: HookKind) -> Result<Vec<Hook>> {
    let Some(all) = all else {
        return Ok(Vec::new());
    };
    #[allow(deprecated)] // prestart: deprecated by the spec, still run (as runc does).
    let list = match kind {
        HookKind::Prestart => all.prestart(),
        HookKind::CreateRuntime => all.create_runtime(),
        HookKind::CreateContainer => all.create_container(),
        HookKind::StartContainer => all.start_container(),
        HookKind::Poststart => all.poststart(),
        HookKind::Poststop => all.poststop(),
    };
    let list = list.clone().unwrap_or_default();
    for h in &list {
        if !h.path().is_absolute() {
            return Err(Error::invalid(format!(
                "the {} hook path {:?} is not absolute",
                kind.name(),
                h.path()
            )));
        }
        if h.timeout().is_some_and(|t| t <= 0) {
            return Err(Error::invalid(format!(
                "the {} hook {} has a timeout of {} s: it must be above zero",
                kind.name(),
                h.path().display(),
                h.timeout().unwrap_or_default()
            )));
        }
    }
    Ok(list)
}

/// What of the runtime spec this engine executes, as the runtime-spec `features` document
/// says it (`runc features`): what the checks above let through, and nothing else.
pub fn features() -> serde_json::Value {
    // The spec's names (`mount`, `network`), as serde writes them.
    let mut namespaces: Vec<String> = namespaces::REQUIRED
        .iter()
        .chain(namespaces::OPTIONAL)
        .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_string))
        .collect();
    namespaces.sort();
    let mut mount_options: Vec<String> = [
        "bind",
        "rbind",
        "ro",
        "rw",
        "nosuid",
        "suid",
        "nodev",
        "noexec",
        "exec",
        "sync",
        "async",
        "dirsync",
        "noatime",
        "atime",
        "nodiratime",
        "diratime",
        "relatime",
        "strictatime",
        "mode",
        "size",
        "nr_inodes",
        "nr_blocks",
        "uid",
        "gid",
    ]
    .map(str::to_string)
    .into();
    // The propagation words (of bind mounts and `rootfsPropagation`).
    mount_options.extend(propagation::all_words());
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": HookKind::ALL.map(HookKind::name),
        "mountOptions": mount_options,
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
        // The features document has no field for the resources a runtime writes: said in
        // its implementation-specific annotations (the `linux.resources` sections executed).
        "annotations": {
            "org.docker-runtime.linux.resources":
                "memory,cpu,pids,blockIO.weight,hugepageLimits,devices",
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
        assert_eq!(flags, (F::MS_NOSUID | F::MS_NODEV).bits());
        assert_eq!(data, "mode=755,size=64k");
        let (flags, data) = tmpfs_options("/t", &opts(&["ro", "noexec", "strictatime"])).unwrap();
        assert_eq!(
            flags,
            (F::MS_RDONLY | F::MS_NOEXEC | F::MS_STRICTATIME | F::MS_NODEV).bits()
        );
        assert_eq!(data, "");
        let e = tmpfs_options("/t", &opts(&["dev"])).unwrap_err();
        assert!(e.to_string().contains("\"dev\" on /t"), "{e}");
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
        let tun: Vec<oci_spec::runtime::LinuxDevice> = serde_json::from_value(serde_json::json!([
            {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}]))
        .unwrap();
        check_resources(&resources(containerd), &tun).unwrap();
        check_resources(&resources(serde_json::json!({})), &[]).unwrap();
        // `crun spec`'s deny-all: the standard devices stay allowed (runc and crun append
        // them), a node of linux.devices would not be: refused, it would stay usable here.
        let deny = resources(serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]}));
        check_resources(&deny, &[]).unwrap();
        let e = check_resources(&deny, &tun).unwrap_err();
        assert!(
            e.to_string().contains("deny /dev/net/tun (c 10:200)"),
            "{e}"
        );
        let read_only = resources(serde_json::json!({"devices": [
            {"allow": true, "type": "c", "major": 10, "access": "rwm"},
            {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"}]}));
        assert!(check_resources(&read_only, &tun).is_err());
        for (v, what) in [
            (serde_json::json!({"cpu": {"shares": 1}}), "cpu.shares"),
            (serde_json::json!({"pids": {"limit": -3}}), "pids.limit"),
            (
                serde_json::json!({"memory": {"limit": 1, "kernel": 1}}),
                "memory.kernel",
            ),
        ] {
            let e = check_resources(&resources(v), &[]).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
    }

    #[test]
    fn cgroup_mounts_are_read_only_unless_rw() {
        assert!(cgroup_readonly("/sys/fs/cgroup", &opts(&["nosuid", "relatime"])).unwrap());
        assert!(cgroup_readonly("/c", &opts(&["ro", "rw"])).unwrap());
        assert!(!cgroup_readonly("/c", &opts(&["rw", "noexec"])).unwrap());
        let e = cgroup_readonly("/c", &opts(&["memory"])).unwrap_err();
        assert!(
            e.to_string().contains("the cgroup option \"memory\" on /c"),
            "{e}"
        );
        let mounts: Vec<Mount> = serde_json::from_value(serde_json::json!([
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["rw"]},
            {"destination": "/proc", "type": "proc"}, {"destination": "/sys", "type": "sysfs"},
            {"destination": "/dev", "type": "tmpfs"}, {"destination": "/dev/pts", "type": "devpts"},
            {"destination": "/dev/shm", "type": "tmpfs"},
            {"destination": "/dev/mqueue", "type": "mqueue"}
        ]))
        .unwrap();
        let m = split_mounts(&mounts, libc::MS_SLAVE).unwrap();
        assert_eq!(m.cgroup, [("/sys/fs/cgroup".to_string(), false)]);
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
