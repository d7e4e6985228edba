//! Verifying a range of a tenant's hash chain: keyset pages by sequence
//! (never the whole chain in memory), each read in one snapshot so a
//! concurrent delete cannot show a row and its tombstone, or neither.
//! Recomputes every content digest from the row, checks every link, and
//! stops at the first break.

use super::chain::{ChainHead, digest_at, head_of, to_hash};
use super::entity::{audit_log, audit_tenant, audit_tombstone};
use super::retention::{Pruned, PrunedPoint, find_retention, pruned_of};
use super::rows::model_to_entry;
use super::{AuditStore, StoreError};
use crate::domain::{
    BreakKind, ChainProgress, ChainStatus, ChainVerdict, DELETED_ACTION, DELETED_DIGEST_KEY,
    DELETED_SEQUENCE_KEY,
};
use audit_proto::integrity::{GENESIS_HASH, chain_hash, to_hex};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
};

/// Entries read per page.
const PAGE_ROWS: u64 = 1000;
/// How many following rows a hash mismatch is compared against to tell a
/// reordering from an edit.
const REORDER_LOOKAHEAD: u64 = 8;

/// A verification under way; advance it with [`AuditStore::verify_next`].
#[derive(Debug)]
pub struct ChainVerification {
    tenant_id: String,
    head: ChainHead,
    to: i64,
    /// The last sequence checked.
    checked_through: i64,
    previous_hash: [u8; 32],
    entries_checked: i64,
    tombstones: i64,
}

/// What one step of a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationStep {
    /// A page was intact; more follow.
    Checked(ChainProgress),
    /// The verification is over.
    Done(ChainVerdict),
}

/// One link of the chain as stored: a row, or the tombstone of a deleted one.
enum StoredLink {
    Row(Box<audit_log::Model>),
    Tombstone(audit_tombstone::Model),
}

impl StoredLink {
    fn sequence(&self) -> Option<i64> {
        match self {
            StoredLink::Row(row) => row.sequence,
            StoredLink::Tombstone(tombstone) => Some(tombstone.sequence),
        }
    }
}

impl AuditStore {
    /// Starts verifying `tenant_id`'s chain from `from` (0 = 1) through `to`
    /// (0 or beyond the head = the head). On a purged chain, 0 and 1 mean
    /// the first sequence after the pruned point, whose signed hash is the
    /// anchor once `trust_pruned` accepts its signature. `InvalidRange` when
    /// `from` is past the head, or `from` or `to` were purged.
    pub async fn begin_verification(
        &self,
        tenant_id: &str,
        from: i64,
        to: i64,
        trust_pruned: &(dyn Fn(&PrunedPoint) -> bool + Send + Sync),
    ) -> Result<(ChainVerification, Option<ChainVerdict>), StoreError> {
        let txn = self.begin_snapshot().await?;
        let head = match audit_tenant::Entity::find_by_id(tenant_id.to_owned())
            .one(&txn)
            .await?
        {
            Some(row) => head_of(row)?,
            None => ChainHead {
                tenant_id: tenant_id.to_owned(),
                sequence: 0,
                hash: GENESIS_HASH,
            },
        };
        let pruned = find_retention(&txn, tenant_id)
            .await?
            .map_or(Pruned::Nothing, |row| pruned_of(&row));
        let floor = pruned.sequence();
        let from = if from <= 1 { floor + 1 } else { from };
        if from <= floor || (to != 0 && to <= floor) {
            let asked = if from <= floor { from } else { to };
            return Err(StoreError::InvalidRange(format!(
                "sequence {asked} was purged: the chain holds sequences after {floor} only"
            )));
        }
        let to = if to == 0 || to > head.sequence {
            head.sequence
        } else {
            to
        };
        let empty_chain = from == floor + 1 && head.sequence <= floor;
        if from > to && !empty_chain {
            return Err(StoreError::InvalidRange(format!(
                "from_sequence {from} is beyond {to} (the chain head is {})",
                head.sequence
            )));
        }
        let mut verification = ChainVerification {
            tenant_id: tenant_id.to_owned(),
            head,
            to,
            checked_through: from - 1,
            previous_hash: GENESIS_HASH,
            entries_checked: 0,
            tombstones: 0,
        };
        if from - 1 == floor && floor > 0 {
            // The rows before are gone: the signed pruned point stands for
            // them, and anything inconsistent with it is a break.
            let anchor = match &pruned {
                Pruned::Through(point) if trust_pruned(point) => point.hash,
                _ => {
                    let verdict = verification.broken(floor, BreakKind::CheckpointMismatch);
                    return Ok((verification, Some(verdict)));
                }
            };
            if floor > verification.head.sequence {
                // The head moved back below what was purged: a truncation.
                let verdict = verification.broken(
                    verification.head.sequence + 1,
                    BreakKind::CheckpointMismatch,
                );
                return Ok((verification, Some(verdict)));
            }
            verification.previous_hash = anchor;
        } else if from > 1 {
            match stored_hash_at(&txn, tenant_id, from - 1).await? {
                Some(anchor) => verification.previous_hash = anchor,
                None => {
                    let verdict = verification.broken(from - 1, BreakKind::Gap);
                    return Ok((verification, Some(verdict)));
                }
            }
        }
        txn.commit().await?;
        Ok((verification, None))
    }

