//! The distinct actions and target types of a tenant, for DescribeFilters.

use super::entity::audit_log::{self, Column};
use super::{AuditStore, StoreError};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

impl AuditStore {
    /// Returns the tenant's distinct non-empty actions, sorted.
    pub async fn distinct_actions(&self, tenant_id: &str) -> Result<Vec<String>, StoreError> {
        self.distinct(tenant_id, Column::Action).await
    }

    /// Returns the tenant's distinct non-empty target types, sorted.
    pub async fn distinct_target_types(&self, tenant_id: &str) -> Result<Vec<String>, StoreError> {
        self.distinct(tenant_id, Column::TargetType).await
    }

    /// Both read an index that starts `(tenant_id, column, …)`, already in
    /// order.
    async fn distinct(&self, tenant_id: &str, column: Column) -> Result<Vec<String>, StoreError> {
        Ok(audit_log::Entity::find()
            .select_only()
            .column(column)
            .distinct()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(column.ne(""))
            .order_by_asc(column)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }
}
