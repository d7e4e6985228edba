//! Signed checkpoints of chain heads: reading a head to sign, storing what
//! was signed, finding the tenants whose head moved since their last
//! checkpoint, and reading the link a checkpoint names.

use super::chain::{ChainHead, head_of};
use super::entity::{audit_checkpoint, audit_tenant};
use super::verify::stored_hash_at;
use super::{AuditStore, StoreError};
use audit_proto::integrity::GENESIS_HASH;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;

/// A checkpoint as signed and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    pub tenant_id: String,
    pub sequence: i64,
    pub head_hash: [u8; 32],
    /// Microseconds since the epoch.
    pub time: i64,
    pub key_id: String,
    pub signature: [u8; 64],
}

impl AuditStore {
    /// Returns `tenant_id`'s chain head as stored; sequence 0 and the
    /// genesis hash for a tenant without entries.
    pub(crate) async fn chain_head(&self, tenant_id: &str) -> Result<ChainHead, StoreError> {
        let row = audit_tenant::Entity::find_by_id(tenant_id.to_owned())
            .one(&self.db)
            .await?;
        Ok(match row {
            Some(row) => head_of(row)?,
            None => ChainHead {
                tenant_id: tenant_id.to_owned(),
                sequence: 0,
                hash: GENESIS_HASH,
            },
        })
    }

    /// Stores a signed checkpoint.
    pub async fn save_checkpoint(&self, checkpoint: &CheckpointRecord) -> Result<(), StoreError> {
        let row = audit_checkpoint::ActiveModel {
            tenant_id: ActiveValue::Set(checkpoint.tenant_id.clone()),
            sequence: ActiveValue::Set(checkpoint.sequence),
            time: ActiveValue::Set(checkpoint.time),
            head_hash: ActiveValue::Set(checkpoint.head_hash.to_vec()),
            key_id: ActiveValue::Set(checkpoint.key_id.clone()),
            signature: ActiveValue::Set(checkpoint.signature.to_vec()),
        };
        // Two checkpoints of one head in the same microsecond are the same
        // statement: keep the first.
        audit_checkpoint::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Returns the heads of the tenants whose chain grew past their latest
    /// checkpoint (or that have entries and no checkpoint yet).
    pub(crate) async fn heads_past_checkpoints(&self) -> Result<Vec<ChainHead>, StoreError> {
        let checkpointed: HashMap<String, i64> = audit_checkpoint::Entity::find()
            .select_only()
            .column(audit_checkpoint::Column::TenantId)
            .expr_as(
                Func::max(Expr::col(audit_checkpoint::Column::Sequence)),
                "sequence",
            )
            .group_by(audit_checkpoint::Column::TenantId)
            .into_tuple::<(String, i64)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        let tenants = audit_tenant::Entity::find()
            .filter(audit_tenant::Column::HeadSequence.gt(0))
            .all(&self.db)
            .await?;
        let mut heads = Vec::new();
        for tenant in tenants {
            let last = checkpointed.get(&tenant.tenant_id).copied().unwrap_or(0);
            if tenant.head_sequence > last {
                heads.push(head_of(tenant)?);
            }
        }
        Ok(heads)
    }

    /// Returns the stored hash of the link at `sequence` (a row's or a
    /// tombstone's); the genesis hash at 0; None when nothing is stored
    /// there.
    pub async fn link_hash(
        &self,
        tenant_id: &str,
        sequence: i64,
    ) -> Result<Option<[u8; 32]>, StoreError> {
        if sequence == 0 {
            return Ok(Some(GENESIS_HASH));
        }
        let txn = self.begin_snapshot().await?;
        let hash = stored_hash_at(&txn, tenant_id, sequence).await?;
        txn.commit().await?;
        Ok(hash)
    }
}
