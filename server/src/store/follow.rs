//! The reads behind follow mode: each tenant's chain head, and the entries
//! of one tenant between two sequences. Sequence order is commit order (the
//! chain-head lock serialises a tenant's writers), so once a head is read,
//! every entry up to it is committed and visible: a follower that reads
//! `(last, head]` can never skip an entry that commits later.

use super::conditions::filter_condition;
use super::entity::{audit_log, audit_tenant};
use super::row_reader::into_entries;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, AuditLogFilter, TenantScope};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

impl AuditStore {
    /// Returns `(tenant, head sequence)` for the tenant of `scope`, or for
    /// every tenant with a chain. A tenant with no entries yet has no row
    /// and is left out (nothing to follow until its first append).
    pub async fn chain_heads(&self, scope: &TenantScope) -> Result<Vec<(String, i64)>, StoreError> {
        let mut query = audit_tenant::Entity::find()
            .select_only()
            .column(audit_tenant::Column::TenantId)
            .column(audit_tenant::Column::HeadSequence);
        if let TenantScope::One(tenant_id) = scope {
            query = query.filter(audit_tenant::Column::TenantId.eq(tenant_id.as_str()));
        }
        Ok(query.into_tuple().all(&self.db).await?)
    }

    /// Returns at most `limit` entries of `tenant_id` matching `filter` with
    /// `after < sequence <= through`, in sequence order: a range scan of the
    /// `(tenant_id, sequence)` index. Like a List page, the read
    /// stops on the database if the follower leaves while it runs.
    pub async fn follow_page(
        &self,
        filter: &AuditLogFilter,
        tenant_id: &str,
        after: i64,
        through: i64,
        limit: u64,
    ) -> Result<Vec<AuditLogEntry>, StoreError> {
        let query = audit_log::Entity::find()
            .filter(filter_condition(filter))
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::Sequence.gt(after))
            .filter(audit_log::Column::Sequence.lte(through))
            .order_by(audit_log::Column::Sequence, Order::Asc)
            .limit(limit)
            .build(self.backend);
        let rows = self.cancellable_rows(query).await?;
        into_entries(rows)
    }
}
