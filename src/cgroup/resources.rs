//! The resources a container's cgroup is given (the runtime spec's `linux.resources`, which
//! `docker run -m`/`-c` and `docker-runtime-oci update` also speak), checked once, and the
//! cgroup files they become on cgroup v1 and v2 (runc's cgroupfs driver's files and
//! conversions). What this runtime does not write is refused, naming the field, never dropped.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A cgroup hierarchy's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The controllers a container's cgroup uses. On cgroup v1 each is mounted at
/// `/sys/fs/cgroup/NAME` ([`Controller::name`]); on v2 they are one folder's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
    Cpuacct,
    Cpuset,
    Blkio,
    Freezer,
    Hugetlb,
}

impl Controller {
    /// Every controller, in the order folders are made.
    pub const ALL: [Controller; 8] = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Blkio,
        Controller::Freezer,
        Controller::Hugetlb,
    ];

    /// Its v1 name (its folder under `/sys/fs/cgroup` and its line in `/proc/PID/cgroup`).
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Blkio => "blkio",
            Controller::Freezer => "freezer",
            Controller::Hugetlb => "hugetlb",
        }
    }

    /// Its name in a v2 `cgroup.subtree_control` (v1's `blkio` is v2's `io`; `cpuacct` and
    /// the freezer are part of every v2 cgroup).
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Blkio => Some("io"),
            Controller::Cpuacct | Controller::Freezer => None,
            c => Some(c.name()),
        }
    }
}

/// `linux.resources`, as far as this runtime executes it. `None`: not asked for (left as it
/// is); `-1` where the spec allows it: no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// `memory.limit` (bytes).
    pub memory: Option<i64>,
    /// `memory.reservation` (bytes; a soft limit).
    pub memory_reservation: Option<i64>,
    /// `memory.swap`: memory plus swap (bytes), as v1's `memory.memsw.limit_in_bytes`.
    pub memory_swap: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    /// `cpu.shares` (relative weight, 2..=262144; 1024 is the default).
    pub cpu_shares: Option<u64>,
    /// `cpu.quota` per `cpu.period` (microseconds).
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    /// `cpu.cpus`, `cpu.mems`: cpuset lists (`0-2,4`).
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// `pids.limit`.
    pub pids: Option<i64>,
    /// `blockIO.weight` (10..=1000).
    pub blkio_weight: Option<u16>,
    /// `hugepageLimits`, in the spec's order: (page size as the spec writes it, `2MB`, `1GB`,
    /// `64KB`; the limit in bytes, 0 forbidding huge pages of that size).
    pub hugepages: Vec<(String, u64)>,
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::unsupported(format!(
        "the runtime spec asks for {what}, which this runtime does not support"
    ))
}

fn invalid(field: &str, value: &Value, want: &str) -> Error {
    Error::invalid(format!(
        "invalid linux.resources.{field} {value}: want {want}"
    ))
}

/// Takes the known fields out of one section of `linux.resources`; what stays set is refused.
struct Section<'a> {
    name: &'a str,
    fields: Map<String, Value>,
}

impl Section<'_> {
    fn take(&mut self, key: &str) -> Option<Value> {
        self.fields.remove(key).filter(|v| !v.is_null())
    }

    fn int(&mut self, key: &str, ok: impl Fn(i64) -> bool, want: &str) -> Result<Option<i64>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        match v.as_i64() {
            Some(n) if ok(n) => Ok(Some(n)),
            _ => Err(invalid(&format!("{}.{key}", self.name), &v, want)),
        }
    }

    fn string(&mut self, key: &str) -> Result<Option<String>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        match v.as_str() {
            Some("") => Ok(None),
            Some(s) if cpu_list_ok(s) => Ok(Some(s.to_string())),
            _ => Err(invalid(
                &format!("{}.{key}", self.name),
                &v,
                "a list such as 0-2,4",
            )),
        }
    }

    /// Refuse what was not taken (a false or zero `useHierarchy`/`checkBeforeUpdate` and
    /// empty lists change nothing).
    fn done(self) -> Result<()> {
        for (k, v) in self.fields {
            let nothing = v.is_null()
                || v == Value::Bool(false)
                || v.as_array().is_some_and(|a| a.is_empty())
                || (v.as_i64() == Some(0) && k.starts_with("realtime"));
            if !nothing {
                return Err(unsupported(format_args!("{}.{k}", self.name)));
            }
        }
        Ok(())
    }
}

