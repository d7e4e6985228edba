//! A tenant's legal hold: setting and clearing it together with the chained
//! entry that records the change, and reading it. Both changes take the
//! tenant's chain head lock, as Delete does before it checks the hold.

use super::chain::{head_of, lock_tenant, set_link};
use super::entity::{audit_legal_hold, audit_log, audit_tenant};
use super::rows::entry_to_model;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, Micros};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel};

/// A tenant's legal hold as stored. Inactive holds carry no details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHoldRecord {
    pub tenant_id: String,
    pub active: bool,
    pub reason: String,
    pub since: Option<Micros>,
    pub set_by: String,
}

impl LegalHoldRecord {
    fn none(tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            active: false,
            reason: String::new(),
            since: None,
            set_by: String::new(),
        }
    }
}

impl From<audit_legal_hold::Model> for LegalHoldRecord {
    fn from(row: audit_legal_hold::Model) -> Self {
        Self {
            tenant_id: row.tenant_id,
            active: true,
            reason: row.reason,
            since: Some(row.since),
            set_by: row.set_by,
        }
    }
}

impl AuditStore {
    /// Returns `tenant_id`'s legal hold; a tenant without one is inactive.
    pub async fn legal_hold(&self, tenant_id: &str) -> Result<LegalHoldRecord, StoreError> {
        let row = find_hold(&self.db, tenant_id).await?;
        Ok(row.map_or_else(|| LegalHoldRecord::none(tenant_id), Into::into))
    }

    /// In one transaction: puts the record's tenant on hold (recording the
    /// tenant if new) and stores `record`, chained, in that tenant. Setting
    /// a hold that already holds replaces its reason and setter but keeps
    /// `since`: the entries have been held from then on.
    pub async fn set_legal_hold(
        &self,
        record: AuditLogEntry,
        reason: &str,
    ) -> Result<LegalHoldRecord, StoreError> {
        let txn = self.begin_write().await?;
        let tenant = lock_tenant(&txn, &record.tenant_id).await?;
        let existing = find_hold(&txn, &record.tenant_id).await?;
        let since = existing
            .as_ref()
            .map_or(record.received_at, |hold| hold.since);
        insert_chained(&txn, tenant, &record).await?;
        let hold = audit_legal_hold::Model {
            tenant_id: record.tenant_id.clone(),
            reason: reason.to_owned(),
            since,
            set_by: record.actor.id.clone(),
        };
        if existing.is_some() {
            audit_legal_hold::Entity::delete_by_id(record.tenant_id.clone())
                .exec(&txn)
                .await?;
        }
        audit_legal_hold::Entity::insert(hold.clone().into_active_model())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        self.notifier.chain_moved(&record.tenant_id);
        Ok(hold.into())
    }

    /// In one transaction: lifts the record's tenant's hold and stores
    /// `record`, chained, in that tenant. `FailedPrecondition` when the
    /// tenant is not on hold: there is nothing to record.
    pub async fn clear_legal_hold(
        &self,
        record: AuditLogEntry,
    ) -> Result<LegalHoldRecord, StoreError> {
        let txn = self.begin_write().await?;
        let tenant = lock_tenant(&txn, &record.tenant_id).await?;
        if find_hold(&txn, &record.tenant_id).await?.is_none() {
            return Err(StoreError::FailedPrecondition(format!(
                "tenant {} is not on legal hold",
                record.tenant_id
            )));
        }
        insert_chained(&txn, tenant, &record).await?;
        audit_legal_hold::Entity::delete_by_id(record.tenant_id.clone())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.notifier.chain_moved(&record.tenant_id);
        Ok(LegalHoldRecord::none(&record.tenant_id))
    }
}

/// Returns the tenant's hold row, if it is on hold.
pub(crate) async fn find_hold<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Option<audit_legal_hold::Model>, DbErr> {
    audit_legal_hold::Entity::find_by_id(tenant_id.to_owned())
        .one(db)
        .await
}

/// Stores `record` as the next link of the locked `tenant`'s chain.
pub(super) async fn insert_chained(
    txn: &DatabaseTransaction,
    tenant: audit_tenant::Model,
    record: &AuditLogEntry,
) -> Result<(), DbErr> {
    let mut head = head_of(tenant)?;
    let link = head.link(record)?;
    let mut row = entry_to_model(record);
    set_link(&mut row, &link);
    audit_log::Entity::insert(row.into_active_model())
        .exec_without_returning(txn)
        .await?;
    head.save(txn).await
}
