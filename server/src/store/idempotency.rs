//! Idempotency keys in `audit_idempotency_keys`: the lookup an append makes
//! under its tenant's chain head lock, and (SQLite) the insert of a batch's
//! new keys in the same transaction as its rows; on Postgres the append's
//! one INSERT statement stores them (see `insert`), also when it runs
//! without the lock and finds a key stored already (it then stores nothing,
//! and the append resolves the key under the lock). The table's primary key `(tenant_id,
//! idempotency_key)` is what makes a key unique per tenant, on both
//! backends (a partitioned `audit_logs` cannot hold that unique index).

use super::entity::audit_idempotency_key::{self, Column};
use super::entity::audit_log;
use crate::domain::AuditLogEntry;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Statement,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Keys per lookup or insert statement on SQLite (bind parameters: one
/// per key in a lookup, four per key in an insert); Postgres binds arrays.
const SQLITE_CHUNK_KEYS: usize = 1000;

/// The lookup of (tenant, key) pairs, as two arrays unnested in step: one
/// statement text for any number of keys and tenants, so it is prepared
/// once per connection (an IN list is a new statement for every size).
const POSTGRES_LOOKUP: &str = r#"SELECT k."tenant_id", k."idempotency_key", k."id", k."fingerprint"
FROM "audit_idempotency_keys" AS k
JOIN UNNEST($1::text[], $2::text[]) AS w(tenant_id, idempotency_key)
    ON k."tenant_id" = w.tenant_id AND k."idempotency_key" = w.idempotency_key"#;

/// An idempotency key and the tenant it belongs to.
pub(crate) type TenantKey = (String, String);

/// The id and fingerprint stored (or about to be) under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedEntry {
    pub id: Uuid,
    pub fingerprint: Option<Vec<u8>>,
}

impl KeyedEntry {
    /// What storing `entry` under its key records.
    pub(crate) fn of(entry: &AuditLogEntry) -> Self {
        Self {
            id: entry.id,
            fingerprint: entry.fingerprint.clone(),
        }
    }
}

/// Returns the stored entry of each of the `(tenant, key)` pairs `wanted`
/// (sorted) that is already stored.
pub(crate) async fn stored_keys(
    txn: &DatabaseTransaction,
    wanted: &[(&str, &str)],
) -> Result<HashMap<TenantKey, KeyedEntry>, DbErr> {
    let mut stored = HashMap::new();
    if wanted.is_empty() {
        return Ok(stored);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        let (tenants, keys): (Vec<String>, Vec<String>) = wanted
            .iter()
            .map(|(tenant, key)| ((*tenant).to_owned(), (*key).to_owned()))
            .unzip();
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            POSTGRES_LOOKUP,
            vec![tenants.into(), keys.into()],
        );
        for row in txn.query_all_raw(statement).await? {
            let tenant: String = row.try_get_by_index(0)?;
            let key: String = row.try_get_by_index(1)?;
            let id: Uuid = row.try_get_by_index(2)?;
            let fingerprint: Option<Vec<u8>> = row.try_get_by_index(3)?;
            stored.insert((tenant, key), KeyedEntry { id, fingerprint });
        }
        return Ok(stored);
    }
    // SQLite: per tenant (sorted, so its keys are adjacent), in chunks that
    // fit its bind parameter limit.
    for of_tenant in wanted.chunk_by(|a, b| a.0 == b.0) {
        let tenant_id = of_tenant[0].0;
        for chunk in of_tenant.chunks(SQLITE_CHUNK_KEYS) {
            let rows: Vec<(String, Uuid, Option<Vec<u8>>)> = audit_idempotency_key::Entity::find()
                .select_only()
                .column(Column::IdempotencyKey)
                .column(Column::Id)
                .column(Column::Fingerprint)
                .filter(Column::TenantId.eq(tenant_id))
                .filter(Column::IdempotencyKey.is_in(chunk.iter().map(|(_, key)| *key)))
                .into_tuple()
                .all(txn)
                .await?;
            for (key, id, fingerprint) in rows {
                stored.insert((tenant_id.to_owned(), key), KeyedEntry { id, fingerprint });
            }
        }
    }
    Ok(stored)
}

/// The key bind values of the Postgres append statement (`insert`): one
/// array per column. sqlx binds arrays without NULL elements only, so a
/// missing fingerprint travels as an empty one (a real fingerprint is 32
/// bytes).
pub(crate) fn key_values(keys: Vec<(TenantKey, KeyedEntry)>) -> [sea_orm::Value; 4] {
    let mut tenants = Vec::with_capacity(keys.len());
    let mut names = Vec::with_capacity(keys.len());
    let mut ids = Vec::with_capacity(keys.len());
    let mut fingerprints = Vec::with_capacity(keys.len());
    for ((tenant, key), entry) in keys {
        tenants.push(tenant);
        names.push(key);
        ids.push(entry.id);
        fingerprints.push(entry.fingerprint.unwrap_or_default());
    }
    [
        tenants.into(),
        names.into(),
        ids.into(),
        fingerprints.into(),
    ]
}

/// Stores new keys (of any tenants) on SQLite, whose writer holds the
/// database's lock: nobody can have stored them since the lookup. (On
/// Postgres they travel in the append's one statement.)
pub(crate) async fn insert_keys<C: ConnectionTrait>(
    db: &C,
    keys: Vec<(TenantKey, KeyedEntry)>,
) -> Result<(), DbErr> {
    let mut rows = keys
        .into_iter()
        .map(|((tenant_id, key), entry)| audit_idempotency_key::Model {
            tenant_id,
            idempotency_key: key,
            id: entry.id,
            fingerprint: entry.fingerprint,
        })
        .peekable();
    while rows.peek().is_some() {
        let chunk: Vec<audit_idempotency_key::ActiveModel> = rows
            .by_ref()
            .take(SQLITE_CHUNK_KEYS)
            .map(IntoActiveModel::into_active_model)
            .collect();
        audit_idempotency_key::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Forgets the key of a removed entry, so a retry after a Delete or a
/// purge stores the entry anew, as it did when the key lived on the row.
pub(crate) async fn forget_key<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    key: &str,
    id: Uuid,
) -> Result<(), DbErr> {
    audit_idempotency_key::Entity::delete_many()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::IdempotencyKey.eq(key))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets the keys of the tenant's entries `after+1..=through` (a purge
/// batch), before their rows go.
pub(crate) async fn forget_keys_of_sequences(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    after: i64,
    through: i64,
) -> Result<(), DbErr> {
    let keys_in_range = Query::select()
        .column(audit_log::Column::IdempotencyKey)
        .from(audit_log::Entity)
        .and_where(audit_log::Column::TenantId.eq(tenant_id))
        .and_where(audit_log::Column::Sequence.gt(after))
        .and_where(audit_log::Column::Sequence.lte(through))
        .and_where(audit_log::Column::IdempotencyKey.is_not_null())
        .to_owned();
    audit_idempotency_key::Entity::delete_many()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::IdempotencyKey.in_subquery(keys_in_range))
        .exec(txn)
        .await?;
    Ok(())
}
