//! Address and port allocators. v0.1.0 pre-filled a channel with every value of the pool (16
//! million entries for a /8); here creation is O(1): the pool is a range, the allocated values a
//! sorted set, and a cursor walks forward so a released value is not handed out again at once.
//! A value is never handed out twice; exhaustion, a double release and a value outside the pool
//! are errors naming the value.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// The first and last TCP port handed out for port mappings (v0.1.0's range).
pub const DEFAULT_PORT_RANGE: (u16, u16) = (49153, 65535);

/// Why a range operation failed; the typed allocators turn it into a message.
#[derive(Debug, PartialEq, Eq)]
enum RangeError {
    Exhausted,
    OutOfRange,
    Reserved,
    Taken,
    NotAllocated,
}

/// The pool `lo..=hi` minus a few reserved values, with the allocated values in a sorted set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeAllocator {
    lo: u32,
    hi: u32,
    reserved: Vec<u32>,
    allocated: BTreeSet<u32>,
    next: u32,
}

impl RangeAllocator {
    fn new(lo: u32, hi: u32, reserved: Vec<u32>) -> Self {
        RangeAllocator {
            lo,
            hi,
            reserved,
            allocated: BTreeSet::new(),
            next: lo,
        }
    }

    fn capacity(&self) -> u64 {
        let reserved_in = self
            .reserved
            .iter()
            .filter(|r| (self.lo..=self.hi).contains(*r))
            .count() as u64;
        u64::from(self.hi - self.lo) + 1 - reserved_in
    }

    fn acquire(&mut self) -> std::result::Result<u32, RangeError> {
        if self.allocated.len() as u64 >= self.capacity() {
            return Err(RangeError::Exhausted);
        }
        let start = if (self.lo..=self.hi).contains(&self.next) {
            self.next
        } else {
            self.lo
        };
        // The pool is not full, so one of the two searches finds a free value.
        let c = self
            .first_free_from(start)
            .or_else(|| self.first_free_from(self.lo))
            .ok_or(RangeError::Exhausted)?;
        self.allocated.insert(c);
        self.next = if c == self.hi { self.lo } else { c + 1 };
        Ok(c)
    }

    /// The smallest free value at or above `from`. Runs of allocated values are walked through
    /// the sorted set, not looked up one at a time.
    fn first_free_from(&self, from: u32) -> Option<u32> {
        let mut cand = u64::from(from);
        let mut taken = self.allocated.range(from..).peekable();
        while cand <= u64::from(self.hi) {
            if self.reserved.contains(&(cand as u32)) {
                cand += 1;
                continue;
            }
            match taken.peek() {
                Some(&&a) if u64::from(a) < cand => {
                    taken.next();
                }
                Some(&&a) if u64::from(a) == cand => {
                    taken.next();
                    cand += 1;
                }
                _ => return Some(cand as u32),
            }
        }
        None
    }

    fn check(&self, v: u32) -> std::result::Result<(), RangeError> {
        if !(self.lo..=self.hi).contains(&v) {
            Err(RangeError::OutOfRange)
        } else if self.reserved.contains(&v) {
            Err(RangeError::Reserved)
        } else {
            Ok(())
        }
    }

    fn acquire_specific(&mut self, v: u32) -> std::result::Result<(), RangeError> {
        self.check(v)?;
        if !self.allocated.insert(v) {
            return Err(RangeError::Taken);
        }
        Ok(())
    }

    fn release(&mut self, v: u32) -> std::result::Result<(), RangeError> {
        self.check(v)?;
        if !self.allocated.remove(&v) {
            return Err(RangeError::NotAllocated);
        }
        Ok(())
    }

    fn is_allocated(&self, v: u32) -> bool {
        self.allocated.contains(&v)
    }

    fn allocated(&self) -> impl Iterator<Item = u32> + '_ {
        self.allocated.iter().copied()
    }
}

/// Addresses of an IPv4 subnet minus its network address, its broadcast address and the
/// gateway (the bridge's own address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAllocator {
    network: Ipv4Network,
    gateway: Ipv4Addr,
    pool: RangeAllocator,
}

/// Parse `CIDR` text into the subnet and its gateway: `10.0.3.1/24` names the gateway itself;
/// `10.0.3.0/24` (the network address) means the first host, `10.0.3.1`.
pub fn parse_subnet(cidr: &str) -> Result<(Ipv4Network, Ipv4Addr)> {
    let net = Ipv4Network::from_str(cidr.trim())
        .map_err(|e| Error::invalid(format!("invalid IPv4 CIDR {cidr:?}: {e}")))?;
    if !cidr.contains('/') {
        return Err(Error::invalid(format!(
            "invalid IPv4 CIDR {cidr:?}: missing the /prefix length"
        )));
    }
    if net.prefix() > 30 {
        return Err(Error::invalid(format!(
            "subnet {cidr} has no usable host address besides the gateway (need a prefix of /30 or shorter)"
        )));
    }
    let network = Ipv4Network::new(net.network(), net.prefix())
        .map_err(|e| Error::invalid(format!("invalid IPv4 CIDR {cidr:?}: {e}")))?;
    let gateway = if net.ip() == net.network() {
        Ipv4Addr::from(u32::from(net.network()) + 1)
    } else {
        net.ip()
    };
    if gateway == net.broadcast() {
        return Err(Error::invalid(format!(
            "gateway {gateway} of {cidr} is the broadcast address"
        )));
    }
    Ok((network, gateway))
}

