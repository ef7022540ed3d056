//! The daemon and its client: the rcli protocol (v0.1.0's, extended compatibly with framed
//! output and the exit status), the listeners, one thread per connection, the pid file, and
//! the client's half (connecting, raw terminal, reading frames).
//!
//! Serving is one call on a runtime, [`host::serve`]: lock the root (`ROOT/docker.pid`),
//! restore, bind every address, then run each connection's command on the runtime directly
//! ([`RuntimeExecutor`], the same core as `docker_runtime_call_with`: [`exec::run_command`])
//! until SIGTERM/SIGINT (when asked to handle them) or the host's stop descriptor becomes
//! readable. The C ABI exports it as `docker_runtime_serve`; `docker -d` is that one call.
//!
//! The connection code only sees an [`Executor`], so it is unit-tested with closures.

pub mod addr;
pub mod client;
pub mod connection;
pub mod daemon;
pub mod exec;
pub mod host;
pub mod http;
pub mod listener;
pub mod pidfile;
pub mod protocol;
pub mod terminal;

pub use addr::{Addr, Stream, DEFAULT_ADDR};
pub use connection::{Call, ConnectionConfig, Executor};
pub use daemon::{DaemonConfig, StopOn, StopReason, StopSignals, Stopped};
pub use exec::{run_command, RuntimeExecutor, Stdio};
pub use host::{serve, ServeOptions};
pub use listener::{Listener, SocketGroup};
pub use pidfile::RootLock;
