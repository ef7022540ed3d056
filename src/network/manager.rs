//! The network manager (v0.1.0 `network.go`): one per runtime, created lazily by
//! the runtime. It owns the bridge, the persistent address and port pools and
//! the iptables chains, and gives each container its network in three steps the container's
//! lifecycle calls:
//!
//! ```text
//! create:  settings = network.allocate(&ports)?          // recorded in config.json
//! start:   network.attach(&id, pid, &settings)?           // pid: first process, own empty netns
//! stop:    network.release(&id, &settings)?               // from the monitor; then clear settings
//! daemon:  network.restore(&running)?                     // once at start-up
//! ```
//!
//! `--network none` containers call none of these (they keep only the loopback, which the
//! container's init brings up).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use ipnetwork::Ipv4Network;

use super::bridge::Bridge;
use super::ipam::Ipam;
use super::iptables::{Iptables, Mapping};
use super::netlink::Netlink;
use super::options::{NetworkOptions, NetworkSettings};
use super::ports::PortSpec;
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil::{self, FileLock};
use crate::log::Logger;

/// The name of a container's interface inside its namespace.
pub const CONTAINER_IFNAME: &str = "eth0";

/// The host end of a container's veth pair: `veth` and the first 11 characters of its id
/// (15 bytes, the longest interface name).
pub fn veth_name(container_id: &str) -> Result<String> {
    let ok = container_id.len() >= 11
        && container_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(Error::invalid(format!(
            "container id {container_id:?} is invalid (want at least 11 lowercase hex characters)"
        )));
    }
    Ok(format!("veth{}", &container_id[..11]))
}

/// Whether `name` looks like a host veth end this runtime made.
fn is_our_veth(name: &str) -> bool {
    name.len() == 15
        && name.starts_with("veth")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The parts of recorded `NetworkSettings`, checked.
#[derive(Debug)]
struct Parsed {
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
    mappings: Vec<Mapping>,
}

fn parse_settings(s: &NetworkSettings) -> Result<Parsed> {
    let bad = |what: &str| Error::corrupt(format!("network settings: {what}"));
    let ip: Ipv4Addr = s
        .ip_address
        .parse()
        .map_err(|_| bad(&format!("invalid IpAddress {:?}", s.ip_address)))?;
    let gateway: Ipv4Addr = s
        .gateway
        .parse()
        .map_err(|_| bad(&format!("invalid Gateway {:?}", s.gateway)))?;
    if s.ip_prefix_len == 0 || s.ip_prefix_len > 30 {
        return Err(bad(&format!("invalid IpPrefixLen {}", s.ip_prefix_len)));
    }
    let mut mappings = Vec::with_capacity(s.port_mapping.len());
    for (private, public) in &s.port_mapping {
        let port = |t: &str| match t.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(bad(&format!("invalid port {t:?} in PortMapping"))),
        };
        mappings.push(Mapping {
            public: port(public)?,
            ip,
            private: port(private)?,
        });
    }
    Ok(Parsed {
        ip,
        prefix: s.ip_prefix_len,
        gateway,
        mappings,
    })
}

