//! Postgres connections lent for one statement at a time, in small pools
//! of their own: the read pool (List pages, counts and follow reads) and
//! the append pool (appends' one-statement writes, see `append`). Each
//! connection knows its backend's process id from the moment it opens.
//!
//! Why not the SeaORM pool: a read must stop on the database when its
//! caller stops waiting (see `cancel`), and cancelling needs the backend's
//! process id, which sqlx learns at connect but does not expose. Learning
//! it per read (or naming each read's transaction to find it) cost a round
//! trip per page. And sqlx's pool adds a round trip whenever a connection
//! goes back (it pings every returned connection, from a task it spawns):
//! a one-entry append paid for that round trip, the task and Postgres
//! waking for it about as much as for its own statement. Here a page or an
//! append is the one round trip of its statement, which runs on its own,
//! as an implicit transaction.
//!
//! The pool holds a connection whose statement was abandoned until the
//! cancel has been sent and the connection has drained: a cancel can then
//! only reach the statement it was meant for, never a later call on that
//! connection.

use super::connect::{ACQUIRE_TIMEOUT, POSTGRES_PING_IF_IDLE_FOR};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, Postgres};
use sea_orm::sqlx::query::Query;
use sea_orm::sqlx::{self, AssertSqlSafe, Connection};
use sea_orm::{DbErr, RuntimeErr, Statement, Values};
use sea_query_sqlx::SqlxValues;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool of lent connections; cheap to clone.
#[derive(Clone)]
pub(crate) struct LeasePool(Arc<Shared>);

struct Shared {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    slots: Arc<Semaphore>,
    size: u32,
}

struct Idle {
    connection: PgConnection,
    backend: i32,
    since: Instant,
}

/// Connections of a lease pool right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeasePoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl LeasePool {
    /// A pool of at most `size` connections opened with `options`; none is
    /// opened until a statement needs it.
    pub(crate) fn new(options: PgConnectOptions, size: u32) -> Self {
        Self(Arc::new(Shared {
            options,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(size as usize)),
            size,
        }))
    }

    /// Idle connections, and slots taken: by a connection lent to a statement,
    /// one being opened, or one draining after a cancel.
    pub(crate) fn usage(&self) -> LeasePoolUse {
        let idle = u32::try_from(self.0.idle_list().len()).unwrap_or(u32::MAX);
        let taken = self
            .0
            .size
            .saturating_sub(u32::try_from(self.0.slots.available_permits()).unwrap_or(u32::MAX));
        LeasePoolUse {
            open: idle + taken,
            idle,
            max: self.0.size,
        }
    }

    /// Takes an idle connection (pinging it if it sat idle a while) or
    /// opens one; fails as timed out after [`ACQUIRE_TIMEOUT`] (waiting for
    /// a slot, or for a server that does not answer).
    pub(crate) async fn acquire(&self) -> Result<Lease, sqlx::Error> {
        tokio::time::timeout(ACQUIRE_TIMEOUT, self.acquire_unbounded())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    async fn acquire_unbounded(&self) -> Result<Lease, sqlx::Error> {
        let slot = self
            .0
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let Some(mut idle) = self.0.idle_list().pop() else {
                break;
            };
            if idle.since.elapsed() < POSTGRES_PING_IF_IDLE_FOR
                || idle.connection.ping().await.is_ok()
            {
                return Ok(self.lease(idle.connection, idle.backend, slot));
            }
            // Broken while idle: let it go and try the next.
        }
        let mut connection = PgConnection::connect_with(&self.0.options).await?;
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut connection)
            .await?;
        Ok(self.lease(connection, backend, slot))
    }

    /// Runs `statement`, a write that is its own transaction, and returns
    /// how many rows it affected. A connection goes back to the pool after
    /// an error Postgres reported (it stays usable), and is closed after any
    /// other.
    pub(crate) async fn execute(&self, statement: Statement) -> Result<u64, DbErr> {
        let mut lease = self.acquire().await.map_err(db_error)?;
        let connection = lease.connection(&statement.sql).map_err(db_error)?;
        let done = sqlx_query(statement).execute(connection).await;
        match done {
            Ok(done) => {
                lease.finish(true);
                Ok(done.rows_affected())
            }
            Err(error) => {
                lease.finish(matches!(error, sqlx::Error::Database(_)));
                Err(db_error(error))
            }
        }
    }

    fn lease(&self, connection: PgConnection, backend: i32, slot: OwnedSemaphorePermit) -> Lease {
        Lease {
            connection: Some(connection),
            backend,
            statement: String::new(),
            pool: self.clone(),
            slot: Some(slot),
        }
    }
}

