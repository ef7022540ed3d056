//! The monitor: one thread per runtime that waits, with epoll, for every running container's
//! helper process to exit (through a pidfd) and copies every container terminal's output to its
//! log. A running container costs it a descriptor and a table entry, not a thread. It also
//! notes, through inotify, when each running container's logs grow: the side index of
//! [`super::logtimes`] that `logs -t` stamps lines with.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::lifecycle::{read_exit_file, Container};
use super::logtimes::Tracked;
use crate::error::{Error, Result};
use crate::events::{self, EventBus};
use crate::log::Logger;

/// How a watched process is reaped.
pub enum Reap {
    /// Our own child: `waitid` on the pidfd gives its status.
    Child,
    /// Not our child (restored after a restart): its exit status is read from this file.
    File(std::path::PathBuf),
}

enum Watch {
    Exit {
        container: Arc<Container>,
        pidfd: OwnedFd,
        reap: Reap,
    },
    Pty {
        id: String,
        master: File,
        log: File,
    },
}

/// Handle of the monitor thread; dropping it stops the thread (containers keep running).
pub struct Monitor {
    tx: Mutex<Sender<Option<Watch>>>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

fn eventfd() -> Result<OwnedFd> {
    // SAFETY: eventfd creates a new descriptor.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(Error::io("eventfd", std::io::Error::last_os_error()));
    }
    // SAFETY: fresh descriptor, owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn kick(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

impl Monitor {
    /// Start the thread; each exit it handles is announced on `events` as a `die`.
    pub fn start(logger: Logger, events: Arc<EventBus>) -> Result<Monitor> {
        let wake = eventfd()?;
        // SAFETY: epoll_create1 creates a new descriptor.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(Error::io("epoll_create1", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh descriptor, owned by the thread.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        let wake_raw = wake.as_raw_fd();
        add(&ep, wake_raw, 0)?;
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("docker-monitor".into())
            .spawn(move || run(ep, wake_raw, rx, logger, events))
            .map_err(|e| Error::io("starting the monitor thread", e))?;
        Ok(Monitor {
            tx: Mutex::new(tx),
            wake,
            thread: Some(thread),
        })
    }

    fn send(&self, w: Watch) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let _ = tx.send(Some(w));
        kick(self.wake.as_raw_fd());
    }

    /// Watch the helper process of `container` (its pidfd) until it exits, then run the
    /// container's exit handling.
    pub fn watch_exit(&self, container: Arc<Container>, pidfd: OwnedFd, reap: Reap) {
        self.send(Watch::Exit {
            container,
            pidfd,
            reap,
        });
    }

    /// Copy a container terminal's output to its log until the terminal closes.
    pub fn watch_pty(&self, id: &str, master: File, log: File) {
        self.send(Watch::Pty {
            id: id.to_string(),
            master,
            log,
        });
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        {
            let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            let _ = tx.send(None);
        }
        kick(self.wake.as_raw_fd());
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn add(ep: &OwnedFd, fd: RawFd, token: u64) -> Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32,
        u64: token,
    };
    // SAFETY: registers fd with our epoll instance; ev is live for the call.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(Error::io("epoll_ctl", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn del(ep: &OwnedFd, fd: RawFd) {
    // SAFETY: removes fd from our epoll instance.
    unsafe {
        libc::epoll_ctl(
            ep.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            std::ptr::null_mut(),
        )
    };
}

/// The exit status of a process that has exited.
fn exit_status(pidfd: &OwnedFd, reap: &Reap) -> i32 {
    match reap {
        Reap::Child => {
            // SAFETY: a zeroed siginfo_t is valid for waitid to fill.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waitid on our child's pidfd, writing into info.
            let rc = unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    pidfd.as_raw_fd() as libc::id_t,
                    &mut info,
                    libc::WEXITED,
                )
            };
            if rc == 0 {
                // SAFETY: waitid succeeded, so si_code and si_status are set.
                let (code, status) = unsafe { (info.si_code, info.si_status()) };
                if code == libc::CLD_EXITED {
                    status
                } else {
                    128 + status
                }
            } else {
                -1
            }
        }
        Reap::File(path) => read_exit_file(path).unwrap_or(-1),
    }
}

