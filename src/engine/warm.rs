//! A warm helper: for a long-lived runtime (the daemon, a program embedding the library), the
//! `docker-init` helper's start (exec, loader, ~0.8 ms of CPU) and the v1 cgroup folders'
//! mkdirs (~0.2-0.4 ms) are done ahead, off a container start's path. [`Warm`] is a
//! [`Kernel`] that keeps one helper ready: spare v1 folders (`cgroup::spare_name`), a helper
//! born in them by a thread that entered them itself (as [`Host`] does), its stdio
//! /dev/null, its `Hello` read, waiting for `Start`.
//!
//! A start whose cgroup the spare fits (the runtime's own `docker-runtime/NAME`, the same v1
//! controllers: not an OCI `cgroupsPath`, no cpuset or blkio folder) claims it in
//! [`Kernel::create_cgroup`]: the folders are renamed to the container's, the v2 folder made,
//! the resources written; [`Kernel::spawn_helper`] then hands the claimed helper the
//! container's streams (`Stdio`, see `spawn::protocol`) instead of starting one. Anything
//! else, or no helper ready, takes [`Host`]'s cold path. A claim asks a worker thread for the
//! next helper; that thread is the helpers' parent and lives as long as the runtime, so an
//! idle helper dies with it (`PR_SET_PDEATHSIG`; a claimed one stops that on `Stdio`).
//! Dropping a [`Warm`] kills the idle helper and removes its folders.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::kernel::{greet, spawn, Helper, Host, Kernel, Streams};
use crate::cgroup::{spare_name, Cgroup, CgroupPath, Resources};
use crate::error::{Error, Result};
use crate::spawn::protocol::{self, Message};

/// Numbers the spares of this process (its runtimes' spares must not share a folder).
static SPARES: AtomicU64 = AtomicU64::new(0);

/// How long a warm helper may take to greet.
const GREETING_TIMEOUT: Duration = Duration::from_secs(60);

/// What a failed refill is reported to (the runtime's logger).
pub type OnError = Box<dyn Fn(&Error) + Send + Sync>;

/// A helper waiting in its spare folders.
struct Idle {
    helper: Helper,
    cgroup: Cgroup,
}

impl Idle {
    fn discard(self) {
        self.helper.abandon();
        self.cgroup.remove();
    }
}

struct Shared {
    helper: PathBuf,
    idle: Mutex<Option<Idle>>,
    /// Helpers claimed by a cgroup's creation, for the spawn that follows.
    claimed: Mutex<Vec<(Cgroup, Helper)>>,
    on_error: OnError,
}

/// A [`Kernel`] that keeps one helper ready (see the module documentation).
pub struct Warm {
    shared: Arc<Shared>,
    refill: Mutex<Option<Sender<()>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warm")
            .field("helper", &self.shared.helper)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Warm {
    /// Start keeping a `helper` (the `docker-init` program) ready; failures to make one are
    /// given to `on_error` (the starts then take the cold path).
    pub fn new(helper: &Path, on_error: OnError) -> Result<Warm> {
        let shared = Arc::new(Shared {
            helper: helper.to_path_buf(),
            idle: Mutex::new(None),
            claimed: Mutex::new(Vec::new()),
            on_error,
        });
        let (tx, rx) = channel::<()>();
        let s = shared.clone();
        let worker = std::thread::Builder::new()
            .name("docker-warm-helper".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if lock(&s.idle).is_some() {
                        continue;
                    }
                    match fill(&s) {
                        Ok(idle) => *lock(&s.idle) = Some(idle),
                        Err(e) => (s.on_error)(&e),
                    }
                }
            })
            .map_err(|e| Error::io("starting the warm helper thread", e))?;
        let _ = tx.send(());
        Ok(Warm {
            shared,
            refill: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        })
    }

    fn request_refill(&self) {
        if let Some(tx) = &*lock(&self.refill) {
            let _ = tx.send(());
        }
    }

    /// The idle helper, when its spare fits the cgroup at `path` with `res` and it still
    /// lives (one killed meanwhile is discarded: the start goes cold).
    fn take_fitting(&self, path: &CgroupPath, res: &Resources) -> Option<Idle> {
        let mut slot = lock(&self.shared.idle);
        if !slot.as_ref()?.cgroup.fits(path, res) {
            return None;
        }
        let mut idle = slot.take()?;
        drop(slot);
        let alive = idle
            .helper
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        if alive {
            Some(idle)
        } else {
            idle.discard();
            None
        }
    }
}

