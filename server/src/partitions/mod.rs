//! Partition upkeep: on Postgres, `audit_logs` is partitioned by month of
//! receipt, and the partitions of the current month and the
//! [`MONTHS_AHEAD`](crate::store::MONTHS_AHEAD) after it are created at
//! start and then once a day, so appends land in a monthly partition rather
//! than in DEFAULT. The SQL lives in `store::partitions`.
//!
//! - [`prepare`]: one round at the current time.
//! - [`task`]: the daily job.

pub mod task;

use crate::domain::now_micros;
use crate::store::{AuditStore, StoreError};

/// Creates the missing partitions for now and the months ahead, and logs
/// what it created. Returns their names.
pub async fn prepare(store: &AuditStore) -> Result<Vec<String>, StoreError> {
    let created = store.prepare_partitions(now_micros()).await?;
    if !created.is_empty() {
        tracing::info!(partitions = ?created, "audit log partitions prepared");
    }
    Ok(created)
}