/// Copy what the terminal has to its log without blocking (the master stays a blocking
/// descriptor for the writers of stdin); false once the terminal is closed.
fn pump_pty(master: &mut File, log: &mut File) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let ready = super::event::poll_in(&[master.as_fd()], 0)
            .map(|r| r[0])
            .unwrap_or(false);
        if !ready {
            return true;
        }
        match master.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                let _ = log.write_all(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every slave descriptor is closed.
            Err(_) => return false,
        }
    }
}

/// The epoll token of the inotify instance.
const LOGS_TOKEN: u64 = u64::MAX;

/// The running containers' logs, watched with one inotify instance: each watch's log index.
/// After an entry is put off (growth within a millisecond of the last entry), the instance is
/// left out of the epoll set until the millisecond is over, so a chatty container wakes the
/// monitor about twice per millisecond, not at every write.
struct LogWatch {
    fd: OwnedFd,
    /// The monitor's epoll instance (it outlives this).
    ep: RawFd,
    logs: HashMap<i32, Tracked>,
    /// Whether the inotify instance is in the epoll set.
    armed: bool,
}

impl LogWatch {
    fn new(ep: &OwnedFd) -> Option<LogWatch> {
        // SAFETY: inotify_init1 creates a new descriptor.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fresh descriptor, owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        add(ep, fd.as_raw_fd(), LOGS_TOKEN).ok()?;
        Some(LogWatch {
            fd,
            ep: ep.as_raw_fd(),
            logs: HashMap::new(),
            armed: true,
        })
    }

    /// Put the inotify instance in the epoll set (`on`) or leave it out.
    fn arm(&mut self, on: bool) {
        let mut ev = libc::epoll_event {
            events: if on { libc::EPOLLIN as u32 } else { 0 },
            u64: LOGS_TOKEN,
        };
        // SAFETY: changes our descriptor's registration in the monitor's epoll instance.
        let rc =
            unsafe { libc::epoll_ctl(self.ep, libc::EPOLL_CTL_MOD, self.fd.as_raw_fd(), &mut ev) };
        self.armed = on || rc != 0;
    }

    /// Start noting the growth of container `c`'s logs.
    fn watch(&mut self, c: &Container, logger: &Logger) {
        for log in [c.stdout_log(), c.stderr_log()] {
            let Ok(path) = std::ffi::CString::new(log.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            // SAFETY: a NUL-terminated path, our inotify descriptor.
            let wd = unsafe {
                libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY)
            };
            if wd < 0 {
                continue; // no such log: the container never wrote it
            }
            match Tracked::open(&log) {
                Ok(t) => {
                    self.logs.insert(wd, t);
                }
                Err(e) => logger.warn(&format!("container {}: {e}", c.id)),
            }
        }
    }

    /// Note the last growth of container `c`'s logs and stop watching them.
    fn unwatch(&mut self, c: &Container) {
        let logs = [c.stdout_log(), c.stderr_log()];
        let now = chrono::Utc::now();
        self.logs.retain(|wd, t| {
            if !logs.iter().any(|l| t.is_of(l)) {
                return true;
            }
            t.record(now);
            // SAFETY: removes our own watch.
            unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), *wd) };
            false
        });
    }

    /// Read the inotify events and note the logs that grew; disarm while an entry is put off.
    fn changed(&mut self) {
        self.drain();
        if self.logs.values().any(|t| t.pending) {
            self.arm(false);
        }
    }

    /// Read the inotify events and note the logs that grew (all of them after an overflow).
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        let now = chrono::Utc::now();
        loop {
            // SAFETY: reads into a live buffer of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            let mut off = 0;
            let head = size_of::<libc::inotify_event>();
            while off + head <= n as usize {
                // SAFETY: the kernel wrote a whole event at off; read_unaligned copies it.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf.as_ptr().add(off).cast()) };
                off += head + ev.len as usize;
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    self.logs.values_mut().for_each(|t| t.note(now));
                } else if let Some(t) = self.logs.get_mut(&ev.wd) {
                    t.note(now);
                }
            }
        }
    }

    /// How long epoll may sleep: a millisecond while disarmed.
    fn timeout(&self) -> i32 {
        if self.armed {
            -1
        } else {
            1
        }
    }

    /// While disarmed: note what came meanwhile, write the entries whose millisecond is over,
    /// and arm again once none is put off.
    fn tick(&mut self) {
        if self.armed {
            return;
        }
        self.drain();
        let now = chrono::Utc::now();
        self.logs.values_mut().for_each(|t| t.flush(now));
        if !self.logs.values().any(|t| t.pending) {
            self.arm(true);
        }
    }
}

