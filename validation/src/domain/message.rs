//! A stored entry as its `audit.v1.AuditLog` message: what the API returns
//! and, through `audit_proto::integrity`, what the hash chain digests. One
//! conversion for both, so the chain covers exactly what readers are shown.

use super::{AuditLogEntry, from_micros, ip_from_key, ip_to_key};
use audit_proto as pb;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::{Map, Value as Json};

/// Returns the message of a stored entry.
pub fn entry_to_message(entry: AuditLogEntry) -> pb::AuditLog {
    let target = (!entry.target.is_empty()).then_some(pb::Target {
        r#type: entry.target.kind,
        id: entry.target.id,
        name: entry.target.name,
    });
    let request = entry.request;
    let has_request = !request.is_empty();
    let (sequence, content_digest, hash) = match entry.chain {
        Some(link) => (
            link.sequence,
            link.content_digest.to_vec(),
            link.hash.to_vec(),
        ),
        None => (0, Vec::new(), Vec::new()),
    };
    pb::AuditLog {
        id: entry.id.to_string(),
        tenant_id: entry.tenant_id,
        occurred_at: Some(from_micros(entry.occurred_at)),
        received_at: Some(from_micros(entry.received_at)),
        action: entry.action,
        actor: Some(pb::Actor {
            id: entry.actor.id,
            r#type: entry.actor.kind as i32,
            name: entry.actor.name,
            email: entry.actor.email,
        }),
        target,
        result: entry.result as i32,
        // The form the address reads back as from storage (an IPv4-mapped
        // IPv6 address comes back as IPv4), so the digest taken at append
        // matches the one recomputed from the row.
        client_ip: entry
            .client_ip
            .map(|ip| ip_from_key(ip_to_key(ip)).to_string())
            .unwrap_or_default(),
        user_agent: entry.user_agent,
        request: has_request.then_some(pb::RequestInfo {
            method: request.method,
            path: request.path,
            status_code: request.status_code,
        }),
        metadata: json_to_struct(entry.metadata),
        request_id: entry.request_id,
        idempotency_key: entry.idempotency_key.unwrap_or_default(),
        sequence,
        content_digest,
        hash,
    }
}

/// Converts stored JSON back to a Struct; None for anything but an object.
/// Takes the JSON by value: every string moves into the Struct rather than
/// being copied (a List page converts a hundred documents).
pub fn json_to_struct(json: Json) -> Option<Struct> {
    match json {
        Json::Object(object) => Some(object_to_struct(object)),
        _ => None,
    }
}

fn object_to_struct(object: Map<String, Json>) -> Struct {
    Struct {
        fields: object
            .into_iter()
            .map(|(key, value)| (key, json_to_value(value)))
            .collect(),
    }
}

fn json_to_value(json: Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(flag) => Kind::BoolValue(flag),
        Json::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        Json::String(text) => Kind::StringValue(text),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        Json::Object(object) => Kind::StructValue(object_to_struct(object)),
    };
    Value { kind: Some(kind) }
}
