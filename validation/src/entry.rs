//! `AuditLogInput` → validated [`AuditLogEntry`], and [`AuditLogEntry`] →
//! `AuditLog`.

use crate::domain::{
    Actor, ActorType, AuditLogEntry, Micros, Outcome, RequestInfo, Target, entry_to_message,
};
use crate::json::struct_to_json;
use crate::timestamp::to_micros;
use crate::violations::Violations;
use audit_proto as pb;
use prost::Message;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use uuid::Uuid;

/// Longest action name, in bytes.
pub const MAX_ACTION_BYTES: usize = 256;
/// Largest metadata, as encoded on the wire.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest identifier-like field (ids, names, emails, keys).
pub const MAX_FIELD_BYTES: usize = 1024;
/// Longest user agent or request path.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Validates one input; violations are named `{path}.{field}`.
pub fn decode_entry(
    path: &str,
    input: &pb::AuditLogInput,
    tenant_id: &str,
    received_at: Micros,
    violations: &mut Violations,
) -> Option<AuditLogEntry> {
    let before = violations.len();
    check_action(&format!("{path}.action"), &input.action, violations);

    let occurred_at = match &input.occurred_at {
        None => received_at,
        Some(timestamp) => to_micros(timestamp).unwrap_or_else(|| {
            violations.add(
                format!("{path}.occurred_at"),
                "must be a valid timestamp between years 1 and 9999",
            );
            0
        }),
    };

    let actor = input.actor.clone().unwrap_or_default();
    let actor_kind = ActorType::try_from(actor.r#type).unwrap_or_else(|_| {
        violations.add(
            format!("{path}.actor.type"),
            format!("unknown ActorType value {}", actor.r#type),
        );
        ActorType::Unspecified
    });
    for (field, value) in [
        ("id", &actor.id),
        ("name", &actor.name),
        ("email", &actor.email),
    ] {
        violations.check_text(format!("{path}.actor.{field}"), value, MAX_FIELD_BYTES);
    }

    let target = input.target.clone().unwrap_or_default();
    for (field, value) in [
        ("type", &target.r#type),
        ("id", &target.id),
        ("name", &target.name),
    ] {
        violations.check_text(format!("{path}.target.{field}"), value, MAX_FIELD_BYTES);
    }

    let result = Outcome::try_from(input.result).unwrap_or_else(|_| {
        violations.add(
            format!("{path}.result"),
            format!("unknown Result value {}", input.result),
        );
        Outcome::Unspecified
    });

    let client_ip = if input.client_ip.is_empty() {
        None
    } else {
        input
            .client_ip
            .parse::<IpAddr>()
            .map(Some)
            .unwrap_or_else(|_| {
                violations.add(
                    format!("{path}.client_ip"),
                    "must be an IPv4 or IPv6 address",
                );
                None
            })
    };
    violations.check_text(
        format!("{path}.user_agent"),
        &input.user_agent,
        MAX_TEXT_BYTES,
    );

    let request = input.request.clone().unwrap_or_default();
    violations.check_text(
        format!("{path}.request.method"),
        &request.method,
        MAX_FIELD_BYTES,
    );
    violations.check_text(
        format!("{path}.request.path"),
        &request.path,
        MAX_TEXT_BYTES,
    );
    // 0..=16 are gRPC status codes, 100..=599 HTTP ones.
    if !(0..=16).contains(&request.status_code) && !(100..=599).contains(&request.status_code) {
        violations.add(
            format!("{path}.request.status_code"),
            "must be a gRPC status code (0 to 16) or an HTTP status (100 to 599)",
        );
    }

    let metadata = match &input.metadata {
        None => serde_json::Value::Null,
        Some(fields) => {
            let size = fields.encoded_len();
            if size > MAX_METADATA_BYTES {
                violations.add(
                    format!("{path}.metadata"),
                    format!("must be at most {MAX_METADATA_BYTES} bytes encoded, got {size}"),
                );
            }
            struct_to_json(fields).unwrap_or_else(|problem| {
                violations.add(format!("{path}.metadata"), problem.description());
                serde_json::Value::Null
            })
        }
    };
    violations.check_text(
        format!("{path}.request_id"),
        &input.request_id,
        MAX_FIELD_BYTES,
    );
    violations.check_text(
        format!("{path}.idempotency_key"),
        &input.idempotency_key,
        MAX_FIELD_BYTES,
    );

    if violations.len() != before {
        return None;
    }
    let idempotency_key = Some(input.idempotency_key.clone()).filter(|key| !key.is_empty());
    // The fingerprint covers the input as sent, so a retry that again omits
    // occurred_at matches although the defaulted time differs.
    let fingerprint = idempotency_key
        .as_ref()
        .map(|_| Sha256::digest(input.encode_to_vec()).to_vec());
    Some(AuditLogEntry {
        id: Uuid::now_v7(),
        tenant_id: tenant_id.to_owned(),
        occurred_at,
        received_at,
        action: input.action.clone(),
        actor: Actor {
            id: actor.id,
            kind: actor_kind,
            name: actor.name,
            email: actor.email,
        },
        target: Target {
            kind: target.r#type,
            id: target.id,
            name: target.name,
        },
        result,
        client_ip,
        user_agent: input.user_agent.clone(),
        request: RequestInfo {
            method: request.method,
            path: request.path,
            status_code: request.status_code,
        },
        metadata,
        request_id: input.request_id.clone(),
        idempotency_key,
        fingerprint,
        chain: None,
    })
}

/// Checks an action name: dotted words, no spaces, no `*` (which filters
/// reserve for prefixes).
fn check_action(field: &str, action: &str, violations: &mut Violations) {
    if action.is_empty() {
        violations.add(field, "is required, e.g. user.login");
    } else if action.len() > MAX_ACTION_BYTES {
        violations.add(
            field,
            format!(
                "must be at most {MAX_ACTION_BYTES} bytes, got {}",
                action.len()
            ),
        );
    } else if action
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '*')
    {
        violations.add(
            field,
            "must not contain whitespace, control characters or '*'",
        );
    }
}

/// Encodes a stored entry for the wire.
pub fn encode_entry(entry: AuditLogEntry) -> pb::AuditLog {
    entry_to_message(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violated_fields(input: &pb::AuditLogInput) -> Vec<String> {
        let mut violations = Violations::default();
        let entry = decode_entry("entries[0]", input, "acme", 0, &mut violations);
        match violations.into_result(entry) {
            Ok(_) => Vec::new(),
            Err(crate::ValidationError::InvalidArgument(violations)) => violations
                .into_iter()
                .map(|violation| violation.field)
                .collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    // Found by the append_request fuzz target: an actor email holding NUL
    // passed validation, and Postgres refuses NUL in text columns.
    #[test]
    fn nul_in_any_text_field_is_a_violation() {
        let input = pb::AuditLogInput {
            action: "user.login".into(),
            actor: Some(pb::Actor {
                email: "ada@\0example.com".into(),
                ..Default::default()
            }),
            user_agent: "curl\0".into(),
            idempotency_key: "\0".into(),
            ..Default::default()
        };
        assert_eq!(
            violated_fields(&input),
            [
                "entries[0].actor.email",
                "entries[0].user_agent",
                "entries[0].idempotency_key"
            ]
        );
    }

    #[test]
    fn a_plain_entry_passes() {
        let input = pb::AuditLogInput {
            action: "user.login".into(),
            ..Default::default()
        };
        assert!(violated_fields(&input).is_empty());
    }
}
