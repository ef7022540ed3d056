//! Small wrappers the helper's steps share: the error type and a `mount` naming its target.

use nix::mount::{mount, MsFlags};

pub type Res<T> = std::result::Result<T, String>;

pub fn errno_msg(what: impl std::fmt::Display, e: nix::errno::Errno) -> String {
    format!("{what}: {}", e.desc())
}

pub fn mnt(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Res<()> {
    mount(src, target, fstype, flags, data).map_err(|e| {
        errno_msg(
            format_args!("mounting {} on {target}", fstype.or(src).unwrap_or("")),
            e,
        )
    })
}

/// The per-mount flags of the mount at `path` (read-only, nosuid, nodev, noexec, atime), as
/// mount flags: a bind remount sets exactly the flags it is given, so it must repeat these (in
/// a user namespace the kernel refuses to clear those it locked).
fn mount_flags(path: &str) -> Res<MsFlags> {
    use nix::sys::statvfs::FsFlags as S;
    let st = nix::sys::statvfs::statvfs(path)
        .map_err(|e| errno_msg(format_args!("statvfs {path}"), e))?;
    let mut flags = MsFlags::empty();
    for (s, m) in [
        (S::ST_RDONLY, MsFlags::MS_RDONLY),
        (S::ST_NOSUID, MsFlags::MS_NOSUID),
        (S::ST_NODEV, MsFlags::MS_NODEV),
        (S::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (S::ST_NOATIME, MsFlags::MS_NOATIME),
        (S::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (S::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.flags().contains(s) {
            flags |= m;
        }
    }
    Ok(flags)
}

/// Remount the bind mount at `path` with `add` (and `MS_REC`, say) on top of its flags.
pub fn remount_adding(path: &str, add: MsFlags) -> Res<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | mount_flags(path)? | add;
    mnt(None, path, None, flags, None)
}

/// The kernel's `struct sigaction` on x86-64 and the other 64-bit architectures Linux lays
/// out alike (`rt_sigaction`'s argument).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Every signal at its default and none blocked, right before the program is executed: what
/// it inherits. Whoever started us may have ignored some (a shell's `trap ''`; the Rust
/// runtime ignores SIGPIPE), and glibc's `posix_spawn` leaves its two internal signals (32 and
/// 33) ignored in the child, which its `sigaction` then refuses to touch: the kernel's call is
/// made directly, for all 64.
pub fn default_signals() {
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: rt_sigaction with a valid struct and no old action to write.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                )
            };
        }
    }
    // SAFETY: sigset_t is plain data that sigemptyset fills; the mask is set from it.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}