/// The public ports recorded in `s`, skipping unreadable ones.
fn public_ports(s: &NetworkSettings) -> Vec<u16> {
    s.port_mapping
        .values()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A runtime's network: the bridge, the pools and the port mapper. Thread-safe; several
/// managers (runtimes, processes) on one root share the pools through their lock file.
#[derive(Debug)]
pub struct NetworkManager {
    bridge: Bridge,
    ipam: Ipam,
    iptables: Iptables,
    dir: PathBuf,
    logger: Logger,
}

impl NetworkManager {
    /// Set up the network of a runtime whose allocations live in `dir` (`ROOT/network`):
    /// adopt or create the bridge, open the pools on its subnet, make sure the iptables chains
    /// and their jumps exist (the DNAT rules already there are kept; [`Self::restore`]
    /// rebuilds them), and enable `net.ipv4.ip_forward` when `opts.ip_forward` asks for it.
    pub fn new(dir: &Path, opts: &NetworkOptions, logger: &Logger) -> Result<NetworkManager> {
        fsutil::ensure_dir(dir, 0o700)?;
        let mut nl = Netlink::open()?;
        let bridge = Bridge::ensure(
            &mut nl,
            &opts.bridge_name,
            opts.bridge_subnet.as_deref(),
            logger,
        )?;
        let ipam = Ipam::open(dir, &bridge.cidr(), opts.port_range)?;
        let iptables = Iptables::new(&opts.iptables_chain, &bridge.name, bridge.subnet())?;
        let mgr = NetworkManager {
            bridge,
            ipam,
            iptables,
            dir: dir.to_path_buf(),
            logger: logger.clone(),
        };
        {
            let _lock = mgr.iptables_lock()?;
            mgr.iptables.ensure()?;
        }
        if opts.ip_forward {
            enable_ip_forward(&mgr.logger)?;
        }
        Ok(mgr)
    }

    fn iptables_lock(&self) -> Result<FileLock> {
        FileLock::acquire(&self.dir.join(".iptables.lock"))
    }

    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    /// The nat chain holding the DNAT rules.
    pub fn chain(&self) -> &str {
        self.iptables.chain()
    }

    /// Allocate an address and the public ports (a public port named and taken is an `InUse`
    /// error, and nothing stays allocated). Persisted before returning. Returns what goes
    /// into `config.json`.
    pub fn allocate(&self, ports: &[PortSpec]) -> Result<NetworkSettings> {
        let mut privates = BTreeSet::new();
        let mut publics = BTreeSet::new();
        for p in ports {
            if !privates.insert(p.private) {
                return Err(Error::invalid(format!(
                    "port {} is published twice",
                    p.private
                )));
            }
            if let Some(public) = p.public {
                if !publics.insert(public) {
                    return Err(Error::invalid(format!(
                        "public port {public} is named twice"
                    )));
                }
                check_host_port_free(public)?;
            }
        }
        let wanted: Vec<Option<u16>> = ports.iter().map(|p| p.public).collect();
        let (ip, taken) = self.ipam.allocate(&wanted)?;
        let port_mapping: BTreeMap<String, String> = ports
            .iter()
            .zip(&taken)
            .map(|(spec, public)| (spec.private.to_string(), public.to_string()))
            .collect();
        Ok(NetworkSettings {
            ip_address: ip.to_string(),
            ip_prefix_len: self.bridge.address.prefix(),
            gateway: self.bridge.gateway().to_string(),
            port_mapping,
        })
    }

    /// Give the process `pid` (alone in a new, empty network namespace) its network: a veth
    /// pair whose host end (`veth` + 11 characters of the id) is on the bridge and up, whose
    /// other end is created inside the namespace as `eth0`, up, with the address and the
    /// default route via the gateway; then the DNAT rules of `settings.port_mapping`. On
    /// failure nothing is left behind (the veth is deleted; the rules are added last, all or
    /// none). A stale host veth of the same name (a crash) is replaced.
    pub fn attach(&self, container_id: &str, pid: i32, settings: &NetworkSettings) -> Result<()> {
        let host = veth_name(container_id)?;
        let p = parse_settings(settings)?;
        if pid <= 0 {
            return Err(Error::invalid(format!("invalid process id {pid}")));
        }
        let ns_path = format!("/proc/{pid}/ns/net");
        let ns = File::open(&ns_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::not_found(format!(
                    "no process {pid}: cannot attach the network of container {container_id}"
                ))
            } else {
                Error::io(format_args!("opening {ns_path}"), e)
            }
        })?;
        let mut nl = Netlink::open()?;
        match nl.create_veth(&host, self.bridge.index, CONTAINER_IFNAME, &ns) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if !nl.delete_link(&host)? {
                    return Err(Error::exists(format!(
                        "the network namespace of process {pid} already has an interface {CONTAINER_IFNAME}"
                    )));
                }
                // Usually the end of the previous run, which the kernel had not yet deleted.
                self.logger
                    .debug(&format!("replaced the stale interface {host}"));
                nl.create_veth(&host, self.bridge.index, CONTAINER_IFNAME, &ns)?;
            }
            Err(e) => return Err(e),
        }
        let configured = (|| {
            let mut inner = Netlink::open_in(&ns)?;
            let eth0 = inner.link(CONTAINER_IFNAME)?.ok_or_else(|| {
                Error::not_found(format!(
                    "{CONTAINER_IFNAME} vanished from the network namespace of process {pid}"
                ))
            })?;
            let addr = Ipv4Network::new(p.ip, p.prefix)
                .map_err(|e| Error::invalid(format!("invalid address {}: {e}", p.ip)))?;
            inner.add_ipv4_addr(eth0.index, CONTAINER_IFNAME, addr)?;
            inner.set_up(eth0.index, CONTAINER_IFNAME)?;
            inner.add_default_route(p.gateway, eth0.index)?;
            self.iptables.add(&p.mappings)
        })();
        if let Err(e) = configured {
            if let Err(cleanup) = nl.delete_link(&host) {
                self.logger
                    .warn(&format!("removing {host} after a failed attach: {cleanup}"));
            }
            return Err(e.context(format_args!(
                "setting up the network of container {container_id}"
            )));
        }
        Ok(())
    }

    /// Remove the DNAT rules, delete the host veth if it still exists (it goes away by itself
    /// with the namespace), give the address and ports back. Safe to call twice in a row;
    /// the caller clears the recorded settings afterwards, so that a later call cannot free
    /// values handed out again meanwhile. Every step is tried; the first error is returned.
    pub fn release(&self, container_id: &str, settings: &NetworkSettings) -> Result<()> {
        self.release_with(container_id, settings, true)
    }

    /// [`Self::release`] for a container whose processes have all exited: its namespace is
    /// going away, and the kernel deletes the veth pair with it, so the host end is left to
    /// the kernel (deleting it here would wait ~20 ms for an RCU grace period, and hold up the
    /// exit of a short-lived process). A stale end that lingers is replaced by the next
    /// `attach` of that container, or deleted by `restore`.
    pub fn release_after_exit(&self, container_id: &str, settings: &NetworkSettings) -> Result<()> {
        self.release_with(container_id, settings, false)
    }

    fn release_with(
        &self,
        container_id: &str,
        settings: &NetworkSettings,
        delete_veth: bool,
    ) -> Result<()> {
        let mut first: Option<Error> = None;
        let mut note = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        let parsed = if settings.ip_address.is_empty() {
            None
        } else {
            match parse_settings(settings) {
                Ok(p) => Some(p),
                Err(e) => {
                    note(Err(e));
                    None
                }
            }
        };
        // The rule deletion and the veth deletion each wait for the kernel (an RCU grace
        // period, ~10-20 ms): run them side by side.
        let mappings = parsed
            .as_ref()
            .map(|p| p.mappings.as_slice())
            .unwrap_or(&[]);
        let removing = self.iptables.start_remove(mappings);
        if delete_veth {
            note(veth_name(container_id).and_then(|host| {
                Netlink::open()?.delete_link(&host)?;
                Ok(())
            }));
        }
        note(removing.and_then(|r| self.iptables.finish_remove(r, mappings)));
        note(
            self.ipam
                .release(parsed.as_ref().map(|p| p.ip), &public_ports(settings)),
        );
        match first {
            Some(e) => Err(e.context(format_args!(
                "releasing the network of container {container_id}"
            ))),
            None => Ok(()),
        }
    }

    /// At start-up: rebuild the nat chain (flushed, then one DNAT rule per mapping of the
    /// `running` containers, in one transaction; the jumps exactly once), make the pools hold
    /// exactly what the running containers hold, and delete host veths of this runtime on the
    /// bridge that belong to no running container. Conflicts (two containers claiming one
    /// address or port) are logged; the first claim wins.
    pub fn restore(&self, running: &[(String, NetworkSettings)]) -> Result<()> {
        let _lock = self.iptables_lock()?;
        let mut mappings = Vec::new();
        let mut ips = Vec::new();
        let mut ports = Vec::new();
        let mut seen_ips = BTreeSet::new();
        let mut seen_ports = BTreeSet::new();
        let mut veths = BTreeSet::new();
        for (id, settings) in running {
            if let Ok(v) = veth_name(id) {
                veths.insert(v);
            }
            if settings.ip_address.is_empty() {
                continue;
            }
            let p = match parse_settings(settings) {
                Ok(p) => p,
                Err(e) => {
                    self.logger.warn(&format!("container {id}: {e}"));
                    continue;
                }
            };
            if !seen_ips.insert(p.ip) {
                self.logger.warn(&format!(
                    "container {id} claims the address {} another running container holds",
                    p.ip
                ));
                continue;
            }
            ips.push(p.ip);
            for m in p.mappings {
                if seen_ports.insert(m.public) {
                    ports.push(m.public);
                    mappings.push(m);
                } else {
                    self.logger.warn(&format!(
                        "container {id} claims the public port {} another running container holds",
                        m.public
                    ));
                }
            }
        }
        self.iptables.rebuild(&mappings)?;
        for problem in self.ipam.reconcile(&ips, &ports)? {
            self.logger
                .warn(&format!("restoring allocations: {problem}"));
        }
        let mut nl = Netlink::open()?;
        for link in nl.links()? {
            if link.master == Some(self.bridge.index)
                && is_our_veth(&link.name)
                && !veths.contains(&link.name)
            {
                nl.delete_link(&link.name)?;
                self.logger.info(&format!(
                    "deleted {}: no running container uses it",
                    link.name
                ));
            }
        }
        Ok(())
    }
}

