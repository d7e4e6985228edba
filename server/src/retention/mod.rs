//! Retention: per-tenant policies in days, with a server-wide minimum, and
//! the purge that removes each tenant's expired chain prefix (README,
//! "Retention"; docs/integrity.md, "Retention and the pruned checkpoint").
//!
//! - [`purge_expired`]: one purge round over every tenant with a policy, at
//!   a given `now` (the job passes the clock; tests pass a later time).
//! - [`task`]: the periodic job.
//!
//! The SQL lives in `store::retention` (and, for the months a round drops
//! whole on Postgres, `store::partition_retention`); this module decides
//! what a round does with each tenant, signs pruned points and builds the
//! purge record.

pub mod task;

use crate::checkpoint::CheckpointSigner;
use crate::domain::{
    Actor, ActorType, AuditLogEntry, Micros, Outcome, RequestInfo, Target, now_micros,
};
use crate::store::{AuditStore, PrunedSeal, PurgeBatch, StoreError, expiry_cutoff};
use audit_proto::checkpoint::canonical_pruned_checkpoint_bytes;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The action of the entry a purge records in the purged tenant's chain.
pub const PURGED_ACTION: &str = "audit_log.purged";
/// The actor id of that entry: the server itself.
pub const PURGE_ACTOR_ID: &str = "retention-purge";
/// The longest policy: a hundred years, far beyond any regulation, and
/// small enough that days in microseconds never overflow.
pub const MAX_RETENTION_DAYS: i32 = 36_500;

/// The longest pause between two purge batches.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How retention is enforced on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// No policy may keep entries fewer days than this.
    pub minimum_days: i32,
    /// How often the purge job runs; zero turns it off.
    pub purge_interval: Duration,
    /// Links removed per transaction at most.
    pub batch_size: u32,
}

impl Default for RetentionSettings {
    /// One year: PCI DSS (10.5.1) asks for a year of audit trail history,
    /// and most other regimes ask for more, never less, so a policy cannot
    /// go under what the strictest common baseline demands by accident.
    fn default() -> Self {
        Self {
            minimum_days: 365,
            purge_interval: Duration::from_secs(3600),
            batch_size: 500,
        }
    }
}

/// What a purge round did to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// Removed `from..=through` (links, tombstones included), recorded by
    /// the `audit_log.purged` entry `record_id`.
    Purged {
        from: i64,
        through: i64,
        batches: u32,
        record_id: Option<Uuid>,
    },
    /// Nothing had expired.
    NothingExpired,
    /// On legal hold: skipped, nothing removed.
    OnHold,
    /// The link at this sequence does not verify: the purge stops before
    /// it and leaves the break for VerifyAuditChain to report.
    Broken(i64),
    /// The purge of this tenant failed; the next round retries.
    Failed(String),
}

/// The outcome of a round for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPurge {
    pub tenant_id: String,
    pub outcome: PurgeOutcome,
}

/// One purge round: for every tenant with a policy, removes the links
/// expired at `now` in batches of `settings.batch_size` (each its own
/// transaction), signs the new pruned point, and records the purge in the
/// tenant's chain. One tenant's failure does not stop the others.
pub async fn purge_expired(
    store: &AuditStore,
    signer: &CheckpointSigner,
    settings: &RetentionSettings,
    now: Micros,
) -> Result<Vec<TenantPurge>, StoreError> {
    let dropped = drop_expired_months(store, signer, settings, now).await;
    let mut report = Vec::new();
    for tenant_id in store.tenants_with_retention().await? {
        let before = dropped.get(&tenant_id).copied();
        let outcome = match purge_tenant(store, signer, settings, &tenant_id, now, before).await {
            Ok(outcome) => outcome,
            Err(error) => PurgeOutcome::Failed(error.to_string()),
        };
        log_outcome(&tenant_id, &outcome);
        report.push(TenantPurge { tenant_id, outcome });
    }
    Ok(report)
}

/// On Postgres, drops the past months whose every entry has expired (see
/// `store::partition_retention`); returns, per tenant, the links purged
/// with them. A failure only leaves the work to the batches.
async fn drop_expired_months(
    store: &AuditStore,
    signer: &CheckpointSigner,
    settings: &RetentionSettings,
    now: Micros,
) -> HashMap<String, (i64, i64)> {
    let seal = |tenant: &str, sequence: i64, hash: &[u8; 32], time: Micros| {
        seal_pruned(signer, tenant, sequence, hash, time)
    };
    let dropped = store
        .drop_expired_partitions(
            now,
            settings.minimum_days,
            u64::from(settings.batch_size.max(1)),
            &seal,
        )
        .await;
    let mut purged: HashMap<String, (i64, i64)> = HashMap::new();
    match dropped {
        Ok(dropped) => {
            for share in dropped.into_iter().flat_map(|month| month.purged) {
                let range = purged
                    .entry(share.tenant_id)
                    .or_insert((share.from, share.through));
                range.1 = share.through;
            }
        }
        Err(error) => {
            tracing::warn!(%error, "dropping expired partitions failed; purging in batches")
        }
    }
    purged
}

