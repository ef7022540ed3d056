//! Starting the helper program without forking the caller: `posix_spawn`, which glibc does
//! with `clone(CLONE_VM | CLONE_VFORK)`, so nothing of the caller's memory is copied however
//! large it is (a Python program, a daemon with many threads). `std::process::Command` would
//! fork instead as soon as a descriptor must land at a given number (a `pre_exec` hook), and
//! a fork copies the page tables and makes the caller fault on every page it writes next.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;

/// A process started by [`spawn`]: killed and reaped on request, never on drop (as std's
/// `Child`).
#[derive(Debug)]
pub struct Child {
    pid: i32,
    status: Option<ExitStatus>,
}

impl Child {
    /// A child of ours started otherwise (a fork).
    pub fn forked(pid: i32) -> Child {
        Child { pid, status: None }
    }

    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Send it SIGKILL (nothing once it is reaped: its pid may be another's by then).
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill takes a pid and a signal; the pid is our unreaped child's.
        if unsafe { libc::kill(self.pid, libc::SIGKILL) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Its status when it has exited (reaping it), None while it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let mut raw = 0;
        // SAFETY: waitpid on our own child, writing its status into a local.
        match unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) } {
            0 => Ok(None),
            r if r == self.pid => {
                self.status = Some(ExitStatus::from_raw(raw));
                Ok(self.status)
            }
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Wait for it to exit and reap it (once; later calls return the same status).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let mut raw = 0;
        loop {
            // SAFETY: waitpid on our own child, writing its status into a local.
            let r = unsafe { libc::waitpid(self.pid, &mut raw, 0) };
            if r == self.pid {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let s = ExitStatus::from_raw(raw);
        self.status = Some(s);
        Ok(s)
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    match rc {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

fn cstring(s: &[u8], what: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// The file actions and attributes of one spawn, destroyed on drop.
struct Actions {
    fa: libc::posix_spawn_file_actions_t,
    attr: libc::posix_spawnattr_t,
}

impl Actions {
    /// `fds` moved to their numbers; signals all at their defaults and none blocked (an
    /// ignored signal would otherwise be inherited through `exec`).
    fn new(fds: &[(RawFd, RawFd)]) -> io::Result<Box<Actions>> {
        // SAFETY: both are plain C structs that their init functions fill.
        let mut a: Box<Actions> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: initialising the structs in place; each is destroyed in Drop once made.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut a.fa) })?;
        // SAFETY: as above.
        if let Err(e) = check(unsafe { libc::posix_spawnattr_init(&mut a.attr) }) {
            // SAFETY: fa was initialised just above and is not used again.
            unsafe { libc::posix_spawn_file_actions_destroy(&mut a.fa) };
            return Err(e);
        }
        for &(from, to) in fds {
            // SAFETY: fa is initialised; dup2 in the child clears close-on-exec on `to`.
            check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut a.fa, from, to) })?;
        }
        // SAFETY: sigset_t is plain data that sigfillset/sigemptyset fill.
        let (mut all, mut none): (libc::sigset_t, libc::sigset_t) = unsafe { std::mem::zeroed() };
        // SAFETY: filling local signal sets and setting them on the initialised attributes.
        unsafe {
            libc::sigfillset(&mut all);
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigdefault(&mut a.attr, &all))?;
            check(libc::posix_spawnattr_setsigmask(&mut a.attr, &none))?;
            let flags = libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETSIGMASK;
            check(libc::posix_spawnattr_setflags(
                &mut a.attr,
                flags as libc::c_short,
            ))?;
        }
        Ok(a)
    }
}

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: both were initialised in `new` (a Box is only returned then).
        unsafe {
            libc::posix_spawn_file_actions_destroy(&mut self.fa);
            libc::posix_spawnattr_destroy(&mut self.attr);
        }
    }
}

