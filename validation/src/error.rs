//! The validation layer's error: what was wrong with a request, before any
//! store was asked. The server maps it into its own error, and from there
//! to a `tonic::Status`, in one place (`audit_server::error`).

/// One field of a request that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `entries[3].action`.
    pub field: String,
    pub description: String,
}

/// Why a request was refused before reaching the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Fields that are malformed or out of range, every one of them.
    #[error("invalid request: {} field(s)", .0.len())]
    InvalidArgument(Vec<FieldViolation>),
    /// A well-formed request for tenants the caller may not read.
    #[error("{0}")]
    PermissionDenied(String),
}

impl ValidationError {
    /// Returns an INVALID_ARGUMENT error for a single field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ValidationError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}
