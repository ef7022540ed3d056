//! `docker-runtime-oci`: runc's command line over the container engine, for containerd's runc
//! shim (and through it Kubernetes). [`cli`] reads the command line as go-runc writes it,
//! [`log`] reports errors as runc does (standard error and the `--log` file), [`store`] keeps
//! each container's record under `--root`, [`command`] runs the commands.
//!
//! Done so far: `--version`, `--help`, `spec`, `features`, `state`, `list`, `kill`, `delete`;
//! the others are read but refused as not implemented yet (they need the engine's create/start
//! split).

pub mod cli;
pub mod command;
pub mod log;
pub mod store;

pub use command::main;
