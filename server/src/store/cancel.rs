//! Reads that stop on the database when their caller stops waiting.
//!
//! Dropping a sqlx future does not stop a Postgres query: the connection
//! waits for the query to finish before it returns to the pool (sqlx pings
//! it on release), so a List whose client left, or whose deadline passed,
//! would keep a backend busy and a pooled connection taken for as long as
//! the query runs or waits on a lock. A read started here runs in a
//! transaction that names itself: a local `application_name` no other
//! transaction has (it reverts when the transaction ends, so it cannot
//! match a later call on the same connection). If the future is dropped
//! before the read finishes, a cancel request for the backend bearing that
//! name is sent from a separate, unpooled connection (the pool may be the
//! very thing that is exhausted).
//!
//! Why a cancel rather than `SET LOCAL statement_timeout` from the call's
//! deadline: a timeout covers deadlines only, while a client that
//! disconnects has no deadline at all; the cancel covers both, with no
//! change to the store's signatures.
//!
//! Why [`AuditStore::cancellable_rows`] goes around SeaORM: SeaORM begins a
//! transaction with a bare `BEGIN`, so naming it costs a round trip of its
//! own. On a sqlx connection the `BEGIN` and the naming travel as one
//! simple query, and a List page is two round trips (that, then the page)
//! with the `COMMIT` sent after the page has gone to the client.
//!
//! SQLite needs none of this: its queries run on the connection's worker
//! thread and hand the connection back when the statement ends, and no
//! lock makes a read wait there (WAL).

use super::AuditStore;
use super::row_reader::PositionalRow;
use sea_orm::sqlx::{self, AssertSqlSafe, Connection};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, FromQueryResult,
    RuntimeErr, Statement, TransactionTrait, Values,
};
use sea_query_sqlx::SqlxValues;
use std::pin::Pin;

/// A read on one transaction, as a boxed future borrowing it.
pub(crate) type Read<'c, T> = Pin<Box<dyn Future<Output = Result<T, DbErr>> + Send + 'c>>;

impl AuditStore {
    /// Runs `read` on a transaction of its own and cancels its query on the
    /// database if the returned future is dropped before it completes.
    pub(crate) async fn cancellable_read<T>(
        &self,
        read: impl for<'c> FnOnce(&'c DatabaseTransaction) -> Read<'c, T>,
    ) -> Result<T, DbErr> {
        let txn = self.db.begin().await?;
        let mut guard = CancelOnDrop::default();
        if self.backend == DbBackend::Postgres {
            let name = ReadName::new();
            txn.execute_unprepared(&name.naming_statement()).await?;
            guard = CancelOnDrop::armed(&self.db, name);
        }
        let output = read(&txn).await;
        guard.disarm();
        end_in_background(txn.commit());
        output
    }

    /// Returns the `audit_logs` rows `statement` selects (every column, in
    /// the entity's order), read like [`Self::cancellable_read`] but in one
    /// round trip fewer on Postgres (see the module docs).
    pub(crate) async fn cancellable_rows(
        &self,
        statement: Statement,
    ) -> Result<Vec<PositionalRow>, DbErr> {
        if self.backend != DbBackend::Postgres {
            return self
                .cancellable_read(|txn| {
                    Box::pin(PositionalRow::find_by_statement(statement).all(txn))
                })
                .await;
        }
        let name = ReadName::new();
        let begin = format!("BEGIN READ ONLY; {}", name.naming_statement());
        let mut txn = self
            .db
            .get_postgres_connection_pool()
            .begin_with(AssertSqlSafe(begin))
            .await
            .map_err(query_error)?;
        // If this future is dropped, the guard cancels the query and sqlx
        // rolls the unfinished transaction back before reusing the connection.
        let mut guard = CancelOnDrop::armed(&self.db, name);
        let values = SqlxValues(statement.values.unwrap_or(Values(Vec::new())));
        let rows = sqlx::query_with(AssertSqlSafe(statement.sql), values)
            .fetch_all(&mut *txn)
            .await;
        guard.disarm();
        end_in_background(txn.commit());
        rows.map_err(query_error)?
            .iter()
            .map(PositionalRow::from_pg_row)
            .collect()
    }
}

/// Ends a read transaction on a task of its own. Only reads ran, so
/// ending it either way is the same, and the caller need not wait for it (a
/// List page is then one round trip shorter). The connection returns to the
/// pool once it ends; a failure to end it closes the connection.
fn end_in_background<E: std::fmt::Display>(
    commit: impl Future<Output = Result<(), E>> + Send + 'static,
) {
    tokio::spawn(async move {
        if let Err(error) = commit.await {
            tracing::debug!(%error, "cannot end a read transaction");
        }
    });
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

/// The application_name a read's transaction goes by while it runs: the
/// server's own name (so operators still see who it is in
/// pg_stat_activity) and a UUID no other transaction, of this replica or
/// another, will have.
struct ReadName(String);

impl ReadName {
    fn new() -> Self {
        Self(format!(
            "audit-server read {}",
            uuid::Uuid::now_v7().simple()
        ))
    }

    /// The statement that gives the current transaction this name (as
    /// `SET LOCAL` would). A SELECT rather than a SET because
    /// pg_stat_statements folds a SELECT's literals into one entry but keeps
    /// every distinct SET text as an entry of its own: one per read would
    /// crowd out the statements operators look for. The name holds only
    /// letters, digits and spaces: nothing to escape.
    fn naming_statement(&self) -> String {
        format!("SELECT set_config('application_name', '{}', true)", self.0)
    }
}

/// Sends a cancel request for the backend running the named transaction
/// when dropped while armed.
#[derive(Default)]
struct CancelOnDrop {
    armed: Option<(DatabaseConnection, ReadName)>,
}

impl CancelOnDrop {
    fn armed(db: &DatabaseConnection, name: ReadName) -> Self {
        Self {
            armed: Some((db.clone(), name)),
        }
    }

    fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some((db, ReadName(name))) = self.armed.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let options = db.get_postgres_connection_pool().connect_options();
            let cancelled = async {
                let mut connection = sqlx::PgConnection::connect_with(&options).await?;
                // If the read ended on its own meanwhile, its transaction's
                // name is gone with it and nothing matches.
                sqlx::query(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1",
                )
                .bind(&name)
                .execute(&mut connection)
                .await?;
                connection.close().await
            };
            match cancelled.await {
                Ok(()) => tracing::debug!(%name, "cancelled an abandoned query"),
                Err(error) => tracing::warn!(%name, %error, "cannot cancel an abandoned query"),
            }
        });
    }
}
