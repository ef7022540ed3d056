//! A registered container: its record, what lives only while it runs under this process, and
//! its lifecycle after the start (signals, wait, stop, the exit, removal, reconciling after a
//! restart).

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::event::Event;
use super::record::{ContainerRecord, NetworkSettings};
use crate::engine::set_window_size;

use crate::cgroup::{Cgroup, CgroupPath};
use crate::error::{Error, Result};
use crate::log::Logger;
use crate::network::NetworkManager;
use crate::proc::{pidfd_open, process_start_time};

/// What only exists while the container runs under this process.
pub(super) struct Live {
    /// The container's first process, for signals (None when it could not be opened).
    pub(super) pidfd: Option<OwnedFd>,
    /// Where attached clients write the container's stdin (a pipe or the terminal).
    pub(super) stdin: Option<Arc<File>>,
    /// The container's terminal, for window-size changes.
    pub(super) pty: Option<Arc<File>>,
    /// Signalled once the container has ended and been cleaned up.
    pub(super) exited: Arc<Event>,
    /// The container's cgroup (its freezer, its memory limit).
    pub(super) cgroup: Option<Cgroup>,
    /// Commits under way that froze the container (the last one to end thaws it).
    pub(super) commits: usize,
    /// The network manager holding the container's address and ports.
    pub(super) network: Option<Arc<NetworkManager>>,
}

pub(super) struct Inner {
    pub(super) rec: ContainerRecord,
    pub(super) live: Option<Live>,
    /// Set while `start` runs, so concurrent starts and removals refuse.
    pub(super) busy: bool,
    /// Set while the cgroup and network of the last run are released (after the exit is
    /// announced).
    pub(super) releasing: bool,
    pub(super) removed: bool,
}

/// A registered container.
pub struct Container {
    pub id: String,
    pub(super) dir: PathBuf,
    inner: Mutex<Inner>,
    changed: Condvar,
    /// The claim on an `auto_remove` container's marker, held by the runtime that will remove
    /// it (see [`super::autoremove`]).
    claim: Option<File>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container").field("id", &self.id).finish()
    }
}

impl Container {
    pub(crate) fn new(rec: ContainerRecord, dir: PathBuf) -> Container {
        Container {
            id: rec.id.clone(),
            dir,
            inner: Mutex::new(Inner {
                rec,
                live: None,
                busy: false,
                releasing: false,
                removed: false,
            }),
            changed: Condvar::new(),
            claim: None,
        }
    }

    /// The container, holding `claim` on its `autoremove` marker.
    pub(crate) fn with_claim(mut self, claim: File) -> Container {
        self.claim = Some(claim);
        self
    }

