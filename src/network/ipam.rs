//! The runtime's own allocators, persisted under `ROOT/network/` so that a restarted runtime
//! (or a second process on the same root) never re-issues an address or a port that a container
//! still holds. Each operation takes the pool's lock file, reads the state, changes it, and
//! writes it back atomically before returning: the disk is the journal.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::alloc::{IpAllocator, PortAllocator};
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};

const STATE_MODE: u32 = 0o600;
const IP_FILE: &str = "ip-allocations.json";
const PORT_FILE: &str = "port-allocations.json";
/// Public ports named explicitly (`-p PUBLIC:PRIVATE`) that lie outside the pool's range.
const OUTSIDE_FILE: &str = "explicit-ports.json";

/// Whether the pools under `dir` hold any address or port, read without the lock (every state
/// file is replaced atomically, so each read sees a whole file). A file that cannot be read
/// counts as holding something: the network manager's restore then reports it.
pub fn holds_anything(dir: &Path) -> bool {
    let non_empty = |file: &str, key: &str| -> bool {
        match fsutil::read_json_opt::<serde_json::Value>(&dir.join(file)) {
            Ok(None) => false,
            Ok(Some(v)) => {
                let set = if key.is_empty() {
                    &v
                } else {
                    &v[key]["allocated"]
                };
                set.as_array().is_none_or(|a| !a.is_empty())
            }
            Err(_) => true,
        }
    };
    non_empty(IP_FILE, "pool") || non_empty(PORT_FILE, "pool") || non_empty(OUTSIDE_FILE, "")
}

/// Every pool, loaded together under one lock.
#[derive(Debug, Clone)]
struct Pools {
    ips: IpAllocator,
    ports: PortAllocator,
    outside: BTreeSet<u16>,
}

impl Pools {
    fn take_port(&mut self, port: u16) -> Result<()> {
        let (lo, hi) = self.ports.range();
        if (lo..=hi).contains(&port) {
            self.ports.acquire_specific(port)
        } else if self.outside.insert(port) {
            Ok(())
        } else {
            Err(Error::in_use(format!("port {port} is already allocated")))
        }
    }

    fn free_port(&mut self, port: u16) {
        if self.ports.is_allocated(port) {
            let _ = self.ports.release(port);
        }
        self.outside.remove(&port);
    }
}

/// Persistent IP and port pools of one runtime root.
#[derive(Debug)]
pub struct Ipam {
    dir: PathBuf,
    subnet: String,
    ports: (u16, u16),
}

impl Ipam {
    /// Open (creating `dir`, mode 0700) the pools for `subnet` (`GATEWAY/PREFIX`) and the port
    /// range `ports`. Validates both; reads nothing until the first operation.
    pub fn open(dir: &Path, subnet: &str, ports: (u16, u16)) -> Result<Ipam> {
        IpAllocator::new(subnet)?;
        PortAllocator::new(ports.0, ports.1)?;
        fsutil::ensure_dir(dir, 0o700)?;
        Ok(Ipam {
            dir: dir.to_path_buf(),
            subnet: subnet.to_string(),
            ports,
        })
    }

    pub fn subnet(&self) -> &str {
        &self.subnet
    }

    /// Load `file` (or make a fresh pool when absent or made for another pool). A corrupt state
    /// file is an error naming it, never silently replaced. The caller holds the lock.
    fn load<A: DeserializeOwned>(
        &self,
        file: &str,
        fresh: impl Fn() -> Result<A>,
        same_pool: impl Fn(&A) -> bool,
    ) -> Result<A> {
        match fsutil::read_json_opt::<A>(&self.dir.join(file))? {
            Some(s) if same_pool(&s) => Ok(s),
            _ => fresh(),
        }
    }

    fn save<A: Serialize>(&self, file: &str, state: &A) -> Result<()> {
        fsutil::write_json_atomic(&self.dir.join(file), state, STATE_MODE)
    }

    fn lock(&self) -> Result<FileLock> {
        FileLock::acquire(&self.dir.join(".lock"))
    }

    /// Lock, load, apply `f`, save when it succeeded.
    fn update<A, T>(
        &self,
        file: &str,
        fresh: impl Fn() -> Result<A>,
        same_pool: impl Fn(&A) -> bool,
        f: impl FnOnce(&mut A) -> Result<T>,
    ) -> Result<T>
    where
        A: Serialize + DeserializeOwned,
    {
        let _lock = self.lock()?;
        let mut state = self.load(file, fresh, same_pool)?;
        let out = f(&mut state)?;
        self.save(file, &state)?;
        Ok(out)
    }

    fn fresh_ips(&self) -> Result<IpAllocator> {
        IpAllocator::new(&self.subnet)
    }

