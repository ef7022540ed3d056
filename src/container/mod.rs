//! Containers: the record on disk and (later) its lifecycle.

pub mod record;

pub use record::{Config, ContainerRecord, NetworkSettings, State};
