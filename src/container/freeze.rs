//! Freezing a running container through its cgroup (see [`crate::cgroup`]): `pause` and
//! `unpause`, and the freeze `commit` holds while it packs the read-write layer, so that the
//! container cannot change the layer under the packer. Whether a container is paused is asked
//! of the kernel every time, never stored: after a restart the answer is the same.

use std::sync::Arc;

use super::event::Event;
use super::lifecycle::{Container, Inner};
use super::record::ContainerRecord;
use crate::cgroup::{no_freezer, Cgroup};
use crate::error::{Error, Result};
use crate::ids;

/// The cgroup of a running container that can be frozen, or why there is none.
fn freezer<'a>(c: &Container, inner: &'a Inner) -> Result<&'a Cgroup> {
    if !inner.rec.state.running {
        return Err(Error::invalid(format!(
            "container {} is not running",
            ids::short(&c.id)
        )));
    }
    inner
        .live
        .as_ref()
        .and_then(|l| l.cgroup.as_ref())
        .filter(|cg| cg.has_freezer())
        .ok_or_else(|| no_freezer(ids::short(&c.id)))
}

impl Container {
    /// Freeze every process of the running container (`docker pause`).
    pub fn pause(&self) -> Result<()> {
        let inner = self.lock();
        let cg = freezer(self, &inner)?;
        if cg.is_frozen() {
            return Err(Error::in_use(format!(
                "container {} is already paused",
                ids::short(&self.id)
            )));
        }
        cg.freeze(ids::short(&self.id))
    }

    /// Let a paused container run again (`docker unpause`). A freeze a commit holds is its
    /// own: it ends with the commit.
    pub fn unpause(&self) -> Result<()> {
        let inner = self.lock();
        let cg = freezer(self, &inner)?;
        if !cg.is_frozen() {
            return Err(Error::invalid(format!(
                "container {} is not paused",
                ids::short(&self.id)
            )));
        }
        if inner.live.as_ref().is_some_and(|l| l.commits > 0) {
            return Err(Error::in_use(format!(
                "container {} is frozen by a commit under way; it runs again when the commit is done",
                ids::short(&self.id)
            )));
        }
        cg.thaw()
    }

    /// Whether the container runs frozen (the kernel's word).
    pub fn is_paused(&self) -> bool {
        let inner = self.lock();
        inner.rec.state.running
            && inner
                .live
                .as_ref()
                .and_then(|l| l.cgroup.as_ref())
                .is_some_and(Cgroup::is_frozen)
    }

    /// The record with what only the kernel knows (whether it is paused), for `ps` and
    /// `inspect`.
    pub fn inspect(&self) -> ContainerRecord {
        let mut rec = self.record();
        rec.state.paused = self.is_paused();
        rec
    }

    /// Run `f` with the container frozen, as `commit` packs its layer: a running container
    /// is frozen first and thawed after `f` returns, whatever it returns; one already paused
    /// stays paused; a stopped one has nothing to freeze. Commits at the same time share the
    /// freeze (the last one to end thaws it). Without a freezer, a running container is an
    /// `Unsupported` error before `f` runs.
    pub fn while_frozen<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let hold = self.hold_frozen()?;
        let out = f();
        let thawed = match hold {
            Some(run) => self.release_frozen(&run),
            None => Ok(()),
        };
        let out = out?;
        thawed?;
        Ok(out)
    }

    /// Freeze the running container for a commit unless it is paused; returns the run it
    /// belongs to when this commit holds a freeze.
    fn hold_frozen(&self) -> Result<Option<Arc<Event>>> {
        let mut inner = self.lock();
        if !inner.rec.state.running {
            return Ok(None);
        }
        let short = ids::short(&self.id);
        let unsupported = || {
            Error::unsupported(format!(
                "{}; commit --pause=false commits it without freezing it",
                no_freezer(short)
            ))
        };
        let Some(live) = inner.live.as_mut() else {
            return Err(unsupported());
        };
        let Some(cg) = live.cgroup.as_ref().filter(|cg| cg.has_freezer()) else {
            return Err(unsupported());
        };
        if live.commits == 0 {
            if cg.is_frozen() {
                return Ok(None);
            }
            cg.freeze(short)?;
        }
        live.commits += 1;
        Ok(Some(live.exited.clone()))
    }

    /// End a commit's hold on the freeze of `run`: the last one thaws the container (unless
    /// that run has ended meanwhile).
    fn release_frozen(&self, run: &Arc<Event>) -> Result<()> {
        let mut inner = self.lock();
        let Some(live) = inner.live.as_mut().filter(|l| Arc::ptr_eq(&l.exited, run)) else {
            return Ok(());
        };
        live.commits = live.commits.saturating_sub(1);
        match (&live.cgroup, live.commits) {
            (Some(cg), 0) => cg.thaw(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::lifecycle::Live;
    use crate::container::record::State;
    use crate::error::ErrorKind;

    /// A container whose record says `running`, with a live state but no freezer (a host
    /// without one): no process is needed to reach the checks.
    fn container(running: bool) -> Container {
        let rec = ContainerRecord {
            id: "ab".repeat(32),
            name: "/frozen".into(),
            created: chrono::Utc::now(),
            path: "true".into(),
            args: vec![],
            config: Default::default(),
            state: State {
                running,
                ..State::default()
            },
            image: "cd".repeat(32),
            network_settings: Default::default(),
            sys_init_path: String::new(),
            mounts: Vec::new(),
            auto_remove: false,
        };
        let c = Container::new(rec, std::path::PathBuf::from("/nonexistent"));
        c.lock().live = running.then(|| Live {
            pidfd: None,
            stdin: None,
            pty: None,
            exited: Arc::new(Event::new().unwrap()),
            cgroup: None,
            commits: 0,
            network: None,
        });
        c
    }

    #[test]
    fn without_a_freezer_pause_and_commit_say_so_and_pack_nothing() {
        let c = container(true);
        for e in [c.pause().unwrap_err(), c.unpause().unwrap_err()] {
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            assert!(e.message().contains("no cgroup freezer"), "{e}");
        }
        let mut packed = false;
        let e = c
            .while_frozen(|| {
                packed = true;
                Ok(())
            })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.message().contains("commit --pause=false"), "{e}");
        assert!(!packed);
        assert!(!c.is_paused() && !c.inspect().state.paused);
    }

    #[test]
    fn a_stopped_container_is_not_paused_and_commits_without_a_freeze() {
        let c = container(false);
        let e = c.pause().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.message(), "container abababababab is not running");
        assert_eq!(c.while_frozen(|| Ok(7)).unwrap(), 7);
        // What the packing returns comes back, a failure too.
        let e = c
            .while_frozen(|| Err::<(), _>(Error::invalid("packing failed")))
            .unwrap_err();
        assert_eq!(e.message(), "packing failed");
    }
}
