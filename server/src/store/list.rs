//! Keyset pages and counts under a filter.

use super::conditions::{filter_condition, keyset_condition};
use super::entity::audit_log::{self, Column};
use super::row_reader::into_entries;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, AuditLogFilter, Cursor, ListOrder, TenantScope};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Statement,
};

impl AuditStore {
    /// Returns at most `limit` entries matching `filter`, strictly after
    /// `after` in `order` (by `occurred_at`, ties by id). Keyset paging, never
    /// OFFSET: each page is an index range scan wherever the last one ended.
    pub async fn list_page(
        &self,
        filter: &AuditLogFilter,
        order: ListOrder,
        after: Option<Cursor>,
        limit: u64,
    ) -> Result<Vec<AuditLogEntry>, StoreError> {
        let query = page_query(filter, order, after.as_ref(), limit);
        let statement = if self.backend == DbBackend::Postgres && filter.scope == TenantScope::All {
            merged_tenant_pages(query, order, limit)
        } else {
            query.build(self.backend)
        };
        // A client that leaves mid-List, or a deadline that passes, drops
        // this future: the query must stop on the database too.
        let rows = self.cancellable_rows(statement).await?;
        into_entries(rows)
    }

    /// Returns how many entries match `filter`.
    pub async fn count(&self, filter: &AuditLogFilter) -> Result<i64, StoreError> {
        Ok(self.cancellable_count(filter_condition(filter)).await?)
    }
}

/// `SELECT COUNT(*) … WHERE condition`, read straight off an index (SeaORM's
/// `count()` would wrap a SELECT of every column in a subquery).
pub(crate) async fn count_matching<C: ConnectionTrait>(
    db: &C,
    condition: Condition,
) -> Result<i64, DbErr> {
    let count: Option<i64> = count_query(condition).into_tuple().one(db).await?;
    Ok(count.unwrap_or(0))
}

pub(crate) fn count_query(condition: Condition) -> Select<audit_log::Entity> {
    audit_log::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition)
}

/// The SELECT of one page (separate so tests can EXPLAIN it).
pub(crate) fn page_query(
    filter: &AuditLogFilter,
    order: ListOrder,
    after: Option<&Cursor>,
    limit: u64,
) -> Select<audit_log::Entity> {
    let direction = match order {
        ListOrder::NewestFirst => Order::Desc,
        ListOrder::OldestFirst => Order::Asc,
    };
    let mut query = audit_log::Entity::find().filter(filter_condition(filter));
    if let Some(cursor) = after {
        query = query.filter(keyset_condition(order, cursor));
    }
    query
        .order_by(Column::OccurredAt, direction.clone())
        .order_by(Column::Id, direction)
        .limit(limit)
}

/// The cross-tenant page on Postgres: every index leads with `tenant_id`,
/// so no index orders the whole table by time, and the plain page would sort
/// every matching row. Instead each tenant's page is one ordered, limited
/// index scan (`page`, correlated to the tenant), and only those
/// tenants x `limit` rows are merged and cut to `limit`. Same rows, same
/// order as the plain page (ids are unique, so ties cannot differ); SQLite
/// has no LATERAL and keeps the plain page. The cost grows with the number
/// of tenants, each one index probe, however few match.
pub(crate) fn merged_tenant_pages(
    page: Select<audit_log::Entity>,
    order: ListOrder,
    limit: u64,
) -> Statement {
    let tenant = Expr::col((audit_log::Entity, Column::TenantId))
        .eq(Expr::col((Alias::new("t"), Alias::new("tenant_id"))));
    let per_tenant = page.filter(tenant).build(DbBackend::Postgres);
    let direction = match order {
        ListOrder::NewestFirst => "DESC",
        ListOrder::OldestFirst => "ASC",
    };
    let sql = format!(
        "SELECT l.* FROM \"audit_tenants\" AS t CROSS JOIN LATERAL ({}) AS l \
         ORDER BY l.\"occurred_at\" {direction}, l.\"id\" {direction} LIMIT {limit}",
        per_tenant.sql
    );
    Statement { sql, ..per_tenant }
}
