//! Appending a batch: the tenant's chain head locked once, idempotency-key
//! resolution, consecutive sequences in input order, one INSERT of the batch
//! (see `insert`) and the new head, all in one transaction.

use super::chain::{ChainHead, lock_head, set_link};
use super::entity::audit_log;
use super::error::is_unique_violation;
use super::insert::insert_rows;
use super::rows::entry_to_model;
use super::{AuditStore, StoreError};
use crate::domain::AuditLogEntry;
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use uuid::Uuid;

/// Idempotency keys per lookup statement on SQLite (one bind parameter
/// each); Postgres binds them all as one array.
const LOOKUP_CHUNK_KEYS: usize = 1000;

/// How one attempt ended, short of a database error.
enum Attempt {
    Stored(Vec<Uuid>),
    Conflict(String),
}

/// The id and fingerprint stored (or about to be) under an idempotency key.
struct Keyed {
    id: Uuid,
    fingerprint: Option<Vec<u8>>,
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
        let attempt = match self.append_once(tenant_id, &entries).await {
            // A concurrent append inserted one of our keys between our lookup
            // and our insert (Postgres, READ COMMITTED). Its row is committed
            // by the time the violation is reported, so a second attempt finds
            // it and resolves to its id (or a conflict).
            Err(error) if is_unique_violation(&error) => {
                tracing::debug!(%error, tenant_id, "idempotency key raced; retrying the append");
                self.append_once(tenant_id, &entries).await?
            }
            other => other?,
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
        entries: &[AuditLogEntry],
    ) -> Result<Attempt, DbErr> {
        let txn = self.begin_write().await?;
        // Locked before the key lookup: under the lock no other append to
        // this tenant can store a key between our lookup and our insert.
        let mut head = lock_head(&txn, tenant_id).await?;

        let mut keyed = stored_keys(&txn, tenant_id, entries).await?;
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
                    vacant.insert(Keyed {
                        id: entry.id,
                        fingerprint: entry.fingerprint.clone(),
                    });
                    ids.push(entry.id);
                    rows.push(linked_row(&mut head, entry)?);
                }
            }
        }

        insert_rows(&txn, tenant_id, rows).await?;
        head.save(&txn).await?;
        txn.commit().await?;
        Ok(Attempt::Stored(ids))
    }
}

/// Returns the row of `entry`, linked as the next entry of the chain.
fn linked_row(head: &mut ChainHead, entry: &AuditLogEntry) -> Result<audit_log::Model, DbErr> {
    let link = head.link(entry)?;
    let mut row = entry_to_model(entry);
    set_link(&mut row, &link);
    Ok(row)
}

/// Returns the stored id and fingerprint of every idempotency key the batch
/// carries that the tenant already has.
async fn stored_keys(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    entries: &[AuditLogEntry],
) -> Result<HashMap<String, Keyed>, DbErr> {
    let mut keys: Vec<&str> = entries
        .iter()
        .filter_map(|entry| entry.idempotency_key.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();

    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    let chunk_keys = if postgres {
        keys.len().max(1)
    } else {
        LOOKUP_CHUNK_KEYS
    };
    let mut stored = HashMap::new();
    for chunk in keys.chunks(chunk_keys) {
        let listed = if postgres {
            // One array parameter whatever the key count: the statement text
            // stays the same, so it is prepared once per connection (an IN
            // list is a new statement for every batch size).
            let keys: Vec<String> = chunk.iter().map(|key| (*key).to_owned()).collect();
            Expr::col((audit_log::Entity, audit_log::Column::IdempotencyKey))
                .eq(PgFunc::any(Expr::val(keys)))
        } else {
            audit_log::Column::IdempotencyKey.is_in(chunk.iter().copied())
        };
        let rows: Vec<(Option<String>, Uuid, Option<Vec<u8>>)> = audit_log::Entity::find()
            .select_only()
            .column(audit_log::Column::IdempotencyKey)
            .column(audit_log::Column::Id)
            .column(audit_log::Column::IdempotencyFingerprint)
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(listed)
            .into_tuple()
            .all(txn)
            .await?;
        for (key, id, fingerprint) in rows {
            if let Some(key) = key {
                stored.insert(key, Keyed { id, fingerprint });
            }
        }
    }
    Ok(stored)
}