    /// Checks the next page of a verification.
    pub async fn verify_next(
        &self,
        verification: &mut ChainVerification,
    ) -> Result<VerificationStep, StoreError> {
        let txn = self.begin_snapshot().await?;
        let step = verification.check_page(&txn).await?;
        txn.commit().await?;
        Ok(step)
    }
}

impl ChainVerification {
    async fn check_page(&mut self, txn: &DatabaseTransaction) -> Result<VerificationStep, DbErr> {
        if self.checked_through >= self.to {
            return self.finish(txn).await;
        }
        let links = self.read_page(txn).await?;
        let Some(upper) = links.upper else {
            // Nothing stored after the last checked sequence, within range.
            return Ok(self.done(self.broken(self.checked_through + 1, BreakKind::Gap)));
        };
        for link in links.links {
            let expected = self.checked_through + 1;
            let Some(sequence) = link.sequence() else {
                return Ok(self.done(self.broken(0, BreakKind::UnexpectedEntry)));
            };
            if sequence < expected {
                return Ok(self.done(self.broken(sequence, BreakKind::UnexpectedEntry)));
            }
            if sequence > expected {
                return Ok(self.done(self.broken(expected, BreakKind::Gap)));
            }
            if let Some(kind) = self.check_link(txn, link).await? {
                return Ok(self.done(self.broken(sequence, kind)));
            }
        }
        if self.checked_through < upper {
            return Ok(self.done(self.broken(self.checked_through + 1, BreakKind::Gap)));
        }
        Ok(VerificationStep::Checked(ChainProgress {
            checked_through_sequence: self.checked_through,
            entries_checked: self.entries_checked,
        }))
    }

    /// Checks one link at the expected sequence and advances past it;
    /// returns the kind of break when it does not hold.
    async fn check_link(
        &mut self,
        txn: &DatabaseTransaction,
        link: StoredLink,
    ) -> Result<Option<BreakKind>, DbErr> {
        let sequence = self.checked_through + 1;
        let stored_hash = match link {
            StoredLink::Row(row) => {
                let stored_digest = row.content_digest.as_deref().and_then(to_hash);
                let stored_hash = row.hash.as_deref().and_then(to_hash);
                let (Some(stored_digest), Some(stored_hash)) = (stored_digest, stored_hash) else {
                    return Ok(Some(BreakKind::HashMismatch));
                };
                let Ok(entry) = model_to_entry(*row) else {
                    return Ok(Some(BreakKind::HashMismatch));
                };
                let digest = digest_at(entry, sequence)?;
                if digest != stored_digest
                    || chain_hash(&digest, &self.previous_hash) != stored_hash
                {
                    return Ok(Some(self.mismatch_kind(txn, stored_hash).await?));
                }
                stored_hash
            }
            StoredLink::Tombstone(tombstone) => {
                let (Some(digest), Some(stored_hash)) =
                    (to_hash(&tombstone.content_digest), to_hash(&tombstone.hash))
                else {
                    return Ok(Some(BreakKind::HashMismatch));
                };
                if chain_hash(&digest, &self.previous_hash) != stored_hash {
                    return Ok(Some(self.mismatch_kind(txn, stored_hash).await?));
                }
                if !self.deletion_recorded(txn, &tombstone, &digest).await? {
                    return Ok(Some(BreakKind::UnmatchedTombstone));
                }
                self.tombstones += 1;
                stored_hash
            }
        };
        self.previous_hash = stored_hash;
        self.checked_through = sequence;
        self.entries_checked += 1;
        Ok(None)
    }

