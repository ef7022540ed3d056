//! A small synchronous rtnetlink client: the few link, address and route operations the
//! network manager needs, spoken directly to the kernel over a `NETLINK_ROUTE` socket (no `ip`
//! process, no async runtime). Messages are built and parsed with `netlink-packet-route`.
//!
//! A socket talks to the network namespace it was created in; [`Netlink::open_in`] creates one
//! inside another namespace (a container's) from a short-lived thread that joins it, so the
//! calling thread never changes namespace.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd};

use ipnetwork::Ipv4Network;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{Error, Result};

/// Large enough for any datagram the kernel sends a dump reader (it caps them at 32 KiB).
const RECV_BUF: usize = 64 * 1024;

/// What the kernel says about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND` (`bridge`, `veth`, ...), empty for a plain device.
    pub kind: String,
    /// The index of the bridge it is enslaved to, if any.
    pub master: Option<u32>,
    pub up: bool,
}

/// An rtnetlink socket bound to one network namespace.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn io_err(context: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::io(context, e)
}

impl Netlink {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Netlink> {
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(|e| io_err("opening a netlink socket", e))?;
        sock.bind_auto()
            .map_err(|e| io_err("binding a netlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| io_err("connecting a netlink socket", e))?;
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// A socket in the network namespace `ns` (an open `/proc/PID/ns/net`). A scoped thread
    /// joins the namespace, opens the socket and ends; the socket stays in that namespace.
    pub fn open_in(ns: &File) -> Result<Netlink> {
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::errno("joining the network namespace", e))?;
                Netlink::open()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::new(
                    crate::error::ErrorKind::Io,
                    "the thread opening a netlink socket in a network namespace failed",
                ))
            })
        })
    }

    /// Send one request and collect the answers: the messages of a dump, or nothing for an
    /// acknowledged change. A kernel refusal becomes an error with its errno and `what`.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &dyn std::fmt::Display,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.sock
            .send(&out, 0)
            .map_err(|e| io_err(format_args!("{what}: sending to netlink"), e))?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut answers = Vec::new();
        loop {
            let n = {
                let mut slice = &mut self.buf[..];
                self.sock
                    .recv(&mut slice, libc::MSG_TRUNC)
                    .map_err(|e| io_err(format_args!("{what}: reading from netlink"), e))?
            };
            if n > self.buf.len() {
                return Err(Error::new(
                    crate::error::ErrorKind::Io,
                    format!("{what}: a netlink answer of {n} bytes was truncated"),
                ));
            }
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| {
                        Error::corrupt(format!("{what}: malformed netlink answer: {e}"))
                    })?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Err(Error::corrupt(format!(
                        "{what}: netlink answer of length 0"
                    )));
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(code) => Err(Error::errno(
                                what,
                                nix::errno::Errno::from_raw(code.get().abs()),
                            )),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(m) => {
                        answers.push(m);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(answers);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn parse_link(msg: LinkMessage) -> Link {
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            kind: String::new(),
            master: None,
            up: msg.header.flags.contains(LinkFlags::Up),
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => link.name = n,
                LinkAttribute::Controller(m) => link.master = Some(m),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Kind(k) = info {
                            link.kind = k.to_string();
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }

    /// The interface called `name`, or `None` when there is none.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            RouteNetlinkMessage::GetLink(msg),
            0,
            &format_args!("looking up interface {name}"),
        ) {
            Ok(mut answers) => match answers.pop() {
                Some(RouteNetlinkMessage::NewLink(m)) => Ok(Some(Self::parse_link(m))),
                _ => Ok(None),
            },
            Err(e) if e.os_errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every interface of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            &"listing interfaces",
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(m) => Some(Self::parse_link(m)),
                _ => None,
            })
            .collect())
    }

    /// Create a bridge called `name` (down). `AlreadyExists` when the name is taken.
    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &format_args!("creating bridge {name}"),
        )?;
        Ok(())
    }

    /// Bring interface `index` up.
    pub fn set_up(&mut self, index: u32, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(
            RouteNetlinkMessage::SetLink(msg),
            NLM_F_ACK,
            &format_args!("bringing {name} up"),
        )?;
        Ok(())
    }

    /// Create a veth pair: `host` enslaved to bridge `master` and up, its peer `peer` created
    /// directly inside the network namespace `ns` (down). `AlreadyExists` when `host` (or
    /// `peer` in `ns`) is taken.
    pub fn create_veth(&mut self, host: &str, master: u32, peer: &str, ns: &File) -> Result<()> {
        // The peer cannot be created up: a veth end refuses to open (ENOTCONN) before the pair
        // is linked, which happens after the peer is configured.
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_msg
            .attributes
            .push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        msg.attributes.push(LinkAttribute::Controller(master));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &format_args!("creating veth pair {host}"),
        )?;
        Ok(())
    }

    /// Delete the interface called `name`. `Ok(false)` when there was none.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            RouteNetlinkMessage::DelLink(msg),
            NLM_F_ACK,
            &format_args!("deleting interface {name}"),
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.os_errno() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The IPv4 addresses (with their prefix) of interface `index`.
    pub fn ipv4_addrs(&mut self, index: u32) -> Result<Vec<Ipv4Network>> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let answers = self.request(
            RouteNetlinkMessage::GetAddress(req),
            NLM_F_DUMP,
            &"listing IPv4 addresses",
        )?;
        let mut out = Vec::new();
        for m in answers {
            let RouteNetlinkMessage::NewAddress(m) = m else {
                continue;
            };
            if m.header.index != index || m.header.family != AddressFamily::Inet {
                continue;
            }
            let local = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(std::net::IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            });
            let addr = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(std::net::IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            });
            if let Some(ip) = local.or(addr) {
                if let Ok(net) = Ipv4Network::new(ip, m.header.prefix_len) {
                    out.push(net);
                }
            }
        }
        Ok(out)
    }

    /// Give interface `index` the address `addr` (address and prefix) and its broadcast.
    pub fn add_ipv4_addr(&mut self, index: u32, name: &str, addr: Ipv4Network) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = addr.prefix();
        msg.header.index = index;
        let ip = std::net::IpAddr::V4(addr.ip());
        msg.attributes.push(AddressAttribute::Local(ip));
        msg.attributes.push(AddressAttribute::Address(ip));
        if addr.prefix() < 31 {
            msg.attributes
                .push(AddressAttribute::Broadcast(addr.broadcast()));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &format_args!("adding address {addr} to {name}"),
        )?;
        Ok(())
    }

    /// The destinations of every IPv4 route of every table, except default routes.
    pub fn ipv4_routes(&mut self) -> Result<Vec<Ipv4Network>> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let answers = self.request(
            RouteNetlinkMessage::GetRoute(req),
            NLM_F_DUMP,
            &"listing IPv4 routes",
        )?;
        let mut out = Vec::new();
        for m in answers {
            let RouteNetlinkMessage::NewRoute(m) = m else {
                continue;
            };
            let len = m.header.destination_prefix_length;
            if m.header.address_family != AddressFamily::Inet || len == 0 {
                continue;
            }
            let dst = m.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
                _ => None,
            });
            if let Some(Ok(net)) = dst.map(|ip| Ipv4Network::new(ip, len)) {
                out.push(net);
            }
        }
        Ok(out)
    }

    /// Add the default route via `gateway` out of interface `oif`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, oif: u32) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        msg.attributes.push(RouteAttribute::Oif(oif));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &format_args!("adding the default route via {gateway}"),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_and_a_missing_name_is_none() {
        let mut nl = Netlink::open().unwrap();
        let lo = nl.link("lo").unwrap().expect("lo exists");
        assert_eq!(lo.name, "lo");
        assert!(lo.index > 0);
        assert!(nl.link("drt-nonexistent").unwrap().is_none());
        assert!(nl.links().unwrap().iter().any(|l| l.name == "lo"));
        let addrs = nl.ipv4_addrs(lo.index).unwrap();
        assert!(addrs.iter().any(|a| a.ip() == Ipv4Addr::LOCALHOST));
        assert!(!nl.delete_link("drt-nonexistent").unwrap());
    }

    #[test]
    fn routes_include_loopback_and_not_the_default() {
        let mut nl = Netlink::open().unwrap();
        let routes = nl.ipv4_routes().unwrap();
        assert!(routes.iter().all(|r| r.prefix() > 0));
        assert!(routes.iter().any(|r| r.contains(Ipv4Addr::LOCALHOST)));
    }
}
