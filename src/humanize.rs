//! Human-friendly durations, as v0.1.0's `HumanDuration` printed them (`About a minute`,
//! `5 hours`, `3 weeks`).

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

#[cfg(test)]
mod tests {
    use super::*;

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
