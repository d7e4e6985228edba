//! Exit codes: each failure mapped once to the number scripts test for.

use crate::error::CliError;
use std::process::ExitCode;
use tonic::Code;

/// Anything not listed below, including a broken chain (`verify`).
pub const FAILURE: u8 = 1;
/// A usage error (clap exits with 2 for its own as well).
pub const USAGE: u8 = 2;
/// Unauthenticated or permission denied.
pub const DENIED: u8 = 3;
/// The entry does not exist.
pub const NOT_FOUND: u8 = 4;
/// The service cannot be reached or is unavailable.
pub const UNAVAILABLE: u8 = 5;
/// `verify`: the checkpoint does not verify (signature, key or format), so
/// it says nothing about the chain.
pub const CHECKPOINT_REJECTED: u8 = 6;

/// Returns the exit code for `error`.
pub fn code(error: &CliError) -> u8 {
    let error = match error {
        CliError::Service(error) => error,
        CliError::CheckpointRejected => return CHECKPOINT_REJECTED,
        CliError::Usage(_) => return USAGE,
        _ => return FAILURE,
    };
    if matches!(**error, audit_client::Error::InvalidEndpoint { .. }) {
        // `--endpoint` is not a URI: a usage error.
        return USAGE;
    }
    match error.code() {
        Code::Unauthenticated | Code::PermissionDenied => DENIED,
        Code::NotFound => NOT_FOUND,
        // The library reports a failed connect as UNAVAILABLE; a deadline
        // means the same to an operator: the service is not answering.
        Code::Unavailable | Code::DeadlineExceeded => UNAVAILABLE,
        _ => FAILURE,
    }
}

/// Prints `error: …` on stderr and returns its exit code; a closed stdout
/// pipe (`audit list | head`) is not an error.
pub fn report(error: &CliError) -> ExitCode {
    if error.is_closed_pipe() {
        return ExitCode::SUCCESS;
    }
    if matches!(error, CliError::ChainBroken | CliError::CheckpointRejected) {
        // The verdict line on stdout says it all.
        return ExitCode::from(code(error));
    }
    eprintln!("error: {error}");
    ExitCode::from(code(error))
}
