//! Where batches go: the [`BatchSink`] seam (the audit service in
//! production, a fake in unit tests) and how a failed append is classified.

use crate::{AuditClient, Error};
use audit_proto::AuditLogInput;
use std::fmt;
use std::future::Future;
use tonic::Code;

/// What the sender does about a failed append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The service was unreachable, overloaded or timed out: send the same
    /// batch again later. The idempotency keys make a resend after a lost
    /// reply store nothing twice.
    Transient,
    /// The service refused the content (one bad event fails the whole
    /// atomic batch): split the batch to isolate the bad events.
    Rejected,
    /// Nothing in this batch can succeed as sent (bad token, missing scope):
    /// count it as failed without splitting.
    Fatal,
}

/// Why an append failed.
#[derive(Debug, Clone)]
pub(crate) struct SendFailure {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
}

impl SendFailure {
    pub(crate) fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Transient,
            message: message.into(),
        }
    }
}

impl fmt::Display for SendFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// Appends one batch atomically.
pub(crate) trait BatchSink: Send + Sync + 'static {
    fn append(
        &self,
        batch: Vec<AuditLogInput>,
    ) -> impl Future<Output = Result<(), SendFailure>> + Send;
}

impl BatchSink for AuditClient {
    async fn append(&self, batch: Vec<AuditLogInput>) -> Result<(), SendFailure> {
        match AuditClient::append(self, batch).await {
            Ok(_ids) => Ok(()),
            Err(error) => Err(classify(&error)),
        }
    }
}

/// Classifies a failed append by where the failure came from and its code.
///
/// Wider than [`Error::is_retryable`]: every batch carries idempotency keys,
/// so resending after a timeout or an overload stores nothing twice, and
/// the recorder paces resends itself.
pub(crate) fn classify(error: &Error) -> SendFailure {
    let message = error.to_string();
    // A status with a source was made by the client from a transport error
    // (refused, reset, closed mid-call): whatever its code, the call may not
    // have reached the service, or its reply was lost. Resending is safe.
    let from_transport = error
        .status()
        .is_some_and(|status| std::error::Error::source(status).is_some());
    if error.is_retryable() || from_transport {
        return SendFailure::transient(message);
    }
    let kind = match error.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Cancelled => FailureKind::Transient,
        Code::InvalidArgument
        | Code::AlreadyExists
        | Code::OutOfRange
        | Code::FailedPrecondition
        | Code::Internal
        | Code::Unknown
        | Code::DataLoss => FailureKind::Rejected,
        Code::Unauthenticated
        | Code::PermissionDenied
        | Code::NotFound
        | Code::Unimplemented
        | Code::Ok => FailureKind::Fatal,
    };
    SendFailure { kind, message }
}
