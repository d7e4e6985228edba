//! How a call's status becomes the event's `result`: gRPC codes are
//! classified like their HTTP equivalents.

use audit_proto::Result as Outcome;

/// gRPC `OK`.
pub(crate) const GRPC_OK: i32 = 0;
/// gRPC `CANCELLED`: the caller went away before the status was sent.
pub(crate) const GRPC_CANCELLED: i32 = 1;
/// gRPC `UNKNOWN`: the call failed without a status.
pub(crate) const GRPC_UNKNOWN: i32 = 2;

/// Classifies a gRPC status code: OK is SUCCESS; UNAUTHENTICATED and
/// PERMISSION_DENIED are DENIED; the caller's mistakes (CANCELLED,
/// INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED,
/// FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE) are FAILURE; everything else
/// (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
/// DATA_LOSS) is ERROR.
pub(crate) fn grpc_outcome(code: i32) -> Outcome {
    match code {
        GRPC_OK => Outcome::Success,
        7 | 16 => Outcome::Denied,
        1 | 3 | 5 | 6 | 8 | 9 | 10 | 11 => Outcome::Failure,
        _ => Outcome::Error,
    }
}

/// Classifies an HTTP status: 1xx–3xx SUCCESS, 401 and 403 DENIED, other
/// 4xx FAILURE, 5xx ERROR.
pub(crate) fn http_outcome(status: u16) -> Outcome {
    match status {
        401 | 403 => Outcome::Denied,
        400..=499 => Outcome::Failure,
        500.. => Outcome::Error,
        _ => Outcome::Success,
    }
}

/// The gRPC code a client infers from an HTTP status when a response has no
/// `grpc-status` (the gRPC over HTTP/2 spec's table).
pub(crate) fn grpc_code_from_http(status: u16) -> i32 {
    match status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502..=504 => 14,
        _ => GRPC_UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_results() {
        assert_eq!(grpc_outcome(0), Outcome::Success);
        assert_eq!(grpc_outcome(5), Outcome::Failure);
        assert_eq!(grpc_outcome(3), Outcome::Failure);
        assert_eq!(grpc_outcome(16), Outcome::Denied);
        assert_eq!(grpc_outcome(7), Outcome::Denied);
        assert_eq!(grpc_outcome(13), Outcome::Error);
        assert_eq!(grpc_outcome(14), Outcome::Error);
        assert_eq!(grpc_outcome(99), Outcome::Error);
    }

    #[test]
    fn http_statuses_map_to_results() {
        assert_eq!(http_outcome(200), Outcome::Success);
        assert_eq!(http_outcome(302), Outcome::Success);
        assert_eq!(http_outcome(401), Outcome::Denied);
        assert_eq!(http_outcome(403), Outcome::Denied);
        assert_eq!(http_outcome(404), Outcome::Failure);
        assert_eq!(http_outcome(503), Outcome::Error);
    }
}
