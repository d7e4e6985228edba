//! AppendAuditLogs: validate the batch, store it in one transaction, return
//! the ids in input order.

use super::AuditRpc;
use crate::auth::{Scope, caller};
use crate::domain::now_micros;
use crate::error::AuditError;
use audit_proto as pb;
use audit_validation::batch::decode_batch;
use tonic::Request;

pub async fn append(
    rpc: &AuditRpc,
    request: Request<pb::AppendAuditLogsRequest>,
) -> Result<pb::AppendAuditLogsResponse, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Append)?;
    let tenant_id = caller.tenant_id.clone();
    let entries = decode_batch(&request.get_ref().entries, &tenant_id, now_micros())?;
    let ids = rpc.store.append(&tenant_id, entries).await?;
    tracing::debug!(tenant = %tenant_id, count = ids.len(), "appended audit logs");
    Ok(pb::AppendAuditLogsResponse {
        ids: ids.iter().map(ToString::to_string).collect(),
    })
}