/// Make a spare and start a helper in it, greeted (on the worker thread, its parent).
fn fill(s: &Shared) -> Result<Idle> {
    let name = spare_name(std::process::id(), SPARES.fetch_add(1, Ordering::Relaxed));
    let cgroup = Cgroup::spare(&name)?;
    let spawned = if cgroup.has_v1() {
        // Entered by this thread itself (no RCU wait), left again once the helper is forked:
        // this thread lives on, and must not be in the container's cgroup after the rename.
        match cgroup.enter_v1() {
            Ok(()) => {
                let h = Streams::null().and_then(|n| spawn(&s.helper, &name, n, true));
                match (h, Cgroup::leave_v1()) {
                    (Ok(h), Err(e)) => {
                        h.abandon();
                        Err(e.context("leaving the warm helper's cgroup"))
                    }
                    (h, _) => h,
                }
            }
            Err(e) => Err(e.context("entering the warm helper's cgroup")),
        }
    } else {
        Streams::null().and_then(|n| spawn(&s.helper, &name, n, true))
    };
    let helper = match spawned {
        Ok(h) => h,
        Err(e) => {
            cgroup.remove();
            return Err(e);
        }
    };
    let greeted = helper
        .sock
        .set_read_timeout(Some(GREETING_TIMEOUT))
        .map_err(|e| Error::io("setting a socket timeout", e))
        .and_then(|()| greet(&helper.sock));
    let mut idle = Idle { helper, cgroup };
    match greeted {
        Ok(()) => {
            idle.helper.greeted = true;
            Ok(idle)
        }
        Err(e) => {
            idle.discard();
            Err(e.context("starting a warm docker-init"))
        }
    }
}

impl Kernel for Warm {
    fn create_cgroup(&self, path: &CgroupPath, res: &Resources) -> Result<Option<Cgroup>> {
        if !matches!(path, CgroupPath::Named(_)) {
            return Host.create_cgroup(path, res);
        }
        let taken = self.take_fitting(path, res);
        // For the next start (none ready: taken, killed, or a refill failed).
        self.request_refill();
        let Some(mut idle) = taken else {
            return Host.create_cgroup(path, res);
        };
        match idle.cgroup.adopt(path, res) {
            Ok(()) => {
                let cg = idle.cgroup.clone();
                lock(&self.shared.claimed).push((idle.cgroup, idle.helper));
                Ok(Some(cg))
            }
            Err(e) => {
                idle.discard();
                Err(e)
            }
        }
    }

    fn remove_cgroup(&self, cgroup: &Cgroup) {
        let claimed = {
            let mut all = lock(&self.shared.claimed);
            let i = all.iter().position(|(cg, _)| cg == cgroup);
            i.map(|i| all.remove(i))
        };
        if let Some((_, helper)) = claimed {
            helper.abandon();
        }
        Host.remove_cgroup(cgroup)
    }

    fn spawn_helper(
        &self,
        path: &Path,
        name: &str,
        streams: Streams,
        cgroup: Option<&Cgroup>,
    ) -> Result<Helper> {
        let claimed = cgroup.and_then(|wanted| {
            let mut all = lock(&self.shared.claimed);
            let i = all.iter().position(|(cg, _)| cg == wanted);
            i.map(|i| all.remove(i).1)
        });
        let Some(helper) = claimed else {
            return Host.spawn_helper(path, name, streams, cgroup);
        };
        if streams.preserved > 0 {
            // Descriptors past 2 reach only a helper spawned with them (never asked of a
            // warm runtime today: only the OCI command preserves any, and it runs cold).
            helper.abandon();
            return Host.spawn_helper(path, name, streams, cgroup);
        }
        use std::os::fd::AsFd;
        let fds = [
            streams.stdin.as_fd(),
            streams.stdout.as_fd(),
            streams.stderr.as_fd(),
        ];
        match protocol::send_fds(helper.sock.as_fd(), &Message::Stdio, &fds) {
            Ok(()) => Ok(helper),
            Err(e) => {
                helper.abandon();
                Err(Error::io("giving docker-init the container's streams", e))
            }
        }
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        // The worker ends once its channel closes (after a refill under way).
        lock(&self.refill).take();
        if let Some(w) = lock(&self.worker).take() {
            let _ = w.join();
        }
        if let Some(idle) = lock(&self.shared.idle).take() {
            idle.discard();
        }
        for (cg, helper) in lock(&self.shared.claimed).drain(..) {
            helper.abandon();
            cg.remove();
        }
    }
}
