//! The daily partition upkeep: one [`super::prepare`] round a day.

use crate::store::AuditStore;
use std::time::Duration;

/// How often upkeep runs. Partitions exist months ahead, so a day (or a
/// failed round, or several) never leaves an append without its month.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Prepares partitions every [`UPKEEP_INTERVAL`], forever (the caller
/// aborts the task). The first round runs one interval after start:
/// startup has just run one.
pub async fn run_periodic(store: AuditStore) {
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + UPKEEP_INTERVAL,
        UPKEEP_INTERVAL,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // The next round retries; the months ahead leave time for it.
        if let Err(error) = super::prepare(&store).await {
            tracing::warn!(%error, "audit log partition upkeep failed");
        }
    }
}