/// `statement` as a sqlx query with its values bound, to run on a lease.
pub(crate) fn sqlx_query(statement: Statement) -> Query<'static, Postgres, SqlxValues> {
    let values = SqlxValues(statement.values.unwrap_or(Values(Vec::new())));
    sqlx::query_with(AssertSqlSafe(statement.sql), values)
}

/// A sqlx error of a lease as the store's `DbErr` (classified in `error`).
pub(crate) fn db_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

impl Shared {
    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // The list is only pushed to and popped from: a panic elsewhere
        // cannot leave it half-changed.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put_back(&self, connection: PgConnection, backend: i32) {
        self.idle_list().push(Idle {
            connection,
            backend,
            since: Instant::now(),
        });
    }
}

/// A connection lent to one statement. [`Lease::finish`] returns it to the
/// pool (or lets it go after an error); dropped before that, the statement was
/// abandoned: its query is cancelled, the connection drained, then
/// returned.
pub(crate) struct Lease {
    connection: Option<PgConnection>,
    backend: i32,
    statement: String,
    pool: LeasePool,
    slot: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// The connection to run the statement on.
    /// `statement` is the SQL about to run: an abandoned statement's cancel
    /// applies only while its backend still runs that text (see
    /// [`cancel_backend`]).
    pub(crate) fn connection(&mut self, statement: &str) -> Result<&mut PgConnection, sqlx::Error> {
        self.statement = statement.to_owned();
        // Only `finish` and `drop` take the connection, and both end the
        // lease.
        self.connection.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Ends the lease: the connection goes back to the pool if it `worked`;
    /// after an error it is closed, as an error may have left it broken.
    pub(crate) fn finish(mut self, worked: bool) {
        if let Some(connection) = self.connection.take()
            && worked
        {
            self.pool.0.put_back(connection, self.backend);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        let (pool, backend, slot) = (self.pool.clone(), self.backend, self.slot.take());
        let statement = std::mem::take(&mut self.statement);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            match cancel_backend(&pool.0.options, backend, &statement).await {
                Ok(()) => tracing::debug!(backend, "cancelled an abandoned statement"),
                Err(error) => {
                    tracing::warn!(backend, %error, "cannot cancel an abandoned statement")
                }
            }
            // The statement's reply (rows, or the cancel's error) is read
            // off and dropped; only then may another statement use the
            // connection.
            if connection.ping().await.is_ok() {
                pool.0.put_back(connection, backend);
            }
            drop(slot);
        });
    }
}

/// Asks Postgres to cancel `statement` if `backend` is running it, from a
/// separate, unpooled connection (the pools may be the very thing that is
/// exhausted). If the statement ended meanwhile, the backend is idle and nothing
/// is cancelled. The statement text guards against a pooler between the
/// server and Postgres (PgBouncer in transaction mode), where the backend
/// a connection reported at connect may since serve another client: only a
/// query of the same text could then be hit, never another statement.
/// (`pg_stat_activity` keeps the first `track_activity_query_size` bytes of
/// the text, hence a prefix match.)
async fn cancel_backend(
    options: &PgConnectOptions,
    backend: i32,
    statement: &str,
) -> Result<(), sqlx::Error> {
    let mut connection = PgConnection::connect_with(options).await?;
    sqlx::query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
         WHERE pid = $1 AND state = 'active' AND starts_with($2, query)",
    )
    .bind(backend)
    .bind(statement)
    .execute(&mut connection)
    .await?;
    connection.close().await
}