/// A cpuset list: numbers and ranges (`0`, `0-3`, `1,3-4`).
fn cpu_list_ok(s: &str) -> bool {
    s.split(',').all(|part| {
        let mut ends = part.splitn(2, '-');
        let num = |x: Option<&str>| {
            x.is_some_and(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        };
        let (a, b) = (ends.next(), ends.next());
        num(a) && (b.is_none() || num(b))
    })
}

fn section<'a>(all: &mut Map<String, Value>, name: &'a str) -> Section<'a> {
    let fields = match all.remove(name) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    Section { name, fields }
}

/// A huge page size as the spec (and the kernel's `hugetlb.<size>.*` files) write it: a number
/// and `KB`, `MB` or `GB`. Nothing else may reach a file name.
fn page_size_ok(s: &str) -> bool {
    let Some(num) = ["KB", "MB", "GB"].iter().find_map(|u| s.strip_suffix(u)) else {
        return false;
    };
    !num.is_empty() && !num.starts_with('0') && num.bytes().all(|b| b.is_ascii_digit())
}

/// `linux.resources.hugepageLimits`: a list of `{"pageSize": "2MB", "limit": BYTES}`.
fn hugepage_limits(v: Option<Value>) -> Result<Vec<(String, u64)>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| invalid("hugepageLimits", &v, "a list of {pageSize, limit}"))?;
    let mut out: Vec<(String, u64)> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let size = entry.get("pageSize").and_then(Value::as_str).unwrap_or("");
        if !page_size_ok(size) {
            return Err(invalid(
                &format!("hugepageLimits[{i}].pageSize"),
                entry.get("pageSize").unwrap_or(&Value::Null),
                "a huge page size such as 2MB, 1GB or 64KB",
            ));
        }
        let limit = entry.get("limit").cloned().unwrap_or(Value::from(0));
        let bytes = limit.as_u64().ok_or_else(|| {
            invalid(
                &format!("hugepageLimits[{i}].limit"),
                &limit,
                "a number of bytes (0 or more)",
            )
        })?;
        // A size given twice: the last one counts (the kernel's file keeps the last write).
        out.retain(|(s, _)| s != size);
        out.push((size.to_string(), bytes));
    }
    Ok(out)
}

/// A limit in bytes: positive, or -1 for none; 0 means not set (as runc reads it).
fn bytes_ok(n: i64) -> bool {
    n >= -1
}