/// Each of `fds` (a descriptor, its number to be) copied close-on-exec above every number to
/// be, so that putting them in place one dup2 after another never overwrites a source that a
/// later one still reads.
fn copies_above(fds: &[(BorrowedFd<'_>, RawFd)]) -> io::Result<Vec<(OwnedFd, RawFd)>> {
    let above = fds.iter().map(|&(_, to)| to).max().unwrap_or(2) + 1;
    fds.iter()
        .map(|&(from, to)| {
            // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (owned below) at or above `above`.
            let fd = unsafe { libc::fcntl(from.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a fresh descriptor owned by nobody else.
            Ok((unsafe { OwnedFd::from_raw_fd(fd) }, to))
        })
        .collect()
}

/// In a process of ours that will run the helper's code itself (a fork of a single-threaded
/// program): `fds` put at their numbers (close-on-exec cleared on them) and every descriptor
/// above the highest closed, as [`spawn`]'s child starts (the helper sets its signals itself).
pub fn become_helper(fds: &[(BorrowedFd<'_>, RawFd)]) -> io::Result<()> {
    let copies = copies_above(fds)?;
    for (from, to) in &copies {
        // SAFETY: dup2 onto a number this process gives up; `from` is open.
        if unsafe { libc::dup2(from.as_raw_fd(), *to) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let top = copies.iter().map(|(_, to)| *to).max().unwrap_or(2);
    drop(copies);
    // SAFETY: close_range on descriptors nothing below uses; integer arguments only.
    unsafe { libc::syscall(libc::SYS_close_range, top as u32 + 1, u32::MAX, 0u32) };
    Ok(())
}

/// A NULL-terminated array of pointers to `strings`, for `exec`'s argv and envp.
fn c_array(strings: &[CString]) -> Vec<*mut libc::c_char> {
    let mut v: Vec<*mut libc::c_char> = strings.iter().map(|a| a.as_ptr().cast_mut()).collect();
    v.push(std::ptr::null_mut());
    v
}

/// Start `program` with `args` (`args[0]` is the name `ps` shows) and only `env` (`NAME=VALUE`
/// entries) as its environment, with each of `fds` (a descriptor of ours, the number it gets
/// in the child) in place; every other descriptor of ours is close-on-exec (this crate opens
/// them all so) and stays behind.
pub fn spawn(
    program: &Path,
    args: &[&str],
    env: &[String],
    fds: &[(BorrowedFd<'_>, RawFd)],
) -> io::Result<Child> {
    let path = cstring(program.as_os_str().as_bytes(), "the program's path")?;
    let strings = |list: Vec<&str>, what: &str| -> io::Result<Vec<CString>> {
        list.iter().map(|a| cstring(a.as_bytes(), what)).collect()
    };
    let args = strings(args.to_vec(), "an argument")?;
    let env = strings(
        env.iter().map(String::as_str).collect(),
        "an environment entry",
    )?;
    let (argv, envp) = (c_array(&args), c_array(&env));
    let copies = copies_above(fds)?;
    let moves: Vec<(RawFd, RawFd)> = copies.iter().map(|(f, to)| (f.as_raw_fd(), *to)).collect();
    let actions = Actions::new(&moves)?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: the path and argv strings (NUL-terminated
    // arrays kept alive above), the empty environment, the initialised actions and attributes.
    check(unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &actions.fa,
            &actions.attr,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    })?;
    Ok(Child { pid, status: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    fn pipe() -> (std::fs::File, std::fs::File) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (r.into(), w.into())
    }

    /// This process's descriptors that a child inherits (no close-on-exec).
    fn inheritable_fds() -> Vec<i32> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            // SAFETY: F_GETFD only reads a descriptor's flags.
            .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == 0)
            .collect()
    }

    #[test]
    fn descriptors_land_at_their_numbers_even_when_sources_collide_and_nothing_else_leaks() {
        let (mut r1, w1) = pipe();
        let (mut r2, w2) = pipe();
        let extra = std::fs::File::open("/dev/null").unwrap();
        let script =
            "echo one >&1; echo two >&4; ls /proc/self/fd | tr '\\n' ' ' >&4; echo $FOO >&1";
        // Sources are swapped against their targets' natural order, to catch overwrites.
        let mut child = spawn(
            Path::new("/bin/sh"),
            &["sh", "-c", script],
            &["FOO=bar".to_string()],
            &[
                (extra.as_fd(), 0),
                (w2.as_fd(), 1),
                (extra.as_fd(), 2),
                (w1.as_fd(), 4),
            ],
        )
        .unwrap();
        drop((w1, w2));
        let (mut out1, mut out2) = (String::new(), String::new());
        r2.read_to_string(&mut out1).unwrap();
        r1.read_to_string(&mut out2).unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(
            out1, "one\nbar\n",
            "the environment is exactly what was given"
        );
        // ls's own descriptor for /proc/self/fd shows as 3; `extra` itself and the copies
        // made for the spawn stay behind. (The test harness may hand down descriptors of its
        // own without close-on-exec, such as a build tool's jobserver: those are not ours.)
        let (two, listed) = out2.split_once('\n').unwrap();
        assert_eq!(two, "two");
        let inherited = inheritable_fds();
        let mut ours: Vec<i32> = listed
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .filter(|n| !inherited.contains(n) || *n <= 4)
            .collect();
        ours.sort();
        assert_eq!(ours, [0, 1, 2, 3, 4]);
        drop(extra);
    }

    #[test]
    fn a_missing_program_is_an_error_and_kill_after_wait_is_harmless() {
        let e = spawn(Path::new("/nonexistent/prog"), &["prog"], &[], &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let mut child = spawn(Path::new("/bin/sh"), &["sh", "-c", "exit 7"], &[], &[]).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7));
        assert_eq!(child.wait().unwrap().code(), Some(7));
        child.kill().unwrap();
    }
}
