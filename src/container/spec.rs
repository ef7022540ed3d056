//! `docker run`'s v0.1.0 [`Config`] turned into an OCI runtime spec: the one place where the
//! docker face decides how a container starts (as docker's daemon writes the spec that
//! containerd hands to runc). The engine executes the result and reads nothing else.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder,
    LinuxSeccomp, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::record::{ContainerRecord, MountPoint};
use super::user::Identity;
use crate::engine::plan::capability_name;
use crate::error::{Error, Result};

/// The environment every container starts with (v0.1.0), before `Config.Env`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths hidden from the container (modern docker's list).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/acpi",
    "/proc/asound",
    "/proc/latency_stats",
    "/proc/interrupts",
    "/proc/timer_stats",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container sees read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Modern docker's default capability set (the kernel's numbers).
pub const DEFAULT_CAPABILITIES: &[u32] = &[
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    27, // CAP_MKNOD
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// What a spec needs beyond the record, found at start.
pub struct Inputs<'a> {
    /// The mounted root file system.
    pub rootfs: &'a Path,
    pub hostname: &'a str,
    /// Host files bound read-only into the container: (host path, container path).
    pub binds: &'a [(PathBuf, &'a str)],
    /// The `-v` mounts, bound after those.
    pub mounts: &'a [MountPoint],
    /// `-u`, resolved in the container's own passwd and group files.
    pub user: &'a Identity,
}

fn built<T>(r: std::result::Result<T, oci_spec::OciSpecError>) -> Result<T> {
    r.map_err(|e| Error::invalid(format!("building the runtime spec: {e}")))
}

/// The program's environment: `HOME=/`, `PATH`, `HOSTNAME` (and `TERM` with a terminal,
/// `tty`), then `Config.Env`, a later entry replacing an earlier one with the same name.
pub fn environment(rec: &ContainerRecord, hostname: &str, tty: bool) -> Vec<String> {
    let mut env: Vec<String> = vec![
        "HOME=/".into(),
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".into());
    }
    for e in &rec.config.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    env
}

/// The kernel's number of a capability as `--cap-add` takes it (`NET_ADMIN`, `cap_net_admin`,
/// `CAP_NET_ADMIN`).
fn capability_number(name: &str) -> Result<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    (0..64)
        .find(|n| capability_name(*n) == Some(full.as_str()))
        .ok_or_else(|| Error::invalid(format!("unknown capability {name:?}")))
}

/// The bounding set of a container: docker's default set with `--cap-drop` taken out and
/// `--cap-add` put in (`ALL` in either means every capability), as capability names.
pub fn capability_names(config: &crate::config::Config) -> Result<Vec<&'static str>> {
    let all = |list: &[String]| list.iter().any(|c| c.eq_ignore_ascii_case("ALL"));
    let mut set: Vec<u32> = if all(&config.cap_drop) {
        Vec::new()
    } else {
        DEFAULT_CAPABILITIES.to_vec()
    };
    for c in config
        .cap_drop
        .iter()
        .filter(|c| !c.eq_ignore_ascii_case("ALL"))
    {
        let n = capability_number(c)?;
        set.retain(|x| *x != n);
    }
    if all(&config.cap_add) {
        set = (0..64).filter(|n| capability_name(*n).is_some()).collect();
    }
    for c in config
        .cap_add
        .iter()
        .filter(|c| !c.eq_ignore_ascii_case("ALL"))
    {
        let n = capability_number(c)?;
        if !set.contains(&n) {
            set.push(n);
        }
    }
    set.sort_unstable();
    Ok(set.iter().filter_map(|n| capability_name(*n)).collect())
}

fn capabilities(names: &[&str]) -> Result<Capabilities> {
    names
        .iter()
        .map(|name| {
            serde_json::from_value::<Capability>(serde_json::Value::from(*name))
                .map_err(|e| Error::invalid(format!("capability {name}: {e}")))
        })
        .collect()
}

/// What `--security-opt` asks for: the seccomp profile (None: unconfined) and no_new_privs.
fn security(config: &crate::config::Config, caps: &[&str]) -> Result<(Option<LinuxSeccomp>, bool)> {
    let mut profile = Some(super::seccomp::DEFAULT_PROFILE);
    let mut nnp = false;
    for opt in &config.security_opt {
        let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), "true"));
        match (key, value) {
            ("seccomp", "unconfined") => profile = None,
            ("seccomp", json) => profile = Some(json),
            ("no-new-privileges", v) => nnp = v != "false",
            _ => {
                return Err(Error::invalid(format!(
                    "invalid --security-opt {opt:?}: use seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges"
                )))
            }
        }
    }
    let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    let seccomp = profile
        .map(|p| super::seccomp::resolve(p, &caps))
        .transpose()?;
    Ok((seccomp, nnp))
}