    fn fresh_ports(&self) -> Result<PortAllocator> {
        PortAllocator::new(self.ports.0, self.ports.1)
    }

    /// Lock once, load every pool, apply `f`, and save the pools it changed. When `f` fails
    /// nothing is saved: a multi-value operation is all or nothing.
    fn update_all<T>(&self, f: impl FnOnce(&mut Pools) -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        let ips = self.load(
            IP_FILE,
            || self.fresh_ips(),
            |a: &IpAllocator| a.cidr() == self.subnet,
        )?;
        let ports = self.load(
            PORT_FILE,
            || self.fresh_ports(),
            |a: &PortAllocator| a.range() == self.ports,
        )?;
        let outside = self.load(OUTSIDE_FILE, || Ok(BTreeSet::new()), |_| true)?;
        let before = Pools {
            ips,
            ports,
            outside,
        };
        let mut pools = before.clone();
        let out = f(&mut pools)?;
        // Ports first: after a crash between the writes a port may stay held with no address
        // (freed again by the next reconcile), never the other way round.
        if pools.ports != before.ports {
            self.save(PORT_FILE, &pools.ports)?;
        }
        if pools.outside != before.outside {
            self.save(OUTSIDE_FILE, &pools.outside)?;
        }
        if pools.ips != before.ips {
            self.save(IP_FILE, &pools.ips)?;
        }
        Ok(out)
    }

    fn update_ips<T>(&self, f: impl FnOnce(&mut IpAllocator) -> Result<T>) -> Result<T> {
        self.update(
            IP_FILE,
            || self.fresh_ips(),
            |a: &IpAllocator| a.cidr() == self.subnet,
            f,
        )
    }

    fn update_ports<T>(&self, f: impl FnOnce(&mut PortAllocator) -> Result<T>) -> Result<T> {
        self.update(
            PORT_FILE,
            || self.fresh_ports(),
            |a: &PortAllocator| a.range() == self.ports,
            f,
        )
    }

    pub fn acquire_ip(&self) -> Result<Ipv4Addr> {
        self.update_ips(|a| a.acquire())
    }

    pub fn acquire_ip_specific(&self, ip: Ipv4Addr) -> Result<()> {
        self.update_ips(|a| a.acquire_specific(ip))
    }

    pub fn release_ip(&self, ip: Ipv4Addr) -> Result<()> {
        self.update_ips(|a| a.release(ip))
    }

    pub fn acquire_port(&self) -> Result<u16> {
        self.update_ports(|a| a.acquire())
    }

    pub fn acquire_port_specific(&self, port: u16) -> Result<()> {
        self.update_ports(|a| a.acquire_specific(port))
    }

    pub fn release_port(&self, port: u16) -> Result<()> {
        self.update_ports(|a| a.release(port))
    }

    /// The addresses and ports held now, as recorded on disk (ports of the pool's range and
    /// explicit ones outside it, in order).
    pub fn held(&self) -> Result<(Vec<Ipv4Addr>, Vec<u16>)> {
        self.update_all(|p| {
            let mut ports: Vec<u16> = p
                .ports
                .allocated()
                .chain(p.outside.iter().copied())
                .collect();
            ports.sort_unstable();
            Ok((p.ips.allocated().collect(), ports))
        })
    }

    /// Take an address and one public port per entry of `ports` (the port named, or a free
    /// one of the pool) in one locked step: all or nothing. A named port may lie outside the
    /// pool's range; one already held is an `InUse` error naming it.
    pub fn allocate(&self, ports: &[Option<u16>]) -> Result<(Ipv4Addr, Vec<u16>)> {
        self.update_all(|p| {
            let ip = p.ips.acquire()?;
            let mut taken = Vec::with_capacity(ports.len());
            // Named ports first, so a pool port is never the one a later entry names.
            for port in ports.iter().flatten() {
                p.take_port(*port)?;
            }
            for port in ports {
                taken.push(match port {
                    Some(n) => *n,
                    None => p.ports.acquire()?,
                });
            }
            Ok((ip, taken))
        })
    }

    /// Give back an address and ports in one locked step. Values not held are skipped, so
    /// releasing twice is harmless.
    pub fn release(&self, ip: Option<Ipv4Addr>, ports: &[u16]) -> Result<()> {
        self.update_all(|p| {
            if let Some(ip) = ip.filter(|ip| p.ips.is_allocated(*ip)) {
                p.ips.release(ip)?;
            }
            for port in ports {
                p.free_port(*port);
            }
            Ok(())
        })
    }

