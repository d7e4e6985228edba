//! One audit-log entry as the service stores and returns it.

use super::{ActorType, ChainLink, Micros, Outcome};
use std::net::IpAddr;
use uuid::Uuid;

/// Who performed an action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actor {
    pub id: String,
    pub kind: ActorType,
    pub name: String,
    pub email: String,
}

/// What the action was performed on; all empty when there was no target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub kind: String,
    pub id: String,
    pub name: String,
}

impl Target {
    /// Returns true when the event named no target at all.
    pub fn is_empty(&self) -> bool {
        no_target(&self.kind, &self.id, &self.name)
    }
}

/// Whether a target of these fields is none at all: its message is then
/// left out (also decided from stored columns, by the server's List).
pub fn no_target(kind: &str, id: &str, name: &str) -> bool {
    kind.is_empty() && id.is_empty() && name.is_empty()
}

/// The HTTP request that carried the action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    pub status_code: i32,
}

impl RequestInfo {
    /// Returns true when no request carried the event.
    pub fn is_empty(&self) -> bool {
        no_request(&self.method, &self.path, self.status_code)
    }
}

/// Whether a request of these fields is none at all: its message is then
/// left out (also decided from stored columns, by the server's List).
pub fn no_request(method: &str, path: &str, status_code: i32) -> bool {
    method.is_empty() && path.is_empty() && status_code == 0
}

/// A validated entry: built by the RPC layer from an `AuditLogInput`, or read
/// back by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLogEntry {
    /// UUIDv7, so ids sort by creation time on every backend.
    pub id: Uuid,
    pub tenant_id: String,
    pub occurred_at: Micros,
    pub received_at: Micros,
    pub action: String,
    pub actor: Actor,
    pub target: Target,
    pub result: Outcome,
    pub client_ip: Option<IpAddr>,
    pub user_agent: String,
    pub request: RequestInfo,
    /// A JSON object, or `Null` when the producer sent no metadata.
    pub metadata: serde_json::Value,
    pub request_id: String,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the input exactly as the producer sent it (before defaults
    /// such as `occurred_at` were filled in), so a retry can be recognised.
    /// Only set when `idempotency_key` is.
    pub fingerprint: Option<Vec<u8>>,
    /// The entry's place in its tenant's hash chain; None until the store
    /// links it (and for rows stored before the chain existed).
    pub chain: Option<ChainLink>,
}
