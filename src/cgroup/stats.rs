//! What a container's cgroup has used (`docker stats`): CPU time, memory, processes, block
//! I/O, read from the v1 controllers' files or the v2 folder's.

use std::fs;
use std::path::Path;

use super::group::Cgroup;
use super::resources::Controller;

/// A container's use of its resources at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time of all its processes so far (ns).
    pub cpu_ns: u64,
    /// Memory in use without the inactive file cache (what docker shows), bytes.
    pub memory: u64,
    /// The memory limit (None: none).
    pub memory_limit: Option<u64>,
    /// Its tasks (threads).
    pub pids: u64,
    /// Bytes read from and written to block devices (None: not accounted, as for a v1
    /// container without a blkio folder).
    pub block: Option<(u64, u64)>,
}

fn read(dir: Option<&Path>, file: &str) -> String {
    dir.and_then(|d| fs::read_to_string(d.join(file)).ok())
        .unwrap_or_default()
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// `KEY VALUE` lines (`memory.stat`, `cpu.stat`): the value of `key`.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next().and_then(|v| v.parse().ok()))?
    })
}

/// v1's `blkio.throttle.io_service_bytes_recursive` (`MAJ:MIN Read N`) or v2's `io.stat`
/// (`MAJ:MIN rbytes=N wbytes=N ...`, `v2`): bytes read and written, summed over devices.
fn block_bytes(text: &str, v2: bool) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let pairs: Vec<(&str, &str)> = if v2 {
            f.iter().filter_map(|kv| kv.split_once('=')).collect()
        } else {
            match f[..] {
                [_, op, n] => vec![(op, n)],
                _ => Vec::new(),
            }
        };
        for (k, n) in pairs {
            let n: u64 = n.parse().unwrap_or(0);
            match k {
                "Read" | "rbytes" => r += n,
                "Write" | "wbytes" => w += n,
                _ => {}
            }
        }
    }
    (r, w)
}

impl Cgroup {
    /// The cgroup's use of its resources now (what a hierarchy does not have reads as 0).
    pub fn usage(&self) -> Usage {
        let v2 = self
            .start_dir()
            .filter(|_| self.dir_of(Controller::Cpu) == self.start_dir());
        let mem = self.dir_of(Controller::Memory);
        let stat = read(mem, "memory.stat");
        let (used, limit, inactive) = if v2.is_some() {
            (
                number(&read(mem, "memory.current")),
                number(&read(mem, "memory.max")),
                keyed(&stat, "inactive_file"),
            )
        } else {
            (
                number(&read(mem, "memory.usage_in_bytes")),
                number(&read(mem, "memory.limit_in_bytes")),
                keyed(&stat, "total_inactive_file"),
            )
        };
        let cpu_ns = match v2 {
            Some(d) => keyed(&read(Some(d), "cpu.stat"), "usage_usec").map(|u| u * 1000),
            None => number(&read(self.dir_of(Controller::Cpuacct), "cpuacct.usage")),
        };
        // The container's own tasks: the v2 folder lists exactly them.
        let pids = match self.start_dir() {
            Some(d) => read(Some(d), "cgroup.threads").lines().count() as u64,
            None => number(&read(self.dir_of(Controller::Pids), "pids.current")).unwrap_or(0),
        };
        let blkio = self.dir_of(Controller::Blkio);
        let file = if v2.is_some() {
            "io.stat"
        } else {
            "blkio.throttle.io_service_bytes_recursive"
        };
        let block = blkio
            .filter(|d| d.join(file).exists())
            .map(|d| block_bytes(&read(Some(d), file), file == "io.stat"));
        let used = used.unwrap_or(0);
        Usage {
            cpu_ns: cpu_ns.unwrap_or(0),
            memory: used.saturating_sub(inactive.unwrap_or(0).min(used)),
            // v1 says "no limit" with a huge number.
            memory_limit: limit.filter(|l| *l < 1 << 62),
            pids,
            block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_as_docker_reads_them() {
        assert_eq!(
            keyed("cache 5\ntotal_inactive_file 7\n", "total_inactive_file"),
            Some(7)
        );
        assert_eq!(keyed("usage_usec 12\n", "user_usec"), None);
        let v1 = "8:0 Read 100\n8:0 Write 20\n8:16 Read 1\n8:0 Total 120\nTotal 121\n";
        assert_eq!(block_bytes(v1, false), (101, 20));
        assert_eq!(
            block_bytes("8:0 rbytes=5 wbytes=6 rios=1 wios=1\n", true),
            (5, 6)
        );
    }
}
