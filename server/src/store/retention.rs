//! A tenant's retention policy and the purge of its expired chain prefix.
//!
//! The purge works in batches, each one short transaction under the
//! tenant's chain head lock (so Delete, legal hold and appends take turns
//! with it, and no lock is held between batches): it walks the links after
//! the pruned point in sequence order, re-checking each link's digest and
//! hash from the pruned hash on, and removes the longest run of expired
//! links. An entry expires by its `received_at`, which the server assigns
//! and the chain covers: neither a producer (who picks `occurred_at`) nor a
//! database administrator (whose edit would break the re-check) can make a
//! recent entry look old. A tombstone has no `received_at` of its own left:
//! it goes with the first expired row after it, which was committed after
//! it.

use super::chain::{digest_at, lock_tenant, to_hash};
use super::entity::{audit_log, audit_retention, audit_tombstone};
use super::idempotency::forget_keys_of_sequences;
use super::legal_hold::{find_hold, insert_chained};
use super::rows::model_to_entry;
use super::{AuditStore, StoreError};
use crate::domain::{AuditLogEntry, Micros, now_micros};
use audit_proto::integrity::{GENESIS_HASH, chain_hash};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// A tenant's retention policy and pruned point as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRecord {
    pub tenant_id: String,
    /// 0: no policy.
    pub retention_days: i32,
    pub set_by: String,
    pub set_at: Option<Micros>,
    pub pruned: Pruned,
}

/// How far a tenant's chain has been purged, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pruned {
    /// Nothing was ever purged: the chain starts at 1.
    Nothing,
    /// Purged through a signed point.
    Through(PrunedPoint),
    /// A pruned sequence without a well-formed hash, time or signature:
    /// only tampering gets here, and verification reports it.
    Malformed(i64),
}

/// The last purged link and the signature of the statement naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedPoint {
    pub sequence: i64,
    pub hash: [u8; 32],
    /// Microseconds since the epoch when it was signed.
    pub time: Micros,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// The signature of a pruned point, made by the caller's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedSeal {
    pub key_id: String,
    pub signature: [u8; 64],
}

/// Signs "`tenant` purged through `sequence` whose link has `hash`, at
/// `time`". Called inside a batch's transaction, so the stored pruned point
/// is always the signed one.
pub type SealPruned<'a> = dyn Fn(&str, i64, &[u8; 32], Micros) -> PrunedSeal + Send + Sync + 'a;

/// What one purge batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeBatch {
    /// The tenant is on legal hold: nothing was removed.
    OnHold,
    /// The tenant has no policy (any more): nothing was removed.
    NoPolicy,
    /// Removed the links `from..=through`; `more` when every link of the
    /// batch had expired and the chain goes on, so the next batch may find
    /// more.
    Purged { from: i64, through: i64, more: bool },
    /// The first link after the pruned point has not expired.
    NothingExpired,
    /// The link at this sequence does not verify (or is missing): the purge
    /// stops before it, so a broken chain is never purged past its break.
    Broken(i64),
}

impl Pruned {
    /// The last purged sequence; 0 when nothing was purged.
    pub fn sequence(&self) -> i64 {
        match self {
            Pruned::Nothing => 0,
            Pruned::Through(point) => point.sequence,
            Pruned::Malformed(sequence) => *sequence,
        }
    }
}

impl RetentionRecord {
    fn none(tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            retention_days: 0,
            set_by: String::new(),
            set_at: None,
            pruned: Pruned::Nothing,
        }
    }
}

impl From<audit_retention::Model> for RetentionRecord {
    fn from(row: audit_retention::Model) -> Self {
        Self {
            pruned: pruned_of(&row),
            tenant_id: row.tenant_id,
            retention_days: row.retention_days,
            set_by: row.set_by,
            set_at: row.set_at,
        }
    }
}

