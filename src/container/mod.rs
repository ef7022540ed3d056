//! Containers (v0.1.0 `container.go`, `state.go`): the record on disk, the live process, and
//! the lifecycle. Disk is the journal: every state change is saved before it is acted on, and
//! a restarted runtime reconciles what is recorded with what is really there.
//!
//! This is the docker face of the engine: a container's v0.1.0 `Config` becomes an OCI spec
//! in [`spec`], and [`start`] hands it to [`crate::engine`]. What a start needs (the image's
//! layers, the helper, the network, the exit watcher) comes in as arguments ([`start::Deps`]);
//! nothing here imports the runtime.

pub mod autoremove;
mod event;
pub mod exec;
mod freeze;
pub mod janitor;
pub mod lifecycle;
pub mod logtimes;
pub mod monitor;
pub mod names;
pub mod output;
pub mod record;
pub mod request;
pub mod resize;
pub mod seccomp;
pub mod spec;
pub mod start;
pub mod stream;
pub mod user;

pub use crate::engine::set_window_size;
pub use event::{poll_in, Event};
pub use exec::{ExecConfig, ExecDeps, ExecIo};
pub use lifecycle::Container;
pub use output::{Attach, OutputStream, Sink};
pub use record::{Config, ContainerRecord, NetworkSettings, State};
pub use request::{CreateRequest, Prepared};
pub use resize::{follow as follow_window, Follower};
pub use start::{start, Deps, StartOptions};
