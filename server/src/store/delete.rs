//! Deleting one entry together with recording the deletion: the row goes, a
//! tombstone keeps its link in the hash chain, and the chained deletion
//! record names the tombstone's sequence and digest.

use super::chain::{head_of, lock_tenant, set_link};
use super::entity::{audit_log, audit_tombstone};
use super::get::find;
use super::idempotency::forget_key;
use super::legal_hold::find_hold;
use super::rows::{entry_to_model, model_to_entry};
use super::{AuditStore, StoreError};
use crate::domain::{
    AuditLogEntry, ChainLink, DELETED_ACTION, DELETED_DIGEST_KEY, DELETED_SEQUENCE_KEY,
    TenantScope, now_micros,
};
use audit_proto::integrity::to_hex;
use sea_orm::{DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel};
use uuid::Uuid;

impl AuditStore {
    /// In one transaction: finds the entry in the scope, deletes it, builds
    /// the deletion record with `record` and stores it, chained, in the
    /// deleted entry's tenant, with a tombstone of the deleted entry's link.
    /// Returns (deleted entry, deletion record). `NotFound` when the scope
    /// holds no such entry; `FailedPrecondition` when its tenant is on legal
    /// hold or the entry is itself a deletion record.
    pub async fn delete<F>(
        &self,
        scope: &TenantScope,
        id: Uuid,
        record: F,
    ) -> Result<(AuditLogEntry, AuditLogEntry), StoreError>
    where
        F: FnOnce(&AuditLogEntry) -> AuditLogEntry + Send,
    {
        let txn = self.begin_write().await?;
        let Some(row) = find(&txn, scope, id).await? else {
            return Err(StoreError::NotFound(id.to_string()));
        };
        let deleted = model_to_entry(row)?;
        if deleted.action == DELETED_ACTION {
            // Its metadata is what makes a tombstone verifiable.
            return Err(StoreError::FailedPrecondition(format!(
                "audit log {id} is a deletion record: deletion records keep tombstones verifiable"
            )));
        }
        // Locking the tenant before checking its hold: a concurrent
        // SetLegalHold waits for this transaction, or this one for it.
        let tenant = lock_tenant(&txn, &deleted.tenant_id).await?;
        if find_hold(&txn, &deleted.tenant_id).await?.is_some() {
            return Err(StoreError::FailedPrecondition(format!(
                "tenant {} is on legal hold",
                deleted.tenant_id
            )));
        }
        let mut head = head_of(tenant)?;
        let removed = audit_log::Entity::delete_by_id((deleted.tenant_id.clone(), deleted.id))
            .exec(&txn)
            .await?;
        if removed.rows_affected != 1 {
            // Another delete won the race on Postgres (READ COMMITTED).
            return Err(StoreError::NotFound(id.to_string()));
        }
        if let Some(key) = &deleted.idempotency_key {
            forget_key(&txn, &deleted.tenant_id, key, deleted.id).await?;
        }

        let mut deletion = record(&deleted);
        // The record belongs with what it records, whatever the builder said.
        deletion.tenant_id.clone_from(&deleted.tenant_id);
        if let Some(link) = &deleted.chain {
            name_tombstone(&mut deletion, link);
        }
        let deletion_link = head.link(&deletion)?;
        let mut deletion_row = entry_to_model(&deletion);
        set_link(&mut deletion_row, &deletion_link);
        audit_log::Entity::insert(deletion_row.into_active_model())
            .exec_without_returning(&txn)
            .await?;
        if let Some(link) = &deleted.chain {
            insert_tombstone(&txn, &deleted, link, deletion_link.sequence).await?;
        }
        head.save(&txn).await?;
        txn.commit().await?;
        self.notifier.chain_moved(&deleted.tenant_id);
        deletion.chain = Some(deletion_link);
        Ok((deleted, deletion))
    }
}

/// Puts the deleted link's sequence and digest in the deletion record's
/// metadata, where verification matches the tombstone against them.
fn name_tombstone(deletion: &mut AuditLogEntry, link: &ChainLink) {
    if !deletion.metadata.is_object() {
        deletion.metadata = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(metadata) = deletion.metadata.as_object_mut() {
        metadata.insert(DELETED_SEQUENCE_KEY.to_owned(), link.sequence.into());
        metadata.insert(
            DELETED_DIGEST_KEY.to_owned(),
            to_hex(&link.content_digest).into(),
        );
    }
}

async fn insert_tombstone(
    txn: &DatabaseTransaction,
    deleted: &AuditLogEntry,
    link: &ChainLink,
    deletion_sequence: i64,
) -> Result<(), DbErr> {
    let tombstone = audit_tombstone::Model {
        tenant_id: deleted.tenant_id.clone(),
        sequence: link.sequence,
        entry_id: deleted.id,
        content_digest: link.content_digest.to_vec(),
        hash: link.hash.to_vec(),
        deleted_at: now_micros(),
        deletion_sequence,
    };
    audit_tombstone::Entity::insert(tombstone.into_active_model())
        .exec_without_returning(txn)
        .await?;
    Ok(())
}
