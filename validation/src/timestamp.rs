//! `google.protobuf.Timestamp` ⇄ microseconds since the epoch.

use crate::domain::Micros;
use prost_types::Timestamp;

/// The range a Timestamp may hold: 0001-01-01 to 9999-12-31 (as in the
/// Timestamp spec), which also keeps microseconds inside an i64.
pub const MIN_SECONDS: i64 = -62_135_596_800;
pub const MAX_SECONDS: i64 = 253_402_300_799;

/// Returns the time in microseconds (sub-microsecond digits are dropped),
/// or None when the Timestamp is out of range or malformed.
pub fn to_micros(timestamp: &Timestamp) -> Option<Micros> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&timestamp.seconds)
        || !(0..1_000_000_000).contains(&timestamp.nanos)
    {
        return None;
    }
    Some(timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos / 1_000))
}

pub use crate::domain::from_micros;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_before_the_epoch() {
        for micros in [0, 1, -1, 1_700_000_000_123_456, -86_400_000_001] {
            assert_eq!(to_micros(&from_micros(micros)), Some(micros));
        }
    }

    #[test]
    fn refuses_malformed_timestamps() {
        assert_eq!(
            to_micros(&Timestamp {
                seconds: 0,
                nanos: -1
            }),
            None
        );
        assert_eq!(
            to_micros(&Timestamp {
                seconds: MAX_SECONDS + 1,
                nanos: 0
            }),
            None
        );
    }
}
