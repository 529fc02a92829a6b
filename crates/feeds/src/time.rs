//! The date formats feeds use: RFC 3339, NVD's zone-less timestamps, plain dates.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses a timestamp; zone-less values are taken as UTC (NVD publishes them so).
pub(crate) fn datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(d.with_timezone(&Utc));
    }
    date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

pub(crate) fn date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_timestamps() {
        assert!(datetime("2025-05-21T03:55:28.891Z").is_some());
        assert!(datetime("2025-05-13T16:15:32.330").is_some());
        assert!(datetime("2025-05-13T00:00:00+00:00").is_some());
        assert!(datetime("2023-07-27T00:00:00+0000").is_some());
        assert_eq!(
            datetime("2025-05-19").unwrap().to_rfc3339(),
            "2025-05-19T00:00:00+00:00"
        );
        assert!(datetime("yesterday").is_none());
        assert_eq!(date("2025-06-09"), NaiveDate::from_ymd_opt(2025, 6, 9));
    }
}
