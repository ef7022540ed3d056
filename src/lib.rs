//! docker-runtime: docker v0.1.0 rebuilt in Rust as an embeddable C-ABI container runtime.
//!
//! The safe core (`runtime`, `container`, `tags`, `network`, `commands`, ...) knows nothing of
//! C; `ffi` is the thin skin that exports it as `libdocker_runtime` with the header
//! `include/docker_runtime.h`.

pub mod auth;
pub mod cgroup;
pub mod commands;
pub mod config;
pub mod container;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod fsutil;
pub mod humanize;
pub mod ids;
pub mod image;
pub mod init;
pub mod log;
pub mod mount;
pub mod network;
pub mod reference;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod spawn;
pub mod tags;
pub mod term;

pub use error::{Error, ErrorKind, Result};
pub use runtime::{Runtime, RuntimeOptions};
