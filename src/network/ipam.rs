//! The runtime's own allocators, persisted under `ROOT/network/` so that a restarted runtime
//! (or a second process on the same root) never re-issues an address or a port that a container
//! still holds. Each operation takes the pool's lock file, reads the state, changes it, and
//! writes it back atomically before returning: the disk is the journal.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::alloc::{IpAllocator, PortAllocator};
use crate::error::Result;
use crate::fsutil::{self, FileLock};

const STATE_MODE: u32 = 0o600;

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

    /// Lock, load (or make fresh when absent or made for another pool), apply `f`, save when it
    /// succeeded. A corrupt state file is an error naming it, never silently replaced.
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
        let _lock = FileLock::acquire(&self.dir.join(".lock"))?;
        let path = self.dir.join(file);
        let mut state = match fsutil::read_json_opt::<A>(&path)? {
            Some(s) if same_pool(&s) => s,
            _ => fresh()?,
        };
        let out = f(&mut state)?;
        fsutil::write_json_atomic(&path, &state, STATE_MODE)?;
        Ok(out)
    }

    fn update_ips<T>(&self, f: impl FnOnce(&mut IpAllocator) -> Result<T>) -> Result<T> {
        self.update(
            "ip-allocations.json",
            || IpAllocator::new(&self.subnet),
            |a: &IpAllocator| a.cidr() == self.subnet,
            f,
        )
    }

    fn update_ports<T>(&self, f: impl FnOnce(&mut PortAllocator) -> Result<T>) -> Result<T> {
        self.update(
            "port-allocations.json",
            || PortAllocator::new(self.ports.0, self.ports.1),
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

    /// The addresses and ports held now, as recorded on disk.
    pub fn held(&self) -> Result<(Vec<Ipv4Addr>, Vec<u16>)> {
        let ips = self.update_ips(|a| Ok(a.allocated().collect()))?;
        let ports = self.update_ports(|a| Ok(a.allocated().collect()))?;
        Ok((ips, ports))
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
}