/// Reads the pruned point of a retention row.
pub(super) fn pruned_of(row: &audit_retention::Model) -> Pruned {
    if row.pruned_sequence <= 0 {
        return Pruned::Nothing;
    }
    let hash = row.pruned_hash.as_deref().and_then(to_hash);
    match (
        hash,
        row.pruned_at,
        &row.pruned_key_id,
        &row.pruned_signature,
    ) {
        (Some(hash), Some(time), Some(key_id), Some(signature)) => Pruned::Through(PrunedPoint {
            sequence: row.pruned_sequence,
            hash,
            time,
            key_id: key_id.clone(),
            signature: signature.clone(),
        }),
        _ => Pruned::Malformed(row.pruned_sequence),
    }
}

/// Returns the tenant's retention row, if it has one.
pub(super) async fn find_retention<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Option<audit_retention::Model>, DbErr> {
    audit_retention::Entity::find_by_id(tenant_id.to_owned())
        .one(db)
        .await
}

/// The instant before which entries of a `days` policy have expired at
/// `now`; None when the policy keeps everything.
pub fn expiry_cutoff(now: Micros, days: i32) -> Option<Micros> {
    if days <= 0 {
        return None;
    }
    now.checked_sub(i64::from(days).checked_mul(DAY_MICROS)?)
}

impl AuditStore {
    /// Returns `tenant_id`'s policy and pruned point; a tenant without a
    /// row has neither.
    pub async fn retention(&self, tenant_id: &str) -> Result<RetentionRecord, StoreError> {
        let row = find_retention(&self.db, tenant_id).await?;
        Ok(row.map_or_else(|| RetentionRecord::none(tenant_id), Into::into))
    }

