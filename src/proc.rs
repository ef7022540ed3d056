//! Processes: what `/proc` tells of one, and pidfds (a handle on one process that a reused
//! pid cannot redirect).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A pidfd for process `pid`.
pub fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Send `sig` to the process `pidfd` holds.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal on a borrowed descriptor; no pointers besides NULL info.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The start time (clock ticks since boot) of process `pid`, from `/proc/PID/stat`: with the
/// pid, it names one process for good (a pid is reused, a start time with it is not).
pub fn process_start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, start)| start)
}

/// The state letter and start time of process `pid`, from one read of `/proc/PID/stat`.
fn stat(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18)?.parse().ok()?))
}

/// Whether process `pid` is the one that started at `start` and has not exited (a zombie has).
pub fn alive(pid: i32, start: u64) -> bool {
    stat(pid).is_some_and(|(state, s)| state != 'Z' && s == start)
}

/// The processes whose pid namespace is `ns` (the target of a `/proc/PID/ns/pid` link, such as
/// `pid:[4026532281]`).
pub fn pids_in_pid_namespace(ns: &std::path::Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l.as_path() == ns)
        })
        .collect()
}

/// A signal by number or name (`9`, `KILL`, `SIGKILL`).
pub fn parse_signal(s: &str) -> crate::error::Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map(|sig| sig as i32)
            .map_err(|_| crate::error::Error::invalid(format!("invalid signal {s:?}")));
    }
    let name = s.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| crate::error::Error::invalid(format!("invalid signal {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(-1), None);
        let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
        assert!(pids_in_pid_namespace(&ns).contains(&me));
        assert!(pids_in_pid_namespace(std::path::Path::new("pid:[0]")).is_empty());
    }

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        for bad in ["0x9", "NOPE", "999", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
