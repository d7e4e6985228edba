//! Keyset pages and counts under a filter.

use super::cancel::fetch_cancellable;
use super::conditions::{filter_condition, keyset_condition};
use super::entity::audit_log::{self, Column};
use super::row_reader::into_entries;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, AuditLogFilter, Cursor, ListOrder, TenantScope};
use crate::wire::EncodedPage;
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
        let statement = self.page_statement(filter, order, after.as_ref(), limit);
        // A client that leaves mid-List, or a deadline that passes, drops
        // this future: the query must stop on the database too.
        let rows = self.cancellable_rows(statement).await?;
        into_entries(rows)
    }

    /// The page [`Self::list_page`] returns for at most `wanted` entries,
    /// written as protobuf (on Postgres straight from the rows' column
    /// bytes, see `wire`), and whether more entries follow: one row more is
    /// read to know, so the last message can say it is the last.
    pub(crate) async fn list_page_encoded(
        &self,
        filter: &AuditLogFilter,
        order: ListOrder,
        after: Option<Cursor>,
        wanted: u64,
    ) -> Result<(EncodedPage, bool), StoreError> {
        let statement = self.page_statement(filter, order, after.as_ref(), wanted + 1);
        let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
        let Some(reads) = &self.reads else {
            let rows = self.cancellable_rows(statement).await?;
            let more = rows.len() > wanted;
            let mut page = EncodedPage::default();
            for entry in into_entries(rows)?.into_iter().take(wanted) {
                page.push_entry(entry);
            }
            return Ok((page, more));
        };
        let mut page = EncodedPage::for_entries(wanted);
        let mut more = false;
        fetch_cancellable(reads, statement, |row| {
            if page.len() < wanted {
                page.push_row(row)
                    .map_err(|error| StoreError::Internal(error.to_string()))
            } else {
                more = true;
                Ok(())
            }
        })
        .await?;
        Ok((page, more))
    }

    /// The SELECT of a page; across all tenants on Postgres, one ordered
    /// scan per tenant, merged (see [`merged_tenant_pages`]).
    fn page_statement(
        &self,
        filter: &AuditLogFilter,
        order: ListOrder,
        after: Option<&Cursor>,
        limit: u64,
    ) -> Statement {
        let query = page_query(filter, order, after, limit);
        if self.backend == DbBackend::Postgres && filter.scope == TenantScope::All {
            merged_tenant_pages(query, order, limit)
        } else {
            query.build(self.backend)
        }
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
