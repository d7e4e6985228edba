//! SetLegalHold, ClearLegalHold and GetLegalHold: an admin freezes a
//! tenant's trail against deletion, and every change of the hold is itself
//! an entry in that tenant's chain.

use super::AuditRpc;
use crate::auth::{Caller, Scope, caller};
use crate::domain::from_micros;
use crate::domain::{AuditLogEntry, Outcome, RequestInfo, Target, now_micros};
use crate::error::AuditError;
use crate::store::LegalHoldRecord;
use audit_proto as pb;
use audit_validation::violations::Violations;
use serde_json::json;
use tonic::Request;
use uuid::Uuid;

pub const HOLD_SET_ACTION: &str = "legal_hold.set";
pub const HOLD_CLEARED_ACTION: &str = "legal_hold.cleared";

const MAX_REASON_BYTES: usize = 1024;

pub async fn set_legal_hold(
    rpc: &AuditRpc,
    request: Request<pb::SetLegalHoldRequest>,
) -> Result<pb::LegalHold, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Admin)?;
    let body = request.get_ref();
    validate(&body.tenant_id, Some(&body.reason))?;
    let record = hold_record(
        caller,
        &request,
        &body.tenant_id,
        HOLD_SET_ACTION,
        &body.reason,
    );
    let hold = rpc.store.set_legal_hold(record, &body.reason).await?;
    tracing::info!(tenant = %hold.tenant_id, by = %caller.subject, "legal hold set");
    Ok(hold_message(&hold))
}

pub async fn clear_legal_hold(
    rpc: &AuditRpc,
    request: Request<pb::ClearLegalHoldRequest>,
) -> Result<pb::LegalHold, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Admin)?;
    let body = request.get_ref();
    validate(&body.tenant_id, Some(&body.reason))?;
    let record = hold_record(
        caller,
        &request,
        &body.tenant_id,
        HOLD_CLEARED_ACTION,
        &body.reason,
    );
    let hold = rpc.store.clear_legal_hold(record).await?;
    tracing::info!(tenant = %hold.tenant_id, by = %caller.subject, "legal hold cleared");
    Ok(hold_message(&hold))
}

pub async fn get_legal_hold(
    rpc: &AuditRpc,
    request: Request<pb::GetLegalHoldRequest>,
) -> Result<pb::LegalHold, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Admin)?;
    let tenant_id = &request.get_ref().tenant_id;
    validate(tenant_id, None)?;
    let hold = rpc.store.legal_hold(tenant_id).await?;
    Ok(hold_message(&hold))
}

/// A hold names its tenant outright, even the admin's own: holding the
/// wrong tenant by default is worse than a refused call. Changing a hold
/// needs a reason, which an auditor will ask for.
fn validate(tenant_id: &str, reason: Option<&str>) -> Result<(), AuditError> {
    let mut violations = Violations::default();
    if tenant_id.is_empty() {
        violations.add("tenant_id", "is required");
    }
    violations.check_no_nul("tenant_id", tenant_id);
    if let Some(reason) = reason {
        if reason.is_empty() {
            violations.add("reason", "is required");
        }
        violations.check_text("reason", reason, MAX_REASON_BYTES);
    }
    violations.into_result(()).map_err(AuditError::from)
}

/// Builds the entry that records who changed the hold on which tenant, and
/// why.
fn hold_record<T>(
    caller: &Caller,
    request: &Request<T>,
    tenant_id: &str,
    action: &str,
    reason: &str,
) -> AuditLogEntry {
    let request_id = request
        .metadata()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let now = now_micros();
    AuditLogEntry {
        id: Uuid::now_v7(),
        tenant_id: tenant_id.to_owned(),
        occurred_at: now,
        received_at: now,
        action: action.to_owned(),
        actor: caller.actor(),
        target: Target {
            kind: "tenant".to_owned(),
            id: tenant_id.to_owned(),
            name: String::new(),
        },
        result: Outcome::Success,
        client_ip: None,
        user_agent: String::new(),
        request: RequestInfo::default(),
        metadata: json!({ "reason": reason }),
        request_id,
        idempotency_key: None,
        fingerprint: None,
        chain: None,
    }
}

fn hold_message(hold: &LegalHoldRecord) -> pb::LegalHold {
    pb::LegalHold {
        tenant_id: hold.tenant_id.clone(),
        active: hold.active,
        reason: hold.reason.clone(),
        since: hold.since.map(from_micros),
        set_by: hold.set_by.clone(),
    }
}
