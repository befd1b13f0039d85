//! A UTC instant that travels as RFC 3339 text.
//!
//! Facts, results and reports carry times as strings so that CEL policies, the
//! JSON API and people reading an evidence pack all see the same value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Seconds since the Unix epoch; `None` when out of range.
    pub fn from_unix(secs: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(secs).ok().map(Self)
    }

    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok().map(Self)
    }

    pub fn parse(text: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339).map(|t| Self(t.to_offset(UtcOffset::UTC)))
    }

    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn inner(&self) -> OffsetDateTime {
        self.0
    }

    /// Whole and fractional days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(&self, later: Timestamp) -> f64 {
        (later.0 - self.0).as_seconds_f64() / 86_400.0
    }

    /// Drops sub-second precision, so that values round-trip through text unchanged.
    pub fn truncate_to_seconds(self) -> Self {
        Self::from_unix(self.unix()).unwrap_or(self)
    }
}

/// The Unix epoch: the value of a time nobody has set.
impl Default for Timestamp {
    fn default() -> Self {
        Self(OffsetDateTime::UNIX_EPOCH)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t.to_offset(UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rfc3339 formatting only fails for years outside 0..=9999.
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0.unix_timestamp()),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&text).map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 time {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let t = Timestamp::from_unix(1_488_891_746).unwrap();
        assert_eq!(t.to_string(), "2017-03-07T13:02:26Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let t = Timestamp::parse("2026-11-22T07:00:00+07:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T00:00:00Z");
    }

    #[test]
    fn rejects_garbage() {
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn days_between() {
        let a = Timestamp::from_unix(0).unwrap();
        let b = Timestamp::from_unix(86_400 * 3 / 2).unwrap();
        assert!((a.days_until(b) - 1.5).abs() < 1e-9);
    }
}
