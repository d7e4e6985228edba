//! GetAuditLog: one entry by id, within the caller's tenant (any tenant for
//! an admin). Another tenant's entry is NOT_FOUND: existence is not revealed.

use super::AuditRpc;
use crate::auth::{Caller, Scope, caller};
use crate::domain::TenantScope;
use crate::error::AuditError;
use audit_proto as pb;
use audit_validation::entry::encode_entry;
use tonic::Request;
use uuid::Uuid;

pub async fn get(
    rpc: &AuditRpc,
    request: Request<pb::GetAuditLogRequest>,
) -> Result<pb::AuditLog, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Read)?;
    let id = decode_id("id", &request.get_ref().id)?;
    let entry = rpc
        .store
        .get(&reach(caller), id)
        .await?
        .ok_or_else(|| AuditError::NotFound(id.to_string()))?;
    Ok(encode_entry(entry))
}

/// Parses an entry id.
pub fn decode_id(field: &str, text: &str) -> Result<Uuid, AuditError> {
    if text.is_empty() {
        return Err(AuditError::invalid(field, "is required"));
    }
    Uuid::try_parse(text)
        .map_err(|_| AuditError::invalid(field, format!("must be a UUID, got {text:?}")))
}

/// The tenants whose entries a caller may address by id.
pub fn reach(caller: &Caller) -> TenantScope {
    if caller.is_admin() {
        TenantScope::All
    } else {
        TenantScope::One(caller.tenant_id.clone())
    }
}
