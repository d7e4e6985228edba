//! Connection pools: sizes, timeouts and the SQLite file options.

use super::StoreError;
use super::lease_pool::LeasePool;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use std::str::FromStr;
use std::time::Duration;

/// Connections per Postgres pool: enough for a few concurrent RPCs on a
/// 2-core machine without crowding the server's max_connections.
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
/// Connections for List pages, counts and follow reads on Postgres, on top
/// of the pool above (see `lease_pool`).
const POSTGRES_READ_CONNECTIONS: u32 = 8;
/// Connections per SQLite pool: readers run in parallel under WAL; writers
/// queue on the file lock anyway.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// How long a request waits for a pooled connection before it fails as
/// UNAVAILABLE.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled Postgres connection idle at least this long is pinged before
/// use (in both pools). Pinging on every checkout would add a round trip
/// to every RPC (a Get or a List page is otherwise one); a connection that
/// stayed idle this long may have been closed by a restarted server, a
/// proxy or a firewall, and a broken one is replaced before a request sees
/// it.
pub(crate) const POSTGRES_PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);
/// How long a SQLite writer waits for another writer's lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool for a `postgres://` or `sqlite:` URL.
pub(crate) async fn connect(database_url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(database_url.to_owned());
    options
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // Statement logging at INFO would log every query; sea-orm's tracing
        // spans remain.
        .sqlx_logging(false);

    if database_url.starts_with("sqlite:") {
        let in_memory = is_in_memory(database_url);
        if !in_memory {
            create_parent_dir(database_url)?;
        }
        options.map_sqlx_sqlite_opts(move |sqlite| {
            let sqlite = sqlite
                .create_if_missing(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            if in_memory {
                sqlite
            } else {
                sqlite.journal_mode(SqliteJournalMode::Wal)
            }
        });
        if in_memory {
            // An in-memory database lives as long as its connections: keep
            // exactly one, forever.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            options.max_connections(SQLITE_MAX_CONNECTIONS);
        }
    } else {
        options
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .test_before_acquire_if_idle_for(POSTGRES_PING_IF_IDLE_FOR)
            .set_application_name("audit-server");
    }
    Ok(Database::connect(options).await?)
}

/// The read pool and the append pool on Postgres (see `lease_pool`),
/// opened with the SeaORM pool's options (same server, credentials and
/// application_name); none on SQLite. The append pool has a connection
/// for each writer there can be.
pub(crate) fn lease_pools(db: &DatabaseConnection) -> Option<(LeasePool, LeasePool)> {
    (db.get_database_backend() == DbBackend::Postgres).then(|| {
        let options = db.get_postgres_connection_pool().connect_options();
        let appends = max_append_writers(DbBackend::Postgres) as u32;
        (
            LeasePool::new((*options).clone(), POSTGRES_READ_CONNECTIONS),
            LeasePool::new((*options).clone(), appends),
        )
    })
}

fn is_in_memory(database_url: &str) -> bool {
    database_url.contains(":memory:") || database_url.contains("mode=memory")
}

/// Creates the directory of a SQLite database file, so `sqlite://data/a.db`
/// works on a fresh machine.
fn create_parent_dir(database_url: &str) -> Result<(), StoreError> {
    let options = SqliteConnectOptions::from_str(database_url)
        .map_err(|error| StoreError::Internal(format!("invalid SQLite URL: {error}")))?;
    if let Some(parent) = options.get_filename().parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|error| {
            StoreError::Internal(format!("cannot create {}: {error}", parent.display()))
        })?;
    }
    Ok(())
}

/// How many append transactions may run at once by default (see
/// `group_commit`, which starts more than one only for enough waiting
/// entries): on Postgres one per core, at least two (one can be committing
/// while the next is built); on SQLite one, as writers take turns on the
/// file's lock anyway. Never more than [`max_append_writers`].
pub(crate) fn append_writers(backend: DbBackend) -> usize {
    if backend != DbBackend::Postgres {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    cores.clamp(2, max_append_writers(backend))
}

/// Half the pool: a writer holds a connection, and reads need the rest.
pub(crate) fn max_append_writers(backend: DbBackend) -> usize {
    let pool = match backend {
        DbBackend::Postgres => POSTGRES_MAX_CONNECTIONS,
        _ => SQLITE_MAX_CONNECTIONS,
    };
    (pool / 2).max(1) as usize
}
