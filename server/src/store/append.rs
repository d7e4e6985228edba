//! Appending: one transaction stores the batches of one or more append
//! calls (one call's, or a group commit's, see `group_commit`). On Postgres
//! it is first tried as one statement on the chain heads this server wrote
//! last (see `known_heads`): each tenant's entries linked to its remembered
//! head in input order, and the rows, the heads' moves and the new keys
//! written by the one INSERT of `insert`, all or nothing. Otherwise (and on
//! SQLite) the heads of the tenants are locked once, idempotency keys
//! resolved (see `idempotency`), each tenant's entries given consecutive
//! sequences in input order, and the same INSERT writes everything.

use super::chain::{ChainHead, lock_heads, set_link};
use super::entity::audit_log;
use super::error::{calls_for_locked_append, is_unique_violation};
use super::group_commit::AppendWay;
use super::idempotency::{KeyedEntry, TenantKey, stored_keys};
use super::insert::{HeadMove, insert_rows, postgres_insert};
use super::rows::entry_to_model;
use super::{AuditStore, StoreError};
use crate::domain::AuditLogEntry;
use sea_orm::{DbBackend, DbErr};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// One append call's entries, all of one tenant.
#[derive(Clone)]
pub(crate) struct TenantBatch {
    pub tenant_id: String,
    pub entries: Vec<AuditLogEntry>,
}

/// How storing several batches ended, short of a database error.
pub(crate) enum Stored {
    /// The ids of each batch, in input order.
    All(Vec<Vec<Uuid>>),
    /// Nothing is stored: the batch at this index reuses an idempotency key
    /// stored with another fingerprint.
    Conflict { batch: usize, key: String },
}

impl AuditStore {
    /// Stores a batch atomically and returns the ids in input order. An
    /// entry whose idempotency key is already stored with the same
    /// fingerprint (or appears earlier in the batch) resolves to the stored
    /// id and is not inserted again; with another fingerprint the whole batch
    /// fails with `IdempotencyConflict`.
    pub async fn append(
        &self,
        tenant_id: &str,
        entries: Vec<AuditLogEntry>,
    ) -> Result<Vec<Uuid>, StoreError> {
        if let Some(stray) = entries.iter().find(|entry| entry.tenant_id != tenant_id) {
            return Err(StoreError::Internal(format!(
                "append for tenant {tenant_id:?} got an entry of tenant {:?}",
                stray.tenant_id
            )));
        }
        self.append_grouped(TenantBatch {
            tenant_id: tenant_id.to_owned(),
            entries,
        })
        .await
    }

    /// Stores one batch (see [`append`]) in a transaction of its own.
    ///
    /// [`append`]: Self::append
    pub(crate) async fn append_batch(&self, batch: TenantBatch) -> Result<Vec<Uuid>, StoreError> {
        match self.append_batches(vec![batch]).await? {
            Stored::All(mut ids) => ids
                .pop()
                .ok_or_else(|| StoreError::Internal("an append stored no batch".to_owned())),
            Stored::Conflict { key, .. } => Err(StoreError::IdempotencyConflict { key }),
        }
    }

