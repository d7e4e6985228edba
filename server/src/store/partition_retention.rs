//! Retention by whole partitions on Postgres: a past month whose every
//! entry the purge would remove anyway is dropped as a table instead of
//! deleted row by row (no dead rows for vacuum, no index bloat, no WAL for
//! each row).
//!
//! The result is the one batch deletion would reach: for each tenant in the
//! month, its chain is walked from the pruned point through its last entry
//! in the month exactly as a purge batch walks it (every link re-checked,
//! every row expired by its `received_at`), and only then, in one
//! transaction under every such tenant's chain head lock, are the month
//! dropped, the tenants' other links of that prefix deleted (entries
//! linked across the month boundary, tombstones), their idempotency keys
//! forgotten and their pruned points signed. One tenant on legal hold, or
//! without a policy, or with a link that has not expired or does not
//! verify, keeps the month: the batch purge then deletes what it may. The
//! month that receives appends now is never dropped, whatever `now` the
//! purge is run at.

use super::chain::lock_tenant;
use super::idempotency::forget_keys_of_sequences;
use super::legal_hold::find_hold;
use super::partitions::{ReceiptMonth, monthly};
use super::retention::{
    Pruned, SealPruned, expiry_cutoff, find_retention, pruned_of, remove_through,
    store_pruned_point, walk_expired,
};
use super::{AuditStore, StoreError};
use crate::domain::{Micros, now_micros};
use audit_proto::integrity::GENESIS_HASH;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// How long the drop waits for its locks (DROP TABLE locks the whole
/// `audit_logs` briefly) before leaving the month to the next round.
const DROP_LOCK_TIMEOUT: &str = "10s";

/// The links of one tenant purged with a dropped partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPurge {
    pub tenant_id: String,
    pub from: i64,
    pub through: i64,
}

/// A monthly partition dropped by retention, and what it purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedPartition {
    pub partition: String,
    pub purged: Vec<PartitionPurge>,
}

/// One tenant's prefix as walked before the drop.
struct WalkedPrefix {
    tenant_id: String,
    /// The pruned point the walk started from.
    after: i64,
    /// The tenant's last link in the month, and its hash.
    through: i64,
    hash: [u8; 32],
    /// The policy the walk judged expiry by.
    retention_days: i32,
}

impl AuditStore {
    /// Drops, oldest first, the past monthly partitions all of whose
    /// entries have expired at `now` for tenants with a policy (never
    /// shorter than `minimum_days`) and none on legal hold, and purges with
    /// each the rest of its tenants' expired prefix; signs each tenant's new
    /// pruned point with `seal`. Walks in `batch_size` links per read.
    /// Returns what it dropped; nothing on SQLite.
    pub async fn drop_expired_partitions(
        &self,
        now: Micros,
        minimum_days: i32,
        batch_size: u64,
        seal: &SealPruned<'_>,
    ) -> Result<Vec<DroppedPartition>, StoreError> {
        if self.backend != DbBackend::Postgres {
            return Ok(Vec::new());
        }
        let (Some(live), Some(purge_month), Some(oldest_cutoff)) = (
            ReceiptMonth::of_micros(now_micros()),
            ReceiptMonth::of_micros(now),
            expiry_cutoff(now, minimum_days),
        ) else {
            return Ok(Vec::new());
        };
        let names = self.partition_names().await?;
        let mut dropped = Vec::new();
        for (month, name) in monthly(&names) {
            let ends = month.next().first_micros().unwrap_or(Micros::MAX);
            // Later months end later still: none of them can have expired.
            if month >= live || month >= purge_month || ends > oldest_cutoff {
                break;
            }
            let Some(walked) =
                walk_month(&self.db, month, name, now, minimum_days, batch_size).await?
            else {
                continue;
            };
            if let Some(done) = self.drop_month(name, walked, seal).await? {
                tracing::info!(
                    partition = name,
                    tenants = done.purged.len(),
                    "expired audit log partition dropped"
                );
                dropped.push(done);
            }
        }
        Ok(dropped)
    }

    /// Drops `partition` and purges the walked prefixes, if nothing changed
    /// since the walk; None (and nothing done) otherwise.
    async fn drop_month(
        &self,
        partition: &str,
        mut walked: Vec<WalkedPrefix>,
        seal: &SealPruned<'_>,
    ) -> Result<Option<DroppedPartition>, StoreError> {
        // One order for every multi-tenant lock taker: no deadlock between
        // two replicas purging at once.
        walked.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id));
        let txn = self.begin_write().await?;
        txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
            .await?;
        for prefix in &walked {
            lock_tenant(&txn, &prefix.tenant_id).await?;
            let policy = find_retention(&txn, &prefix.tenant_id).await?;
            let unchanged = policy.as_ref().is_some_and(|policy| {
                policy.retention_days == prefix.retention_days
                    && pruned_of(policy).sequence() == prefix.after
            });
            // Dropping the transaction rolls it back.
            if !unchanged || find_hold(&txn, &prefix.tenant_id).await?.is_some() {
                return Ok(None);
            }
        }
        for prefix in &walked {
            forget_keys_of_sequences(&txn, &prefix.tenant_id, prefix.after, prefix.through).await?;
        }
        txn.execute_unprepared(&format!("DROP TABLE {partition}"))
            .await?;
        for prefix in &walked {
            // The prefix's links outside the month: entries linked across its
            // boundary and tombstones.
            remove_through(&txn, &prefix.tenant_id, prefix.after, prefix.through).await?;
            store_pruned_point(&txn, &prefix.tenant_id, prefix.through, &prefix.hash, seal).await?;
        }
        txn.commit().await?;
        for prefix in &walked {
            self.notifier.chain_moved(&prefix.tenant_id);
        }
        let purged = walked
            .into_iter()
            .map(|prefix| PartitionPurge {
                tenant_id: prefix.tenant_id,
                from: prefix.after + 1,
                through: prefix.through,
            })
            .collect();
        Ok(Some(DroppedPartition {
            partition: partition.to_owned(),
            purged,
        }))
    }
}

