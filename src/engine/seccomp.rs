//! A spec's `linux.seccomp` compiled to a BPF program with libseccomp (the library runc, crun
//! and youki use: it knows every architecture's syscall numbers, the multiplexed and
//! pseudo-syscalls, and the argument comparisons docker's profiles use), once per distinct
//! profile: the program is kept (in memory, and in the runtime root for later processes) and
//! every later start with the same profile reuses it. The
//! helper only installs the program (`init`), so it needs no seccomp library of its own.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// EPERM: docker's answer for what a profile does not allow.
const EPERM: u32 = 1;

fn bad(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("seccomp profile: {what}"))
}

fn scmp_err(what: &str, e: libseccomp::error::SeccompError) -> Error {
    Error::invalid(format!("seccomp profile: {what}: {e}"))
}

/// The profile actions [`action`] turns into filter actions (runtime-spec names).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
];

/// The argument comparisons [`compare`] knows.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(EPERM) as i32),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(0) as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        other => return Err(bad(format_args!("action {other:?} is not supported"))),
    })
}

fn compare(arg: &oci_spec::runtime::LinuxSeccompArg) -> ScmpArgCompare {
    let index = arg.index() as u32;
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        // The value is the mask, valueTwo what the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    ScmpArgCompare::new(index, op, datum)
}

/// Add one rule of the profile; a name libseccomp does not know on this machine is skipped
/// (as runc does: profiles list syscalls of every architecture).
fn add_rule(ctx: &mut ScmpFilterContext, rule: &LinuxSyscall, default: ScmpAction) -> Result<()> {
    let act = action(rule.action(), rule.errno_ret())?;
    if act == default {
        return Ok(());
    }
    let cmps: Vec<ScmpArgCompare> = rule.args().iter().flatten().map(compare).collect();
    for name in rule.names() {
        let Ok(sys) = ScmpSyscall::from_name(name) else {
            continue;
        };
        ctx.add_rule_conditional(act, sys, &cmps)
            .map_err(|e| scmp_err(&format!("the rule for {name}"), e))?;
    }
    Ok(())
}

fn build(profile: &LinuxSeccomp) -> Result<Vec<u8>> {
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| scmp_err("creating", e))?;
    for arch in profile.architectures().iter().flatten() {
        let name = serde_json::to_value(arch)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let a = ScmpArch::from_str(&name).map_err(|e| scmp_err(&name, e))?;
        if !ctx.is_arch_present(a).unwrap_or(false) {
            ctx.add_arch(a).map_err(|e| scmp_err(&name, e))?;
        }
    }
    if profile.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(bad("flags are not supported"));
    }
    if profile.listener_path().is_some() {
        return Err(bad("a listener (SCMP_ACT_NOTIFY) is not supported"));
    }
    // A binary tree of syscall numbers instead of libseccomp's default linear list: the kernel
    // walks the program for every syscall number when it loads it (to cache the constant
    // answers), and at every syscall; measured with docker's profile for x86_64, x86 and x32
    // (1 249 instructions): 0.34 ms to load against 1.0 ms for the linear one. libseccomp
    // before 2.5 has no tree; it then keeps the linear layout.
    let _ = ctx.set_ctl_optimize(2);
    // The helper sets no_new_privs itself when the spec asks; the filter must not.
    ctx.set_ctl_nnp(false)
        .map_err(|e| scmp_err("no_new_privs", e))?;
    for rule in profile.syscalls().iter().flatten() {
        add_rule(&mut ctx, rule, default)?;
    }
    let memfd = nix::sys::memfd::memfd_create(c"seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| Error::errno("memfd_create", e))?;
    let mut file = std::fs::File::from(memfd);
    ctx.export_bpf(&file)
        .map_err(|e| scmp_err("exporting", e))?;
    let mut bpf = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bpf))
        .map_err(|e| Error::io("reading the seccomp program", e))?;
    Ok(bpf)
}

/// Compiled programs by the sha256 of their profile's JSON.
type Programs = Mutex<HashMap<[u8; 32], Arc<Vec<u8>>>>;

/// A program kept in `dir` by an earlier process (`HEX.bpf`), if it is whole.
fn load(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let bpf = std::fs::read(dir.join(format!("{key}.bpf"))).ok()?;
    (!bpf.is_empty() && bpf.len() % 8 == 0).then_some(bpf)
}

/// The BPF program (`struct sock_filter` array) of `profile`, compiled on its first use in
/// this process and kept; with `cache`, also kept in that folder for later processes (a
/// short-lived `docker run` without a daemon would otherwise compile it at every start,
/// ~12 ms). The folder is the runtime root's, trusted as the root is.
pub fn compile(profile: &LinuxSeccomp, cache: Option<&Path>) -> Result<Arc<Vec<u8>>> {
    static PROGRAMS: OnceLock<Programs> = OnceLock::new();
    let text = serde_json::to_vec(profile).map_err(bad)?;
    let key: [u8; 32] = Sha256::digest(&text).into();
    let programs = PROGRAMS.get_or_init(Mutex::default);
    if let Some(p) = programs.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(p.clone());
    }
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let program = match cache.and_then(|dir| load(dir, &hex)) {
        Some(bpf) => Arc::new(bpf),
        None => {
            let bpf = Arc::new(build(profile)?);
            if let Some(dir) = cache {
                // A cache: losing it costs a compilation, so no fsync.
                let _ = crate::fsutil::ensure_dir(dir, 0o700).and_then(|_| {
                    crate::fsutil::write_atomic_unsynced(
                        &dir.join(format!("{hex}.bpf")),
                        &bpf,
                        0o600,
                    )
                });
            }
            bpf
        }
    };
    programs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, program.clone());
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> LinuxSeccomp {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_profile_is_compiled_once() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}]}"#,
        );
        let dir = std::env::temp_dir().join(format!("dr-seccomp-{}", std::process::id()));
        let a = compile(&p, Some(&dir)).unwrap();
        assert!(!a.is_empty() && a.len() % 8 == 0, "a sock_filter array");
        let b = compile(&p, Some(&dir)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // Another process finds it in the folder.
        let kept: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(kept.len(), 1);
        let key = kept[0].as_ref().unwrap().path();
        let hex = key.file_stem().unwrap().to_str().unwrap();
        assert_eq!(load(&dir, hex).as_deref(), Some(a.as_slice()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_listed_actions_and_operators_are_the_known_ones() {
        for name in ACTIONS {
            let a: LinuxSeccompAction = serde_json::from_value((*name).into()).unwrap();
            action(a, None).unwrap();
        }
        for name in OPERATORS {
            let arg = serde_json::json!({"index": 0, "value": 1, "op": name});
            compare(&serde_json::from_value(arg).unwrap());
        }
        let notify: LinuxSeccompAction = serde_json::from_value("SCMP_ACT_NOTIFY".into()).unwrap();
        assert!(action(notify, None).is_err(), "not listed, not known");
    }

    #[test]
    fn unsupported_parts_are_refused() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
        );
        let e = compile(&p, None).unwrap_err();
        assert!(e.message().contains("not supported"), "{e}");
    }
}
