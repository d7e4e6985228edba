//! The periodic checkpoint: every interval, each tenant whose head moved
//! since its latest checkpoint gets a new one, so a rewrite or truncation
//! is caught even if nobody asked for a checkpoint. Each round then prunes
//! the stored history to the newest [`KEEP_NEWEST`] per tenant plus the
//! newest of each UTC day, so it does not grow by one row per tenant per
//! interval forever.

use super::Checkpointer;
use std::time::Duration;

/// Stored checkpoints kept per tenant besides one per day: at the default
/// 10-minute interval, the last 8 hours.
pub const KEEP_NEWEST: usize = 48;

/// Checkpoints moved heads every `interval`, forever (the caller aborts
/// the task). The first round runs one interval after start.
pub async fn run_periodic(checkpointer: Checkpointer, interval: Duration) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // A slow round (a large database) must not be followed by a burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match checkpointer.take_moved().await {
            Ok(0) => tracing::debug!("no chain head moved since the last checkpoints"),
            Ok(taken) => tracing::info!(taken, "periodic checkpoints signed"),
            // The next round retries; the database may be back by then.
            Err(error) => tracing::warn!(%error, "periodic checkpoint failed"),
        }
        match checkpointer.store().prune_checkpoints(KEEP_NEWEST).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old stored checkpoints pruned"),
            Err(error) => tracing::warn!(%error, "pruning stored checkpoints failed"),
        }
    }
}