impl IpAllocator {
    /// An allocator over `cidr` (see [`parse_subnet`]). O(1) whatever the subnet size.
    pub fn new(cidr: &str) -> Result<Self> {
        let (network, gateway) = parse_subnet(cidr)?;
        let lo = u32::from(network.network()) + 1;
        let hi = u32::from(network.broadcast()) - 1;
        Ok(IpAllocator {
            network,
            gateway,
            pool: RangeAllocator::new(lo, hi, vec![u32::from(gateway)]),
        })
    }

    pub fn network(&self) -> Ipv4Network {
        self.network
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The subnet as `GATEWAY/PREFIX`, the form [`IpAllocator::new`] takes.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.gateway, self.network.prefix())
    }

    fn error(&self, e: RangeError, ip: Ipv4Addr) -> Error {
        let net = self.network;
        match e {
            RangeError::Exhausted => Error::new(
                ErrorKind::Exhausted,
                format!("no free IP address left in {net}"),
            ),
            RangeError::OutOfRange => {
                Error::invalid(format!("address {ip} is not a host address of {net}"))
            }
            RangeError::Reserved => Error::in_use(format!("address {ip} is the gateway of {net}")),
            RangeError::Taken => Error::in_use(format!("address {ip} is already allocated")),
            RangeError::NotAllocated => Error::invalid(format!("address {ip} is not allocated")),
        }
    }

    pub fn acquire(&mut self) -> Result<Ipv4Addr> {
        self.pool
            .acquire()
            .map(Ipv4Addr::from)
            .map_err(|e| self.error(e, Ipv4Addr::UNSPECIFIED))
    }

    pub fn acquire_specific(&mut self, ip: Ipv4Addr) -> Result<()> {
        self.pool
            .acquire_specific(u32::from(ip))
            .map_err(|e| self.error(e, ip))
    }

    pub fn release(&mut self, ip: Ipv4Addr) -> Result<()> {
        self.pool
            .release(u32::from(ip))
            .map_err(|e| self.error(e, ip))
    }

    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.pool.is_allocated(u32::from(ip))
    }

    pub fn allocated(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.pool.allocated().map(Ipv4Addr::from)
    }
}

/// TCP ports of a range (default 49153-65535) for public port mappings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortAllocator {
    pool: RangeAllocator,
}

impl PortAllocator {
    /// An allocator over `first..=last`; a reversed range or port 0 is an error.
    pub fn new(first: u16, last: u16) -> Result<Self> {
        if first == 0 || first > last {
            return Err(Error::invalid(format!(
                "invalid port range {first}-{last}: want 1 <= first <= last <= 65535"
            )));
        }
        Ok(PortAllocator {
            pool: RangeAllocator::new(u32::from(first), u32::from(last), Vec::new()),
        })
    }

    pub fn range(&self) -> (u16, u16) {
        (self.pool.lo as u16, self.pool.hi as u16)
    }

    fn error(&self, e: RangeError, port: u32) -> Error {
        let (lo, hi) = self.range();
        match e {
            RangeError::Exhausted => Error::new(
                ErrorKind::Exhausted,
                format!("no free port left in {lo}-{hi}"),
            ),
            RangeError::OutOfRange | RangeError::Reserved => {
                Error::invalid(format!("port {port} is outside the range {lo}-{hi}"))
            }
            RangeError::Taken => Error::in_use(format!("port {port} is already allocated")),
            RangeError::NotAllocated => Error::invalid(format!("port {port} is not allocated")),
        }
    }

    pub fn acquire(&mut self) -> Result<u16> {
        self.pool
            .acquire()
            .map(|p| p as u16)
            .map_err(|e| self.error(e, 0))
    }

    pub fn acquire_specific(&mut self, port: u16) -> Result<()> {
        self.pool
            .acquire_specific(u32::from(port))
            .map_err(|e| self.error(e, u32::from(port)))
    }

    pub fn release(&mut self, port: u16) -> Result<()> {
        self.pool
            .release(u32::from(port))
            .map_err(|e| self.error(e, u32::from(port)))
    }

    pub fn is_allocated(&self, port: u16) -> bool {
        self.pool.is_allocated(u32::from(port))
    }

    pub fn allocated(&self) -> impl Iterator<Item = u16> + '_ {
        self.pool.allocated().map(|p| p as u16)
    }
}

