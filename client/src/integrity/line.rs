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

use super::metadata_line::MetadataLine;
use crate::{Actor, ActorType, AuditLog, Outcome, RequestInfo, Target, parse_rfc3339};
use serde::Deserialize;
use std::borrow::Cow;

/// What the first pass over a file needs: where the line goes, and whether
/// it is a deletion record.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LineKey<'a> {
    pub sequence: Option<i64>,
    pub action: Option<Cow<'a, str>>,
}

/// Reads the top-level `sequence` and `action` of a line with a byte scan
/// that skips every other value unparsed: the first pass reads every line,
/// so a full JSON parse there would cost as much as the verification. A
/// line the scan misreads cannot verify wrongly: the walk checks every
/// entry as [`parse_entry`] reads it, so a wrong key can only misplace a
/// line (a break is reported), and a malformed line fails there.
pub(crate) fn line_key(line: &str) -> Result<LineKey<'_>, String> {
    let bytes = line.as_bytes();
    let mut key = LineKey::default();
    let mut depth = 0usize;
    let mut expect_key = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                let end = string_end(bytes, at)?;
                if depth == 1 && expect_key {
                    expect_key = false;
                    let value = skip_space(bytes, skip_space(bytes, end + 1) + 1);
                    match &line[at + 1..end] {
                        "sequence" => key.sequence = sequence_at(line, value)?,
                        "action" => key.action = action_at(line, value)?,
                        _ => {}
                    }
                }
                at = end + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && bytes[at] == b'{';
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => expect_key = depth == 1,
            _ => {}
        }
        at += 1;
    }
    Ok(key)
}

/// The index of the quote closing the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, String> {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Ok(at),
            _ => at += 1,
        }
    }
    Err("not a JSON entry: a string is not closed".into())
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

fn sequence_at(line: &str, at: usize) -> Result<Option<i64>, String> {
    let rest = &line[at.min(line.len())..];
    if rest.starts_with("null") {
        return Ok(None);
    }
    let digits = rest
        .char_indices()
        .find(|&(index, c)| !(c.is_ascii_digit() || (index == 0 && c == '-')))
        .map_or(rest.len(), |(index, _)| index);
    rest[..digits]
        .parse()
        .ok()
        .filter(|_| !matches!(rest.as_bytes().get(digits), Some(b'.' | b'e' | b'E')))
        .map(Some)
        .ok_or_else(|| "not a valid entry: sequence must be an integer".to_owned())
}

fn action_at(line: &str, at: usize) -> Result<Option<Cow<'_, str>>, String> {
    let bytes = line.as_bytes();
    match bytes.get(at) {
        Some(b'"') => {
            let end = string_end(bytes, at)?;
            let raw = &line[at + 1..end];
            if !raw.contains('\\') {
                return Ok(Some(Cow::Borrowed(raw)));
            }
            // Escapes: let the JSON parser decode them.
            serde_json::from_str(&line[at..=end])
                .map(|text: String| Some(Cow::Owned(text)))
                .map_err(|error| format!("not a valid entry: action: {error}"))
        }
        _ => Ok(None),
    }
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
    metadata: Option<MetadataLine>,
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
        metadata: fields.metadata.map(|MetadataLine(fields)| fields),
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

#[cfg(test)]
mod tests {
    use super::{LineKey, line_key};
    use std::borrow::Cow;

    fn key(sequence: Option<i64>, action: Option<&str>) -> LineKey<'_> {
        LineKey {
            sequence,
            action: action.map(Cow::Borrowed),
        }
    }

    #[test]
    fn finds_the_top_level_sequence_and_action_only() {
        let line = r#"{"action":"audit_log.deleted","metadata":{"sequence":9,"action":"x","s":"a\"sequence\":7"},"sequence":12,"target":null}"#;
        assert_eq!(
            line_key(line).unwrap(),
            key(Some(12), Some("audit_log.deleted"))
        );
        let spaced = r#"{ "l": [ {"sequence": 3} ], "sequence" : -4 , "action" : "a\u002eb" }"#;
        assert_eq!(line_key(spaced).unwrap(), key(Some(-4), Some("a.b")));
        assert_eq!(line_key(r#"{"sequence":null}"#).unwrap(), key(None, None));
        assert_eq!(line_key("{}").unwrap(), key(None, None));
        assert!(line_key(r#"{"sequence":1.5}"#).is_err());
        assert!(line_key(r#"{"sequence":"7"}"#).is_err());
        assert!(line_key(r#"{"action":"open"#).is_err());
    }
}
