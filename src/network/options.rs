//! How a root's network is set up ([`NetworkOptions`]), what a container's network is
//! ([`NetworkSettings`], recorded in its `config.json`), and the root's memory of its options
//! (`ROOT/network/settings.json`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::alloc::DEFAULT_PORT_RANGE;
use super::ipam::Ipam;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::log::Logger;

/// v0.1.0's bridge name.
pub const DEFAULT_BRIDGE: &str = "lxcbr0";
/// v0.1.0's nat chain.
pub const DEFAULT_CHAIN: &str = "DOCKER";

/// The network options of a runtime. `Default` gives v0.1.0's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    pub bridge_name: String,
    /// `GATEWAY/PREFIX` for the bridge; `None`: the bridge's own, or a free private subnet
    /// ([`super::bridge::DEFAULT_SUBNET`] first).
    pub bridge_subnet: Option<String>,
    /// The nat chain of the port mappings (the runtime also makes `CHAIN-POST`, `CHAIN-ISO`,
    /// `CHAIN-FWD` and `CHAIN-IN`); at most 23 characters.
    pub iptables_chain: String,
    /// Set `net.ipv4.ip_forward=1` when the network is set up and it is 0, so containers reach
    /// other networks (docker's `--ip-forward`). Not needed for traffic between the host and its
    /// containers or among containers.
    pub ip_forward: bool,
    pub port_range: (u16, u16),
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            bridge_name: DEFAULT_BRIDGE.to_string(),
            bridge_subnet: None,
            iptables_chain: DEFAULT_CHAIN.to_string(),
            ip_forward: true,
            port_range: DEFAULT_PORT_RANGE,
        }
    }
}

/// A container's network, recorded before it is set up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub ip_address: String,
    pub ip_prefix_len: u8,
    pub gateway: String,
    /// private port -> public port
    pub port_mapping: BTreeMap<String, String>,
}

/// The bridge, subnet and chain a root's network was set up with (`ROOT/network/settings.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SettingsFile {
    bridge: String,
    subnet: Option<String>,
    chain: String,
    #[serde(default = "yes")]
    ip_forward: bool,
}

fn yes() -> bool {
    true
}

const SETTINGS_FILE: &str = "settings.json";

fn check_name(what: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid {what} {value:?}: use 1 to {max} letters, digits, '-', '_' or '.'"
        )))
    }
}

impl NetworkOptions {
    /// Check the names, the subnet and the port range before anything is made.
    pub fn validate(&self) -> Result<()> {
        // Interface names are at most 15 bytes; iptables chain names at most 28, and the
        // runtime's own chains add a suffix to the name.
        check_name("bridge name", &self.bridge_name, 15)?;
        check_name(
            "iptables chain name",
            &self.iptables_chain,
            super::iptables::MAX_CHAIN_LEN,
        )?;
        if let Some(s) = &self.bridge_subnet {
            super::alloc::parse_subnet(s)?;
        }
        super::alloc::PortAllocator::new(self.port_range.0, self.port_range.1)?;
        Ok(())
    }

    /// The persistent address and port pools in `dir` (`ROOT/network`) on the subnet the bridge
    /// has or would be given (see [`super::bridge::planned_address`]), without touching the
    /// host.
    pub fn planned_ipam(&self, dir: &Path) -> Result<Ipam> {
        let mut nl = super::netlink::Netlink::open()?;
        let address = super::bridge::planned_address(
            &mut nl,
            &self.bridge_name,
            self.bridge_subnet.as_deref(),
        )?;
        let subnet = format!("{}/{}", address.ip(), address.prefix());
        Ipam::open(dir, &subnet, self.port_range)
    }

    /// Whether these are v0.1.0's names (the port range aside).
    fn is_default(&self) -> bool {
        self.bridge_name == DEFAULT_BRIDGE
            && self.bridge_subnet.is_none()
            && self.iptables_chain == DEFAULT_CHAIN
            && self.ip_forward
    }

    /// Options given as the defaults on a root whose network (`dir`, `ROOT/network`) was set
    /// up with others (a daemon started with `-b`, then the in-process client) become the
    /// root's, so that a runtime never builds a second network (the default bridge and chain)
    /// beside the first. An unreadable record is logged and the defaults kept.
    pub fn adopt(mut self, dir: &Path, logger: &Logger) -> NetworkOptions {
        if !self.is_default() {
            return self;
        }
        match fsutil::read_json_opt::<SettingsFile>(&dir.join(SETTINGS_FILE)) {
            Ok(Some(s)) => {
                self.bridge_name = s.bridge;
                self.bridge_subnet = s.subnet;
                self.iptables_chain = s.chain;
                self.ip_forward = s.ip_forward;
            }
            Ok(None) => {}
            Err(e) => logger.warn(&format!("{e}; using the default network options")),
        }
        self
    }

    /// Record in `dir` that the root's network is set up with these options (see
    /// [`Self::adopt`]); written only when it changed.
    pub fn remember(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SETTINGS_FILE);
        let now = SettingsFile {
            bridge: self.bridge_name.clone(),
            subnet: self.bridge_subnet.clone(),
            chain: self.iptables_chain.clone(),
            ip_forward: self.ip_forward,
        };
        if fsutil::read_json_opt::<SettingsFile>(&path).ok().flatten() != Some(now.clone()) {
            fsutil::write_json_atomic(&path, &now, 0o600)?;
        }
        Ok(())
    }
}