/// A public port the user names must not be one a program of the host listens on: the DNAT
/// rule would silently take its connections.
fn check_host_port_free(port: u16) -> Result<()> {
    match TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::in_use(format!(
            "port {port} is already in use on the host"
        ))),
        Err(e) => Err(Error::io(format_args!("checking host port {port}"), e)),
    }
}

/// Containers reach other networks only when the host forwards packets: set
/// `net.ipv4.ip_forward=1` when it is 0 (as docker does), and say so.
fn enable_ip_forward(logger: &Logger) -> Result<()> {
    const PATH: &str = "/proc/sys/net/ipv4/ip_forward";
    let now =
        std::fs::read_to_string(PATH).map_err(|e| Error::io_path("reading", Path::new(PATH), e))?;
    if now.trim() == "1" {
        return Ok(());
    }
    std::fs::write(PATH, b"1").map_err(|e| Error::io_path("writing", Path::new(PATH), e))?;
    logger.info("enabled net.ipv4.ip_forward so that containers reach other networks");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(veth_name(id).unwrap(), "veth0123456789a");
        assert!(is_our_veth(&veth_name(id).unwrap()));
        assert!(veth_name("0123").is_err());
        assert!(veth_name("../../../etc/x").is_err());
        assert!(!is_our_veth("vethABCDEFGHIJK"));
        assert!(!is_our_veth("veth12345"));
    }

    #[test]
    fn settings_are_checked() {
        let mut s = NetworkSettings {
            ip_address: "10.0.3.2".into(),
            ip_prefix_len: 24,
            gateway: "10.0.3.1".into(),
            port_mapping: BTreeMap::from([("80".to_string(), "49153".to_string())]),
        };
        let p = parse_settings(&s).unwrap();
        assert_eq!(
            p.mappings,
            vec![Mapping {
                public: 49153,
                ip: Ipv4Addr::new(10, 0, 3, 2),
                private: 80
            }]
        );
        s.port_mapping.insert("81".into(), "x".into());
        assert!(parse_settings(&s)
            .unwrap_err()
            .message()
            .contains("invalid port \"x\""));
        s.port_mapping.clear();
        s.ip_address = "nope".into();
        assert_eq!(parse_settings(&s).unwrap_err().kind(), ErrorKind::Corrupt);
    }
}
