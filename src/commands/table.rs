//! Output helpers shared by the listing commands: v0.1.0's tables (Go's `tabwriter` with
//! minimum width 20, padding 3) and its human-readable durations (`5 minutes`).

use chrono::{DateTime, Utc};

/// Lay out `rows` as v0.1.0's `tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)` did: every column
/// but the last is padded to the widest cell plus 3, and at least 20 characters.
pub fn render(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 3).max(20);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// v0.1.0's `HumanDuration`: `Less than a second`, `5 seconds`, `About a minute`, `3 hours`,
/// `2 weeks`... A negative duration (a clock set back) reads as less than a second.
pub fn human_duration(d: chrono::Duration) -> String {
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

/// `human_duration(now - t) + " ago"`, as the CREATED columns show it.
pub fn ago(t: DateTime<Utc>) -> String {
    format!("{} ago", human_duration(Utc::now() - t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn durations_read_as_v010() {
        assert_eq!(
            human_duration(Duration::milliseconds(10)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::seconds(-5)), "Less than a second");
        assert_eq!(human_duration(Duration::seconds(5)), "5 seconds");
        assert_eq!(human_duration(Duration::seconds(90)), "About a minute");
        assert_eq!(human_duration(Duration::minutes(5)), "5 minutes");
        assert_eq!(human_duration(Duration::minutes(70)), "About an hour");
        assert_eq!(human_duration(Duration::hours(30)), "30 hours");
        assert_eq!(human_duration(Duration::days(3)), "3 days");
        assert_eq!(human_duration(Duration::days(21)), "3 weeks");
        assert_eq!(human_duration(Duration::days(120)), "4 months");
        assert_eq!(human_duration(Duration::days(1000)), "2 years");
    }

    #[test]
    fn columns_pad_to_twenty_or_the_widest_plus_three() {
        let rows = vec![
            vec![
                "REPOSITORY".to_string(),
                "TAG".to_string(),
                "ID".to_string(),
            ],
            vec![
                "a-very-long-repository-name".to_string(),
                "latest".to_string(),
                "x".to_string(),
            ],
        ];
        let s = render(&rows);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], format!("{:<30}{:<20}ID", "REPOSITORY", "TAG"));
        assert_eq!(
            lines[1],
            format!("{:<30}{:<20}x", "a-very-long-repository-name", "latest")
        );
    }
}
