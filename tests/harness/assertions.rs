//! Checks on what a caller sees when a call fails: the status code and the
//! `google.rpc.BadRequest` field violations. They take the client's
//! [`audit_client::Error`] or a raw [`Status`] from the generated stub alike.

use std::fmt::Debug;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts that `result` failed with `code` and returns the status, as
/// received (details included).
#[track_caller]
pub fn assert_code<T: Debug, E: Into<Status>>(result: Result<T, E>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, but the call succeeded with {value:?}"),
        Err(error) => {
            let status: Status = error.into();
            assert_eq!(
                status.code(),
                code,
                "expected {code:?}, got {:?}: {}",
                status.code(),
                status.message()
            );
            status
        }
    }
}

/// Asserts that `result` failed with INVALID_ARGUMENT carrying a
/// `google.rpc.BadRequest` violation for `field`, and returns the status.
#[track_caller]
pub fn assert_invalid_field<T: Debug, E: Into<Status>>(
    result: Result<T, E>,
    field: &str,
) -> Status {
    let status = assert_code(result, Code::InvalidArgument);
    let fields = violated_fields(&status);
    assert!(
        fields.iter().any(|violated| violated == field),
        "expected a BadRequest violation for {field:?}, got {fields:?} (message: {})",
        status.message()
    );
    status
}

/// Returns the fields named by the status's BadRequest details (none when
/// it carries no such details).
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default()
}
