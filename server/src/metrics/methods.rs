//! The RPC methods this server answers, read from the descriptor sets it
//! serves. Method labels come only from this set: a client sending calls to
//! made-up paths must not be able to create a new time series per path.

use prost::Message;
use prost_types::FileDescriptorSet;
use std::collections::HashMap;
use std::sync::Arc;

/// The label for any path that is not a served method.
pub const OTHER_METHOD: &str = "other";

/// The package whose server-streaming methods count against the
/// streaming-call limit (health's Watch and reflection do not).
const AUDIT_PACKAGE: &str = "audit.v1";

/// What the metrics need to know about one method.
#[derive(Debug, Clone)]
pub struct MethodInfo {
    /// `package.Service/Method`, the `method` label.
    pub label: Arc<str>,
    /// A server-streaming `audit.v1` method (List, Verify, …).
    pub audit_stream: bool,
}

/// Every served method, by request path (`/package.Service/Method`).
#[derive(Debug)]
pub struct KnownMethods {
    by_path: HashMap<String, MethodInfo>,
    other: MethodInfo,
}

impl KnownMethods {
    /// Reads the audit, health and reflection descriptor sets. New RPCs
    /// added to the proto are picked up without touching this module.
    pub fn served() -> Self {
        let sets = [
            audit_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let mut by_path = HashMap::new();
        for encoded in sets {
            // The sets are compiled into the binary; one that fails to
            // decode would only lose its labels to "other".
            let Ok(set) = FileDescriptorSet::decode(encoded) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        let label = format!("{package}.{}/{}", service.name(), method.name());
                        let info = MethodInfo {
                            label: Arc::from(label.as_str()),
                            audit_stream: package == AUDIT_PACKAGE && method.server_streaming(),
                        };
                        by_path.insert(format!("/{label}"), info);
                    }
                }
            }
        }
        Self {
            by_path,
            other: MethodInfo {
                label: Arc::from(OTHER_METHOD),
                audit_stream: false,
            },
        }
    }

    /// The method behind a request path, or "other".
    pub fn lookup(&self, path: &str) -> &MethodInfo {
        self.by_path.get(path).unwrap_or(&self.other)
    }

    /// Every audit.v1 server-streaming method, so their series exist at 0
    /// before the first call.
    pub fn audit_streams(&self) -> impl Iterator<Item = &MethodInfo> {
        self.by_path.values().filter(|info| info.audit_stream)
    }
}

/// The canonical gRPC name of a status code, the `code` label.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
