//! Collects every field violation of a request, so one reply names all of
//! them rather than the first.

use crate::error::{FieldViolation, ValidationError};

/// What a field holding NUL is told.
pub const NUL_DESCRIPTION: &str = "must not contain NUL characters";

/// Field violations gathered while decoding one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records that `field` is wrong, saying how.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Returns `value`, or INVALID_ARGUMENT naming every recorded field.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ValidationError::InvalidArgument(self.0))
        }
    }

    /// Returns INVALID_ARGUMENT naming every recorded field.
    pub fn into_error(self) -> ValidationError {
        ValidationError::InvalidArgument(self.0)
    }

    /// Returns how many violations were recorded so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true while nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks a free-text field before it is stored: its length in bytes,
    /// and no NUL.
    pub fn check_text(&mut self, field: impl Into<String>, value: &str, max_bytes: usize) {
        if value.len() > max_bytes {
            self.add(
                field,
                format!("must be at most {max_bytes} bytes, got {}", value.len()),
            );
        } else {
            self.check_no_nul(field, value);
        }
    }

    /// Checks that text stored or bound into a query holds no NUL: Postgres
    /// refuses it in `text` and `jsonb`, so it would otherwise fail in the
    /// store as an internal error, and only on Postgres.
    pub fn check_no_nul(&mut self, field: impl Into<String>, value: &str) {
        if value.contains('\0') {
            self.add(field, NUL_DESCRIPTION);
        }
    }
}
