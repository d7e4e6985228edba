//! AppendAuditLogs: validate the batch, store it in one transaction, return
//! the ids in input order.

use super::AuditRpc;
use super::entry::decode_entry;
use super::violations::Violations;
use crate::auth::{Scope, caller};
use crate::domain::now_micros;
use crate::error::AuditError;
use audit_proto as pb;
use std::collections::HashMap;
use tonic::Request;

/// Most entries in one call.
pub const MAX_BATCH: usize = 1000;

pub async fn append(
    rpc: &AuditRpc,
    request: Request<pb::AppendAuditLogsRequest>,
) -> Result<pb::AppendAuditLogsResponse, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Append)?;
    let tenant_id = caller.tenant_id.clone();
    let inputs = &request.get_ref().entries;

    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        return Err(AuditError::invalid(
            "entries",
            format!("must hold 1 to {MAX_BATCH} entries, got {}", inputs.len()),
        ));
    }
    let received_at = now_micros();
    let mut violations = Violations::default();
    let mut first_use_of_key: HashMap<&str, usize> = HashMap::new();
    let mut entries = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let path = format!("entries[{index}]");
        if !input.idempotency_key.is_empty()
            && let Some(first) = first_use_of_key.insert(&input.idempotency_key, index)
        {
            violations.add(
                format!("{path}.idempotency_key"),
                format!("repeats the key of entries[{first}] in the same batch"),
            );
        }
        if let Some(entry) = decode_entry(&path, input, &tenant_id, received_at, &mut violations) {
            entries.push(entry);
        }
    }
    let entries = violations.into_result(entries)?;
    let ids = rpc.store.append(&tenant_id, entries).await?;
    tracing::debug!(tenant = %tenant_id, count = ids.len(), "appended audit logs");
    Ok(pb::AppendAuditLogsResponse {
        ids: ids.iter().map(ToString::to_string).collect(),
    })
}