    /// In one transaction: sets the record's tenant's policy to `days` (0
    /// clears it) and stores `record`, chained, in that tenant. The pruned
    /// point is kept.
    pub async fn set_retention(
        &self,
        record: AuditLogEntry,
        days: i32,
    ) -> Result<RetentionRecord, StoreError> {
        let txn = self.begin_write().await?;
        let tenant = lock_tenant(&txn, &record.tenant_id).await?;
        insert_chained(&txn, tenant, &record).await?;
        let row = audit_retention::ActiveModel {
            tenant_id: ActiveValue::Set(record.tenant_id.clone()),
            retention_days: ActiveValue::Set(days),
            set_by: ActiveValue::Set(record.actor.id.clone()),
            set_at: ActiveValue::Set(Some(record.received_at)),
            pruned_sequence: ActiveValue::Set(0),
            pruned_hash: ActiveValue::Set(None),
            pruned_at: ActiveValue::Set(None),
            pruned_key_id: ActiveValue::Set(None),
            pruned_signature: ActiveValue::Set(None),
            recorded_through: ActiveValue::Set(0),
        };
        // The pruned columns are only ever written by the purge.
        audit_retention::Entity::insert(row)
            .on_conflict(
                OnConflict::column(audit_retention::Column::TenantId)
                    .update_columns([
                        audit_retention::Column::RetentionDays,
                        audit_retention::Column::SetBy,
                        audit_retention::Column::SetAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        let stored = find_retention(&txn, &record.tenant_id).await?;
        txn.commit().await?;
        self.notifier.chain_moved(&record.tenant_id);
        Ok(stored.map_or_else(|| RetentionRecord::none(&record.tenant_id), Into::into))
    }

    /// Returns the tenants with a policy, in tenant order.
    pub async fn tenants_with_retention(&self) -> Result<Vec<String>, StoreError> {
        let rows = audit_retention::Entity::find()
            .filter(audit_retention::Column::RetentionDays.gt(0))
            .order_by_asc(audit_retention::Column::TenantId)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| row.tenant_id).collect())
    }

    /// One purge batch of `tenant_id`, in one transaction: at most
    /// `batch_size` links after the pruned point, removed while each has
    /// expired at `now` under the tenant's policy (never shorter than
    /// `minimum_days`), and the new pruned point signed with `seal`.
    pub async fn purge_batch(
        &self,
        tenant_id: &str,
        now: Micros,
        minimum_days: i32,
        batch_size: u64,
        seal: &SealPruned<'_>,
    ) -> Result<PurgeBatch, StoreError> {
        let txn = self.begin_write().await?;
        let tenant = lock_tenant(&txn, tenant_id).await?;
        // Checked under the lock that SetLegalHold takes too: a hold set
        // now waits for this batch, and the next batch sees it.
        if find_hold(&txn, tenant_id).await?.is_some() {
            return Ok(PurgeBatch::OnHold);
        }
        let Some(policy) = find_retention(&txn, tenant_id).await? else {
            return Ok(PurgeBatch::NoPolicy);
        };
        // A minimum raised after the policy was set still protects entries.
        let days = if policy.retention_days > 0 {
            policy.retention_days.max(minimum_days)
        } else {
            0
        };
        let Some(cutoff) = expiry_cutoff(now, days) else {
            return Ok(PurgeBatch::NoPolicy);
        };
        let (after, anchor) = match pruned_of(&policy) {
            Pruned::Nothing => (0, GENESIS_HASH),
            Pruned::Through(point) => (point.sequence, point.hash),
            Pruned::Malformed(sequence) => return Ok(PurgeBatch::Broken(sequence)),
        };
        let upper = tenant
            .head_sequence
            .min(after.saturating_add(i64::try_from(batch_size).unwrap_or(i64::MAX)));
        if upper <= after {
            return Ok(PurgeBatch::NothingExpired);
        }
        let walk = walk_expired(&txn, tenant_id, after, upper, anchor, cutoff).await?;
        let Some((through, hash)) = walk.last_expired else {
            return Ok(match walk.broken_at {
                Some(sequence) => PurgeBatch::Broken(sequence),
                None => PurgeBatch::NothingExpired,
            });
        };
        remove_through(&txn, tenant_id, after, through).await?;
        store_pruned_point(&txn, tenant_id, through, &hash, seal).await?;
        txn.commit().await?;
        // A break after the expired prefix stops the run here; the next
        // run starts at it and reports it.
        Ok(PurgeBatch::Purged {
            from: after + 1,
            through,
            more: walk.reached_upper && upper < tenant.head_sequence,
        })
    }

    /// In one transaction: when purged links are not yet accounted for by
    /// an `audit_log.purged` entry, builds one with `build(from, through)`
    /// and stores it, chained, in the tenant. Returns it, if any.
    pub async fn record_purge<F>(
        &self,
        tenant_id: &str,
        build: F,
    ) -> Result<Option<AuditLogEntry>, StoreError>
    where
        F: FnOnce(i64, i64, i32) -> AuditLogEntry + Send,
    {
        let txn = self.begin_write().await?;
        let tenant = lock_tenant(&txn, tenant_id).await?;
        let Some(policy) = find_retention(&txn, tenant_id).await? else {
            return Ok(None);
        };
        if policy.recorded_through >= policy.pruned_sequence {
            return Ok(None);
        }
        let mut record = build(
            policy.recorded_through + 1,
            policy.pruned_sequence,
            policy.retention_days,
        );
        record.tenant_id = tenant_id.to_owned();
        insert_chained(&txn, tenant, &record).await?;
        audit_retention::Entity::update_many()
            .col_expr(
                audit_retention::Column::RecordedThrough,
                Expr::value(policy.pruned_sequence),
            )
            .filter(audit_retention::Column::TenantId.eq(tenant_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.notifier.chain_moved(tenant_id);
        Ok(Some(record))
    }
}

/// Signs and stores the tenant's new pruned point: the link `through`
/// whose hash is `hash`, signed now.
pub(super) async fn store_pruned_point(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    through: i64,
    hash: &[u8; 32],
    seal: &SealPruned<'_>,
) -> Result<(), DbErr> {
    let time = now_micros();
    let signed = seal(tenant_id, through, hash, time);
    audit_retention::Entity::update_many()
        .col_expr(
            audit_retention::Column::PrunedSequence,
            Expr::value(through),
        )
        .col_expr(
            audit_retention::Column::PrunedHash,
            Expr::value(hash.to_vec()),
        )
        .col_expr(audit_retention::Column::PrunedAt, Expr::value(time))
        .col_expr(
            audit_retention::Column::PrunedKeyId,
            Expr::value(signed.key_id),
        )
        .col_expr(
            audit_retention::Column::PrunedSignature,
            Expr::value(signed.signature.to_vec()),
        )
        .filter(audit_retention::Column::TenantId.eq(tenant_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// How far the expired, verified prefix of a batch reaches.
pub(super) struct Walk {
    /// The last link to remove and its hash.
    pub last_expired: Option<(i64, [u8; 32])>,
    /// The last link that verified (a row or a tombstone) and its hash: where
    /// a walk continued in a later batch starts.
    pub linked_through: (i64, [u8; 32]),
    /// The walk got through the batch's upper bound: every link in it had
    /// expired (trailing tombstones wait for the next batch's rows).
    pub reached_upper: bool,
    /// The first link that did not verify, if the walk met one.
    pub broken_at: Option<i64>,
}

/// Walks the links `after+1..=upper` in order from `anchor`, checking each
/// one's digest and hash, and stops at the first link that is missing,
/// does not verify, or has not expired before `cutoff`.
pub(super) async fn walk_expired(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    after: i64,
    upper: i64,
    anchor: [u8; 32],
    cutoff: Micros,
) -> Result<Walk, DbErr> {
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::Sequence.gt(after))
        .filter(audit_log::Column::Sequence.lte(upper))
        .order_by_asc(audit_log::Column::Sequence)
        .all(txn)
        .await?;
    let tombstones = audit_tombstone::Entity::find()
        .filter(audit_tombstone::Column::TenantId.eq(tenant_id))
        .filter(audit_tombstone::Column::Sequence.gt(after))
        .filter(audit_tombstone::Column::Sequence.lte(upper))
        .order_by_asc(audit_tombstone::Column::Sequence)
        .all(txn)
        .await?;
    let mut rows = rows.into_iter().peekable();
    let mut tombstones = tombstones.into_iter().peekable();
    let mut walk = Walk {
        last_expired: None,
        linked_through: (after, anchor),
        reached_upper: false,
        broken_at: None,
    };
    let mut previous = anchor;
    let mut sequence = after;
    while sequence < upper {
        let expected = sequence + 1;
        if let Some(tombstone) = tombstones.next_if(|tombstone| tombstone.sequence == expected) {
            let linked = to_hash(&tombstone.content_digest)
                .zip(to_hash(&tombstone.hash))
                .filter(|(digest, hash)| chain_hash(digest, &previous) == *hash);
            let Some((_, hash)) = linked else {
                walk.broken_at = Some(expected);
                return Ok(walk);
            };
            // Removed only once a later expired row carries it along.
            previous = hash;
            sequence = expected;
            walk.linked_through = (expected, hash);
            continue;
        }
        let Some(row) = rows.next_if(|row| row.sequence == Some(expected)) else {
            walk.broken_at = Some(expected);
            return Ok(walk);
        };
        if row.received_at >= cutoff {
            return Ok(walk);
        }
        let stored_digest = row.content_digest.as_deref().and_then(to_hash);
        let stored_hash = row.hash.as_deref().and_then(to_hash);
        let digest = match model_to_entry(row) {
            Ok(entry) => Some(digest_at(entry, expected)?),
            Err(_) => None,
        };
        match (digest, stored_digest, stored_hash) {
            (Some(digest), Some(stored_digest), Some(stored_hash))
                if digest == stored_digest && chain_hash(&digest, &previous) == stored_hash =>
            {
                previous = stored_hash;
                sequence = expected;
                walk.last_expired = Some((expected, stored_hash));
                walk.linked_through = (expected, stored_hash);
            }
            _ => {
                walk.broken_at = Some(expected);
                return Ok(walk);
            }
        }
    }
    walk.reached_upper = true;
    Ok(walk)
}

/// Removes the rows, their idempotency keys and the tombstones
/// `after+1..=through`.
pub(super) async fn remove_through(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    after: i64,
    through: i64,
) -> Result<(), DbErr> {
    forget_keys_of_sequences(txn, tenant_id, after, through).await?;
    audit_log::Entity::delete_many()
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::Sequence.gt(after))
        .filter(audit_log::Column::Sequence.lte(through))
        .exec(txn)
        .await?;
    audit_tombstone::Entity::delete_many()
        .filter(audit_tombstone::Column::TenantId.eq(tenant_id))
        .filter(audit_tombstone::Column::Sequence.gt(after))
        .filter(audit_tombstone::Column::Sequence.lte(through))
        .exec(txn)
        .await?;
    Ok(())
}
