//! Keyset pages and counts under a filter.

use super::conditions::{filter_condition, keyset_condition};
use super::entity::audit_log::{self, Column};
use super::rows::model_to_entry;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, AuditLogFilter, Cursor, ListOrder};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
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
        // A client that leaves mid-List, or a deadline that passes, drops
        // this future: the query must stop on the database too.
        let rows = self
            .cancellable_read(|txn| Box::pin(query.all(txn)))
            .await?;
        rows.into_iter().map(model_to_entry).collect()
    }

    /// Returns how many entries match `filter`.
    pub async fn count(&self, filter: &AuditLogFilter) -> Result<i64, StoreError> {
        let condition = filter_condition(filter);
        Ok(self
            .cancellable_read(|txn| Box::pin(count_matching(txn, condition)))
            .await?)
    }
}

/// `SELECT COUNT(*) … WHERE condition`, read straight off an index (SeaORM's
/// `count()` would wrap a SELECT of every column in a subquery).
pub(crate) async fn count_matching<C: ConnectionTrait>(
    db: &C,
    condition: Condition,
) -> Result<i64, DbErr> {
    let count: Option<i64> = audit_log::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition)
        .into_tuple()
        .one(db)
        .await?;
    Ok(count.unwrap_or(0))
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
