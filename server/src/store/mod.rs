//! Everything SQL: the audit log, tenants and API keys on Postgres or SQLite
//! through SeaORM. No tonic types here; the RPC layer maps `StoreError`.
//!
//! # Layout
//! - [`AuditStore`]: the handle, connect/migrate/ping (this file), with one
//!   file per operation: `append`, `list` (pages and counts), `get`,
//!   `delete`, `stats`, `describe`, `api_keys`, `verify` (the hash chain),
//!   `checkpoints` (signed chain heads), `legal_hold` (a tenant's hold),
//!   `follow` (chain heads and sequence-ordered reads for follow mode),
//!   `retention` (a tenant's policy and the purge of its expired prefix).
//! - `notifier`: wakes followers after each committed chained write.
//! - `chain`: the chain head lock and the one function that links entries.
//! - `insert`: a batch of linked rows in one statement (UNNEST on Postgres).
//! - `known_heads`: the chain heads this server last wrote, which let an
//!   append skip the head lock on Postgres.
//! - `idempotency`: the per-tenant idempotency keys, in their own table.
//! - `partitions`: the monthly partitions of `audit_logs` on Postgres and
//!   their upkeep; `partition_retention`: a whole expired month dropped.
//! - `connect`: pool and SQLite options; `pool`: its usage.
//! - `cancel`: reads whose Postgres query is cancelled when dropped, on
//!   `lease_pool`'s connections.
//! - `conditions`: filters and keyset cursors as SQL conditions.
//! - `rows`: entity rows ⇄ domain entries.
//! - `entity`, `migration`: the tables.
//! - [`StoreError`]: failures, classified as unavailable or internal.

mod api_keys;
mod append;
mod cancel;
mod chain;
mod checkpoint_history;
mod checkpoints;
mod conditions;
mod connect;
mod delete;
mod describe;
mod entity;
mod error;
mod follow;
mod gather;
mod get;
mod group_commit;
mod idempotency;
mod insert;
mod known_heads;
mod lease_pool;
mod legal_hold;
mod list;
mod migration;
mod notifier;
mod partition_retention;
mod partitions;
mod pool;
mod retention;
pub(crate) mod row_reader;
pub(crate) mod rows;
mod stats;
mod verify;

#[cfg(test)]
mod tests;

pub use api_keys::ApiKeyRecord;
pub use checkpoints::CheckpointRecord;
pub use error::StoreError;
pub use group_commit::AppendQueueUse;
pub use legal_hold::LegalHoldRecord;
/// The migrations, public so tests can build a database as an older
/// release left it (`Migrator::down`/`up` with a step count).
pub use migration::Migrator;
pub use notifier::{CHAIN_CHANNEL, ChainNotifier};
pub use partition_retention::{DroppedPartition, PartitionPurge};
pub use partitions::{MONTHS_AHEAD, ReceiptMonth};
pub use pool::PoolUsage;
pub use retention::{
    Pruned, PrunedPoint, PrunedSeal, PurgeBatch, RetentionRecord, SealPruned, expiry_cutoff,
};
pub use verify::{ChainVerification, VerificationStep};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// The advisory lock key that serialises migrations across replicas on
/// Postgres ("auditmig" as an integer).
const MIGRATION_LOCK_KEY: i64 = 0x6175_6469_746d_6967;

/// A handle on the audit database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct AuditStore {
    db: DatabaseConnection,
    backend: DbBackend,
    /// Wakes followers after chained writes; shared by every clone.
    notifier: ChainNotifier,
    /// Group commit of appends; shared by every clone.
    appends: group_commit::AppendQueue,
    /// Postgres: the connections cancellable reads run on (see `cancel`).
    reads: Option<lease_pool::LeasePool>,
    /// Postgres: the connections appends' one-statement writes run on (see
    /// `append`).
    append_connections: Option<lease_pool::LeasePool>,
    /// The chain heads this server last wrote (see `known_heads`); shared
    /// by every clone.
    known_heads: known_heads::KnownHeads,
}

impl std::fmt::Debug for AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditStore")
            .field("backend", &self.backend_name())
            .finish()
    }
}

impl AuditStore {
    /// Connects to `postgres://…` or `sqlite:…`. For a SQLite file, creates
    /// its directory and the file, and turns on WAL with a busy timeout.
    /// Pools are sized for a small machine.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let db = connect::connect(database_url).await?;
        let backend = db.get_database_backend();
        let (reads, append_connections) = connect::lease_pools(&db).unzip();
        Ok(Self {
            db,
            backend,
            reads,
            append_connections,
            notifier: ChainNotifier::default(),
            appends: group_commit::AppendQueue::new(connect::append_writers(backend)),
            known_heads: known_heads::KnownHeads::default(),
        })
    }

    /// Caps concurrent append transactions at `writers` (see
    /// `group_commit`); 0 keeps the backend's default (one per core, at
    /// least 2, on Postgres; 1 on SQLite). Set before serving.
    /// Never more than half the pool: reads need the rest.
    pub fn with_append_writers(mut self, writers: usize) -> Self {
        if writers > 0 {
            let most = connect::max_append_writers(self.backend);
            self.appends = group_commit::AppendQueue::new(writers.min(most));
        }
        self
    }

    /// Append calls waiting for a transaction and append transactions
    /// running, now.
    pub fn append_queue_use(&self) -> AppendQueueUse {
        self.appends.usage()
    }

    /// Applies pending migrations. Idempotent. On Postgres it runs under a
    /// transaction-scoped advisory lock, so replicas starting together apply
    /// each migration once; on SQLite under an IMMEDIATE (write) transaction.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        if self.backend == DbBackend::Postgres {
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await?;
        }
        migration::Migrator::up(&txn, None).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Returns the connection, for tests that tamper with rows directly.
    #[doc(hidden)]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Returns "postgres" or "sqlite".
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock at BEGIN (IMMEDIATE): a deferred transaction that reads first and
    /// writes later fails with SQLITE_BUSY when another writer got in between,
    /// and busy_timeout cannot help it.
    async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = if self.backend == DbBackend::Sqlite {
            TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            }
        } else {
            TransactionOptions::default()
        };
        self.db.begin_with_options(options).await
    }

    /// Begins a read-only transaction whose queries all see one snapshot, so
    /// several aggregates over the same filter agree with each other.
    async fn begin_snapshot(&self) -> Result<DatabaseTransaction, DbErr> {
        if self.backend == DbBackend::Postgres {
            self.db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
        } else {
            // A deferred SQLite transaction reads one snapshot from its first
            // read on (WAL).
            self.db.begin().await
        }
    }
}