/// Signs "`tenant` purged through `sequence` whose link has `hash`, at
/// `time`" with the server's checkpoint key.
fn seal_pruned(
    signer: &CheckpointSigner,
    tenant: &str,
    sequence: i64,
    hash: &[u8; 32],
    time: Micros,
) -> PrunedSeal {
    let key_id = signer.key_id().to_owned();
    let bytes = canonical_pruned_checkpoint_bytes(tenant, sequence, hash, time, &key_id);
    PrunedSeal {
        signature: signer.sign(&bytes),
        key_id,
    }
}

/// Purges one tenant, batch after batch, then records what was purged
/// (with `dropped`, the links its dropped partitions already took).
async fn purge_tenant(
    store: &AuditStore,
    signer: &CheckpointSigner,
    settings: &RetentionSettings,
    tenant_id: &str,
    now: Micros,
    dropped: Option<(i64, i64)>,
) -> Result<PurgeOutcome, StoreError> {
    let seal = |tenant: &str, sequence: i64, hash: &[u8; 32], time: Micros| {
        seal_pruned(signer, tenant, sequence, hash, time)
    };
    let mut purged: Option<(i64, i64)> = dropped;
    let mut batches = 0;
    let stopped = loop {
        let started = Instant::now();
        let batch = store
            .purge_batch(
                tenant_id,
                now,
                settings.minimum_days,
                u64::from(settings.batch_size.max(1)),
                &seal,
            )
            .await?;
        let PurgeBatch::Purged {
            from,
            through,
            more,
        } = batch
        else {
            break batch;
        };
        batches += 1;
        purged = Some((purged.map_or(from, |(first, _)| first), through));
        if !more {
            break PurgeBatch::NothingExpired;
        }
        // Between batches no lock is held, and the purge pauses as long as
        // the batch took: SQLite's busy handler retries a waiting append
        // after sleeps of up to 100 ms, so a purge that began its next
        // batch at once would take the write lock again and again before
        // the append got it (measured: appends waiting 4.7 s). At most half
        // the write time goes to purging.
        tokio::time::sleep(started.elapsed().min(MAX_PAUSE)).await;
    };
    let minimum_days = settings.minimum_days;
    let record = store
        .record_purge(tenant_id, |from, through, days| {
            purge_record(tenant_id, from, through, days.max(minimum_days), now)
        })
        .await?;
    Ok(match (purged, stopped) {
        (Some((from, through)), _) => PurgeOutcome::Purged {
            from,
            through,
            batches,
            record_id: record.map(|record| record.id),
        },
        (None, PurgeBatch::OnHold) => PurgeOutcome::OnHold,
        (None, PurgeBatch::Broken(sequence)) => PurgeOutcome::Broken(sequence),
        (None, _) => PurgeOutcome::NothingExpired,
    })
}

/// The chained entry that says which links went, how many, and under
/// which policy.
fn purge_record(tenant_id: &str, from: i64, through: i64, days: i32, now: Micros) -> AuditLogEntry {
    let received = now_micros();
    let expired_before = expiry_cutoff(now, days)
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    AuditLogEntry {
        id: Uuid::now_v7(),
        tenant_id: tenant_id.to_owned(),
        occurred_at: received,
        received_at: received,
        action: PURGED_ACTION.to_owned(),
        actor: Actor {
            id: PURGE_ACTOR_ID.to_owned(),
            kind: ActorType::System,
            name: "retention purge".to_owned(),
            email: String::new(),
        },
        target: Target {
            kind: "tenant".to_owned(),
            id: tenant_id.to_owned(),
            name: String::new(),
        },
        result: Outcome::Success,
        client_ip: None,
        user_agent: String::new(),
        request: RequestInfo::default(),
        metadata: json!({
            "purged_from_sequence": from,
            "purged_through_sequence": through,
            "purged_count": through - from + 1,
            "retention_days": days,
            "expired_before": expired_before,
        }),
        request_id: String::new(),
        idempotency_key: None,
        fingerprint: None,
        chain: None,
    }
}

fn log_outcome(tenant_id: &str, outcome: &PurgeOutcome) {
    match outcome {
        PurgeOutcome::Purged {
            from,
            through,
            batches,
            ..
        } => tracing::info!(tenant_id, from, through, batches, "expired entries purged"),
        PurgeOutcome::NothingExpired => tracing::debug!(tenant_id, "nothing expired"),
        PurgeOutcome::OnHold => {
            tracing::info!(tenant_id, "tenant on legal hold: retention purge skipped");
        }
        PurgeOutcome::Broken(sequence) => tracing::error!(
            tenant_id,
            sequence,
            "retention purge stopped: the chain does not verify at this sequence"
        ),
        PurgeOutcome::Failed(error) => {
            tracing::warn!(tenant_id, %error, "retention purge failed; the next round retries");
        }
    }
}
