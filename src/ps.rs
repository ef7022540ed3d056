//! A `ps -ef`-style table of processes (UID PID PPID C STIME TTY TIME CMD), read from
//! `/proc`: what `docker top`, the Engine API's `/containers/{id}/top` and the OCI runtime's
//! `ps` show of a container's processes (its cgroup's pids).

use std::collections::HashMap;

use chrono::{DateTime, Local, TimeZone};

/// The columns of [`table`].
pub const TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// A `/proc` file's text (empty when it cannot be read: the process is gone).
pub fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Clock ticks per second (`/proc`'s unit of CPU time).
pub fn ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// The titles, then one row per process of `pids` that still exists.
pub fn table(pids: &[i32]) -> Vec<Vec<String>> {
    let host = Host::now();
    let now = Local::now();
    let mut rows = vec![TITLES.map(String::from).to_vec()];
    rows.extend(pids.iter().filter_map(|&pid| host.row(pid, now)));
    rows
}

/// A field of `/proc/PID/stat` after the command (0: the state, 1: the parent, ...).
fn stat_fields(pid: i32) -> Option<Vec<u64>> {
    let text = read(&format!("/proc/{pid}/stat"));
    let rest = &text[text.rfind(')')? + 2..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// The host's user names by uid (`/etc/passwd`).
fn user_names() -> HashMap<u32, String> {
    read("/etc/passwd")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f[0].to_string()))
        })
        .collect()
}

/// A terminal's name from `tty_nr` (`?` for none).
fn tty_name(nr: u64) -> String {
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        _ => "?".into(),
    }
}

/// CPU time as ps prints it: `[DD-]HH:MM:SS`.
fn cpu_time(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// What `top` knows of the host: clock ticks, boot time, uptime, user names.
struct Host {
    ticks: u64,
    boot: i64,
    uptime: f64,
    users: HashMap<u32, String>,
}

impl Host {
    fn now() -> Host {
        let boot = read("/proc/stat")
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            .unwrap_or(0);
        let uptime = read("/proc/uptime")
            .split_whitespace()
            .next()
            .and_then(|u| u.parse().ok())
            .unwrap_or(0.0);
        Host {
            ticks: ticks(),
            boot,
            uptime,
            users: user_names(),
        }
    }

    /// One `ps -ef` row: UID PID PPID C STIME TTY TIME CMD; None when the process is gone.
    fn row(&self, pid: i32, now: DateTime<Local>) -> Option<Vec<String>> {
        let f = stat_fields(pid)?;
        let field = |i: usize| f.get(i).copied().unwrap_or(0);
        let (ppid, tty, cpu, start) = (field(1), field(4), field(11) + field(12), field(19));
        let status = read(&format!("/proc/{pid}/status"));
        let uid: u32 = status
            .lines()
            .find_map(|l| {
                l.strip_prefix("Uid:")?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        let started = start as f64 / self.ticks as f64;
        let alive = (self.uptime - started).max(0.01);
        let c = (cpu as f64 / self.ticks as f64 / alive * 100.0) as u64;
        let stime = Local
            .timestamp_opt(self.boot + started as i64, 0)
            .single()
            .map(|t| {
                if t.date_naive() == now.date_naive() {
                    t.format("%H:%M").to_string()
                } else {
                    t.format("%b%d").to_string()
                }
            })
            .unwrap_or_default();
        let cmdline = read(&format!("/proc/{pid}/cmdline"));
        let cmd = if cmdline.is_empty() {
            format!("[{}]", read(&format!("/proc/{pid}/comm")).trim())
        } else {
            cmdline.trim_end_matches('\0').replace('\0', " ")
        };
        Some(vec![
            self.users
                .get(&uid)
                .cloned()
                .unwrap_or_else(|| uid.to_string()),
            pid.to_string(),
            ppid.to_string(),
            c.to_string(),
            stime,
            tty_name(tty),
            cpu_time(cpu / self.ticks),
            cmd,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_fields() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
        assert_eq!(cpu_time(3_725), "01:02:05");
        assert_eq!(cpu_time(90_061), "1-01:01:01");
        let me = std::process::id() as i32;
        let row = Host::now().row(me, Local::now()).unwrap();
        assert_eq!(table(&[me])[1], row);
        assert_eq!(row[1], me.to_string());
        assert_eq!(row[2], std::os::unix::process::parent_id().to_string());
        let cmd = std::fs::read_to_string("/proc/self/cmdline").unwrap();
        assert_eq!(row[7], cmd.trim_end_matches('\0').replace('\0', " "));
    }
}