fn process(
    rec: &ContainerRecord,
    inputs: &Inputs<'_>,
    cap_names: &[&str],
    nnp: bool,
) -> Result<oci_spec::runtime::Process> {
    let caps = capabilities(cap_names)?;
    let user = built(
        UserBuilder::default()
            .uid(inputs.user.uid)
            .gid(inputs.user.gid)
            .additional_gids(inputs.user.groups.clone())
            .build(),
    )?;
    let cwd = if rec.config.working_dir.is_empty() {
        "/"
    } else {
        &rec.config.working_dir
    };
    let mut args = vec![rec.path.clone()];
    args.extend(rec.args.iter().cloned());
    built(
        ProcessBuilder::default()
            .terminal(rec.config.tty)
            .user(user)
            .args(args)
            .env(environment(rec, inputs.hostname, rec.config.tty))
            .cwd(cwd)
            .no_new_privileges(nnp)
            .rlimits(Vec::new())
            .capabilities(built(
                LinuxCapabilitiesBuilder::default()
                    .bounding(caps.clone())
                    .effective(caps.clone())
                    .permitted(caps)
                    .inheritable(Capabilities::new())
                    .ambient(Capabilities::new())
                    .build(),
            )?)
            .build(),
    )
}

fn mount(dst: &str, typ: &str, src: &str, options: &[&str]) -> Result<Mount> {
    built(
        MountBuilder::default()
            .destination(dst)
            .typ(typ)
            .source(src)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build(),
    )
}

/// A `--mount type=tmpfs`: docker's defaults (`noexec`, `nosuid`, `nodev`), its size and mode
/// when given, read-only with `readonly`.
fn tmpfs(m: &MountPoint) -> Result<Mount> {
    let mut opts = vec!["nosuid".to_string(), "nodev".into(), "noexec".into()];
    let given = m.tmpfs_options.unwrap_or_default();
    if given.size_bytes > 0 {
        opts.push(format!("size={}", given.size_bytes));
    }
    if given.mode > 0 {
        opts.push(format!("mode={:o}", given.mode));
    }
    if !m.rw {
        opts.push("ro".into());
    }
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    mount(&m.destination, "tmpfs", "tmpfs", &opts)
}

/// `/proc`, `/sys`, `/dev` and its parts (as docker's default spec), then the binds, then the
/// `-v` and `--mount` mounts (binds recursive, private; read-only with `:ro`; tmpfs mounts),
/// a path before those under it.
fn mounts(binds: &[(PathBuf, &str)], volumes: &[MountPoint]) -> Result<Vec<Mount>> {
    let mut out = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
    ];
    for (src, dst) in binds {
        out.push(mount(
            dst,
            "bind",
            &src.display().to_string(),
            &["rbind", "ro"],
        )?);
    }
    let mut volumes: Vec<&MountPoint> = volumes.iter().collect();
    volumes.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
    for m in volumes {
        if m.is_tmpfs() {
            out.push(tmpfs(m)?);
            continue;
        }
        let mode = if m.rw { "rw" } else { "ro" };
        out.push(mount(
            &m.destination,
            "bind",
            &m.source,
            &["rbind", "rprivate", mode],
        )?);
    }
    Ok(out)
}

fn linux(rec: &ContainerRecord, seccomp: Option<LinuxSeccomp>) -> Result<oci_spec::runtime::Linux> {
    // `--network none` too gets a network namespace of its own, with only the loopback.
    let kinds = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
    ];
    let namespaces = kinds
        .into_iter()
        .map(|k| built(LinuxNamespaceBuilder::default().typ(k).build()))
        .collect::<Result<Vec<_>>>()?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(
            MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
    if let Some(s) = seccomp {
        linux = linux.seccomp(s);
    }
    let mut resources = LinuxResourcesBuilder::default();
    if rec.config.memory > 0 {
        let mut memory = LinuxMemoryBuilder::default().limit(rec.config.memory);
        if rec.config.memory_swap > 0 {
            memory = memory.swap(rec.config.memory_swap);
        }
        resources = resources.memory(built(memory.build())?);
    }
    if rec.config.cpu_shares > 0 {
        let cpu = LinuxCpuBuilder::default().shares(rec.config.cpu_shares as u64);
        resources = resources.cpu(built(cpu.build())?);
    }
    if rec.config.memory > 0 || rec.config.cpu_shares > 0 {
        linux = linux.resources(built(resources.build())?);
    }
    built(linux.build())
}

/// Check what `run` was given that only a start would otherwise read: the capabilities and
/// the security options (an unknown capability or a bad profile is an error before anything
/// is made).
pub fn validate(config: &crate::config::Config) -> Result<()> {
    let caps = capability_names(config)?;
    security(config, &caps).map(drop)
}

/// The runtime spec of a start of the container `rec`.
pub fn build(rec: &ContainerRecord, inputs: &Inputs<'_>) -> Result<Spec> {
    let caps = capability_names(&rec.config)?;
    let (seccomp, nnp) = security(&rec.config, &caps)?;
    built(
        SpecBuilder::default()
            .version("1.0.2")
            .root(built(
                RootBuilder::default()
                    .path(inputs.rootfs)
                    .readonly(false)
                    .build(),
            )?)
            .hostname(inputs.hostname)
            .process(process(rec, inputs, &caps, nnp)?)
            .mounts(mounts(inputs.binds, inputs.mounts)?)
            .linux(linux(rec, seccomp)?)
            .build(),
    )
}
