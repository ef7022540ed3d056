//! The bridge the containers' veth ends are plugged into (v0.1.0 required `lxcbr0` to exist; we
//! adopt it when it does and create it when it does not).
//!
//! - An existing bridge keeps its own first IPv4 address and mask: they are the gateway and the
//!   subnet. One without an IPv4 address gets the configured (or a chosen) subnet.
//! - A missing bridge is created with the configured subnet, or with the first candidate private
//!   subnet (`10.0.3.1/24` as lxc, `172.17.0.1/16` ... `172.31.0.1/16`, `192.168.N.1/24`) that overlaps
//!   no route of the host. A configured subnet that overlaps a route is refused.
//! - The bridge is brought up and gets `net.ipv4.conf.NAME.route_localnet=1`, so that
//!   connections from the host to `127.0.0.1:PUBLIC` can be sent on to a container (see
//!   `iptables.rs`, whose `CHAIN-IN` drops what this would otherwise let in: packets from the
//!   bridge for the host's 127.0.0.0/8).

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use super::alloc::parse_subnet;
use super::netlink::{Link, Netlink};
use crate::error::{Error, ErrorKind, Result};
use crate::log::Logger;

/// The subnet tried first for a new bridge when none is configured (lxc's default for
/// `lxcbr0`); when a host route overlaps it, another private subnet is chosen.
pub const DEFAULT_SUBNET: &str = "10.0.3.1/24";

/// The subnets tried, in order, when a bridge must be created and none is configured.
fn candidate_subnets() -> Vec<Ipv4Network> {
    let mut out: Vec<Ipv4Network> = DEFAULT_SUBNET.parse().into_iter().collect();
    let mut push = |a, b, c, d, p| {
        if let Ok(n) = Ipv4Network::new(Ipv4Addr::new(a, b, c, d), p) {
            out.push(n);
        }
    };
    for b in 17..=31 {
        push(172, b, 0, 1, 16);
    }
    for c in 0..=255 {
        push(192, 168, c, 1, 24);
    }
    out
}

/// The bridge in use: its name, kernel index, and its address (the gateway) with the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    pub index: u32,
    /// The gateway address with the subnet's prefix length (`10.0.3.1/24`).
    pub address: Ipv4Network,
}

impl Bridge {
    pub fn gateway(&self) -> Ipv4Addr {
        self.address.ip()
    }

    /// The subnet itself (`10.0.3.0/24`).
    pub fn subnet(&self) -> Ipv4Network {
        Ipv4Network::new(self.address.network(), self.address.prefix()).unwrap_or(self.address)
    }

