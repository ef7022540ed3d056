//! The descriptors past 0-2 a caller hands the container's process, as runc takes them:
//! systemd's socket activation (`LISTEN_FDS` in our environment with `LISTEN_PID` ours, for
//! `create` and `run`) first, then `--preserve-fds N`, all numbered from 3 as the caller has
//! them. The process gets them at the same numbers, nothing else past 2.

use super::cli::Invocation;
use crate::error::{Error, Result};

/// What a command hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Passed {
    /// Socket activation's descriptors (from 3); the process's environment then says
    /// `LISTEN_FDS` (this count) and `LISTEN_PID=1`.
    pub listen: u32,
    /// All of them: socket activation's, then `--preserve-fds`'s.
    pub total: u32,
}

/// The most descriptors a command hands on (a typo such as `--preserve-fds 30000000` is
/// refused rather than looked at one by one).
const MAX_PASSED: u32 = 1 << 16;

/// Socket activation's count: `LISTEN_FDS` when `LISTEN_PID` is this process (systemd's
/// rule: the variables are meant for that process alone).
fn listen_fds() -> u32 {
    let Some(count) = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return 0;
    };
    let pid = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok());
    if pid == Some(std::process::id()) {
        count
    } else {
        0
    }
}

/// Check descriptor `fd` is one the caller gave: open, and inherited (this process opens
/// everything close-on-exec, so one without the flag came through the exec).
fn given(fd: i32, what: &str) -> Result<()> {
    // SAFETY: F_GETFD only reads the descriptor table.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(Error::invalid(format!(
            "{what}: descriptor {fd} is not open in docker-runtime-oci"
        )));
    }
    if flags & libc::FD_CLOEXEC != 0 {
        return Err(Error::invalid(format!(
            "{what}: descriptor {fd} was not given to docker-runtime-oci (it is one of its own)"
        )));
    }
    Ok(())
}

/// The descriptors `inv` hands on (`listen`: take socket activation's too, as runc's
/// `create`/`run` do). Each must be the caller's; each is then marked close-on-exec here, so
/// that only the container's process gets it (not a hook this process runs).
pub fn passed(inv: &Invocation, listen: bool) -> Result<Passed> {
    let preserve = match inv.value("preserve-fds") {
        None => 0,
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_PASSED)
            .ok_or_else(|| {
                Error::invalid(format!(
                "invalid --preserve-fds {n:?}: want a number of descriptors (0 to {MAX_PASSED})"
            ))
            })?,
    };
    let listen = if listen {
        listen_fds().min(MAX_PASSED)
    } else {
        0
    };
    let total = listen + preserve;
    for fd in 3..3 + total as i32 {
        let what = if (fd - 3) < listen as i32 {
            format!("LISTEN_FDS={listen}")
        } else {
            format!("--preserve-fds {preserve}")
        };
        given(fd, &what)?;
    }
    for fd in 3..3 + total as i32 {
        // SAFETY: F_SETFD on a descriptor just checked open; only its flag changes.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(Passed { listen, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inherited_descriptors_are_handed_on() {
        let inv = |n: &str| {
            let line = ["exec", "--preserve-fds", n, "c1", "true"].map(String::from);
            crate::oci::cli::parse(&line).unwrap()
        };
        for bad in ["x", "-1", "99999999"] {
            let e = passed(&inv(bad), false).unwrap_err();
            let want = format!("invalid --preserve-fds {bad:?}");
            assert!(e.message().contains(&want), "{e}");
        }
        assert_eq!(passed(&inv("0"), false).unwrap(), Passed::default());
    }
}
