//! Container networking (v0.1.0 `network.go`, SPEC section 6): a bridge, a veth pair per
//! container, persistent address and port pools, and iptables port mapping.
//!
//! The entry point is [`NetworkManager`] (one per runtime, set up from [`NetworkOptions`]):
//!
//! ```text
//! pub struct PortSpec { pub public: Option<u16>, pub private: u16 }  // "-p 80" / "-p 8080:80"
//! pub fn parse_port_spec(s: &str) -> Result<PortSpec>;
//! impl NetworkManager {
//!     pub fn allocate(&self, ports: &[PortSpec]) -> Result<NetworkSettings>;
//!     pub fn attach(&self, container_id: &str, pid: i32, settings: &NetworkSettings) -> Result<()>;
//!     pub fn release(&self, container_id: &str, settings: &NetworkSettings) -> Result<()>;
//!     pub fn restore(&self, running: &[(String, NetworkSettings)]) -> Result<()>;
//! }
//! ```
//!
//! Parts: [`alloc`] (in-memory pools), [`ipam`] (the pools persisted under `ROOT/network/`),
//! [`netlink`] (a synchronous rtnetlink client), [`bridge`], [`iptables`] (port mapper,
//! masquerade, the filter that keeps the bridge closed), [`ports`] (`-p` parsing), [`options`]
//! (the options, a container's [`NetworkSettings`], the root's `settings.json`), [`manager`].
//!
//! This layer knows nothing of containers or the runtime: it imports only `error`, `fsutil`
//! and `log`.

pub mod alloc;
pub mod bridge;
pub mod ipam;
pub mod iptables;
pub mod manager;
pub mod netlink;
pub mod options;
pub mod ports;

pub use alloc::{IpAllocator, PortAllocator, DEFAULT_PORT_RANGE};
pub use bridge::{Bridge, DEFAULT_SUBNET};
pub use ipam::Ipam;
pub use manager::NetworkManager;
pub use options::{NetworkOptions, NetworkSettings, DEFAULT_BRIDGE, DEFAULT_CHAIN};
pub use ports::{parse_port_spec, PortSpec};
