//! The limits the store relies on for every value validation lets through:
//! Postgres refuses NUL in `text` and `jsonb`, and times must fit the
//! Timestamp range the API promises.

use audit_validation::timestamp::{MAX_SECONDS, MIN_SECONDS};
use serde_json::Value as Json;

/// The earliest time a validated entry or filter may hold.
pub const MIN_MICROS: i64 = MIN_SECONDS * 1_000_000;
/// The latest one.
pub const MAX_MICROS: i64 = MAX_SECONDS * 1_000_000 + 999_999;

/// Asserts that a text column's value fits and can be stored.
pub fn assert_text(field: &str, value: &str, max_bytes: usize) {
    assert!(
        value.len() <= max_bytes,
        "{field}: {} bytes passed validation, the limit is {max_bytes}",
        value.len()
    );
    assert_no_nul(field, value);
}

/// Asserts that a value bound into a query or a column holds no NUL.
pub fn assert_no_nul(field: &str, value: &str) {
    assert!(!value.contains('\0'), "{field}: NUL passed validation");
}

/// Asserts that a time is inside 0001-01-01..=9999-12-31.
pub fn assert_time(field: &str, micros: i64) {
    assert!(
        (MIN_MICROS..=MAX_MICROS).contains(&micros),
        "{field}: {micros} µs passed validation"
    );
}

/// Asserts that metadata can go into a `jsonb` column: no NUL in any key
/// or string (numbers are finite by construction of `serde_json`).
pub fn assert_storable_json(field: &str, json: &Json) {
    match json {
        Json::String(text) => assert_no_nul(field, text),
        Json::Array(items) => items
            .iter()
            .for_each(|item| assert_storable_json(field, item)),
        Json::Object(object) => object.iter().for_each(|(key, value)| {
            assert_no_nul(field, key);
            assert_storable_json(field, value);
        }),
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}