    /// Tells a reordering (a following row links here when put at this
    /// sequence) from any other mismatch.
    async fn mismatch_kind(
        &self,
        txn: &DatabaseTransaction,
        stored_hash: [u8; 32],
    ) -> Result<BreakKind, DbErr> {
        let sequence = self.checked_through + 1;
        let following = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(audit_log::Column::Sequence.gt(sequence))
            .order_by_asc(audit_log::Column::Sequence)
            .limit(REORDER_LOOKAHEAD)
            .all(txn)
            .await?;
        for row in following {
            let own_hash = row.hash.as_deref().and_then(to_hash);
            let Ok(entry) = model_to_entry(row) else {
                continue;
            };
            let moved = chain_hash(&digest_at(entry, sequence)?, &self.previous_hash);
            if moved == stored_hash || Some(moved) == own_hash {
                return Ok(BreakKind::Reordering);
            }
        }
        Ok(BreakKind::HashMismatch)
    }

    /// Returns true when the tombstone's deletion record is stored, later
    /// in the chain, and names the tombstone's sequence and digest.
    async fn deletion_recorded(
        &self,
        txn: &DatabaseTransaction,
        tombstone: &audit_tombstone::Model,
        digest: &[u8; 32],
    ) -> Result<bool, DbErr> {
        if tombstone.deletion_sequence <= tombstone.sequence {
            return Ok(false);
        }
        let record = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(audit_log::Column::Sequence.eq(tombstone.deletion_sequence))
            .one(txn)
            .await?;
        let Some(record) = record else {
            return Ok(false);
        };
        let metadata = record.metadata.unwrap_or_default();
        let names_sequence = metadata
            .get(DELETED_SEQUENCE_KEY)
            .and_then(serde_json::Value::as_f64)
            == Some(tombstone.sequence as f64);
        let names_digest = metadata
            .get(DELETED_DIGEST_KEY)
            .and_then(serde_json::Value::as_str)
            == Some(to_hex(digest).as_str());
        Ok(record.action == DELETED_ACTION && names_sequence && names_digest)
    }

