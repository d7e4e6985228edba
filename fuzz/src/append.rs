//! An AppendAuditLogs batch through the server's validation: every entry
//! that passes must be storable as it is.

use crate::stored::{assert_storable_json, assert_text, assert_time};
use audit_proto as pb;
use audit_validation::ValidationError;
use audit_validation::batch::{MAX_BATCH, decode_batch};
use audit_validation::domain::{AuditLogEntry, json_to_struct};
use audit_validation::entry::{
    MAX_ACTION_BYTES, MAX_FIELD_BYTES, MAX_METADATA_BYTES, MAX_TEXT_BYTES, encode_entry,
};
use audit_validation::json::struct_to_json;
use prost::Message;
use std::collections::HashSet;

/// The tenant of the appending caller.
const TENANT: &str = "acme";
/// When the batch arrived: 2026-12-01T00:00:00Z.
const RECEIVED_AT: i64 = 1_796_083_200_000_000;

/// Validates a batch and asserts what the store relies on.
pub fn check_append_request(request: &pb::AppendAuditLogsRequest) {
    match decode_batch(&request.entries, TENANT, RECEIVED_AT) {
        Ok(entries) => {
            assert!((1..=MAX_BATCH).contains(&entries.len()));
            assert_eq!(
                entries.len(),
                request.entries.len(),
                "an entry went missing"
            );
            let mut keys = HashSet::new();
            for (entry, input) in entries.iter().zip(&request.entries) {
                check_entry(entry, input);
                if let Some(key) = &entry.idempotency_key {
                    assert!(keys.insert(key.clone()), "key {key:?} twice in one batch");
                }
            }
        }
        Err(ValidationError::InvalidArgument(violations)) => {
            assert!(!violations.is_empty());
            for violation in &violations {
                assert!(!violation.description.is_empty());
            }
        }
        Err(other) => panic!("append validation answered {other:?}"),
    }
}

fn check_entry(entry: &AuditLogEntry, input: &pb::AuditLogInput) {
    assert_eq!(entry.tenant_id, TENANT);
    assert_eq!(entry.received_at, RECEIVED_AT);
    assert!(entry.chain.is_none(), "validation linked an entry");
    assert_time("occurred_at", entry.occurred_at);
    if input.occurred_at.is_none() {
        assert_eq!(entry.occurred_at, RECEIVED_AT);
    }

    assert!(!entry.action.is_empty());
    assert_text("action", &entry.action, MAX_ACTION_BYTES);
    assert!(
        !entry
            .action
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '*'),
        "action {:?} passed validation",
        entry.action
    );
    for (field, value) in [
        ("actor.id", &entry.actor.id),
        ("actor.name", &entry.actor.name),
        ("actor.email", &entry.actor.email),
        ("target.type", &entry.target.kind),
        ("target.id", &entry.target.id),
        ("target.name", &entry.target.name),
        ("request.method", &entry.request.method),
        ("request_id", &entry.request_id),
    ] {
        assert_text(field, value, MAX_FIELD_BYTES);
    }
    assert_text("user_agent", &entry.user_agent, MAX_TEXT_BYTES);
    assert_text("request.path", &entry.request.path, MAX_TEXT_BYTES);
    let status = entry.request.status_code;
    assert!((0..=16).contains(&status) || (100..=599).contains(&status));

    match &entry.idempotency_key {
        Some(key) => {
            assert!(!key.is_empty());
            assert_text("idempotency_key", key, MAX_FIELD_BYTES);
            assert_eq!(entry.fingerprint.as_ref().map(Vec::len), Some(32));
        }
        None => assert!(entry.fingerprint.is_none()),
    }

    match &entry.metadata {
        serde_json::Value::Null => assert!(input.metadata.is_none()),
        serde_json::Value::Object(_) => {
            assert_storable_json("metadata", &entry.metadata);
            let sent = input.metadata.as_ref().map_or(0, Message::encoded_len);
            assert!(
                sent <= MAX_METADATA_BYTES,
                "{sent} bytes of metadata passed"
            );
            let fields = json_to_struct(entry.metadata.clone()).expect("an object converts");
            // What the chain digests is rebuilt from the stored JSON: it must
            // read back as the very same JSON.
            assert_eq!(struct_to_json(&fields).as_ref(), Ok(&entry.metadata));
        }
        other => panic!("metadata stored as {other}"),
    }

    // Encoding for the wire or the chain digest must not fail either.
    let message = encode_entry(entry.clone());
    assert_eq!(message.action, entry.action);
}
