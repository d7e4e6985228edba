//! Times and ids as a Rust backend holds them (`SystemTime`,
//! `chrono::DateTime`, `uuid::Uuid`) ⇄ their wire forms.

use crate::Error;
use prost_types::Timestamp;
use std::time::SystemTime;
use uuid::Uuid;

/// A point in time that can travel as a `google.protobuf.Timestamp`, so
/// setters such as [`ListQuery::since`](crate::ListQuery::since) and
/// [`AuditEvent::occurred_at`](crate::AuditEvent::occurred_at) take any of
/// them.
///
/// Implemented for [`SystemTime`], [`prost_types::Timestamp`] and, with the
/// `chrono` feature (on by default), `chrono::DateTime<Tz>`.
///
/// ```
/// use audit_client::IntoTimestamp;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let timestamp = (UNIX_EPOCH + Duration::from_millis(1_500)).into_timestamp();
/// assert_eq!((timestamp.seconds, timestamp.nanos), (1, 500_000_000));
/// ```
pub trait IntoTimestamp {
    /// Converts `self` to a protobuf timestamp.
    fn into_timestamp(self) -> Timestamp;
}

impl IntoTimestamp for Timestamp {
    fn into_timestamp(self) -> Timestamp {
        self
    }
}

impl IntoTimestamp for SystemTime {
    fn into_timestamp(self) -> Timestamp {
        Timestamp::from(self)
    }
}

#[cfg(feature = "chrono")]
impl<Tz: chrono::TimeZone> IntoTimestamp for chrono::DateTime<Tz> {
    fn into_timestamp(self) -> Timestamp {
        Timestamp {
            seconds: self.timestamp(),
            // chrono reads a leap second as 1e9 + n nanoseconds; protobuf
            // has no leap seconds, so it stays in the second before.
            nanos: i32::try_from(self.timestamp_subsec_nanos().min(999_999_999))
                .unwrap_or(999_999_999),
        }
    }
}

/// Converts a protobuf timestamp to a [`SystemTime`].
///
/// ```
/// use audit_client::{IntoTimestamp, timestamp_to_system_time};
/// use std::time::SystemTime;
///
/// let now = SystemTime::now();
/// assert_eq!(timestamp_to_system_time(&now.into_timestamp())?, now);
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn timestamp_to_system_time(timestamp: &Timestamp) -> Result<SystemTime, Error> {
    SystemTime::try_from(*timestamp).map_err(|error| Error::invalid_value("timestamp", error))
}

/// Converts a protobuf timestamp to a `chrono::DateTime<Utc>`.
///
/// ```
/// use audit_client::{IntoTimestamp, timestamp_to_datetime};
///
/// let time = chrono::DateTime::parse_from_rfc3339("2024-06-01T10:30:00.5Z")?.to_utc();
/// assert_eq!(timestamp_to_datetime(&time.into_timestamp())?, time);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "chrono")]
pub fn timestamp_to_datetime(
    timestamp: &Timestamp,
) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    let normalized = timestamp.normalized();
    let nanos = u32::try_from(normalized.nanos)
        .map_err(|_| Error::invalid_value("timestamp", "negative nanoseconds"))?;
    chrono::DateTime::from_timestamp(normalized.seconds, nanos)
        .ok_or_else(|| Error::invalid_value("timestamp", format!("{timestamp:?} is out of range")))
}

/// Formats a timestamp as RFC 3339 in UTC, e.g. `2024-06-01T10:30:00.5Z`.
pub fn timestamp_to_rfc3339(timestamp: &Timestamp) -> String {
    timestamp.normalized().to_string()
}

/// Parses an RFC 3339 time such as `2024-06-01T10:30:00Z` or
/// `2024-06-01T12:30:00+02:00`.
///
/// ```
/// use audit_client::{parse_rfc3339, timestamp_to_rfc3339};
///
/// let timestamp = parse_rfc3339("2024-06-01T12:30:00+02:00")?;
/// assert_eq!(timestamp_to_rfc3339(&timestamp), "2024-06-01T10:30:00Z");
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, Error> {
    text.parse::<Timestamp>()
        .map_err(|_| Error::invalid_value("timestamp", format!("{text:?} is not RFC 3339")))
}

/// Parses an entry id (a UUIDv7 in its hyphenated form, as the service
/// returns it).
///
/// ```
/// use audit_client::parse_entry_id;
///
/// let id = parse_entry_id("01890f4a-7c3e-7b4e-9a2e-3f1c2d4b5a69")?;
/// assert_eq!(id.get_version_num(), 7);
/// assert!(parse_entry_id("not-a-uuid").is_err());
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn parse_entry_id(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|error| Error::invalid_value("entry id", error))
}

/// `serde(with)` for an optional timestamp as an RFC 3339 string.
pub(crate) mod rfc3339_option {
    use super::{parse_rfc3339, timestamp_to_rfc3339};
    use prost_types::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        timestamp: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match timestamp {
            Some(timestamp) => serializer.serialize_str(&timestamp_to_rfc3339(timestamp)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| parse_rfc3339(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