    /// `GATEWAY/PREFIX`, the form the address allocator takes.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.address.ip(), self.address.prefix())
    }

    /// Adopt the bridge `name`, or create it; see the module comment.
    pub fn ensure(
        nl: &mut Netlink,
        name: &str,
        configured: Option<&str>,
        logger: &Logger,
    ) -> Result<Bridge> {
        let link = match existing_bridge(nl, name)? {
            Some(l) => l,
            None => {
                // Refuse a bad subnet before anything is made.
                choose_subnet(nl, name, configured)?;
                match nl.create_bridge(name) {
                    Ok(()) => logger.info(&format!("created bridge {name}")),
                    // Another runtime created it meanwhile: adopt it.
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                existing_bridge(nl, name)?.ok_or_else(|| {
                    Error::not_found(format!("bridge {name} vanished right after its creation"))
                })?
            }
        };
        let address = match nl.ipv4_addrs(link.index)?.first() {
            Some(a) => {
                if let Some(c) = parse_configured(configured)?.filter(|c| c != a) {
                    logger.warn(&format!(
                        "bridge {name} already has the address {a}; using it instead of the configured {c}"
                    ));
                }
                *a
            }
            None => {
                let chosen = choose_subnet(nl, name, configured)?;
                match nl.add_ipv4_addr(link.index, name, chosen) {
                    Ok(()) => chosen,
                    // Another runtime gave it an address meanwhile: use what the bridge has.
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        *nl.ipv4_addrs(link.index)?.first().ok_or(e)?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        check_room(name, address)?;
        if !link.up {
            nl.set_up(link.index, name)?;
        }
        set_route_localnet(name)?;
        Ok(Bridge {
            name: name.to_string(),
            index: link.index,
            address,
        })
    }
}

/// The address (gateway/prefix) [`Bridge::ensure`] would give the bridge `name`, without
/// changing anything: an existing bridge's own, else the configured subnet, else the first
/// free candidate. The address pools use it before the bridge is needed.
pub fn planned_address(
    nl: &mut Netlink,
    name: &str,
    configured: Option<&str>,
) -> Result<Ipv4Network> {
    if let Some(link) = existing_bridge(nl, name)? {
        if let Some(a) = nl.ipv4_addrs(link.index)?.first() {
            check_room(name, *a)?;
            return Ok(*a);
        }
    }
    choose_subnet(nl, name, configured)
}

/// The interface `name` when it exists; an error when it is not a bridge.
fn existing_bridge(nl: &mut Netlink, name: &str) -> Result<Option<Link>> {
    let Some(link) = nl.link(name)? else {
        return Ok(None);
    };
    if link.kind != "bridge" {
        let kind = if link.kind.is_empty() {
            "a plain device".to_string()
        } else {
            format!("a {} device", link.kind)
        };
        return Err(Error::invalid(format!(
            "interface {name} exists and is not a bridge (it is {kind}): choose another bridge name"
        )));
    }
    Ok(Some(link))
}

fn parse_configured(configured: Option<&str>) -> Result<Option<Ipv4Network>> {
    configured
        .map(|c| {
            let (net, gw) = parse_subnet(c)?;
            Ipv4Network::new(gw, net.prefix())
                .map_err(|e| Error::invalid(format!("invalid subnet {c:?}: {e}")))
        })
        .transpose()
}

/// The configured subnet (refused when it overlaps a route of the host), or the first
/// candidate that overlaps none.
fn choose_subnet(nl: &mut Netlink, name: &str, configured: Option<&str>) -> Result<Ipv4Network> {
    let routes = nl.ipv4_routes()?;
    match parse_configured(configured)? {
        Some(c) => match routes.iter().find(|r| overlaps(r, &c)) {
            Some(r) => Err(Error::in_use(format!(
                "subnet {c} for bridge {name} overlaps the host's route to {r}: choose another subnet"
            ))),
            None => Ok(c),
        },
        None => candidate_subnets()
            .into_iter()
            .find(|c| !routes.iter().any(|r| overlaps(r, c)))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Exhausted,
                    format!(
                        "no free private subnet for bridge {name}: every candidate overlaps a route; configure one"
                    ),
                )
            }),
    }
}

fn check_room(name: &str, address: Ipv4Network) -> Result<()> {
    if address.prefix() > 30 {
        return Err(Error::invalid(format!(
            "bridge {name} has the address {address}: its subnet has no room for containers"
        )));
    }
    Ok(())
}

/// Whether two subnets share an address.
pub fn overlaps(a: &Ipv4Network, b: &Ipv4Network) -> bool {
    let (a0, a1) = (u32::from(a.network()), u32::from(a.broadcast()));
    let (b0, b1) = (u32::from(b.network()), u32::from(b.broadcast()));
    a0 <= b1 && b0 <= a1
}

/// `net.ipv4.conf.NAME.route_localnet=1`: packets from 127.0.0.0/8 may be routed out of the
/// bridge (after the DNAT of `127.0.0.1:PUBLIC` and before their masquerade).
fn set_route_localnet(name: &str) -> Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
    if std::fs::read_to_string(&path).is_ok_and(|s| s.trim() == "1") {
        return Ok(());
    }
    std::fs::write(&path, b"1").map_err(|e| Error::io(format_args!("setting {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Network {
        s.parse().unwrap()
    }

    #[test]
    fn overlap_is_symmetric_and_exact_at_the_edges() {
        assert!(overlaps(&net("10.0.0.0/8"), &net("10.2.3.0/24")));
        assert!(overlaps(&net("10.2.3.0/24"), &net("10.0.0.0/8")));
        assert!(overlaps(&net("192.0.2.2/32"), &net("192.0.2.0/24")));
        assert!(!overlaps(&net("10.2.3.0/24"), &net("10.2.4.0/24")));
        assert!(!overlaps(&net("172.17.0.1/16"), &net("172.18.0.0/16")));
    }

    #[test]
    fn candidates_are_private_and_start_with_lxc_default() {
        let c = candidate_subnets();
        assert_eq!(c[0], net("10.0.3.1/24"));
        assert_eq!(c[1], net("172.17.0.1/16"));
        assert!(c.iter().all(|n| n.ip().is_private()));
        assert_eq!(c.len(), 1 + 15 + 256);
    }
}
