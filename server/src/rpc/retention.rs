//! SetRetentionPolicy and GetRetentionPolicy: an admin chooses how many
//! days a tenant's entries are kept (never under the server's minimum), and
//! every change of the policy is itself an entry in that tenant's chain.

use super::AuditRpc;
use crate::auth::{Caller, Scope, caller};
use crate::domain::from_micros;
use crate::domain::{AuditLogEntry, Outcome, RequestInfo, Target, now_micros};
use crate::error::AuditError;
use crate::retention::MAX_RETENTION_DAYS;
use crate::store::{Pruned, PrunedPoint, RetentionRecord};
use audit_proto as pb;
use audit_validation::violations::Violations;
use serde_json::json;
use tonic::Request;
use uuid::Uuid;

pub const POLICY_SET_ACTION: &str = "retention_policy.set";
pub const POLICY_CLEARED_ACTION: &str = "retention_policy.cleared";

const MAX_REASON_BYTES: usize = 1024;

pub async fn set_retention_policy(
    rpc: &AuditRpc,
    request: Request<pb::SetRetentionPolicyRequest>,
) -> Result<pb::RetentionPolicy, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Admin)?;
    let body = request.get_ref();
    let minimum_days = rpc.retention.minimum_days;
    let mut violations = Violations::default();
    check_tenant(&mut violations, &body.tenant_id);
    let days = body.retention_days;
    if !(0..=MAX_RETENTION_DAYS).contains(&days) {
        violations.add(
            "retention_days",
            format!("must be 0 (no policy) or {minimum_days}..{MAX_RETENTION_DAYS}, got {days}"),
        );
    } else if days != 0 && days < minimum_days {
        violations.add(
            "retention_days",
            format!("must be at least the server minimum of {minimum_days} days, got {days}"),
        );
    }
    violations.check_text("reason", &body.reason, MAX_REASON_BYTES);
    violations.into_result(())?;

    let record = policy_record(caller, &request, &body.tenant_id, days, &body.reason);
    let policy = rpc.store.set_retention(record, days).await?;
    tracing::info!(
        tenant = %policy.tenant_id,
        retention_days = days,
        by = %caller.subject,
        "retention policy set"
    );
    Ok(policy_message(&policy, minimum_days))
}

pub async fn get_retention_policy(
    rpc: &AuditRpc,
    request: Request<pb::GetRetentionPolicyRequest>,
) -> Result<pb::RetentionPolicy, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Admin)?;
    let tenant_id = &request.get_ref().tenant_id;
    let mut violations = Violations::default();
    check_tenant(&mut violations, tenant_id);
    violations.into_result(())?;
    let policy = rpc.store.retention(tenant_id).await?;
    Ok(policy_message(&policy, rpc.retention.minimum_days))
}

/// A policy names its tenant outright, even the admin's own: purging the
/// wrong tenant by default is worse than a refused call.
fn check_tenant(violations: &mut Violations, tenant_id: &str) {
    if tenant_id.is_empty() {
        violations.add("tenant_id", "is required");
    }
    violations.check_no_nul("tenant_id", tenant_id);
}

/// Builds the entry that records who changed which tenant's policy, to
/// how many days, and why.
fn policy_record<T>(
    caller: &Caller,
    request: &Request<T>,
    tenant_id: &str,
    days: i32,
    reason: &str,
) -> AuditLogEntry {
    let request_id = request
        .metadata()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let action = if days == 0 {
        POLICY_CLEARED_ACTION
    } else {
        POLICY_SET_ACTION
    };
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
        metadata: json!({ "retention_days": days, "reason": reason }),
        request_id,
        idempotency_key: None,
        fingerprint: None,
        chain: None,
    }
}

fn policy_message(policy: &RetentionRecord, minimum_days: i32) -> pb::RetentionPolicy {
    let point = match &policy.pruned {
        Pruned::Through(point) => Some(point),
        Pruned::Nothing | Pruned::Malformed(_) => None,
    };
    pb::RetentionPolicy {
        tenant_id: policy.tenant_id.clone(),
        retention_days: policy.retention_days,
        minimum_days,
        set_by: policy.set_by.clone(),
        set_at: policy.set_at.map(from_micros),
        pruned_through_sequence: policy.pruned.sequence(),
        pruned_at: point.map(|point| from_micros(point.time)),
        pruned_checkpoint: point.map(|point| pruned_checkpoint_message(&policy.tenant_id, point)),
    }
}

/// The signed pruned point as a client (or verification) checks it.
pub(super) fn pruned_checkpoint_message(
    tenant_id: &str,
    point: &PrunedPoint,
) -> pb::PrunedCheckpoint {
    pb::PrunedCheckpoint {
        tenant_id: tenant_id.to_owned(),
        sequence: point.sequence,
        head_hash: point.hash.to_vec(),
        time: Some(from_micros(point.time)),
        key_id: point.key_id.clone(),
        signature: point.signature.clone(),
    }
}
