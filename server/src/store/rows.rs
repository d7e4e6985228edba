//! Conversions between the `audit_logs` row and the domain's `AuditLogEntry`.

use super::StoreError;
use super::chain::to_hash;
use super::entity::audit_log;
use crate::domain::{
    Actor, ActorType, AuditLogEntry, ChainLink, Outcome, RequestInfo, Target, ip_from_key,
    ip_to_key,
};

/// Returns the first dotted segment of an action, "" when it has no dot: the
/// value of the `action_namespace` column.
pub(crate) fn action_namespace(action: &str) -> &str {
    action
        .split_once('.')
        .map_or("", |(namespace, _)| namespace)
}

/// Returns the row that stores an entry.
pub(crate) fn entry_to_model(entry: &AuditLogEntry) -> audit_log::Model {
    audit_log::Model {
        tenant_id: entry.tenant_id.clone(),
        id: entry.id,
        occurred_at: entry.occurred_at,
        received_at: entry.received_at,
        action: entry.action.clone(),
        action_namespace: action_namespace(&entry.action).to_owned(),
        actor_id: entry.actor.id.clone(),
        actor_type: enum_to_column(entry.actor.kind as i32),
        actor_name: entry.actor.name.clone(),
        actor_email: entry.actor.email.clone(),
        target_type: entry.target.kind.clone(),
        target_id: entry.target.id.clone(),
        target_name: entry.target.name.clone(),
        result: enum_to_column(entry.result as i32),
        client_ip: entry.client_ip.map(|address| ip_to_key(address).to_vec()),
        user_agent: entry.user_agent.clone(),
        request_method: entry.request.method.clone(),
        request_path: entry.request.path.clone(),
        request_status_code: entry.request.status_code,
        // No metadata is stored as SQL NULL rather than a JSON `null`.
        metadata: (!entry.metadata.is_null()).then(|| entry.metadata.clone()),
        request_id: entry.request_id.clone(),
        idempotency_key: entry.idempotency_key.clone(),
        idempotency_fingerprint: entry.fingerprint.clone(),
        sequence: entry.chain.as_ref().map(|link| link.sequence),
        content_digest: entry
            .chain
            .as_ref()
            .map(|link| link.content_digest.to_vec()),
        hash: entry.chain.as_ref().map(|link| link.hash.to_vec()),
    }
}

/// Returns the entry a row stores; Internal when the row is malformed.
pub(crate) fn model_to_entry(row: audit_log::Model) -> Result<AuditLogEntry, StoreError> {
    let chain = chain_link(&row)?;
    let client_ip = match row.client_ip {
        None => None,
        Some(bytes) => {
            let key: [u8; 16] = bytes.as_slice().try_into().map_err(|_| {
                StoreError::Internal(format!(
                    "audit log {} has a {}-byte client_ip, expected 16",
                    row.id,
                    bytes.len()
                ))
            })?;
            Some(ip_from_key(key))
        }
    };
    Ok(AuditLogEntry {
        id: row.id,
        tenant_id: row.tenant_id,
        occurred_at: row.occurred_at,
        received_at: row.received_at,
        action: row.action,
        actor: Actor {
            id: row.actor_id,
            kind: actor_type_from_column(row.actor_type),
            name: row.actor_name,
            email: row.actor_email,
        },
        target: Target {
            kind: row.target_type,
            id: row.target_id,
            name: row.target_name,
        },
        result: outcome_from_column(row.result),
        client_ip,
        user_agent: row.user_agent,
        request: RequestInfo {
            method: row.request_method,
            path: row.request_path,
            status_code: row.request_status_code,
        },
        metadata: row.metadata.unwrap_or(serde_json::Value::Null),
        request_id: row.request_id,
        idempotency_key: row.idempotency_key,
        fingerprint: row.idempotency_fingerprint,
        chain,
    })
}

/// Returns the chain link a row holds: None when it has no sequence,
/// Internal when its digest or hash is missing or not 32 bytes.
fn chain_link(row: &audit_log::Model) -> Result<Option<ChainLink>, StoreError> {
    let Some(sequence) = row.sequence else {
        return Ok(None);
    };
    let digest = |bytes: &Option<Vec<u8>>, what: &str| {
        bytes.as_deref().and_then(to_hash).ok_or_else(|| {
            StoreError::Internal(format!(
                "audit log {} at sequence {sequence} has a malformed {what}",
                row.id
            ))
        })
    };
    Ok(Some(ChainLink {
        sequence,
        content_digest: digest(&row.content_digest, "content digest")?,
        hash: digest(&row.hash, "hash")?,
    }))
}

/// Returns the column value of a proto enum number. Proto enums here are
/// small; a number beyond i16 (impossible for a validated entry) is stored
/// as 0, the UNSPECIFIED value.
pub(crate) fn enum_to_column(number: i32) -> i16 {
    i16::try_from(number).unwrap_or(0)
}

/// Returns the actor type a column holds; UNSPECIFIED for a number this
/// build does not know (written by a newer version).
pub(crate) fn actor_type_from_column(value: i16) -> ActorType {
    ActorType::try_from(i32::from(value)).unwrap_or_default()
}

/// Returns the result a column holds; UNSPECIFIED for an unknown number.
pub(crate) fn outcome_from_column(value: i16) -> Outcome {
    Outcome::try_from(i32::from(value)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_the_first_dotted_segment() {
        assert_eq!(action_namespace("user.login"), "user");
        assert_eq!(action_namespace("user.mfa.enabled"), "user");
        assert_eq!(action_namespace("login"), "");
        assert_eq!(action_namespace(".x"), "");
    }
}
