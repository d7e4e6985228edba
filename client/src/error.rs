//! [`Error`]: what went wrong in a call, and whether trying again may help.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The type URL of `audit.v1.ResumeToken` in a status's details.
pub const RESUME_TOKEN_TYPE_URL: &str = "type.googleapis.com/audit.v1.ResumeToken";

/// Why a call to the audit-log service, or a conversion for one, failed.
///
/// Match on the variant, or ask the questions a caller usually has:
/// [`code`](Error::code) for the gRPC code, [`is_retryable`](Error::is_retryable)
/// for "may the same call succeed later", and
/// [`field_violations`](Error::field_violations) for which request fields the
/// server rejected.
///
/// ```
/// use audit_client::Error;
/// use tonic::{Code, Status};
///
/// let error = Error::from(Status::unavailable("the server is restarting"));
/// assert_eq!(error.code(), Code::Unavailable);
/// assert!(error.is_retryable());
/// assert!(!Error::from(Status::deadline_exceeded("too slow")).is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint is not a usable URI (or names a scheme this build cannot
    /// speak, such as `https://` without the `tls` feature).
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached when connecting.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// The endpoint dialled.
        endpoint: String,
        /// The transport's reason.
        #[source]
        source: tonic::transport::Error,
    },
    /// The server rejected the request as INVALID_ARGUMENT; `violations`
    /// name each bad field (from the `google.rpc.BadRequest` details).
    #[error("invalid argument: {}{}", status.message(), describe(violations))]
    InvalidArgument {
        /// The status as received, details included.
        status: Status,
        /// The rejected fields, e.g. `entries[1].action`.
        violations: Vec<FieldViolation>,
    },
    /// The call failed with any other status.
    #[error("{:?}: {}", status.code(), status.message())]
    Status {
        /// The status as received (or as produced by the transport).
        status: Status,
    },
    /// A value could not be converted for or from the wire (a timestamp out
    /// of range, a malformed id, an event that is not valid JSON).
    #[error("invalid {what}: {reason}")]
    InvalidValue {
        /// What was being converted.
        what: String,
        /// Why it could not be.
        reason: String,
    },
}

/// One rejected request field, from the server's `google.rpc.BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `filter.client_ip`.
    pub field: String,
    /// Why the server rejected it.
    pub description: String,
}

impl Error {
    /// Returns the gRPC code of the failure; client-side failures map to the
    /// code a server would have used (connect → UNAVAILABLE, a bad endpoint
    /// or value → INVALID_ARGUMENT).
    pub fn code(&self) -> Code {
        match self {
            Error::Status { status } | Error::InvalidArgument { status, .. } => status.code(),
            Error::Connect { .. } => Code::Unavailable,
            Error::InvalidEndpoint { .. } | Error::InvalidValue { .. } => Code::InvalidArgument,
        }
    }

    /// Returns the status the call ended with, when it reached the transport.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Status { status } | Error::InvalidArgument { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Returns the fields the server rejected; empty unless INVALID_ARGUMENT.
    pub fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Error::InvalidArgument { violations, .. } => violations,
            _ => &[],
        }
    }

    /// Returns true when the same call may succeed if sent again later: the
    /// server was unavailable or could not be reached.
    ///
    /// DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are not retryable: the first
    /// says the caller's budget is spent, the second that the request itself
    /// is too big or too frequent, and repeating either makes things worse.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Status { status } => status.code() == Code::Unavailable,
            _ => false,
        }
    }

    /// Returns the `audit.v1.ResumeToken` a follow stream's final status
    /// carries (RESOURCE_EXHAUSTED when the follower fell behind,
    /// UNAVAILABLE at a server shutdown): the `page_token` that continues
    /// exactly after the last entry delivered.
    pub fn resume_token(&self) -> Option<String> {
        use prost::Message;
        let details = self.status()?.details();
        if details.is_empty() {
            return None;
        }
        let status = tonic_types::pb::Status::decode(details).ok()?;
        status
            .details
            .iter()
            .find(|any| any.type_url == RESUME_TOKEN_TYPE_URL)
            .and_then(|any| audit_proto::ResumeToken::decode(any.value.as_slice()).ok())
            .map(|token| token.page_token)
    }

    /// Builds an [`Error::InvalidValue`].
    pub(crate) fn invalid_value(what: impl Into<String>, reason: impl ToString) -> Self {
        Error::InvalidValue {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        if status.code() == Code::Cancelled && is_local_timeout(&status) {
            // tonic reports its own deadline timer as CANCELLED; the gRPC
            // spec, and a caller deciding whether to retry, say DEADLINE_EXCEEDED.
            let status = Status::deadline_exceeded("the call's deadline passed");
            return Error::Status { status };
        }
        if status.code() != Code::InvalidArgument {
            return Error::Status { status };
        }
        let violations = status
            .get_details_bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .into_iter()
                    .map(|violation| FieldViolation {
                        field: violation.field,
                        description: violation.description,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Error::InvalidArgument { status, violations }
    }
}

/// Gives back a status for a failure, e.g. for a service that forwards what
/// the audit service said to its own callers. A received status is returned
/// as is, details included.
impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Status { status } | Error::InvalidArgument { status, .. } => status,
            other => Status::new(other.code(), other.to_string()),
        }
    }
}

/// Returns true when tonic's client-side deadline timer ended the call.
fn is_local_timeout(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Formats violations as ` (field: why; field: why)`, or nothing.
fn describe(violations: &[FieldViolation]) -> String {
    if violations.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect();
    format!(" ({})", listed.join("; "))
}