    /// Stores `batches` (see [`append`]) in one transaction: all of them or,
    /// on a conflict or any error, none.
    ///
    /// [`append`]: Self::append
    pub(crate) async fn append_batches(
        &self,
        batches: Vec<TenantBatch>,
    ) -> Result<Stored, StoreError> {
        let tenants: Vec<String> = distinct_tenants(&batches)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Some(ids) = self.append_to_known_heads(&batches).await? {
            self.appends.count_written(AppendWay::OneStatement);
            for tenant_id in &tenants {
                self.notifier.chain_moved(tenant_id);
            }
            return Ok(Stored::All(ids));
        }
        // Only an entry with an idempotency key can race (see below): keep
        // a copy for the second attempt only then.
        let retry = batches
            .iter()
            .flat_map(|batch| &batch.entries)
            .any(|entry| entry.idempotency_key.is_some())
            .then(|| batches.clone());
        // The head locks may be held elsewhere for a while: calls queued
        // meanwhile must not wait behind them (see `group_commit`).
        let _locked_way = self.locked_way();
        let attempt = match (self.append_once(batches).await, retry) {
            // One of our keys turned up stored between our lookup and our
            // insert, or Postgres broke a deadlock on a key (READ COMMITTED).
            // Our head locks should rule the first out (any writer storing a
            // key of these tenants must move their heads too), but should it
            // happen the statement fails as partly written (its `ON
            // CONFLICT` waited for the other writer to commit), and a second
            // attempt finds the key and resolves to its id (or a conflict).
            (Err(error), Some(batches))
                if is_unique_violation(&error) || calls_for_locked_append(&error) =>
            {
                tracing::debug!(%error, "idempotency key raced; retrying the append");
                self.append_once(batches).await?
            }
            (other, _) => other?,
        };
        if let Stored::All(_) = &attempt {
            self.appends.count_written(AppendWay::Locked);
            for tenant_id in &tenants {
                self.notifier.chain_moved(tenant_id);
            }
        }
        Ok(attempt)
    }

