//! How many pooled connections are open and how many of them are busy, so
//! operators (and the failure tests) can see that abandoned calls give their
//! connection back.

use super::AuditStore;
use sea_orm::DbBackend;

/// A snapshot of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or busy.
    pub open: u32,
    /// Connections waiting in the pool for the next query.
    pub idle: u32,
}

impl PoolUsage {
    /// Connections held by a query, a transaction, or a connection still
    /// being tested on its way back to the pool.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

impl AuditStore {
    /// Returns the pool's current size and idle count.
    pub fn pool_usage(&self) -> PoolUsage {
        let (open, idle) = match self.backend {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            // No other backend is compiled in; report an empty pool rather
            // than panic.
            _ => (0, 0),
        };
        PoolUsage {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }
}
