//! The periodic purge: every interval, one [`super::purge_expired`] round
//! at the current time.

use super::{RetentionSettings, purge_expired};
use crate::checkpoint::CheckpointSigner;
use crate::domain::now_micros;
use crate::store::AuditStore;

/// Runs a purge round every `settings.purge_interval`, forever (the caller
/// aborts the task). The first round runs one interval after start, so a
/// restart loop does not purge in a burst.
pub async fn run_periodic(
    store: AuditStore,
    signer: CheckpointSigner,
    settings: RetentionSettings,
) {
    let interval = settings.purge_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match purge_expired(&store, &signer, &settings, now_micros()).await {
            Ok(report) => tracing::debug!(tenants = report.len(), "retention purge round done"),
            // The next round retries; the database may be back by then.
            Err(error) => tracing::warn!(%error, "retention purge round failed"),
        }
    }
}
