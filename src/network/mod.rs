//! The network manager's parts: address and port allocators (in memory and persisted).

pub mod alloc;
pub mod ipam;

pub use alloc::{IpAllocator, PortAllocator, DEFAULT_PORT_RANGE};
pub use ipam::Ipam;
