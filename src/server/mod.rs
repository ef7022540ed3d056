//! The daemon and its client: the rcli protocol (v0.1.0's, extended compatibly with framed
//! output and the exit status), the listeners, one thread per connection, the pid file, and
//! the client's half (connecting, raw terminal, reading frames).
//!
//! This module never touches a [`Runtime`](crate::Runtime): commands reach the runtime through
//! an [`Executor`], which the `docker` program implements with the exported
//! `docker_runtime_call_with`, so the daemon drives the library only through its C ABI.

pub mod addr;
pub mod client;
pub mod connection;
pub mod daemon;
pub mod listener;
pub mod pidfile;
pub mod protocol;
pub mod terminal;

pub use addr::{Addr, Stream, DEFAULT_ADDR};
pub use connection::{Call, ConnectionConfig, Executor};
pub use daemon::{DaemonConfig, StopSignals, Stopped};
pub use listener::{Listener, SocketGroup};
pub use pidfile::RootLock;