impl Default for PortAllocator {
    fn default() -> Self {
        PortAllocator {
            pool: RangeAllocator::new(
                u32::from(DEFAULT_PORT_RANGE.0),
                u32::from(DEFAULT_PORT_RANGE.1),
                Vec::new(),
            ),
        }
    }
}

impl fmt::Display for IpAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (gateway {})", self.network, self.gateway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_slash_30_has_one_address_besides_the_gateway() {
        let mut a = IpAllocator::new("10.9.0.1/30").unwrap();
        assert_eq!(a.acquire().unwrap(), Ipv4Addr::new(10, 9, 0, 2));
        let e = a.acquire().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Exhausted);
        assert!(e.message().contains("10.9.0.0/30"), "{}", e.message());
    }

    #[test]
    fn network_address_means_first_host_is_gateway() {
        let a = IpAllocator::new("10.1.0.0/16").unwrap();
        assert_eq!(a.gateway(), Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(a.cidr(), "10.1.0.1/16");
    }

    #[test]
    fn bad_cidrs_are_clear_errors() {
        for bad in [
            "10.0.0.0/33",
            "abc",
            "10.0.0.1",
            "10.0.0.1/31",
            "10.0.0.1/32",
            "",
        ] {
            let e = IpAllocator::new(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(!e.message().is_empty());
        }
    }

    #[test]
    fn never_hands_out_a_value_twice_and_skips_gateway() {
        let mut a = IpAllocator::new("192.168.77.1/24").unwrap();
        let mut seen = HashSet::new();
        for _ in 0..253 {
            let ip = a.acquire().unwrap();
            assert_ne!(ip, a.gateway());
            assert!(seen.insert(ip), "{ip} handed out twice");
        }
        assert_eq!(a.acquire().unwrap_err().kind(), ErrorKind::Exhausted);
        // Release one in the middle: it is the only one left and comes back.
        a.release(Ipv4Addr::new(192, 168, 77, 100)).unwrap();
        assert_eq!(a.acquire().unwrap(), Ipv4Addr::new(192, 168, 77, 100));
    }

    #[test]
    fn released_values_are_not_reused_at_once() {
        let mut a = IpAllocator::new("10.2.0.1/24").unwrap();
        let first = a.acquire().unwrap();
        a.release(first).unwrap();
        assert_ne!(a.acquire().unwrap(), first);
    }

    #[test]
    fn specific_double_release_and_outside_are_errors() {
        let mut a = IpAllocator::new("10.3.0.1/24").unwrap();
        let ip = Ipv4Addr::new(10, 3, 0, 50);
        a.acquire_specific(ip).unwrap();
        assert_eq!(a.acquire_specific(ip).unwrap_err().kind(), ErrorKind::InUse);
        a.release(ip).unwrap();
        let e = a.release(ip).unwrap_err();
        assert!(e.message().contains("not allocated"));
        let out = a.acquire_specific(Ipv4Addr::new(10, 4, 0, 1)).unwrap_err();
        assert!(out.message().contains("not a host address"));
        assert!(a.acquire_specific(Ipv4Addr::new(10, 3, 0, 255)).is_err());
        assert!(a.acquire_specific(Ipv4Addr::new(10, 3, 0, 0)).is_err());
        assert!(a.acquire_specific(a.gateway()).is_err());
    }

    #[test]
    fn slash_8_is_cheap_and_works() {
        let mut a = IpAllocator::new("10.0.0.1/8").unwrap();
        for _ in 0..1000 {
            a.acquire().unwrap();
        }
        assert_eq!(a.allocated().count(), 1000);
    }

    #[test]
    fn ports_default_range_and_errors() {
        let mut p = PortAllocator::default();
        assert_eq!(p.acquire().unwrap(), 49153);
        p.acquire_specific(60000).unwrap();
        let e = p.acquire_specific(60000).unwrap_err();
        assert_eq!(e.message(), "port 60000 is already allocated");
        assert!(p
            .acquire_specific(80)
            .unwrap_err()
            .message()
            .contains("outside"));
        assert!(PortAllocator::new(2000, 1000).is_err());
        let mut small = PortAllocator::new(5000, 5001).unwrap();
        small.acquire().unwrap();
        small.acquire().unwrap();
        assert_eq!(small.acquire().unwrap_err().kind(), ErrorKind::Exhausted);
        small.release(5000).unwrap();
        assert!(small.release(5000).is_err());
        assert_eq!(small.acquire().unwrap(), 5000);
    }

    #[test]
    fn wraps_around_at_the_top() {
        let mut p = PortAllocator::new(100, 102).unwrap();
        assert_eq!(p.acquire().unwrap(), 100);
        assert_eq!(p.acquire().unwrap(), 101);
        p.release(100).unwrap();
        assert_eq!(p.acquire().unwrap(), 102);
        assert_eq!(p.acquire().unwrap(), 100);
    }
}
