//! What a command can fail with, and the one line a person sees for it.

use std::error::Error as _;
use std::io;
use tonic::Code;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The service refused or failed a call, or could not be reached.
    /// Boxed: it holds a whole `tonic::Status`.
    #[error("{}", describe_service_error(.0))]
    Service(Box<audit_client::Error>),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    File {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Standard output could not be written (a closed pipe ends quietly).
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
    /// Input or state the user must fix: a bad import line, a refused resume.
    #[error("{0}")]
    Invalid(String),
    /// A command line that cannot work, found after clap parsed it.
    #[error("{0}")]
    Usage(String),
    /// `verify` found the chain broken; its verdict is already on stdout.
    #[error("the chain is broken")]
    ChainBroken,
    /// `verify` rejected the checkpoint; its verdict is already on stdout.
    #[error("the checkpoint does not verify")]
    CheckpointRejected,
}

impl From<audit_client::Error> for CliError {
    fn from(error: audit_client::Error) -> Self {
        CliError::Service(Box::new(error))
    }
}

impl CliError {
    /// Wraps an I/O error on `path`, saying what was being done.
    pub fn file(action: &str, path: &std::path::Path) -> impl FnOnce(io::Error) -> Self {
        let context = format!("cannot {action} {}", path.display());
        move |source| CliError::File { context, source }
    }

    /// Returns the fields the service rejected, as `(field, why)`; empty
    /// unless INVALID_ARGUMENT.
    pub fn field_violations(&self) -> Vec<(String, String)> {
        match self {
            CliError::Service(error) => error
                .field_violations()
                .iter()
                .map(|violation| (violation.field.clone(), violation.description.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Returns true when stdout's reader went away (`audit list | head`).
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, CliError::Output(error) if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// One line for a failed call: what was wrong, with every field violation
/// for INVALID_ARGUMENT and the transport's own reason for a failed
/// connection (`Connection refused`).
fn describe_service_error(error: &audit_client::Error) -> String {
    use audit_client::Error;
    match error {
        Error::InvalidEndpoint { endpoint, reason } => {
            format!("invalid endpoint {endpoint:?}: {reason}")
        }
        Error::Connect { endpoint, source } => {
            format!("cannot connect to {endpoint}: {}", root_cause(source))
        }
        Error::InvalidArgument { status, .. } => {
            let violations: Vec<String> = error
                .field_violations()
                .iter()
                .map(|violation| format!("{}: {}", violation.field, violation.description))
                .collect();
            if violations.is_empty() {
                format!("invalid argument: {}", status.message())
            } else {
                format!("invalid argument: {}", violations.join("; "))
            }
        }
        Error::Status { status } => {
            let mut line = format!("{}: {}", code_name(status.code()), status.message());
            // A status made from a transport failure keeps the useful part
            // (connection reset, refused) in its source chain.
            if let Some(source) = status.source() {
                let cause = root_cause(source);
                if !line.contains(&cause) {
                    line.push_str(": ");
                    line.push_str(&cause);
                }
            }
            if status.code() == Code::Unauthenticated {
                line.push_str(" (check --token or AUDIT_TOKEN)");
            }
            line
        }
        other => other.to_string(),
    }
}

/// The code in lowercase words, as people say it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown error",
        Code::InvalidArgument => "invalid argument",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::ResourceExhausted => "resource exhausted",
        Code::FailedPrecondition => "failed precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out of range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal error",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// Returns the innermost cause's text: for a transport error, the part a
/// person can act on (`Connection refused (os error 111)`).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
}
