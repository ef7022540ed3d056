//! The OCI hooks the runtime runs in its own namespaces (runtime-spec `runtime.md`,
//! "Lifecycle"): prestart and createRuntime during `create` (through the engine's
//! [`crate::engine::Hooks::created`], while the helper waits before entering the root),
//! poststart before `start` returns, poststop once the container is destroyed. The helper runs
//! createContainer and startContainer itself. Each hook reads the container's state, with the
//! status of its point in the lifecycle, from its standard input.

use super::log::Log;
use super::store::{state_as, Record, Status};
use crate::engine::plan::{self, HookKind};
use crate::error::{Error, ErrorKind, Result};
use crate::init::hooks as runner;

/// Run `rec`'s hooks of `kind` in order with the container's state at `status`; the first that
/// fails is the error (the lifecycle stops there).
pub fn run(rec: &Record, kind: HookKind, status: Status) -> Result<()> {
    let state = state_as(rec, status).to_string();
    for hook in plan::hooks(rec.hooks.as_ref(), kind)? {
        runner::run(kind.name(), &hook, state.as_bytes())
            .map_err(|e| Error::new(ErrorKind::Io, e))?;
    }
    Ok(())
}

/// Run every one of `rec`'s hooks of `kind` (poststart, poststop): a failure is a warning in
/// the log, and the lifecycle goes on.
pub fn run_warning(log: &Log, rec: &Record, kind: HookKind, status: Status) {
    let state = state_as(rec, status).to_string();
    let hooks = match plan::hooks(rec.hooks.as_ref(), kind) {
        Ok(h) => h,
        Err(e) => return log.warn(&e.to_string()),
    };
    for hook in hooks {
        if let Err(e) = runner::run(kind.name(), &hook, state.as_bytes()) {
            log.warn(&e);
        }
    }
}

/// Whether `rec` has hooks of `kind`.
pub fn has(rec: &Record, kind: HookKind) -> bool {
    plan::hooks(rec.hooks.as_ref(), kind).is_ok_and(|h| !h.is_empty())
}
