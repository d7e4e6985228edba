//! Looking one entry up by id, in one tenant or (admin) in any.

use super::entity::{audit_log, audit_tenant};
use super::rows::model_to_entry;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, TenantScope};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Iterable};
use uuid::Uuid;

impl AuditStore {
    /// Returns the entry with this id in the scope, or None.
    pub async fn get(
        &self,
        scope: &TenantScope,
        id: Uuid,
    ) -> Result<Option<AuditLogEntry>, StoreError> {
        find(&self.db, scope, id)
            .await?
            .map(model_to_entry)
            .transpose()
    }
}

/// Finds the row of an entry on a connection or inside a transaction.
///
/// With one tenant it is a primary-key lookup. With every tenant, no index
/// leads with `id`, so the query walks `audit_tenants` and probes each
/// tenant's `(tenant_id, id)` key. SQLite takes a CROSS JOIN's left table as
/// the outer loop; Postgres plans it like an inner join and picks the same
/// nested loop because the probe is a primary-key equality.
pub(crate) async fn find<C: ConnectionTrait>(
    db: &C,
    scope: &TenantScope,
    id: Uuid,
) -> Result<Option<audit_log::Model>, DbErr> {
    match scope {
        TenantScope::One(tenant_id) => {
            audit_log::Entity::find_by_id((tenant_id.clone(), id))
                .one(db)
                .await
        }
        TenantScope::All => {
            let statement = db.get_database_backend().build(&any_tenant_query(id));
            audit_log::Model::find_by_statement(statement).one(db).await
        }
    }
}

/// The SELECT of an entry by id in any tenant: every `audit_logs` column,
/// `FROM audit_tenants CROSS JOIN audit_logs`, at most one row.
pub(crate) fn any_tenant_query(id: Uuid) -> SelectStatement {
    let mut query = Query::select();
    for column in audit_log::Column::iter() {
        query.column((audit_log::Entity, column));
    }
    query
        .from(audit_tenant::Entity)
        .cross_join(audit_log::Entity)
        .and_where(
            Expr::col((audit_log::Entity, audit_log::Column::TenantId))
                .equals((audit_tenant::Entity, audit_tenant::Column::TenantId)),
        )
        .and_where(Expr::col((audit_log::Entity, audit_log::Column::Id)).eq(id))
        .limit(1);
    query
}
