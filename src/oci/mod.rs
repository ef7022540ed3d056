//! `docker-runtime-oci`: runc's command line over the container engine, for containerd's runc
//! shim (and through it Kubernetes). [`cli`] reads the command line as go-runc writes it,
//! [`log`] reports errors as runc does (standard error and the `--log` file), [`store`] keeps
//! each container's record under `--root`, [`create`] makes a bundle's container wait at its
//! gate until `start` (with the descriptors the caller hands on, [`fds`]; its helper forked
//! from this process, [`fork`]), [`hooks`] runs the spec's hooks that are the runtime's, [`update`] gives
//! a running container new resources, [`command`] runs
//! the commands.
//!
//! Done so far: `--version`, `--help`, `spec`, `features`, `create`, `start`, `run`, `state`,
//! `list`, `kill`, `delete`, `pause`, `resume`, `ps --format json`, `exec`, `update`.

pub mod cli;
pub mod command;
pub mod create;
pub mod fds;
pub mod fork;
pub mod hooks;
pub mod log;
pub mod store;
pub mod update;

pub use command::main;
