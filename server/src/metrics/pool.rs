//! Database pool use, read from the sqlx pool behind SeaORM at scrape time.

use crate::store::AuditStore;
use sea_orm::DbBackend;

/// Connections of the pool right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub idle: u64,
    pub in_use: u64,
    pub max: u64,
}

/// Reads the pool; `None` for a backend without an sqlx pool.
pub fn pool_use(store: &AuditStore) -> Option<PoolUse> {
    let db = store.connection();
    // The getters panic on the wrong backend, so ask the backend first.
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return None,
    };
    let size = u64::from(size);
    let idle = u64::try_from(idle).unwrap_or(u64::MAX).min(size);
    Some(PoolUse {
        idle,
        in_use: size - idle,
        max: u64::from(max),
    })
}