    /// Reads the rows and tombstones after the last checked sequence, up to
    /// the end of the range or of the fuller of the two pages.
    async fn read_page(&self, txn: &DatabaseTransaction) -> Result<Page, DbErr> {
        let after = self.checked_through;
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(audit_log::Column::Sequence.gt(after))
            .filter(audit_log::Column::Sequence.lte(self.to))
            .order_by_asc(audit_log::Column::Sequence)
            .limit(PAGE_ROWS)
            .all(txn)
            .await?;
        let tombstones = audit_tombstone::Entity::find()
            .filter(audit_tombstone::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(audit_tombstone::Column::Sequence.gt(after))
            .filter(audit_tombstone::Column::Sequence.lte(self.to))
            .order_by_asc(audit_tombstone::Column::Sequence)
            .limit(PAGE_ROWS)
            .all(txn)
            .await?;
        if rows.is_empty() && tombstones.is_empty() {
            return Ok(Page {
                links: Vec::new(),
                upper: None,
            });
        }
        let mut upper = self.to;
        let full = PAGE_ROWS as usize;
        if rows.len() == full
            && let Some(last) = rows.last().and_then(|row| row.sequence)
        {
            upper = upper.min(last);
        }
        if tombstones.len() == full
            && let Some(last) = tombstones.last()
        {
            upper = upper.min(last.sequence);
        }
        let mut links: Vec<StoredLink> = rows
            .into_iter()
            .map(|row| StoredLink::Row(Box::new(row)))
            .chain(tombstones.into_iter().map(StoredLink::Tombstone))
            .filter(|link| link.sequence().is_some_and(|sequence| sequence <= upper))
            .collect();
        // Stable: a row sorts before a tombstone of the same sequence, which
        // then shows up as a duplicate.
        links.sort_by_key(StoredLink::sequence);
        Ok(Page {
            links,
            upper: Some(upper),
        })
    }

    /// After the range: when it ends at the head, the last hash must be the
    /// head's, and nothing may be stored beyond the head or without a
    /// sequence.
    async fn finish(&self, txn: &DatabaseTransaction) -> Result<VerificationStep, DbErr> {
        if self.to != self.head.sequence {
            return Ok(self.done(self.intact()));
        }
        if self.previous_hash != self.head.hash {
            return Ok(self.done(self.broken(self.head.sequence, BreakKind::HashMismatch)));
        }
        if let Some(sequence) = unaccounted_entry(txn, &self.tenant_id).await? {
            return Ok(self.done(self.broken(sequence, BreakKind::UnexpectedEntry)));
        }
        Ok(self.done(self.intact()))
    }

    fn done(&self, verdict: ChainVerdict) -> VerificationStep {
        VerificationStep::Done(verdict)
    }

    fn intact(&self) -> ChainVerdict {
        self.verdict(ChainStatus::Intact, 0, BreakKind::Unspecified)
    }

    fn broken(&self, sequence: i64, kind: BreakKind) -> ChainVerdict {
        self.verdict(ChainStatus::Broken, sequence, kind)
    }

    fn verdict(&self, status: ChainStatus, sequence: i64, kind: BreakKind) -> ChainVerdict {
        ChainVerdict {
            status,
            first_broken_sequence: sequence,
            kind,
            entries_checked: self.entries_checked,
            tombstones: self.tombstones,
            head_sequence: self.head.sequence,
            head_hash: self.head.hash,
        }
    }
}

/// The links of one page, in sequence order, and the last sequence the
/// page covers (None when nothing is stored after the cursor).
struct Page {
    links: Vec<StoredLink>,
    upper: Option<i64>,
}

/// Returns the stored hash of the link at `sequence`, a row's or a
/// tombstone's.
pub(super) async fn stored_hash_at(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    sequence: i64,
) -> Result<Option<[u8; 32]>, DbErr> {
    let row: Option<Option<Vec<u8>>> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::Hash)
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::Sequence.eq(sequence))
        .into_tuple()
        .one(txn)
        .await?;
    if let Some(hash) = row {
        return Ok(hash.as_deref().and_then(to_hash));
    }
    let tombstone = audit_tombstone::Entity::find_by_id((tenant_id.to_owned(), sequence))
        .one(txn)
        .await?;
    Ok(tombstone.and_then(|tombstone| to_hash(&tombstone.hash)))
}

#[derive(FromQueryResult)]
struct Unaccounted {
    sequence: i64,
}

/// Returns the sequence (0 for none) of a row or tombstone that the head
/// does not account for: without a sequence, or beyond the head. Compared
/// with the head in the same statement, so a concurrent append is never
/// mistaken for one.
async fn unaccounted_entry(
    txn: &DatabaseTransaction,
    tenant_id: &str,
) -> Result<Option<i64>, DbErr> {
    let backend = txn.get_database_backend();
    let placeholder = if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let head = format!("(SELECT head_sequence FROM audit_tenants WHERE tenant_id = {placeholder})");
    let sql = format!(
        "SELECT COALESCE(sequence, 0) AS sequence FROM audit_logs \
         WHERE tenant_id = {placeholder} AND (sequence IS NULL OR sequence > {head}) \
         UNION ALL \
         SELECT sequence FROM audit_tombstones \
         WHERE tenant_id = {placeholder} AND sequence > {head} \
         LIMIT 1"
    );
    // Postgres numbers its parameters; SQLite's `?` takes one value each.
    let values: Vec<sea_orm::Value> = if backend == DbBackend::Postgres {
        vec![tenant_id.into()]
    } else {
        vec![tenant_id.into(); 4]
    };
    let found =
        Unaccounted::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .one(txn)
            .await?;
    Ok(found.map(|row| row.sequence))
}