impl Resources {
    /// Read `linux.resources` (its JSON form, as the spec and `update --resources` give it),
    /// without `devices` (the caller's). A value out of range is an `Invalid` error, a field
    /// this runtime does not write an `Unsupported` one, both naming the field.
    pub fn from_json(v: &Value) -> Result<Resources> {
        let mut all = v.as_object().cloned().unwrap_or_default();
        all.remove("devices");
        let mut r = Resources::default();
        let mut m = section(&mut all, "memory");
        let want = "a number of bytes, or -1 for no limit";
        r.memory = m.int("limit", bytes_ok, want)?.filter(|n| *n != 0);
        r.memory_reservation = m.int("reservation", bytes_ok, want)?.filter(|n| *n != 0);
        r.memory_swap = m.int("swap", bytes_ok, want)?.filter(|n| *n != 0);
        r.swappiness = m
            .int("swappiness", |n| (0..=100).contains(&n), "0 to 100")?
            .map(|n| n as u64);
        r.disable_oom_killer = m.take("disableOOMKiller").and_then(|v| v.as_bool());
        m.done()?;
        let mut c = section(&mut all, "cpu");
        r.cpu_shares = c
            .int(
                "shares",
                |n| n == 0 || (2..=262_144).contains(&n),
                "2 to 262144",
            )?
            .filter(|n| *n != 0)
            .map(|n| n as u64);
        r.cpu_quota = c
            .int(
                "quota",
                |n| n == -1 || n == 0 || n >= 1000,
                "at least 1000 (µs), or -1 for no limit",
            )?
            .filter(|n| *n != 0);
        r.cpu_period = c
            .int(
                "period",
                |n| n == 0 || (1000..=1_000_000).contains(&n),
                "1000 to 1000000 (µs)",
            )?
            .filter(|n| *n != 0)
            .map(|n| n as u64);
        r.cpus = c.string("cpus")?;
        r.mems = c.string("mems")?;
        c.done()?;
        let mut p = section(&mut all, "pids");
        r.pids = p.int(
            "limit",
            |n| n > 0 || n == -1,
            "a positive number of processes, or -1 for no limit",
        )?;
        p.done()?;
        let mut b = section(&mut all, "blockIO");
        r.blkio_weight = b
            .int(
                "weight",
                |n| n == 0 || (10..=1000).contains(&n),
                "10 to 1000",
            )?
            .filter(|n| *n != 0)
            .map(|n| n as u16);
        b.done()?;
        r.hugepages = hugepage_limits(all.remove("hugepageLimits"))?;
        if let (Some(limit), Some(swap)) = (r.memory, r.memory_swap) {
            if limit > 0 && swap > 0 && swap < limit {
                return Err(Error::invalid(format!(
                    "invalid linux.resources.memory.swap {swap}: memory plus swap is below the memory limit {limit}"
                )));
            }
        }
        for (k, v) in all {
            let nothing = v.is_null()
                || v.as_array().is_some_and(|a| a.is_empty())
                || v.as_object()
                    .is_some_and(|o| o.values().all(Value::is_null));
            if !nothing {
                return Err(unsupported(format_args!("the {k:?} resources")));
            }
        }
        Ok(r)
    }

    /// Read the spec's typed `linux.resources` (see [`Resources::from_json`]).
    pub fn from_oci(r: &oci_spec::runtime::LinuxResources) -> Result<Resources> {
        let v = serde_json::to_value(r)
            .map_err(|e| Error::invalid(format!("reading linux.resources: {e}")))?;
        Resources::from_json(&v)
    }

    /// The controllers that have something to write.
    pub fn controllers(&self) -> Vec<Controller> {
        let mut c = Vec::new();
        if self.memory.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.swappiness.is_some()
            || self.disable_oom_killer.is_some()
        {
            c.push(Controller::Memory);
        }
        if self.cpu_shares.is_some() || self.cpu_quota.is_some() || self.cpu_period.is_some() {
            c.push(Controller::Cpu);
        }
        if self.cpus.is_some() || self.mems.is_some() {
            c.push(Controller::Cpuset);
        }
        if self.pids.is_some() {
            c.push(Controller::Pids);
        }
        if self.blkio_weight.is_some() {
            c.push(Controller::Blkio);
        }
        if !self.hugepages.is_empty() {
            c.push(Controller::Hugetlb);
        }
        c
    }

