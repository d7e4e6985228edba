//! DeleteAuditLog: removes one entry and, in the same transaction, records an
//! `audit_log.deleted` entry in the deleted entry's tenant: the trail of the
//! trail.

use super::AuditRpc;
use super::get::{decode_id, reach};
use crate::auth::{Caller, Scope, caller};
use crate::domain::{AuditLogEntry, DELETED_ACTION, Outcome, RequestInfo, Target, now_micros};
use crate::error::AuditError;
use audit_proto as pb;
use audit_validation::violations::Violations;
use serde_json::json;
use tonic::Request;
use uuid::Uuid;

const MAX_REASON_BYTES: usize = 1024;

pub async fn delete(
    rpc: &AuditRpc,
    request: Request<pb::DeleteAuditLogRequest>,
) -> Result<pb::DeleteAuditLogResponse, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Write)?;
    let request_id = request
        .metadata()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request.get_ref();
    let id = decode_id("id", &body.id)?;
    let mut violations = Violations::default();
    violations.check_text("reason", &body.reason, MAX_REASON_BYTES);
    violations.into_result(())?;

    let reason = body.reason.clone();
    let (deleted, record) = rpc
        .store
        .delete(&reach(caller), id, |deleted| {
            deletion_record(caller, deleted, reason, request_id)
        })
        .await?;
    tracing::info!(tenant = %deleted.tenant_id, id = %deleted.id, by = %caller.subject, "audit log deleted");
    Ok(pb::DeleteAuditLogResponse {
        id: deleted.id.to_string(),
        deletion_record_id: record.id.to_string(),
    })
}

/// Builds the entry that records who deleted what, and why.
fn deletion_record(
    caller: &Caller,
    deleted: &AuditLogEntry,
    reason: String,
    request_id: String,
) -> AuditLogEntry {
    let now = now_micros();
    AuditLogEntry {
        id: Uuid::now_v7(),
        tenant_id: deleted.tenant_id.clone(),
        occurred_at: now,
        received_at: now,
        action: DELETED_ACTION.to_owned(),
        actor: caller.actor(),
        target: Target {
            kind: "audit_log".to_owned(),
            id: deleted.id.to_string(),
            name: deleted.action.clone(),
        },
        result: Outcome::Success,
        client_ip: None,
        user_agent: String::new(),
        request: RequestInfo::default(),
        metadata: json!({
            "reason": reason,
            "deleted_action": deleted.action,
            "deleted_occurred_at_us": deleted.occurred_at,
        }),
        request_id,
        idempotency_key: None,
        fingerprint: None,
        chain: None,
    }
}
