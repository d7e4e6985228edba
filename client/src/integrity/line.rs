//! One NDJSON line of an export read into borrowed fields: only what the
//! canonical bytes and the chain need, strings borrowed from the line where
//! they hold no escapes. Much cheaper than a `serde_json::Value` tree; the
//! digest is still computed by the contract crate's one encoder, on the
//! [`AuditLog`] built from these fields, so the bytes are the same as for an
//! entry received over gRPC.
//!
//! Reads what [`audit_log_to_json`](crate::audit_log_to_json) writes, as
//! [`audit_log_from_json`](crate::audit_log_from_json) does: a missing or
//! `null` field is its default, enums by contract name or number.

use crate::{Actor, ActorType, AuditLog, Outcome, RequestInfo, Target, parse_rfc3339};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// What the first pass over a file needs: where the line goes, and whether
/// it is a deletion record.
#[derive(Deserialize)]
pub(crate) struct LineKey<'a> {
    #[serde(default)]
    pub sequence: Option<i64>,
    #[serde(borrow, default)]
    pub action: Option<Cow<'a, str>>,
}

/// Reads the sequence and action of a line.
pub(crate) fn line_key(line: &str) -> Result<LineKey<'_>, String> {
    serde_json::from_str(line).map_err(|error| format!("not a JSON entry: {error}"))
}

type Text<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
struct EntryLine<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    tenant_id: Text<'a>,
    #[serde(borrow, default)]
    occurred_at: Text<'a>,
    #[serde(borrow, default)]
    received_at: Text<'a>,
    #[serde(borrow, default)]
    action: Text<'a>,
    #[serde(borrow, default)]
    actor: Option<ActorLine<'a>>,
    #[serde(borrow, default)]
    target: Option<TargetLine<'a>>,
    #[serde(borrow, default)]
    result: Text<'a>,
    #[serde(borrow, default)]
    client_ip: Text<'a>,
    #[serde(borrow, default)]
    user_agent: Text<'a>,
    #[serde(borrow, default)]
    request: Option<RequestLine<'a>>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(borrow, default)]
    request_id: Text<'a>,
    #[serde(borrow, default)]
    idempotency_key: Text<'a>,
    #[serde(default)]
    sequence: Option<i64>,
    #[serde(borrow, default)]
    content_digest: Text<'a>,
    #[serde(borrow, default)]
    hash: Text<'a>,
}

#[derive(Deserialize)]
struct ActorLine<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    email: Text<'a>,
}

#[derive(Deserialize)]
struct TargetLine<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    name: Text<'a>,
}

#[derive(Deserialize)]
struct RequestLine<'a> {
    #[serde(borrow, default)]
    method: Text<'a>,
    #[serde(borrow, default)]
    path: Text<'a>,
    #[serde(default)]
    status_code: Option<i32>,
}

/// Reads a stored entry from one NDJSON line; the error says which field
/// is wrong.
pub(crate) fn parse_entry(line: &str) -> Result<AuditLog, String> {
    let fields: EntryLine<'_> =
        serde_json::from_str(line).map_err(|error| format!("not a valid entry: {error}"))?;
    Ok(AuditLog {
        id: owned(fields.id),
        tenant_id: owned(fields.tenant_id),
        occurred_at: time(fields.occurred_at, "occurred_at")?,
        received_at: time(fields.received_at, "received_at")?,
        action: owned(fields.action),
        actor: fields
            .actor
            .map(|actor| -> Result<Actor, String> {
                Ok(Actor {
                    id: owned(actor.id),
                    r#type: enum_number(actor.kind, "actor.type", |name| {
                        ActorType::from_str_name(name).map(|kind| kind as i32)
                    })?,
                    name: owned(actor.name),
                    email: owned(actor.email),
                })
            })
            .transpose()?,
        target: fields.target.map(|target| Target {
            r#type: owned(target.kind),
            id: owned(target.id),
            name: owned(target.name),
        }),
        result: enum_number(fields.result, "result", |name| {
            Outcome::from_str_name(name).map(|outcome| outcome as i32)
        })?,
        client_ip: owned(fields.client_ip),
        user_agent: owned(fields.user_agent),
        request: fields.request.map(|request| RequestInfo {
            method: owned(request.method),
            path: owned(request.path),
            status_code: request.status_code.unwrap_or_default(),
        }),
        metadata: fields.metadata.map(crate::map_to_struct),
        request_id: owned(fields.request_id),
        idempotency_key: owned(fields.idempotency_key),
        sequence: fields.sequence.unwrap_or_default(),
        content_digest: hex(fields.content_digest, "content_digest")?,
        hash: hex(fields.hash, "hash")?,
    })
}

fn owned(text: Text<'_>) -> String {
    text.map(Cow::into_owned).unwrap_or_default()
}

fn time(text: Text<'_>, field: &str) -> Result<Option<prost_types::Timestamp>, String> {
    text.map(|text| parse_rfc3339(&text).map_err(|_| format!("{field}: {text:?} is not RFC 3339")))
        .transpose()
}

/// An enum by its contract name, or by number for one this client does not
/// know.
fn enum_number(
    text: Text<'_>,
    field: &str,
    from_name: impl Fn(&str) -> Option<i32>,
) -> Result<i32, String> {
    let Some(text) = text else {
        return Ok(0);
    };
    from_name(&text)
        .or_else(|| text.parse().ok())
        .ok_or_else(|| format!("{field}: unknown value {text:?}"))
}

fn hex(text: Text<'_>, field: &str) -> Result<Vec<u8>, String> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    super::parse_hex(&text).ok_or_else(|| format!("{field}: must be hex"))
}
