//! `save` and `load`: images moved between hosts as tar archives, in docker's archive format
//! with the OCI image layout inside (docker 25's), read by docker, skopeo and containerd;
//! `load` also reads docker 20.10's archives and plain OCI layouts.
//!
//! What other parts call:
//! - [`save()`] (images of the graph, each under its names, written to a stream);
//! - [`load()`] (an archive, staged and checked whole, then its images put in place and named
//!   all at once or not at all).
//!
//! This layer sits with the registry client: it works on the graph and the tag store, and
//! shares the registry's form of an image ([`crate::registry::convert`], manifests, digests
//! and the ids a pull gives), never the runtime.

pub mod format;
pub mod load;
pub mod save;
pub mod staging;

pub use load::{load, Loaded};
pub use save::{save, SaveItem};
