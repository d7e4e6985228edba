//! Deleting one entry together with recording the deletion.

use super::entity::audit_log;
use super::get::find;
use super::rows::{entry_to_model, model_to_entry};
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, TenantScope};
use sea_orm::{EntityTrait, IntoActiveModel};
use uuid::Uuid;

impl AuditStore {
    /// In one transaction: finds the entry in the scope, deletes it, builds
    /// the deletion record with `record` and stores it in the deleted
    /// entry's tenant. Returns (deleted entry, deletion record).
    /// `NotFound` when the scope holds no such entry.
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
        let removed = audit_log::Entity::delete_by_id((deleted.tenant_id.clone(), deleted.id))
            .exec(&txn)
            .await?;
        if removed.rows_affected != 1 {
            // Another delete won the race on Postgres (READ COMMITTED).
            return Err(StoreError::NotFound(id.to_string()));
        }

        let mut deletion = record(&deleted);
        // The record belongs with what it records, whatever the builder said.
        deletion.tenant_id.clone_from(&deleted.tenant_id);
        audit_log::Entity::insert(entry_to_model(&deletion).into_active_model())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok((deleted, deletion))
    }
}
