//! Time as integer microseconds since the Unix epoch: the form every backend
//! stores and sorts correctly (SQLite's text timestamps do not sort).

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Returns the current time in microseconds since the epoch.
pub fn now_micros() -> Micros {
    chrono::Utc::now().timestamp_micros()
}
