//! docker-runtime: docker v0.1.0 rebuilt in Rust as an embeddable C-ABI container runtime.
//!
//! One container engine (`engine`) executes OCI runtime specs; the faces above it are the
//! docker commands (`commands`, over `runtime` and `container`, which turns v0.1.0's `Config`
//! into a spec), the daemon (`server`), and the C ABI (`ffi`, the thin skin that exports the
//! safe core as `libdocker_runtime` with the header `include/docker_runtime.h`). Layers only
//! look down; the README's "How the code is laid out" has the map, and `tests/layering.rs`
//! keeps it true.

pub mod auth;
pub mod cgroup;
pub mod commands;
pub mod config;
pub mod container;
pub mod engine;
pub mod error;
pub mod events;
pub mod ffi;
pub mod fsutil;
pub mod humanize;
pub mod ids;
pub mod image;
pub mod init;
pub mod log;
pub mod mount;
pub mod network;
pub mod oci;
pub mod proc;
pub mod ps;
pub mod reference;
pub mod registry;
pub mod runtime;
pub mod saveload;
pub mod server;
pub mod spawn;
pub mod summary;
pub mod table;
pub mod tags;
pub mod term;
pub mod volume;

pub use error::{Error, ErrorKind, Result};
pub use runtime::{Runtime, RuntimeOptions};
