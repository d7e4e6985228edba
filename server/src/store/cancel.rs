//! Reads that stop on the database when their caller stops waiting.
//!
//! Dropping a sqlx future does not stop a Postgres query: the connection
//! waits for the query to finish before it returns to the pool (sqlx pings
//! it on release), so a List whose client left, or whose deadline passed,
//! would keep a backend busy and a pooled connection taken for as long as
//! the query runs or waits on a lock. A read started here learns its
//! backend's pid first; if the future is dropped before the read finishes,
//! a cancel request for that pid is sent from a separate, unpooled
//! connection (the pool may be the very thing that is exhausted).
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
use sea_orm::sqlx::{self, Connection};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};
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
            let (pid, started) = backend_and_start(&txn).await?;
            guard = CancelOnDrop {
                db: Some(self.db.clone()),
                pid,
                started,
            };
        }
        let output = read(&txn).await;
        guard.disarm();
        // Only reads ran: ending the transaction either way is the same, and
        // the caller need not wait for it (a List page is then one round
        // trip shorter). The connection returns to the pool once it ends; a
        // failure to end it closes the connection.
        tokio::spawn(async move {
            if let Err(error) = txn.commit().await {
                tracing::debug!(%error, "cannot end a read transaction");
            }
        });
        output
    }
}

/// Returns the transaction's backend pid and start time (as text, exact to
/// the microsecond): together they name this transaction and no later one
/// on the same connection.
async fn backend_and_start(txn: &DatabaseTransaction) -> Result<(i32, String), DbErr> {
    let row = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_backend_pid(), now()::text",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("pg_backend_pid() returned no row".to_owned()))?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

/// Sends a cancel request for `pid` when dropped while armed.
#[derive(Default)]
struct CancelOnDrop {
    db: Option<DatabaseConnection>,
    pid: i32,
    started: String,
}

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.db = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pid = self.pid;
        let started = std::mem::take(&mut self.started);
        runtime.spawn(async move {
            let options = db.get_postgres_connection_pool().connect_options();
            let cancelled = async {
                let mut connection = sqlx::PgConnection::connect_with(&options).await?;
                // If the query ended on its own meanwhile, the connection may
                // already serve another call: cancel only while the backend
                // is still in the abandoned transaction.
                sqlx::query(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                     WHERE pid = $1 AND xact_start = $2::timestamptz",
                )
                .bind(pid)
                .bind(started)
                .execute(&mut connection)
                .await?;
                connection.close().await
            };
            match cancelled.await {
                Ok(()) => tracing::debug!(pid, "cancelled an abandoned query"),
                Err(error) => tracing::warn!(pid, %error, "cannot cancel an abandoned query"),
            }
        });
    }
}