/// Walks every tenant of `partition` from its pruned point through its last
/// link in the month. Returns the prefixes when all of them are expired and
/// verify, None when any tenant keeps the month.
async fn walk_month(
    db: &DatabaseConnection,
    month: ReceiptMonth,
    partition: &str,
    now: Micros,
    minimum_days: i32,
    batch_size: u64,
) -> Result<Option<Vec<WalkedPrefix>>, DbErr> {
    let ends = month.next().first_micros().unwrap_or(Micros::MAX);
    if kept_by_some_tenant(db, partition, now.saturating_sub(ends), minimum_days).await? {
        return Ok(None);
    }
    let shares = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT tenant_id, MAX(sequence), MAX(received_at), \
                 COUNT(*) - COUNT(sequence) FROM {partition} GROUP BY tenant_id"
            ),
        ))
        .await?;
    let mut walked = Vec::with_capacity(shares.len());
    for share in shares {
        let tenant_id: String = share.try_get_by_index(0)?;
        let through: Option<i64> = share.try_get_by_index(1)?;
        let newest_received: i64 = share.try_get_by_index(2)?;
        let unchained: i64 = share.try_get_by_index(3)?;
        // A row outside the chain is never purged: it stays for
        // verification to report.
        let (Some(through), 0) = (through, unchained) else {
            return Ok(None);
        };
        match walk_tenant(
            db,
            &tenant_id,
            through,
            newest_received,
            now,
            minimum_days,
            batch_size,
        )
        .await?
        {
            Some(prefix) => walked.push(prefix),
            None => return Ok(None),
        }
    }
    Ok(Some(walked))
}

/// Returns whether some tenant with an entry in `partition` certainly keeps
/// it: one on legal hold, without a policy, or whose policy (never under
/// `minimum_days`) is longer than `age` (the time since the month ended).
/// One primary-key probe of the partition per such tenant, rather than a
/// scan of the month: a month kept for years (by a tenant without a policy,
/// say) costs each purge round a few index lookups.
async fn kept_by_some_tenant(
    db: &DatabaseConnection,
    partition: &str,
    age: Micros,
    minimum_days: i32,
) -> Result<bool, DbErr> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM audit_tenants t \
         WHERE (EXISTS (SELECT 1 FROM audit_legal_holds h WHERE h.tenant_id = t.tenant_id) \
           OR NOT EXISTS (SELECT 1 FROM audit_retention r WHERE r.tenant_id = t.tenant_id \
             AND r.retention_days > 0 \
             AND GREATEST(r.retention_days, $1)::int8 * {DAY_MICROS} <= $2)) \
         AND EXISTS (SELECT 1 FROM {partition} l WHERE l.tenant_id = t.tenant_id))"
    );
    let kept = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [minimum_days.into(), age.into()],
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?;
    Ok(kept.unwrap_or(true))
}

/// Walks one tenant's chain from its pruned point through `through` as
/// purge batches would; None unless every link verifies and has expired.
async fn walk_tenant(
    db: &DatabaseConnection,
    tenant_id: &str,
    through: i64,
    newest_received: Micros,
    now: Micros,
    minimum_days: i32,
    batch_size: u64,
) -> Result<Option<WalkedPrefix>, DbErr> {
    if find_hold(db, tenant_id).await?.is_some() {
        return Ok(None);
    }
    let Some(policy) = find_retention(db, tenant_id).await? else {
        return Ok(None);
    };
    let days = if policy.retention_days > 0 {
        policy.retention_days.max(minimum_days)
    } else {
        return Ok(None);
    };
    let Some(cutoff) = expiry_cutoff(now, days) else {
        return Ok(None);
    };
    if newest_received >= cutoff {
        return Ok(None);
    }
    let (after, anchor) = match pruned_of(&policy) {
        Pruned::Nothing => (0, GENESIS_HASH),
        Pruned::Through(point) => (point.sequence, point.hash),
        Pruned::Malformed(_) => return Ok(None),
    };
    if through <= after {
        return Ok(None);
    }
    let step = i64::try_from(batch_size.max(1)).unwrap_or(i64::MAX);
    let txn = db.begin().await?;
    let mut linked = (after, anchor);
    while linked.0 < through {
        let upper = linked.0.saturating_add(step).min(through);
        let walk = walk_expired(&txn, tenant_id, linked.0, upper, linked.1, cutoff).await?;
        if !walk.reached_upper {
            return Ok(None);
        }
        linked = walk.linked_through;
    }
    txn.commit().await?;
    Ok(Some(WalkedPrefix {
        tenant_id: tenant_id.to_owned(),
        after,
        through,
        hash: linked.1,
        retention_days: policy.retention_days,
    }))
}
