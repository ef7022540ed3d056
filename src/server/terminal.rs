//! The client's terminal: raw mode for the commands that talk to a container's terminal
//! (`run -t`, `attach`), restored on every way out: a normal return (drop), a panic (drop
//! during unwinding), and the signals that end a process (SIGTERM, SIGHUP, SIGQUIT, SIGINT: the
//! handler restores the terminal, then dies of the same signal).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::error::{Error, Result};

/// Short flags of `run` that take a value (the next argument, unless given as `-x=v`).
const RUN_VALUE_SHORT: &[char] = &['a', 'c', 'e', 'h', 'm', 'p', 'u', 'v', 'w'];
/// Long flags of `run` that take a value.
const RUN_VALUE_LONG: &[&str] = &[
    "add-host",
    "attach",
    "cap-add",
    "cap-drop",
    "cidfile",
    "cpu-shares",
    "dns",
    "entrypoint",
    "env",
    "env-file",
    "expose",
    "hostname",
    "label",
    "link",
    "memory",
    "mount",
    "name",
    "net",
    "network",
    "publish",
    "pull",
    "restart",
    "security-opt",
    "user",
    "volume",
    "volumes-from",
    "workdir",
];

fn truthy(v: Option<&str>) -> bool {
    !matches!(v, Some("false" | "0" | "f" | "F" | "FALSE" | "False"))
}

/// Whether the command line wants the client's terminal in raw mode: `attach`, and `run` or
/// `exec` with `-t` (also `-it`, `--tty`, `-t=true`) but without `-d`.
pub fn wants_raw_terminal(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some("attach") => true,
        // exec's flags are a subset of run's (-d, -i, -t, -e, -u, -w).
        Some("run" | "exec") => run_wants_tty(&args[1..]),
        _ => false,
    }
}

/// Raw mode on the client's terminal when the command line wants it ([`wants_raw_terminal`])
/// and stdin is a terminal; restored when the result is dropped.
pub fn raw_terminal_for(args: &[String]) -> Result<Option<RawTerminal>> {
    if wants_raw_terminal(args) {
        RawTerminal::enable()
    } else {
        Ok(None)
    }
}

/// Whether `run`'s (or `exec`'s) flag `name` (without its dashes) takes a value.
pub fn takes_value(name: &str) -> bool {
    if name.chars().count() == 1 {
        RUN_VALUE_SHORT.contains(&name.chars().next().unwrap_or(' '))
    } else {
        RUN_VALUE_LONG.contains(&name)
    }
}

fn run_wants_tty(args: &[String]) -> bool {
    let (mut tty, mut detach) = (false, false);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" || !a.starts_with('-') || a == "-" {
            break;
        }
        let long = a.starts_with("--");
        let body = a.trim_start_matches('-');
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let cluster = !long && name.len() > 1 && name.chars().all(|c| "dit".contains(c));
        if cluster {
            // `-it`, `-dit`: switches run together.
            tty |= name.contains('t');
            detach |= name.contains('d');
            continue;
        }
        match name {
            "t" | "tty" => tty = truthy(value),
            "d" | "detach" => detach = truthy(value),
            _ => {
                if takes_value(name) && value.is_none() {
                    i += 1;
                }
            }
        }
    }
    tty && !detach
}

/// The terminal state to put back, for the signal handler.
static SAVED: OnceLock<libc::termios> = OnceLock::new();
/// True while raw mode is on.
static RAW: AtomicBool = AtomicBool::new(false);

const FATAL_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGINT,
];

