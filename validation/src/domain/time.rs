//! Time as integer microseconds since the Unix epoch: the form every backend
//! stores and sorts correctly (SQLite's text timestamps do not sort).

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Returns the current time in microseconds since the epoch.
pub fn now_micros() -> Micros {
    chrono::Utc::now().timestamp_micros()
}

/// Returns the Timestamp of a time in microseconds.
pub fn from_micros(micros: Micros) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}
