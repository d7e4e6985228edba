//! Database pool use, read from the store's pools at scrape time.

use crate::store::AuditStore;

/// Connections of the pools right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub idle: u64,
    pub in_use: u64,
    pub max: u64,
}

/// Reads the pools; `None` for a backend without one.
pub fn pool_use(store: &AuditStore) -> Option<PoolUse> {
    let usage = store.pool_usage();
    (usage.max > 0).then(|| PoolUse {
        idle: u64::from(usage.idle),
        in_use: u64::from(usage.in_use()),
        max: u64::from(usage.max),
    })
}
