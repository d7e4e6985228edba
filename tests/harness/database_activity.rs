//! What the server's database connections are doing, seen from outside the
//! server: its pool's usage, and its sessions in `pg_stat_activity`. The
//! failure tests use them to prove that abandoned calls let go of the
//! database.

use crate::{Backend, TestApp};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};
use std::time::Duration;
use tokio::time::Instant;

/// Polls the server's pool until no connection is in use by a call, and
/// returns how long that took, or `None` if connections were still in use
/// after `within`. The health check's ping holds a connection for a moment
/// every interval, so one idle sample is enough.
pub async fn wait_until_pool_idle(app: &TestApp, within: Duration) -> Option<Duration> {
    // On Postgres, follow mode's LISTEN task holds one pooled connection for
    // as long as the server runs: that one is never given back.
    let held_for_good = match app.backend {
        Backend::Postgres => 1,
        Backend::Sqlite => 0,
    };
    let started = Instant::now();
    loop {
        if app.store().pool_usage().in_use() <= held_for_good {
            return Some(started.elapsed());
        }
        if started.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A connection of the test's own to the server's Postgres database, so
/// that watching the server does not take connections from its pool.
pub struct Observer {
    db: DatabaseConnection,
}

impl Observer {
    /// Connects to the database `app` serves (Postgres only).
    pub async fn connect(app: &TestApp) -> Self {
        let db = Database::connect(app.database_url())
            .await
            .expect("the observer connects to the test database");
        assert_eq!(db.get_database_backend(), DbBackend::Postgres);
        Self { db }
    }

    /// Returns the server's statements on `audit_logs` that are running or
    /// waiting right now, as `state/wait_event_type: query`.
    pub async fn server_queries_on_audit_logs(&self) -> Vec<String> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT state || '/' || coalesce(wait_event_type, '-') || ': ' || query \
                 FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name LIKE 'audit-server%' \
                   AND state = 'active' AND query ILIKE '%audit_logs%'",
            ))
            .await
            .expect("pg_stat_activity is readable");
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("a text column"))
            .collect()
    }

    /// Polls until the server runs no statement on `audit_logs`, and returns
    /// how long that took, or what still runs after `within`.
    pub async fn wait_until_no_server_query(
        &self,
        within: Duration,
    ) -> Result<Duration, Vec<String>> {
        let started = Instant::now();
        loop {
            let queries = self.server_queries_on_audit_logs().await;
            if queries.is_empty() {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= within {
                return Err(queries);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Locks `tenant`'s chain head (its `audit_tenants` row) in a
    /// transaction of the observer's: the server's appends to the tenant
    /// wait until it is rolled back, as behind a long append of another
    /// replica.
    pub async fn lock_chain_head(&self, tenant: &str) -> DatabaseTransaction {
        let txn = self.db.begin().await.expect("the observer begins");
        let locked = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT tenant_id FROM audit_tenants WHERE tenant_id = $1 FOR UPDATE",
                [tenant.into()],
            ))
            .await
            .expect("the observer locks the chain head");
        assert!(locked.is_some(), "tenant {tenant} has no chain head yet");
        txn
    }

    /// Returns how many transactions wrote the entries `ids` (by their
    /// rows' `xmin`): how the server grouped the appends that stored them.
    pub async fn transactions_that_wrote(&self, ids: &[String]) -> usize {
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(DISTINCT xmin::text) FROM audit_logs \
                 WHERE id = ANY($1::text[]::uuid[])",
                [ids.to_vec().into()],
            ))
            .await
            .expect("audit_logs is readable")
            .expect("count returns a row");
        row.try_get_by_index::<i64>(0).expect("a count") as usize
    }

    /// Returns how many of the server's statements wait on a lock now.
    pub async fn server_statements_waiting_on_locks(&self) -> usize {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name LIKE 'audit-server%' \
                   AND wait_event_type = 'Lock'",
            ))
            .await
            .expect("pg_stat_activity is readable")
            .expect("count returns a row");
        row.try_get_by_index::<i64>(0).expect("a count") as usize
    }

    /// Takes an ACCESS EXCLUSIVE lock on `audit_logs` in a transaction of
    /// the observer's: every read of the table waits until it is rolled
    /// back, which makes any List as slow as the test wants.
    pub async fn lock_audit_logs(&self) -> DatabaseTransaction {
        let txn = self.db.begin().await.expect("the observer begins");
        txn.execute_unprepared("LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("the observer locks audit_logs");
        txn
    }
}

/// Locks `audit_logs`, then reads what the server already sent or read
/// ahead on `stream` until nothing more comes: the server's next read is
/// then waiting on the lock, so a database connection is certainly in use.
/// Returns the lock; [`leave_and_expect_release`] lets go of both.
pub async fn stall_on_locked_audit_logs<T>(
    app: &TestApp,
    observer: &Observer,
    stream: &mut tonic::codec::Streaming<T>,
) -> DatabaseTransaction {
    let lock = observer.lock_audit_logs().await;
    while let Ok(message) = tokio::time::timeout(Duration::from_millis(500), stream.message()).await
    {
        message
            .expect("a message read before the lock")
            .expect("the stream goes on");
    }
    let waiting = observer.server_queries_on_audit_logs().await;
    assert!(
        !waiting.is_empty(),
        "the server's next read should be waiting on the lock"
    );
    assert!(
        app.store().pool_usage().in_use() > 0,
        "a connection is in use"
    );
    lock
}

/// Drops the stalled `stream` as a departing client would, and asserts
/// that within a second the server gave its connection back and its query
/// stopped on the database (before the test releases `lock`).
pub async fn leave_and_expect_release<T>(
    app: &TestApp,
    observer: &Observer,
    stream: tonic::codec::Streaming<T>,
    lock: DatabaseTransaction,
) {
    drop(stream);
    let idle_after = wait_until_pool_idle(app, Duration::from_secs(1)).await;
    let running = observer
        .wait_until_no_server_query(Duration::from_millis(200))
        .await;
    lock.rollback().await.expect("release the lock");
    assert!(
        idle_after.is_some(),
        "connections still in use 1 s after the client left: {:?}",
        app.store().pool_usage()
    );
    assert_eq!(running.map(|_| ()), Ok(()), "the server's query still runs");
}
