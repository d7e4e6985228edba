//! Reads that stop on the database when their caller stops waiting.
//!
//! Dropping a sqlx future does not stop a Postgres query: the connection
//! waits for the query to finish before it can serve anything else, so a
//! List whose client left, or whose deadline passed, would keep a backend
//! busy and a connection taken for as long as the query runs or waits on a
//! lock. On Postgres these reads run on the read pool (`lease_pool`), whose
//! lease sends a cancel request for its backend when dropped mid-read.
//!
//! Why a cancel rather than `SET LOCAL statement_timeout` from the call's
//! deadline: a timeout covers deadlines only, while a client that
//! disconnects has no deadline at all; the cancel covers both, with no
//! change to the store's signatures.
//!
//! SQLite needs none of this: its queries run on the connection's worker
//! thread and hand the connection back when the statement ends, and no
//! lock makes a read wait there (WAL).

use super::AuditStore;
use super::lease_pool::{LeasePool, db_error, sqlx_query};
use super::list::{count_matching, count_query};
use super::row_reader::PositionalRow;
use futures_util::StreamExt;
use sea_orm::sea_query::Condition;
use sea_orm::sqlx::Row;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::{DbBackend, DbErr, FromQueryResult, QueryTrait, Statement};

impl AuditStore {
    /// Returns the `audit_logs` rows `statement` selects (every column, in
    /// the entity's order); on Postgres the query is cancelled if the
    /// returned future is dropped before it completes.
    pub(crate) async fn cancellable_rows(
        &self,
        statement: Statement,
    ) -> Result<Vec<PositionalRow>, DbErr> {
        let Some(reads) = &self.reads else {
            return PositionalRow::find_by_statement(statement)
                .all(&self.db)
                .await;
        };
        let mut rows = Vec::new();
        fetch_cancellable(reads, statement, |row| {
            rows.push(PositionalRow::from_pg_row(row)?);
            Ok::<(), DbErr>(())
        })
        .await?;
        Ok(rows)
    }

    /// Returns how many rows match `condition`, cancelled like
    /// [`Self::cancellable_rows`].
    pub(crate) async fn cancellable_count(&self, condition: Condition) -> Result<i64, DbErr> {
        let Some(reads) = &self.reads else {
            return count_matching(&self.db, condition).await;
        };
        let statement = count_query(condition).build(DbBackend::Postgres);
        let mut count = 0;
        fetch_cancellable(reads, statement, |row| {
            count = row
                .try_get::<i64, _>(0)
                .map_err(|error| DbErr::Custom(format!("cannot read a count: {error}")))?;
            Ok::<(), DbErr>(())
        })
        .await?;
        Ok(count)
    }
}

/// Runs `statement` on a read-pool connection and hands each row to `each`
/// as it arrives, so the caller's work on a row overlaps Postgres producing
/// the next ones (a List page is written while its query still runs).
/// Dropping the future cancels the query (see `lease_pool::Lease`). So does
/// an error from `each`: the query may still be sending rows, so the lease
/// is dropped, which cancels the query and drains the connection before
/// another read may use it; a failed query's connection is closed.
pub(crate) async fn fetch_cancellable<E: From<DbErr>>(
    reads: &LeasePool,
    statement: Statement,
    mut each: impl FnMut(&PgRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut lease = reads.acquire().await.map_err(db_error)?;
    let connection = lease.connection(&statement.sql).map_err(db_error)?;
    let mut rows = sqlx_query(statement).fetch(connection);
    while let Some(row) = rows.next().await {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                drop(rows);
                lease.finish(false);
                return Err(db_error(error).into());
            }
        };
        if let Err(error) = each(&row) {
            drop(rows);
            drop(lease);
            return Err(error);
        }
    }
    drop(rows);
    lease.finish(true);
    Ok(())
}
