//! Times as Ward stores and sends them: RFC 3339 in UTC with milliseconds
//! (`2025-05-21T10:00:00.000Z`), whatever the fraction; serde helpers for `#[serde(with)]`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The text of a time as Ward writes it.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An RFC 3339 time in any offset, as UTC.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))
}

/// `#[serde(with = "ward_model::timestamp::millis")]` on a `DateTime<Utc>`.
pub mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "ward_model::timestamp::millis_option")]` on an `Option<DateTime<Utc>>`.
pub mod millis_option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_with_milliseconds_in_utc() {
        let t = parse("2025-05-21T12:00:00+02:00").unwrap();
        assert_eq!(format(&t), "2025-05-21T10:00:00.000Z");
        assert_eq!(
            format(&parse("2025-05-21T10:00:00.123456Z").unwrap()),
            "2025-05-21T10:00:00.123Z"
        );
        assert!(parse("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