    /// Make the pools hold exactly `ips` and `ports` (what the running containers hold):
    /// everything else is freed, and each of these is claimed. Returns a message for each
    /// value that cannot be claimed (outside the subnet, the gateway, given twice).
    pub fn reconcile(&self, ips: &[Ipv4Addr], ports: &[u16]) -> Result<Vec<String>> {
        self.update_all(|p| {
            let mut problems = Vec::new();
            let want_ips: BTreeSet<Ipv4Addr> = ips.iter().copied().collect();
            let want_ports: BTreeSet<u16> = ports.iter().copied().collect();
            let stale: Vec<Ipv4Addr> = p
                .ips
                .allocated()
                .filter(|i| !want_ips.contains(i))
                .collect();
            for ip in stale {
                p.ips.release(ip)?;
            }
            let stale: Vec<u16> = p
                .ports
                .allocated()
                .filter(|i| !want_ports.contains(i))
                .collect();
            for port in stale {
                p.ports.release(port)?;
            }
            p.outside.retain(|port| want_ports.contains(port));
            for ip in &want_ips {
                if !p.ips.is_allocated(*ip) {
                    if let Err(e) = p.ips.acquire_specific(*ip) {
                        problems.push(e.message().to_string());
                    }
                }
            }
            for port in &want_ports {
                if !p.ports.is_allocated(*port) && !p.outside.contains(port) {
                    if let Err(e) = p.take_port(*port) {
                        problems.push(e.message().to_string());
                    }
                }
            }
            Ok(problems)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ipam-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn state_survives_reopen() {
        let d = tempdir("reopen");
        let a = Ipam::open(&d, "10.55.0.1/29", (50000, 50001)).unwrap();
        let ip1 = a.acquire_ip().unwrap();
        let p1 = a.acquire_port().unwrap();
        drop(a);
        let b = Ipam::open(&d, "10.55.0.1/29", (50000, 50001)).unwrap();
        let ip2 = b.acquire_ip().unwrap();
        assert_ne!(ip1, ip2);
        assert_ne!(p1, b.acquire_port().unwrap());
        assert_eq!(b.acquire_port().unwrap_err().kind(), ErrorKind::Exhausted);
        b.release_port(p1).unwrap();
        assert_eq!(b.acquire_port().unwrap(), p1);
        let (ips, ports) = b.held().unwrap();
        assert_eq!(ips, vec![ip1, ip2]);
        assert_eq!(ports.len(), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_state_is_an_error_and_kept() {
        let d = tempdir("corrupt");
        let a = Ipam::open(&d, "10.56.0.1/24", (50000, 50010)).unwrap();
        std::fs::write(d.join("ip-allocations.json"), b"{garbage").unwrap();
        let e = a.acquire_ip().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        assert!(e.message().contains("ip-allocations.json"));
        assert_eq!(
            std::fs::read(d.join("ip-allocations.json")).unwrap(),
            b"{garbage"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn allocate_is_all_or_nothing_and_release_is_idempotent() {
        let d = tempdir("batch");
        let a = Ipam::open(&d, "10.57.0.1/24", (50000, 50001)).unwrap();
        let e = a.allocate(&[None, None, None]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Exhausted);
        assert_eq!(a.held().unwrap(), (vec![], vec![]));

        let (ip, ports) = a.allocate(&[None, Some(8080), Some(50001)]).unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 57, 0, 2));
        assert_eq!(ports, vec![50000, 8080, 50001]);
        // A named port already held, inside or outside the range: nothing more is taken.
        for p in [8080, 50001] {
            let e = a.allocate(&[Some(p)]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InUse);
            assert_eq!(e.message(), format!("port {p} is already allocated"));
        }
        assert_eq!(a.held().unwrap(), (vec![ip], vec![8080, 50000, 50001]));

        a.release(Some(ip), &ports).unwrap();
        a.release(Some(ip), &ports).unwrap();
        assert_eq!(a.held().unwrap(), (vec![], vec![]));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reconcile_holds_exactly_what_is_given() {
        let d = tempdir("reconcile");
        let a = Ipam::open(&d, "10.58.0.1/24", (50000, 50010)).unwrap();
        let (ip1, _) = a.allocate(&[None, Some(7000)]).unwrap();
        let (ip2, p2) = a.allocate(&[None]).unwrap();
        let kept = Ipv4Addr::new(10, 58, 0, 77);
        let problems = a
            .reconcile(
                &[ip2, kept, Ipv4Addr::new(10, 59, 0, 2)],
                &[p2[0], 50009, 7001],
            )
            .unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("10.59.0.2"), "{problems:?}");
        let (ips, ports) = a.held().unwrap();
        assert_eq!(ips, vec![ip2, kept]);
        assert_eq!(ports, vec![7001, p2[0], 50009]);
        assert!(!ips.contains(&ip1));
        // Nothing held is handed out again.
        for _ in 0..8 {
            let (ip, p) = a.allocate(&[None]).unwrap();
            assert!(ip != ip2 && ip != kept);
            assert!(p[0] != p2[0] && p[0] != 50009);
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