extern "C" fn restore_and_die(sig: libc::c_int) {
    if RAW.swap(false, Ordering::SeqCst) {
        if let Some(t) = SAVED.get() {
            // SAFETY: tcsetattr is async-signal-safe; t is a valid termios saved earlier.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
    // SAFETY: signal(2) and raise(3) are async-signal-safe; with the default action back,
    // the process ends the way the signal means.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Raw mode on the client's stdin; dropping it restores the terminal.
#[derive(Debug)]
pub struct RawTerminal {
    previous: Vec<(Signal, SigAction)>,
}

impl RawTerminal {
    /// Put stdin's terminal in raw mode; `Ok(None)` when stdin is not a terminal.
    pub fn enable() -> Result<Option<RawTerminal>> {
        // SAFETY: isatty only inspects descriptor 0.
        if unsafe { libc::isatty(0) } != 1 {
            return Ok(None);
        }
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: t is a writable termios.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return Err(Error::io(
                "reading the terminal's settings",
                std::io::Error::last_os_error(),
            ));
        }
        // One process, one terminal: a second enable keeps the first saved state, which is
        // the terminal as the user had it.
        let saved = *SAVED.get_or_init(|| t);
        let handler = SigAction::new(
            SigHandler::Handler(restore_and_die),
            SaFlags::SA_RESETHAND,
            SigSet::empty(),
        );
        let mut previous = Vec::new();
        for sig in FATAL_SIGNALS {
            // SAFETY: the handler uses only async-signal-safe calls.
            match unsafe { sigaction(sig, &handler) } {
                Ok(old) => previous.push((sig, old)),
                Err(e) => {
                    restore_handlers(&previous);
                    return Err(Error::errno(format!("installing a {sig} handler"), e));
                }
            }
        }
        let mut raw = saved;
        // SAFETY: raw is a valid termios copy.
        unsafe { libc::cfmakeraw(&mut raw) };
        RAW.store(true, Ordering::SeqCst);
        // SAFETY: raw is a valid termios for descriptor 0.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &raw) } != 0 {
            let e = std::io::Error::last_os_error();
            RAW.store(false, Ordering::SeqCst);
            restore_handlers(&previous);
            return Err(Error::io("putting the terminal in raw mode", e));
        }
        Ok(Some(RawTerminal { previous }))
    }
}

fn restore_handlers(previous: &[(Signal, SigAction)]) {
    for (sig, old) in previous {
        // SAFETY: putting back the action that was installed before ours.
        let _ = unsafe { sigaction(*sig, old) };
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if RAW.swap(false, Ordering::SeqCst) {
            if let Some(t) = SAVED.get() {
                // SAFETY: t is the termios saved when raw mode was turned on.
                unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
            }
        }
        restore_handlers(&self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> bool {
        let args: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        wants_raw_terminal(&args)
    }

    #[test]
    fn which_command_lines_want_a_raw_terminal() {
        assert!(w("run -t busybox sh"));
        assert!(w("run -it busybox sh"));
        assert!(w("run -ti busybox sh"));
        assert!(w("run --tty -i busybox sh"));
        assert!(w("run -t=true busybox"));
        assert!(w("run -e A=1 -u root -t busybox sh"));
        assert!(w("run -m 512 -p 80 -i -t busybox sh"));
        assert!(w("run --name x --env=A=1 -t busybox"));
        assert!(w(
            "run --network none --pull never --cap-drop ALL -t busybox"
        ));
        assert!(w("attach 3f2a"));
        assert!(w("exec -it 3f2a sh"));
        assert!(w("exec -u nobody -w /tmp -e A=1 -t 3f2a sh"));
        assert!(
            !w("exec 3f2a sh -t"),
            "-t after the container is the command's"
        );
        assert!(!w("exec -dt 3f2a sh"));
        assert!(!w("exec -i 3f2a sh"));
        assert!(
            !w("run busybox sh -t"),
            "-t after the image is the command's"
        );
        assert!(!w("run -i busybox sh"));
        assert!(!w("run -d -t busybox sh"));
        assert!(!w("run -dit busybox sh"));
        assert!(!w("run -t=false busybox"));
        assert!(!w("run -e -t busybox"), "-t is -e's value here");
        assert!(!w("run -- -t"));
        assert!(!w("ps -a"));
        assert!(!w(""));
    }
}
