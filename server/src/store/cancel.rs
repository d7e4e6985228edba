//! Reads that stop on the database when their caller stops waiting.
//!
//! Dropping a sqlx future does not stop a Postgres query: the connection
//! waits for the query to finish before it can serve anything else, so a
//! List whose client left, or whose deadline passed, would keep a backend
//! busy and a connection taken for as long as the query runs or waits on a
//! lock. On Postgres these reads run on the read pool (`read_pool`), whose
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
use super::list::{count_matching, count_query};
use super::read_pool::ReadPool;
use super::row_reader::PositionalRow;
use sea_orm::sea_query::Condition;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, AssertSqlSafe, Row};
use sea_orm::{DbBackend, DbErr, FromQueryResult, QueryTrait, RuntimeErr, Statement, Values};
use sea_query_sqlx::SqlxValues;

impl AuditStore {
    /// Returns the `audit_logs` rows `statement` selects (every column, in
    /// the entity's order); on Postgres the query is cancelled if the
    /// returned future is dropped before it completes.
    pub(crate) async fn cancellable_rows(
        &self,
        statement: Statement,
    ) -> Result<Vec<PositionalRow>, DbErr> {
        match self.cancellable_select(statement).await? {
            SelectedRows::Postgres(rows) => rows.iter().map(PositionalRow::from_pg_row).collect(),
            SelectedRows::Other(rows) => Ok(rows),
        }
    }

    /// Returns the `audit_logs` rows `statement` selects as the backend
    /// returned them: on Postgres still undecoded, for a reader that writes
    /// them straight to protobuf. Cancelled like [`Self::cancellable_rows`].
    pub(crate) async fn cancellable_select(
        &self,
        statement: Statement,
    ) -> Result<SelectedRows, DbErr> {
        match &self.reads {
            Some(reads) => Ok(SelectedRows::Postgres(
                fetch_cancellable(reads, statement).await?,
            )),
            None => Ok(SelectedRows::Other(
                PositionalRow::find_by_statement(statement)
                    .all(&self.db)
                    .await?,
            )),
        }
    }

    /// Returns how many rows match `condition`, cancelled like
    /// [`Self::cancellable_rows`].
    pub(crate) async fn cancellable_count(&self, condition: Condition) -> Result<i64, DbErr> {
        let Some(reads) = &self.reads else {
            return count_matching(&self.db, condition).await;
        };
        let statement = count_query(condition).build(DbBackend::Postgres);
        let counts = fetch_cancellable(reads, statement).await?;
        match counts.first() {
            Some(row) => row
                .try_get::<i64, _>(0)
                .map_err(|error| DbErr::Custom(format!("cannot read a count: {error}"))),
            None => Ok(0),
        }
    }
}

/// The rows of an `audit_logs` SELECT, as each backend returns them.
pub(crate) enum SelectedRows {
    /// Postgres rows, each column still in its wire form.
    Postgres(Vec<PgRow>),
    /// Rows another backend returned, read by position.
    Other(Vec<PositionalRow>),
}

/// Runs `statement` on a read-pool connection and returns its rows.
/// Dropping the future cancels the query (see `read_pool::Lease`).
async fn fetch_cancellable(reads: &ReadPool, statement: Statement) -> Result<Vec<PgRow>, DbErr> {
    let mut lease = reads.acquire().await.map_err(query_error)?;
    let values = SqlxValues(statement.values.unwrap_or(Values(Vec::new())));
    let connection = lease.connection(&statement.sql).map_err(query_error)?;
    let rows = sqlx::query_with(AssertSqlSafe(statement.sql), values)
        .fetch_all(connection)
        .await;
    lease.finish(rows.is_ok());
    rows.map_err(query_error)
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}