/// Copy what the terminals of container `id` still hold to its log, and forget them.
fn drain_ptys(ep: &OwnedFd, ptys: &mut HashMap<u64, (String, File, File)>, id: &str) {
    let tokens: Vec<u64> = ptys
        .iter()
        .filter(|(_, (of, _, _))| of == id)
        .map(|(t, _)| *t)
        .collect();
    for t in tokens {
        if let Some((_, mut master, mut log)) = ptys.remove(&t) {
            pump_pty(&mut master, &mut log);
            del(ep, master.as_raw_fd());
        }
    }
}

/// The `die` event of `container`, ended with `status`.
fn die_event(container: &Container, status: i32) -> events::Event {
    let rec = container.record();
    let code = status.to_string();
    let attrs = [
        ("image", rec.config.image.as_str()),
        ("name", rec.name.trim_start_matches('/')),
        ("exitCode", code.as_str()),
    ];
    events::Event::now("container", "die", &container.id, &attrs)
}

fn run(ep: OwnedFd, wake: RawFd, rx: Receiver<Option<Watch>>, logger: Logger, bus: Arc<EventBus>) {
    let mut exits: HashMap<u64, (Arc<Container>, OwnedFd, Reap)> = HashMap::new();
    let mut ptys: HashMap<u64, (String, File, File)> = HashMap::new();
    let mut next: u64 = 1;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut logs = LogWatch::new(&ep);
    if logs.is_none() {
        logger.warn("inotify is not available: logs -t stamps lines with the logs' times");
    }
    loop {
        let timeout = logs.as_ref().map_or(-1, LogWatch::timeout);
        // SAFETY: events is a live buffer of the given capacity.
        let n = unsafe {
            libc::epoll_wait(
                ep.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout,
            )
        };
        if let Some(l) = logs.as_mut() {
            l.tick();
        }
        if n < 0 {
            continue;
        }
        for ev in &events[..n as usize] {
            let token = ev.u64;
            if token == LOGS_TOKEN {
                if let Some(l) = logs.as_mut() {
                    l.changed();
                }
                continue;
            }
            if token == 0 {
                let mut v = [0u8; 8];
                // SAFETY: drains our eventfd into a live buffer.
                unsafe { libc::read(wake, v.as_mut_ptr().cast(), 8) };
                while let Ok(w) = rx.try_recv() {
                    let Some(w) = w else {
                        return;
                    };
                    let t = next;
                    next += 1;
                    match w {
                        Watch::Exit {
                            container,
                            pidfd,
                            reap,
                        } => {
                            if let Err(e) = add(&ep, pidfd.as_raw_fd(), t) {
                                logger.error(&format!("monitoring {}: {e}", container.id));
                            }
                            if let Some(l) = logs.as_mut() {
                                l.watch(&container, &logger);
                            }
                            exits.insert(t, (container, pidfd, reap));
                        }
                        Watch::Pty { id, master, log } => {
                            if let Err(e) = add(&ep, master.as_raw_fd(), t) {
                                logger.error(&format!("monitoring the terminal of {id}: {e}"));
                            }
                            ptys.insert(t, (id, master, log));
                        }
                    }
                }
                continue;
            }
            if let Some((_, master, log)) = ptys.get_mut(&token) {
                if !pump_pty(master, log) {
                    if let Some((_, master, _)) = ptys.remove(&token) {
                        del(&ep, master.as_raw_fd());
                    }
                }
                continue;
            }
            if let Some((container, pidfd, reap)) = exits.remove(&token) {
                del(&ep, pidfd.as_raw_fd());
                // A terminal's last output reaches the log before the exit is announced.
                drain_ptys(&ep, &mut ptys, &container.id);
                if let Some(l) = logs.as_mut() {
                    l.unwatch(&container);
                }
                let status = exit_status(&pidfd, &reap);
                container.exited(status, &logger);
                bus.emit(die_event(&container, status));
            }
        }
    }
}