    /// Postgres, tenants whose heads this server remembers (see
    /// `known_heads`): links the entries to those heads and stores them,
    /// with their idempotency keys as new ones, in one statement, its own
    /// transaction, which stores nothing unless every head is still there
    /// and every key new. The statement runs on the append pool (see
    /// `lease_pool`). Returns the ids of each batch, or None when the append
    /// must take the locked way (which also resolves stored keys).
    async fn append_to_known_heads(
        &self,
        batches: &[TenantBatch],
    ) -> Result<Option<Vec<Vec<Uuid>>>, DbErr> {
        // Only Postgres has the append pool.
        let Some(connections) = &self.append_connections else {
            return Ok(None);
        };
        let tenants = distinct_tenants(batches);
        let Some(mut heads) = self.known_heads.of(&tenants) else {
            return Ok(None);
        };
        let keys: Vec<(TenantKey, KeyedEntry)> = batches
            .iter()
            .flat_map(|batch| {
                batch.entries.iter().filter_map(|entry| {
                    let key = entry.idempotency_key.clone()?;
                    Some(((batch.tenant_id.clone(), key), KeyedEntry::of(entry)))
                })
            })
            .collect();
        // A key repeated in the group resolves to its first entry: the
        // locked way's lookup does that. Checked before any entry is
        // digested.
        let distinct: HashSet<&TenantKey> = keys.iter().map(|(key, _)| key).collect();
        if distinct.len() < keys.len() {
            return Ok(None);
        }
        let linked_to = heads.clone();
        let mut ids = Vec::with_capacity(batches.len());
        let mut rows = Vec::with_capacity(batches.iter().map(|batch| batch.entries.len()).sum());
        for batch in batches {
            let head = heads.get_mut(&batch.tenant_id).ok_or_else(|| {
                DbErr::Custom(format!("no chain head known for {:?}", batch.tenant_id))
            })?;
            ids.push(batch.entries.iter().map(|entry| entry.id).collect());
            for entry in &batch.entries {
                rows.push(linked_row(head, entry.clone())?);
            }
        }
        let moves = head_moves(linked_to, heads);
        if rows.is_empty() {
            return Ok(Some(ids));
        }
        let statement = postgres_insert(&moves, rows, keys)?;
        match connections
            .execute(statement)
            .await
            .map(|affected| affected > 0)
        {
            Ok(true) => {
                self.known_heads
                    .remember(moves.iter().map(|head| &head.moved_to));
                Ok(Some(ids))
            }
            Ok(false) => {
                tracing::debug!(
                    ?tenants,
                    "remembered chain heads moved; appending under the locks"
                );
                self.known_heads.forget(&tenants);
                Ok(None)
            }
            Err(error) => {
                // Moved elsewhere, or unknown if the statement was cut off.
                self.known_heads.forget(&tenants);
                if calls_for_locked_append(&error) {
                    tracing::debug!(%error, "a remembered chain head moved; appending under the lock");
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn append_once(&self, batches: Vec<TenantBatch>) -> Result<Stored, DbErr> {
        let txn = self.begin_write().await?;
        // Locked before the key lookup: under the locks no other append to
        // these tenants can store a key between our lookup and our insert.
        let mut heads = lock_heads(&txn, &distinct_tenants(&batches)).await?;
        let linked_to = heads.clone();

        let mut wanted: Vec<(&str, &str)> = batches
            .iter()
            .flat_map(|batch| {
                batch.entries.iter().filter_map(|entry| {
                    let key = entry.idempotency_key.as_deref()?;
                    Some((batch.tenant_id.as_str(), key))
                })
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut keyed = stored_keys(&txn, &wanted).await?;
        let mut new_keys = Vec::new();
        let mut ids = Vec::with_capacity(batches.len());
        let mut rows = Vec::with_capacity(batches.iter().map(|batch| batch.entries.len()).sum());
        let mut moved = HashSet::new();
        for (index, batch) in batches.into_iter().enumerate() {
            let head = heads.get_mut(&batch.tenant_id).ok_or_else(|| {
                DbErr::Custom(format!("no chain head locked for {:?}", batch.tenant_id))
            })?;
            let linked_before = rows.len();
            let mut batch_ids = Vec::with_capacity(batch.entries.len());
            for entry in batch.entries {
                let Some(key) = &entry.idempotency_key else {
                    batch_ids.push(entry.id);
                    rows.push(linked_row(head, entry)?);
                    continue;
                };
                match keyed.entry((batch.tenant_id.clone(), key.clone())) {
                    Entry::Occupied(known) => {
                        if known.get().fingerprint != entry.fingerprint {
                            // Dropping the transaction rolls it back.
                            return Ok(Stored::Conflict {
                                batch: index,
                                key: key.clone(),
                            });
                        }
                        batch_ids.push(known.get().id);
                    }
                    Entry::Vacant(vacant) => {
                        let stored = KeyedEntry::of(&entry);
                        new_keys.push((vacant.key().clone(), stored.clone()));
                        vacant.insert(stored);
                        batch_ids.push(entry.id);
                        rows.push(linked_row(head, entry)?);
                    }
                }
            }
            if rows.len() > linked_before {
                moved.insert(batch.tenant_id);
            }
            ids.push(batch_ids);
        }

        // Moves the chain heads too (of the tenants with rows).
        let moves: Vec<HeadMove> = head_moves(linked_to, heads)
            .into_iter()
            .filter(|head| moved.contains(&head.moved_to.tenant_id))
            .collect();
        if !insert_rows(&txn, &moves, rows, new_keys).await? {
            return Err(DbErr::Custom(
                "chain heads moved while this transaction held their locks".to_owned(),
            ));
        }
        txn.commit().await?;
        if self.backend == DbBackend::Postgres {
            self.known_heads
                .remember(moves.iter().map(|head| &head.moved_to));
        }
        Ok(Stored::All(ids))
    }
}

/// Pairs each tenant's head as the rows were linked to it with the head
/// after them.
fn head_moves(
    mut linked_to: HashMap<String, ChainHead>,
    moved_to: HashMap<String, ChainHead>,
) -> Vec<HeadMove> {
    moved_to
        .into_values()
        .filter_map(|moved_to| {
            let linked_to = linked_to.remove(&moved_to.tenant_id)?;
            Some(HeadMove {
                linked_to,
                moved_to,
            })
        })
        .collect()
}

/// The batches' tenants, sorted by their bytes, each once.
fn distinct_tenants(batches: &[TenantBatch]) -> Vec<&str> {
    let mut tenants: Vec<&str> = batches
        .iter()
        .map(|batch| batch.tenant_id.as_str())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    tenants
}

/// Returns the row of `entry`, linked as the next entry of the chain.
fn linked_row(head: &mut ChainHead, entry: AuditLogEntry) -> Result<audit_log::Model, DbErr> {
    let mut row = entry_to_model(&entry);
    let link = head.link_owned(entry)?;
    set_link(&mut row, &link);
    Ok(row)
}
