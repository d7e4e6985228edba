//! Stored entries as plain JSON for output, and events from JSON for input:
//! the two ends of an export and re-import.

use crate::convert::timestamp_to_rfc3339;
use crate::json::struct_to_json;
use crate::names::name_or_number;
use crate::{ActorType, AuditEvent, AuditLog, Error, Outcome};
use audit_proto::integrity::to_hex;
use serde_json::{Value, json};

/// Returns a stored entry as plain JSON: the contract's field names, times
/// in RFC 3339 (UTC), enum values by name (`ACTOR_TYPE_USER`,
/// `RESULT_SUCCESS`), metadata as the JSON object it was sent as, and `null`
/// for an absent actor, target, request, time or metadata. The chain fields
/// `sequence`, `content_digest` and `hash` (lowercase hex, `null` when
/// unset) come along, so an export can be verified offline
/// ([`crate::integrity`]).
///
/// Absent metadata is `null`, not `{}`: the two hash differently
/// (`docs/integrity.md`), and the JSON form must say which one was stored.
///
/// [`audit_event_from_json`] reads the result back as the event that
/// produced the entry (ignoring `id`, `tenant_id`, `received_at` and the
/// chain fields, which the service assigns); [`audit_log_from_json`] reads
/// it back whole.
///
/// [`audit_log_from_json`]: crate::audit_log_from_json
///
/// ```
/// use audit_client::{AuditLog, audit_log_to_json};
///
/// let entry = AuditLog {
///     id: "01890f4a-7c3e-7b4e-9a2e-3f1c2d4b5a69".into(),
///     action: "user.login".into(),
///     occurred_at: Some(prost_types::Timestamp { seconds: 1_717_237_800, nanos: 0 }),
///     ..Default::default()
/// };
/// let json = audit_log_to_json(&entry);
/// assert_eq!(json["occurred_at"], "2024-06-01T10:30:00Z");
/// assert_eq!(json["result"], "RESULT_UNSPECIFIED");
/// assert_eq!(json["metadata"], serde_json::Value::Null);
/// assert_eq!(json["sequence"], 0);
/// assert_eq!(json["hash"], serde_json::Value::Null);
/// ```
pub fn audit_log_to_json(entry: &AuditLog) -> Value {
    let actor = entry.actor.as_ref().map(|actor| {
        json!({
            "id": actor.id,
            "type": name_or_number(actor.r#type, ActorType::as_str_name),
            "name": actor.name,
            "email": actor.email,
        })
    });
    let target = entry
        .target
        .as_ref()
        .map(|target| json!({"type": target.r#type, "id": target.id, "name": target.name}));
    let request = entry.request.as_ref().map(|request| {
        json!({
            "method": request.method,
            "path": request.path,
            "status_code": request.status_code,
        })
    });
    json!({
        "id": entry.id,
        "tenant_id": entry.tenant_id,
        "occurred_at": entry.occurred_at.as_ref().map(timestamp_to_rfc3339),
        "received_at": entry.received_at.as_ref().map(timestamp_to_rfc3339),
        "action": entry.action,
        "actor": actor,
        "target": target,
        "result": name_or_number(entry.result, Outcome::as_str_name),
        "client_ip": entry.client_ip,
        "user_agent": entry.user_agent,
        "request": request,
        "metadata": entry.metadata.as_ref().map(struct_to_json),
        "request_id": entry.request_id,
        "idempotency_key": entry.idempotency_key,
        "sequence": entry.sequence,
        "content_digest": hex_or_null(&entry.content_digest),
        "hash": hex_or_null(&entry.hash),
    })
}

/// Lowercase hex, or `null` for the empty bytes of an entry never chained.
fn hex_or_null(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        Value::Null
    } else {
        Value::String(to_hex(bytes))
    }
}

/// Reads an event from JSON in the form [`audit_log_to_json`] writes (and
/// [`AuditEvent`] serializes to): `action` is required, every other field
/// optional, unknown fields ignored.
///
/// ```
/// use audit_client::{AuditLogInput, ActorType, audit_event_from_json};
/// use serde_json::json;
///
/// let event = audit_event_from_json(json!({
///     "action": "api_key.created",
///     "actor": {"id": "u_42", "type": "user"},
///     "occurred_at": "2024-06-01T10:30:00Z",
///     "metadata": {"scopes": ["audit:read"]},
/// }))?;
/// let input = AuditLogInput::from(event);
/// assert_eq!(input.actor.map(|actor| actor.r#type), Some(ActorType::User as i32));
/// assert!(audit_event_from_json(json!({"actor": {"id": "u_42"}})).is_err());
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn audit_event_from_json(json: Value) -> Result<AuditEvent, Error> {
    serde_json::from_value(json).map_err(|error| Error::invalid_value("event", error))
}
