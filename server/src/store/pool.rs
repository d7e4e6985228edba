//! How many database connections are open and how many of them are busy,
//! so operators (and the failure tests) can see that abandoned calls give
//! their connection back.

use super::AuditStore;
use sea_orm::DbBackend;

/// A snapshot of the connection pools (on Postgres the SeaORM pool, the
/// read pool and the append pool together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or busy.
    pub open: u32,
    /// Connections waiting in a pool for the next query.
    pub idle: u32,
    /// The most connections the pools may open.
    pub max: u32,
}

impl PoolUsage {
    /// Connections held by a query, a transaction, or a connection still
    /// being tested (or drained after a cancel) on its way back.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

impl AuditStore {
    /// Returns the pools' current size, idle count and limit.
    pub fn pool_usage(&self) -> PoolUsage {
        let (open, idle, max) = match self.backend {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            // No other backend is compiled in; report an empty pool rather
            // than panic.
            _ => (0, 0, 0),
        };
        let mut usage = PoolUsage {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX).min(open),
            max,
        };
        for lent in self.reads.iter().chain(&self.append_connections) {
            let lent = lent.usage();
            usage.open += lent.open;
            usage.idle += lent.idle.min(lent.open);
            usage.max += lent.max;
        }
        usage
    }
}