    /// Whether this process removes the container when it ends (it is `auto_remove` and this
    /// runtime claimed it, see [`super::autoremove`]).
    pub fn claimed(&self) -> bool {
        self.claim.is_some()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The read-write layer (overlay's upper directory).
    pub fn rw_dir(&self) -> PathBuf {
        self.dir.join("rw")
    }

    pub fn stdout_log(&self) -> PathBuf {
        self.dir.join(format!("{}-stdout.log", self.id))
    }

    pub fn stderr_log(&self) -> PathBuf {
        self.dir.join(format!("{}-stderr.log", self.id))
    }

    pub(super) fn exit_file(&self) -> PathBuf {
        self.dir.join("exit-status")
    }

    /// A copy of the record.
    pub fn record(&self) -> ContainerRecord {
        self.lock().rec.clone()
    }

    pub fn is_running(&self) -> bool {
        self.lock().rec.state.running
    }

    /// Whether the container has been removed (its folder is gone or going).
    pub fn is_removed(&self) -> bool {
        self.lock().removed
    }

    /// The cgroup of the current run (None when not running here, or on a host without
    /// cgroups).
    pub fn cgroup(&self) -> Option<Cgroup> {
        self.lock().live.as_ref().and_then(|l| l.cgroup.clone())
    }

    pub(super) fn save(&self, inner: &Inner) -> Result<()> {
        inner.rec.save(&self.dir)
    }

    /// Save a run's state (see [`ContainerRecord::run_durability`]).
    pub(super) fn save_run(&self, inner: &Inner) -> Result<()> {
        inner.rec.save_run(&self.dir)
    }

    /// Change the record with `f` and save it.
    pub fn update(&self, f: impl FnOnce(&mut ContainerRecord)) -> Result<()> {
        let mut inner = self.lock();
        f(&mut inner.rec);
        self.save(&inner)
    }

    /// The event signalled when the current run ends (None when not running here).
    pub fn exit_event(&self) -> Option<Arc<Event>> {
        self.lock().live.as_ref().map(|l| l.exited.clone())
    }

    /// Where to write the container's stdin, when it was started with `-i` (or a terminal)
    /// and runs under this process.
    pub fn stdin(&self) -> Option<Arc<File>> {
        self.lock().live.as_ref().and_then(|l| l.stdin.clone())
    }

    /// Close the container's stdin (the program reads end of file).
    pub fn close_stdin(&self) {
        if let Some(l) = self.lock().live.as_mut() {
            if l.pty.is_none() {
                l.stdin = None;
            }
        }
    }

    /// Set the window size of the container's terminal.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        let pty = self.lock().live.as_ref().and_then(|l| l.pty.clone());
        match pty {
            Some(p) => set_window_size(&p, rows, cols),
            None => Err(Error::invalid(format!(
                "container {} has no terminal",
                crate::ids::short(&self.id)
            ))),
        }
    }

    /// Called by the monitor when the container's helper has exited with `status`: release
    /// what the run held, record the exit code, wake everyone waiting. The cgroup and the
    /// network are given back after the exit is announced (the kernel takes a while to free a
    /// cgroup, and to delete links and rules; neither is needed to report the exit), and a new
    /// start of this container waits for them. If the process ends before the release is
    /// done, the settings are already cleared from the record and the next restore frees what
    /// no running container holds (its cgroup, by the container's name).
    pub(crate) fn exited(self: &Arc<Self>, status: i32, logger: &Logger) {
        let mut inner = self.lock();
        let live = inner.live.take();
        if let Err(e) = crate::mount::unmount(&self.rootfs()) {
            logger.warn(&format!("container {}: {e}", self.id));
        }
        let (cgroup, network) = match &live {
            Some(l) => (l.cgroup.clone(), l.network.clone()),
            None => (None, None),
        };
        let settings = std::mem::take(&mut inner.rec.network_settings);
        let network = network.filter(|_| !settings.ip_address.is_empty());
        inner.releasing = cgroup.is_some() || network.is_some();
        inner.rec.state.set_stopped(status);
        if let Err(e) = self.save_run(&inner) {
            logger.error(&format!("container {}: saving its state: {e}", self.id));
        }
        if let Some(l) = live {
            l.exited.signal();
        }
        drop(inner);
        self.changed.notify_all();
        if let Some(cg) = cgroup {
            cg.remove();
        }
        let Some(net) = network else {
            return self.released();
        };
        let (me, logger) = (self.clone(), logger.clone());
        let spawned = std::thread::Builder::new()
            .name("docker-release".into())
            .spawn(move || me.release_network(&net, &settings, &logger));
        if spawned.is_err() {
            self.released();
        }
    }

    /// The last run's cgroup and network are given back: a new start may go on.
    fn released(&self) {
        self.lock().releasing = false;
        self.changed.notify_all();
    }

    fn release_network(&self, net: &NetworkManager, settings: &NetworkSettings, logger: &Logger) {
        if let Err(e) = net.release_after_exit(&self.id, settings) {
            logger.warn(&e.to_string());
        }
        self.released();
    }

    /// Wait while the cgroup and network of the previous run are being released.
    pub(super) fn wait_released<'a>(
        &'a self,
        mut inner: MutexGuard<'a, Inner>,
    ) -> MutexGuard<'a, Inner> {
        while inner.releasing {
            inner = self.changed.wait(inner).unwrap_or_else(|e| e.into_inner());
        }
        inner
    }

    /// Block until the container is not running; returns its exit code.
    pub fn wait(&self) -> i32 {
        let mut inner = self.lock();
        while inner.rec.state.running {
            inner = self.changed.wait(inner).unwrap_or_else(|e| e.into_inner());
        }
        inner.rec.state.exit_code
    }

    /// Wait up to `timeout` for the container to stop; true when it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.rec.state.running {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .changed
                .wait_timeout(inner, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Send `sig` to the container's first process, then thaw a paused container so that
    /// the signal is delivered (as docker's kill does; a SIGKILL lands before any of the
    /// container's code runs again). Not running is fine (nothing to do).
    pub fn signal(&self, sig: i32) -> Result<()> {
        let inner = self.lock();
        if !inner.rec.state.running {
            return Ok(());
        }
        let sent = match inner.live.as_ref().and_then(|l| l.pidfd.as_ref()) {
            Some(fd) => crate::proc::pidfd_send_signal(fd.as_fd(), sig),
            // SAFETY: kill with a pid and a signal number.
            None => match unsafe { libc::kill(inner.rec.state.pid, sig) } {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            },
        };
        if let Err(e) = sent {
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::io(
                    format!("signalling container {}", crate::ids::short(&self.id)),
                    e,
                ));
            }
        }
        match inner.live.as_ref().and_then(|l| l.cgroup.as_ref()) {
            Some(cg) if cg.is_frozen() => cg.thaw().map_err(|e| {
                e.context(format_args!(
                    "thawing container {} for the signal",
                    crate::ids::short(&self.id)
                ))
            }),
            _ => Ok(()),
        }
    }

    /// SIGTERM, wait up to `timeout`, then SIGKILL; returns when the container has stopped.
    pub fn stop(&self, timeout: Duration) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        self.signal(libc::SIGTERM)?;
        if self.wait_timeout(timeout) {
            return Ok(());
        }
        self.kill()
    }

    /// SIGKILL and wait until the container has stopped.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)?;
        if self.wait_timeout(Duration::from_secs(30)) {
            Ok(())
        } else {
            Err(Error::new(
                crate::error::ErrorKind::Io,
                format!(
                    "container {} did not stop within 30 seconds of SIGKILL",
                    crate::ids::short(&self.id)
                ),
            ))
        }
    }

    /// Mark the container removed (refusing when it runs or starts) and move its folder out
    /// of the way, to `.removing-ID`: returned for the caller to delete (see `janitor`).
    pub(crate) fn destroy(&self) -> Result<PathBuf> {
        // A network release still under way needs nothing of the folder.
        let mut inner = self.lock();
        if inner.rec.state.running || inner.busy {
            return Err(Error::in_use(format!(
                "container {} is running: stop it first or use -f",
                crate::ids::short(&self.id)
            )));
        }
        inner.removed = true;
        crate::mount::unmount(&self.rootfs())?;
        // Rename first so a crash halfway never leaves a half-deleted container folder (a
        // journaling file system commits the rename before the removals that follow it; the
        // next restore finishes a `.removing-` folder).
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        let trash = parent.join(format!(".removing-{}", self.id));
        std::fs::rename(&self.dir, &trash).map_err(|e| Error::io_path("removing", &self.dir, e))?;
        Ok(trash)
    }

    /// After a restart: make the record agree with what is there. A `Running` record whose
    /// helper is gone becomes stopped (its exit code from the helper's file when it wrote
    /// one); a leftover mount and cgroup are removed; a stopped container's network settings are cleared
    /// (the network manager's restore frees what no running container holds). Returns the
    /// helper's pidfd when it still runs, to be watched again. `mounts` are the host's mount
    /// points, `cgroups` the names that have a cgroup of the runtime's ([`Cgroup::named`]).
    pub(crate) fn reconcile(
        &self,
        mounts: &HashSet<PathBuf>,
        cgroups: &HashSet<String>,
        logger: &Logger,
    ) -> Result<Option<OwnedFd>> {
        let mut inner = self.lock();
        let state = inner.rec.state.clone();
        // An exit status written means this run ended (a start removes the last one), even if
        // the monitor that wrote it has not quite exited yet.
        let ended = read_exit_file(&self.exit_file()).is_some();
        if state.running && state.monitor_pid > 0 && !ended {
            let alive = process_start_time(state.monitor_pid) == Some(state.monitor_start_time);
            if alive {
                if let Ok(fd) = pidfd_open(state.monitor_pid) {
                    // The pid might have been recycled between the two checks; the start time
                    // is read again now that the pidfd pins the process.
                    if process_start_time(state.monitor_pid) == Some(state.monitor_start_time) {
                        inner.live = Some(Live {
                            pidfd: pidfd_open(state.pid).ok(),
                            stdin: None,
                            pty: None,
                            exited: Arc::new(Event::new()?),
                            cgroup: Cgroup::find(&CgroupPath::named(&self.id)),
                            commits: 0,
                            network: None,
                        });
                        return Ok(Some(fd));
                    }
                }
            }
        }
        let mut changed = false;
        if state.running {
            let code = read_exit_file(&self.exit_file()).unwrap_or(-1);
            logger.info(&format!(
                "container {} stopped while no runtime watched it (exit code {code})",
                crate::ids::short(&self.id)
            ));
            inner.rec.state.set_stopped(code);
            changed = true;
        }
        // A cgroup left by a run that ended unwatched (or whose removal failed): thawed, so
        // that a process still in it gets the kill its monitor's death sent, and removed.
        let leftover = cgroups
            .contains(&self.id)
            .then(|| Cgroup::find(&CgroupPath::named(&self.id)))
            .flatten();
        if let Some(cg) = leftover {
            let _ = cg.thaw();
            cg.remove();
        }
        if inner.rec.network_settings != NetworkSettings::default() {
            inner.rec.network_settings = NetworkSettings::default();
            changed = true;
        }
        if changed {
            self.save(&inner)?;
        }
        if mounts.contains(&self.rootfs()) {
            crate::mount::unmount(&self.rootfs())?;
        }
        Ok(None)
    }

    /// Hand a restored running container the manager that will release its network when it
    /// stops.
    pub(crate) fn adopt_network(&self, net: &Arc<NetworkManager>) {
        let mut inner = self.lock();
        let has = !inner.rec.network_settings.ip_address.is_empty();
        if let (true, Some(live)) = (has, inner.live.as_mut()) {
            live.network = Some(net.clone());
        }
    }

    /// The network settings of a running container that has a network.
    pub(crate) fn running_network(&self) -> Option<NetworkSettings> {
        let inner = self.lock();
        let s = &inner.rec.network_settings;
        (inner.rec.state.running && !s.ip_address.is_empty()).then(|| s.clone())
    }

    /// Whether the record holds network settings (a running container with a network).
    pub(crate) fn has_network(&self) -> bool {
        !self.lock().rec.network_settings.ip_address.is_empty()
    }
}

/// The status the helper recorded when the container ended.
pub fn read_exit_file(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
