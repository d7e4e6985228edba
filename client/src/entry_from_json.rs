//! A stored entry read back whole from the JSON form
//! [`audit_log_to_json`](crate::audit_log_to_json) writes, chain fields
//! included: what an offline verifier needs to recompute its digest.

use crate::json::map_to_struct;
use crate::{Actor, ActorType, AuditLog, Error, Outcome, RequestInfo, Target, parse_rfc3339};
use serde_json::{Map, Value};

/// Reads a stored entry from the JSON form [`audit_log_to_json`] writes:
/// every field as written there, including `sequence` and the hex
/// `content_digest` and `hash`. A missing field reads as its default (a
/// missing object as absent); a field of the wrong type is an error, since
/// the entry could not be the one that was hashed.
///
/// [`audit_log_to_json`]: crate::audit_log_to_json
///
/// ```
/// use audit_client::{AuditLog, audit_log_from_json, audit_log_to_json};
///
/// let entry = AuditLog {
///     id: "01890f4a-7c3e-7b4e-9a2e-3f1c2d4b5a69".into(),
///     action: "user.login".into(),
///     sequence: 7,
///     hash: vec![0xab; 32],
///     ..Default::default()
/// };
/// assert_eq!(audit_log_from_json(&audit_log_to_json(&entry))?, entry);
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn audit_log_from_json(json: &Value) -> Result<AuditLog, Error> {
    let fields = object(json, "entry")?.ok_or_else(|| invalid("entry", "must be an object"))?;
    let actor = object_field(fields, "actor")?
        .map(|actor| -> Result<Actor, Error> {
            Ok(Actor {
                id: text(actor, "id")?,
                r#type: enum_number(actor, "type", |name| {
                    ActorType::from_str_name(name).map(|kind| kind as i32)
                })?,
                name: text(actor, "name")?,
                email: text(actor, "email")?,
            })
        })
        .transpose()?;
    let target = object_field(fields, "target")?
        .map(|target| -> Result<Target, Error> {
            Ok(Target {
                r#type: text(target, "type")?,
                id: text(target, "id")?,
                name: text(target, "name")?,
            })
        })
        .transpose()?;
    let request = object_field(fields, "request")?
        .map(|request| -> Result<RequestInfo, Error> {
            Ok(RequestInfo {
                method: text(request, "method")?,
                path: text(request, "path")?,
                status_code: integer(request, "status_code")?,
            })
        })
        .transpose()?;
    Ok(AuditLog {
        id: text(fields, "id")?,
        tenant_id: text(fields, "tenant_id")?,
        occurred_at: time(fields, "occurred_at")?,
        received_at: time(fields, "received_at")?,
        action: text(fields, "action")?,
        actor,
        target,
        result: enum_number(fields, "result", |name| {
            Outcome::from_str_name(name).map(|outcome| outcome as i32)
        })?,
        client_ip: text(fields, "client_ip")?,
        user_agent: text(fields, "user_agent")?,
        request,
        metadata: object_field(fields, "metadata")?.map(|map| map_to_struct(map.clone())),
        request_id: text(fields, "request_id")?,
        idempotency_key: text(fields, "idempotency_key")?,
        sequence: integer(fields, "sequence")?,
        content_digest: hex(fields, "content_digest")?,
        hash: hex(fields, "hash")?,
    })
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    Error::invalid_value(field, reason)
}

/// The value as an object; None for `null`.
fn object<'a>(value: &'a Value, field: &str) -> Result<Option<&'a Map<String, Value>>, Error> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        _ => Err(invalid(field, "must be an object or null")),
    }
}

fn object_field<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, Error> {
    fields
        .get(name)
        .map_or(Ok(None), |value| object(value, name))
}

fn text(fields: &Map<String, Value>, name: &str) -> Result<String, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid(name, "must be a string")),
    }
}

fn integer<T: TryFrom<i64>>(fields: &Map<String, Value>, name: &str) -> Result<T, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => T::try_from(0).map_err(|_| invalid(name, "out of range")),
        Some(value) => value
            .as_i64()
            .and_then(|number| T::try_from(number).ok())
            .ok_or_else(|| invalid(name, "must be an integer in range")),
    }
}

/// An enum by its contract name, or by number for one this client does not
/// know (as [`audit_log_to_json`](crate::audit_log_to_json) writes it).
fn enum_number(
    fields: &Map<String, Value>,
    name: &str,
    from_name: impl Fn(&str) -> Option<i32>,
) -> Result<i32, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(text)) => from_name(text)
            .or_else(|| text.parse().ok())
            .ok_or_else(|| invalid(name, format!("unknown value {text:?}"))),
        Some(_) => Err(invalid(name, "must be a string")),
    }
}

fn time(fields: &Map<String, Value>, name: &str) -> Result<Option<prost_types::Timestamp>, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_rfc3339(text).map(Some),
        Some(_) => Err(invalid(name, "must be an RFC 3339 string")),
    }
}

fn hex(fields: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => {
            crate::integrity::parse_hex(text).ok_or_else(|| invalid(name, "must be hex"))
        }
        Some(_) => Err(invalid(name, "must be a hex string")),
    }
}
