//! Appending a batch: the tenant's chain head locked once, idempotency-key
//! resolution (see `idempotency`), consecutive sequences in input order, one
//! INSERT of the batch (see `insert`), its new keys and the new head, all in
//! one transaction.

use super::chain::{ChainHead, lock_head, set_link};
use super::entity::audit_log;
use super::error::is_unique_violation;
use super::idempotency::{KeyedEntry, insert_keys, stored_keys};
use super::insert::insert_rows;
use super::rows::entry_to_model;
use super::{AuditStore, StoreError};
use crate::domain::AuditLogEntry;
use sea_orm::DbErr;
use std::collections::hash_map::Entry;
use uuid::Uuid;

/// How one attempt ended, short of a database error.
enum Attempt {
    Stored(Vec<Uuid>),
    Conflict(String),
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
        self.append_grouped(tenant_id, entries).await
    }

    /// Stores a batch of one tenant in one transaction (see [`append`];
    /// `tenant_writer` calls it with one call's entries or a group's).
    ///
    /// [`append`]: Self::append
    pub(crate) async fn append_batch(
        &self,
        tenant_id: &str,
        entries: Vec<AuditLogEntry>,
    ) -> Result<Vec<Uuid>, StoreError> {
        // Only an entry with an idempotency key can race (see below): keep
        // a copy for the second attempt only then.
        let retry = entries
            .iter()
            .any(|entry| entry.idempotency_key.is_some())
            .then(|| entries.clone());
        let attempt = match (self.append_once(tenant_id, entries).await, retry) {
            // A concurrent append inserted one of our keys between our lookup
            // and our insert (Postgres, READ COMMITTED). Its row is committed
            // by the time the violation is reported, so a second attempt finds
            // it and resolves to its id (or a conflict).
            (Err(error), Some(entries)) if is_unique_violation(&error) => {
                tracing::debug!(%error, tenant_id, "idempotency key raced; retrying the append");
                self.append_once(tenant_id, entries).await?
            }
            (other, _) => other?,
        };
        match attempt {
            Attempt::Stored(ids) => {
                self.notifier.chain_moved(tenant_id);
                Ok(ids)
            }
            Attempt::Conflict(key) => Err(StoreError::IdempotencyConflict { key }),
        }
    }

    async fn append_once(
        &self,
        tenant_id: &str,
        entries: Vec<AuditLogEntry>,
    ) -> Result<Attempt, DbErr> {
        let txn = self.begin_write().await?;
        // Locked before the key lookup: under the lock no other append to
        // this tenant can store a key between our lookup and our insert.
        let mut head = lock_head(&txn, tenant_id).await?;

        let mut batch_keys: Vec<&str> = entries
            .iter()
            .filter_map(|entry| entry.idempotency_key.as_deref())
            .collect();
        batch_keys.sort_unstable();
        batch_keys.dedup();
        let mut keyed = stored_keys(&txn, tenant_id, &batch_keys).await?;
        let mut new_keys = Vec::new();
        let mut ids = Vec::with_capacity(entries.len());
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(key) = &entry.idempotency_key else {
                ids.push(entry.id);
                rows.push(linked_row(&mut head, entry)?);
                continue;
            };
            match keyed.entry(key.clone()) {
                Entry::Occupied(known) => {
                    if known.get().fingerprint != entry.fingerprint {
                        // Dropping the transaction rolls it back.
                        return Ok(Attempt::Conflict(key.clone()));
                    }
                    ids.push(known.get().id);
                }
                Entry::Vacant(vacant) => {
                    let stored = KeyedEntry {
                        id: entry.id,
                        fingerprint: entry.fingerprint.clone(),
                    };
                    new_keys.push((key.clone(), stored.clone()));
                    vacant.insert(stored);
                    ids.push(entry.id);
                    rows.push(linked_row(&mut head, entry)?);
                }
            }
        }

        // Moves the chain head too (when anything was inserted).
        insert_rows(&txn, &head, rows).await?;
        insert_keys(&txn, tenant_id, new_keys).await?;
        txn.commit().await?;
        Ok(Attempt::Stored(ids))
    }
}

/// Returns the row of `entry`, linked as the next entry of the chain.
fn linked_row(head: &mut ChainHead, entry: AuditLogEntry) -> Result<audit_log::Model, DbErr> {
    let mut row = entry_to_model(&entry);
    let link = head.link_owned(entry)?;
    set_link(&mut row, &link);
    Ok(row)
}