    /// The hugetlb controller's writes (file, value), runc's: `hugetlb.<size>.limit_in_bytes`
    /// on cgroup v1, `hugetlb.<size>.max` on v2, and the same limit on the reservations'
    /// file (`.rsvd.`) where the kernel has one (it also limits what `mmap` reserves, so a
    /// process over the limit fails at `mmap` instead of a `SIGBUS` at its first touch).
    /// `has` says whether the container's hugetlb folder has a file. A page size this kernel
    /// does not have is refused, naming it.
    pub fn hugetlb_writes(
        &self,
        version: Version,
        has: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(String, String)>> {
        let suffix = match version {
            Version::V1 => "limit_in_bytes",
            Version::V2 => "max",
        };
        let mut w = Vec::new();
        for (size, limit) in &self.hugepages {
            let file = format!("hugetlb.{size}.{suffix}");
            if !has(&file) {
                return Err(Error::invalid(format!(
                    "invalid linux.resources.hugepageLimits pageSize {size:?}: this kernel has no huge pages of that size (no {file} in the container's hugetlb cgroup; see /sys/kernel/mm/hugepages)"
                )));
            }
            w.push((file, limit.to_string()));
            let rsvd = format!("hugetlb.{size}.rsvd.{suffix}");
            if has(&rsvd) {
                w.push((rsvd, limit.to_string()));
            }
        }
        Ok(w)
    }

    /// The cgroup v1 writes, in order: (controller, file, value). `has` says whether a
    /// controller's folder has a file (the optional ones: swap accounting, BFQ's weight).
    pub fn v1_writes(
        &self,
        has: &dyn Fn(Controller, &str) -> bool,
        current_memory: Option<i64>,
    ) -> Result<Vec<(Controller, &'static str, String)>> {
        use Controller::*;
        let mut w = Vec::new();
        let memsw = "memory.memsw.limit_in_bytes";
        if self.memory_swap.is_some() && !has(Memory, memsw) {
            return Err(unsupported(
                "a memory+swap limit (memory.swap): this kernel has no swap accounting (memory.memsw.limit_in_bytes)",
            ));
        }
        // The kernel keeps memory <= memory+swap at every step: the one that grows goes
        // first (runc's order).
        let swap_first = match (self.memory, self.memory_swap) {
            (Some(_), Some(-1)) => true,
            (Some(_), Some(swap)) => current_memory.is_some_and(|cur| cur != -1 && cur < swap),
            _ => false,
        };
        let swap = self.memory_swap.map(|s| (Memory, memsw, s.to_string()));
        if swap_first {
            w.extend(swap.clone());
        }
        if let Some(m) = self.memory {
            w.push((Memory, "memory.limit_in_bytes", m.to_string()));
        }
        if !swap_first {
            w.extend(swap);
        }
        if let Some(r) = self.memory_reservation {
            w.push((Memory, "memory.soft_limit_in_bytes", r.to_string()));
        }
        if let Some(s) = self.swappiness {
            w.push((Memory, "memory.swappiness", s.to_string()));
        }
        if let Some(d) = self.disable_oom_killer {
            w.push((Memory, "memory.oom_control", u8::from(d).to_string()));
        }
        if let Some(s) = self.cpu_shares {
            w.push((Cpu, "cpu.shares", s.to_string()));
        }
        if let Some(p) = self.cpu_period {
            w.push((Cpu, "cpu.cfs_period_us", p.to_string()));
        }
        if let Some(q) = self.cpu_quota {
            w.push((Cpu, "cpu.cfs_quota_us", q.to_string()));
        }
        self.cpuset_writes(&mut w);
        if let Some(p) = self.pids {
            w.push((Pids, "pids.max", limit_or_max(p)));
        }
        if let Some(weight) = self.blkio_weight {
            let file = ["blkio.weight", "blkio.bfq.weight"]
                .into_iter()
                .find(|f| has(Blkio, f))
                .ok_or_else(|| {
                    unsupported("blockIO.weight: this kernel has no blkio weight (blkio.weight or blkio.bfq.weight)")
                })?;
            w.push((Blkio, file, weight.to_string()));
        }
        Ok(w)
    }

    fn cpuset_writes(&self, w: &mut Vec<(Controller, &'static str, String)>) {
        if let Some(c) = &self.cpus {
            w.push((Controller::Cpuset, "cpuset.cpus", c.clone()));
        }
        if let Some(m) = &self.mems {
            w.push((Controller::Cpuset, "cpuset.mems", m.clone()));
        }
    }

    /// The cgroup v2 writes (all in one folder), with runc's conversions: `cpu.weight` from
    /// the shares, `cpu.max` "quota period", `memory.swap.max` the swap alone (memory+swap
    /// minus memory). `current_memory`: the limit in place, for an update of the swap alone.
    pub fn v2_writes(
        &self,
        has: &dyn Fn(Controller, &str) -> bool,
        current_memory: Option<i64>,
    ) -> Result<Vec<(Controller, &'static str, String)>> {
        use Controller::*;
        if self.swappiness.is_some() || self.disable_oom_killer == Some(true) {
            return Err(unsupported(
                "memory.swappiness or memory.disableOOMKiller on cgroup v2 (which has neither)",
            ));
        }
        let mut w = Vec::new();
        if let Some(m) = self.memory {
            w.push((Memory, "memory.max", limit_or_max(m)));
        }
        if let Some(swap) = self.memory_swap {
            let value = match (swap, self.memory.or(current_memory)) {
                (-1, _) => "max".to_string(),
                (_, Some(limit)) if limit > 0 => (swap - limit).max(0).to_string(),
                _ => {
                    return Err(Error::invalid(
                        "linux.resources.memory.swap needs a memory limit on cgroup v2",
                    ))
                }
            };
            if !has(Memory, "memory.swap.max") {
                return Err(unsupported(
                    "a memory+swap limit (memory.swap): this kernel has no memory.swap.max",
                ));
            }
            w.push((Memory, "memory.swap.max", value));
        }
        if let Some(r) = self.memory_reservation {
            w.push((Memory, "memory.low", limit_or_max(r)));
        }
        if let Some(s) = self.cpu_shares {
            w.push((Cpu, "cpu.weight", cpu_weight(s).to_string()));
        }
        if self.cpu_quota.is_some() || self.cpu_period.is_some() {
            let mut v = match self.cpu_quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            if let Some(p) = self.cpu_period {
                v = format!("{v} {p}");
            }
            w.push((Cpu, "cpu.max", v));
        }
        self.cpuset_writes(&mut w);
        if let Some(p) = self.pids {
            w.push((Pids, "pids.max", limit_or_max(p)));
        }
        if let Some(weight) = self.blkio_weight {
            if has(Blkio, "io.bfq.weight") {
                w.push((Blkio, "io.bfq.weight", weight.to_string()));
            } else {
                // runc's conversion of 10..=1000 to io.weight's 1..=10000.
                let v = 1 + (u64::from(weight) - 10) * 9999 / 990;
                w.push((Blkio, "io.weight", v.to_string()));
            }
        }
        Ok(w)
    }
}

fn limit_or_max(n: i64) -> String {
    if n < 0 {
        "max".into()
    } else {
        n.to_string()
    }
}

/// runc's conversion of v1 shares (2..=262144) to v2's `cpu.weight` (1..=10000).
fn cpu_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all_files(_: Controller, _: &str) -> bool {
        true
    }

    #[test]
    fn every_field_reads_and_becomes_v1_and_v2_files() {
        let r = Resources::from_json(&json!({
            "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20,
                       "swappiness": 10, "disableOOMKiller": false},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0",
                    "realtimeRuntime": 0},
            "pids": {"limit": 5},
            "blockIO": {"weight": 300},
            "devices": [{"allow": false, "access": "rwm"}],
            "hugepageLimits": []
        }))
        .unwrap();
        assert_eq!(r.pids, Some(5));
        let v1 = r.v1_writes(&all_files, Some(-1)).unwrap();
        let files: Vec<String> = v1.iter().map(|(_, f, v)| format!("{f}={v}")).collect();
        assert_eq!(
            files,
            [
                "memory.limit_in_bytes=67108864",
                "memory.memsw.limit_in_bytes=134217728",
                "memory.soft_limit_in_bytes=33554432",
                "memory.swappiness=10",
                "memory.oom_control=0",
                "cpu.shares=512",
                "cpu.cfs_period_us=100000",
                "cpu.cfs_quota_us=50000",
                "cpuset.cpus=0",
                "cpuset.mems=0",
                "pids.max=5",
                "blkio.weight=300"
            ]
        );
        let mut r2 = r.clone();
        r2.swappiness = None;
        r2.disable_oom_killer = None;
        let v2 = r2.v2_writes(&all_files, None).unwrap();
        let files: Vec<String> = v2.iter().map(|(_, f, v)| format!("{f}={v}")).collect();
        assert_eq!(
            files,
            [
                "memory.max=67108864",
                "memory.swap.max=67108864",
                "memory.low=33554432",
                "cpu.weight=20",
                "cpu.max=50000 100000",
                "cpuset.cpus=0",
                "cpuset.mems=0",
                "pids.max=5",
                "io.bfq.weight=300"
            ]
        );
        // v2 has no swappiness.
        assert!(r.v2_writes(&all_files, None).is_err());
    }

    /// Kubelet's form: every page size of the host, most at 0 (no huge pages for the pod).
    #[test]
    fn hugepage_limits_become_the_hugetlb_files_of_their_size() {
        let r = Resources::from_json(&json!({"hugepageLimits": [
            {"pageSize": "2MB", "limit": 0}, {"pageSize": "1GB", "limit": 1u64 << 30},
            {"pageSize": "64KB"}
        ]}))
        .unwrap();
        assert_eq!(r.controllers(), [Controller::Hugetlb]);
        // This kernel: 2MB and 1GB pages, reservations counted for 2MB only (a kernel before
        // 5.7 has no .rsvd. files at all).
        let files = [
            "hugetlb.2MB.max",
            "hugetlb.2MB.rsvd.max",
            "hugetlb.1GB.max",
            "hugetlb.64KB.max",
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.1GB.limit_in_bytes",
            "hugetlb.1GB.rsvd.limit_in_bytes",
            "hugetlb.64KB.limit_in_bytes",
        ];
        let has = |f: &str| files.contains(&f);
        let joined = |w: Vec<(String, String)>| -> Vec<String> {
            w.into_iter().map(|(f, v)| format!("{f}={v}")).collect()
        };
        assert_eq!(
            joined(r.hugetlb_writes(Version::V2, &has).unwrap()),
            [
                "hugetlb.2MB.max=0",
                "hugetlb.2MB.rsvd.max=0",
                "hugetlb.1GB.max=1073741824",
                "hugetlb.64KB.max=0"
            ]
        );
        assert_eq!(
            joined(r.hugetlb_writes(Version::V1, &has).unwrap()),
            [
                "hugetlb.2MB.limit_in_bytes=0",
                "hugetlb.1GB.limit_in_bytes=1073741824",
                "hugetlb.1GB.rsvd.limit_in_bytes=1073741824",
                "hugetlb.64KB.limit_in_bytes=0"
            ]
        );
        // A size the kernel does not have: named, nothing written.
        let r = Resources::from_json(&json!({"hugepageLimits": [
            {"pageSize": "2MB", "limit": 0}, {"pageSize": "16GB", "limit": 0}
        ]}))
        .unwrap();
        let e = r.hugetlb_writes(Version::V2, &has).unwrap_err();
        assert!(e.message().contains("pageSize \"16GB\""), "{e}");
        assert!(e.message().contains("no hugetlb.16GB.max"), "{e}");
        // An empty list asks for nothing.
        let none = Resources::from_json(&json!({"hugepageLimits": []})).unwrap();
        assert_eq!(none, Resources::default());
        assert!(page_size_ok("2MB") && page_size_ok("64KB") && page_size_ok("1GB"));
        for bad in ["", "MB", "2mb", "2 MB", "2TB", "0MB", "-2MB", "2MB/x"] {
            assert!(!page_size_ok(bad), "{bad}");
        }
    }

    #[test]
    fn runc_conversions() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262_144), 10_000);
        let r = Resources {
            cpu_quota: Some(-1),
            pids: Some(-1),
            memory: Some(-1),
            ..Resources::default()
        };
        let v2 = r.v2_writes(&all_files, None).unwrap();
        assert!(v2.contains(&(Controller::Cpu, "cpu.max", "max".into())));
        assert!(v2.contains(&(Controller::Pids, "pids.max", "max".into())));
        assert!(v2.contains(&(Controller::Memory, "memory.max", "max".into())));
        // A growing memory+swap goes before the memory limit.
        let up = Resources {
            memory: Some(200),
            memory_swap: Some(400),
            ..Resources::default()
        };
        let w = up.v1_writes(&all_files, Some(100)).unwrap();
        assert_eq!(w[0].1, "memory.memsw.limit_in_bytes");
        let w = up.v1_writes(&all_files, Some(1000)).unwrap();
        assert_eq!(w[0].1, "memory.limit_in_bytes");
    }

    #[test]
    fn bad_values_and_unsupported_fields_are_named() {
        for (v, kind, what) in [
            (
                json!({"pids": {"limit": -5}}),
                "InvalidArgument",
                "pids.limit -5",
            ),
            (
                json!({"pids": {"limit": 0}}),
                "InvalidArgument",
                "pids.limit 0",
            ),
            (
                json!({"cpu": {"cpus": "abc"}}),
                "InvalidArgument",
                "cpu.cpus \"abc\"",
            ),
            (
                json!({"cpu": {"shares": 1}}),
                "InvalidArgument",
                "cpu.shares 1",
            ),
            (
                json!({"memory": {"limit": -2}}),
                "InvalidArgument",
                "memory.limit -2",
            ),
            (
                json!({"memory": {"limit": 100, "swap": 50}}),
                "InvalidArgument",
                "below the memory limit",
            ),
            (
                json!({"cpu": {"realtimeRuntime": 1000}}),
                "Unsupported",
                "cpu.realtimeRuntime",
            ),
            (
                json!({"memory": {"kernel": 1000}}),
                "Unsupported",
                "memory.kernel",
            ),
            (
                json!({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}}),
                "Unsupported",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                json!({"hugepageLimits": [{"pageSize": "2MB/../../cgroup.procs", "limit": 1}]}),
                "InvalidArgument",
                "hugepageLimits[0].pageSize \"2MB/../../cgroup.procs\"",
            ),
            (
                json!({"hugepageLimits": [{"pageSize": "2MB"}, {"pageSize": "02MB"}]}),
                "InvalidArgument",
                "hugepageLimits[1].pageSize \"02MB\"",
            ),
            (
                json!({"hugepageLimits": [{"pageSize": "1GB", "limit": -1}]}),
                "InvalidArgument",
                "hugepageLimits[0].limit -1",
            ),
            (
                json!({"hugepageLimits": {"pageSize": "1GB"}}),
                "InvalidArgument",
                "hugepageLimits {",
            ),
        ] {
            let e = Resources::from_json(&v).unwrap_err();
            assert_eq!(format!("{:?}", e.kind()), kind, "{e}");
            assert!(e.message().contains(what), "{what}: {e}");
        }
        assert!(cpu_list_ok("0-3,5") && !cpu_list_ok("1-") && !cpu_list_ok(""));
        // Missing kernel files are refused, not skipped.
        let swap = Resources {
            memory: Some(100),
            memory_swap: Some(200),
            ..Resources::default()
        };
        let e = swap
            .v1_writes(&|_, f| f != "memory.memsw.limit_in_bytes", None)
            .unwrap_err();
        assert!(e.message().contains("no swap accounting"), "{e}");
    }
}
