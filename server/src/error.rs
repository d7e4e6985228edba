//! The service's error type and its one mapping to `tonic::Status`.
//!
//! Clients see a code and a message that names what to fix; internal causes
//! (SQL text, driver errors) go to the log only.

use crate::store::StoreError;
use audit_validation::ValidationError;
use prost::Message;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use audit_validation::FieldViolation;

/// Everything an RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("invalid request: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("audit log {0} not found")]
    NotFound(String),
    #[error("idempotency key {key:?} is already stored with different content")]
    IdempotencyConflict { key: String },
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("deadline exceeded")]
    DeadlineExceeded,
    #[error("the audit store is unavailable")]
    Unavailable(String),
    /// The server ended a follow stream; the client resumes with the token.
    #[error("{message}")]
    FollowEnded {
        reason: FollowEnd,
        message: String,
        resume_token: String,
    },
    #[error("internal error")]
    Internal(String),
}

impl AuditError {
    /// Returns an INVALID_ARGUMENT error for a single field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        AuditError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

/// Why the server ended a follow stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowEnd {
    /// The follower stayed too far behind (RESOURCE_EXHAUSTED).
    FellBehind,
    /// The server is shutting down (UNAVAILABLE).
    ShuttingDown,
    /// The database failed a read (UNAVAILABLE).
    StoreFailed,
}

/// The type URL of `audit.v1.ResumeToken` in status details.
pub const RESUME_TOKEN_TYPE_URL: &str = "type.googleapis.com/audit.v1.ResumeToken";

/// Most violations named in the message; the details carry more.
const VIOLATIONS_IN_MESSAGE: usize = 5;
/// Most violations carried in the details: a batch of 1000 bad entries must
/// not grow the status past what HTTP/2 header limits let through.
const VIOLATIONS_IN_DETAILS: usize = 100;

fn describe_violations(violations: &[FieldViolation]) -> String {
    let mut text = violations
        .iter()
        .take(VIOLATIONS_IN_MESSAGE)
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ");
    if violations.len() > VIOLATIONS_IN_MESSAGE {
        text.push_str(&format!(
            "; and {} more",
            violations.len() - VIOLATIONS_IN_MESSAGE
        ));
    }
    text
}

impl From<ValidationError> for AuditError {
    fn from(error: ValidationError) -> Self {
        match error {
            ValidationError::InvalidArgument(violations) => AuditError::InvalidArgument(violations),
            ValidationError::PermissionDenied(message) => AuditError::PermissionDenied(message),
        }
    }
}

impl From<StoreError> for AuditError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(id) => AuditError::NotFound(id),
            StoreError::IdempotencyConflict { key } => AuditError::IdempotencyConflict { key },
            StoreError::FailedPrecondition(description) => {
                AuditError::FailedPrecondition(description)
            }
            StoreError::InvalidRange(description) => {
                AuditError::invalid("from_sequence", description)
            }
            StoreError::Unavailable(cause) => AuditError::Unavailable(cause),
            StoreError::Internal(cause) => AuditError::Internal(cause),
        }
    }
}

impl From<AuditError> for Status {
    fn from(error: AuditError) -> Self {
        let message = error.to_string();
        match error {
            AuditError::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for violation in violations.iter().take(VIOLATIONS_IN_DETAILS) {
                    details.add_bad_request_violation(&violation.field, &violation.description);
                }
                if violations.len() > VIOLATIONS_IN_DETAILS {
                    let more = violations.len() - VIOLATIONS_IN_DETAILS;
                    details.add_bad_request_violation(
                        "",
                        format!("and {more} more violations not listed"),
                    );
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            AuditError::Unauthenticated(_) => Status::unauthenticated(message),
            AuditError::PermissionDenied(_) => Status::permission_denied(message),
            AuditError::NotFound(_) => Status::not_found(message),
            AuditError::IdempotencyConflict { .. } => Status::already_exists(message),
            AuditError::FailedPrecondition(_) => Status::failed_precondition(message),
            AuditError::ResourceExhausted(_) => Status::resource_exhausted(message),
            AuditError::DeadlineExceeded => Status::deadline_exceeded(message),
            AuditError::Unavailable(cause) => {
                tracing::warn!(%cause, "audit store unavailable");
                Status::unavailable(message)
            }
            AuditError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Status::internal(message)
            }
            AuditError::FollowEnded {
                reason,
                resume_token,
                ..
            } => {
                let code = match reason {
                    FollowEnd::FellBehind => Code::ResourceExhausted,
                    FollowEnd::ShuttingDown | FollowEnd::StoreFailed => Code::Unavailable,
                };
                with_resume_token(code, message, resume_token)
            }
        }
    }
}

/// A status whose `google.rpc.Status` details hold an
/// `audit.v1.ResumeToken`, the way `with_error_details` carries BadRequest.
fn with_resume_token(code: Code, message: String, page_token: String) -> Status {
    let token = audit_proto::ResumeToken { page_token };
    let details = tonic_types::pb::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: RESUME_TOKEN_TYPE_URL.to_owned(),
            value: token.encode_to_vec(),
        }],
    };
    Status::with_details(
        code,
        message,
        tonic::codegen::Bytes::from(details.encode_to_vec()),
    )
}
