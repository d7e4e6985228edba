//! A whole AppendAuditLogs batch: its size, every entry, and idempotency
//! keys that must not repeat within it.

use crate::domain::{AuditLogEntry, Micros};
use crate::entry::decode_entry;
use crate::error::ValidationError;
use crate::violations::Violations;
use audit_proto as pb;
use std::collections::HashMap;

/// Most entries in one call.
pub const MAX_BATCH: usize = 1000;

/// Validates every input of a batch for `tenant_id`; returns the entries in
/// input order, or every violation of the batch at once.
pub fn decode_batch(
    inputs: &[pb::AuditLogInput],
    tenant_id: &str,
    received_at: Micros,
) -> Result<Vec<AuditLogEntry>, ValidationError> {
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        return Err(ValidationError::invalid(
            "entries",
            format!("must hold 1 to {MAX_BATCH} entries, got {}", inputs.len()),
        ));
    }
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
        if let Some(entry) = decode_entry(&path, input, tenant_id, received_at, &mut violations) {
            entries.push(entry);
        }
    }
    violations.into_result(entries)
}
