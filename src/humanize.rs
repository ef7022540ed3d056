//! Human-friendly durations, as v0.1.0's `HumanDuration` printed them (`About a minute`,
//! `5 hours`, `3 weeks`), and sizes as docker's `go-units` prints them (`1.5MiB`, `3.2kB`).

use chrono::TimeDelta;

pub fn duration(d: TimeDelta) -> String {
    let seconds = d.num_seconds();
    let minutes = d.num_minutes();
    let hours = d.num_hours();
    if seconds < 1 {
        "Less than a second".to_string()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 3 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// `v` with `digits` significant digits and no trailing zeros (Go's `%.Ng` for the values a
/// size has once scaled, below 1024).
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let before = (v.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (digits - before).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(bytes: u64, base: f64, units: &[&str], digits: i32) -> String {
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", significant(v, digits), units[i])
}

/// Binary units with 4 significant digits (go-units' `BytesSize`: `1.523MiB`).
pub fn bytes_binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// Decimal units with 3 significant digits (go-units' `HumanSizeWithPrecision(v, 3)`:
/// `1.05kB`).
pub fn bytes_decimal(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

/// Decimal units with 4 significant digits (go-units' `HumanSize`, as docker prints a
/// prune's "Total reclaimed space": `1.234MB`).
pub fn bytes_human(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(bytes_binary(0), "0B");
        assert_eq!(bytes_binary(1536 << 10), "1.5MiB");
        assert_eq!(bytes_binary(64 << 20), "64MiB");
        assert_eq!(bytes_binary(1_596_996), "1.523MiB");
        assert_eq!(bytes_decimal(648), "648B");
        assert_eq!(bytes_decimal(1_050), "1.05kB");
        assert_eq!(bytes_decimal(12_345_678), "12.3MB");
        assert_eq!(bytes_human(0), "0B");
        assert_eq!(bytes_human(12_345_678), "12.35MB");
    }

    #[test]
    fn v010_wording() {
        assert_eq!(duration(TimeDelta::milliseconds(200)), "Less than a second");
        assert_eq!(duration(TimeDelta::seconds(5)), "5 seconds");
        assert_eq!(duration(TimeDelta::seconds(61)), "About a minute");
        assert_eq!(duration(TimeDelta::minutes(5)), "5 minutes");
        assert_eq!(duration(TimeDelta::minutes(61)), "About an hour");
        assert_eq!(duration(TimeDelta::hours(30)), "30 hours");
        assert_eq!(duration(TimeDelta::days(3)), "3 days");
        assert_eq!(duration(TimeDelta::days(30)), "4 weeks");
        assert_eq!(duration(TimeDelta::days(200)), "6 months");
        assert_eq!(duration(TimeDelta::days(800)), "2 years");
    }
}
