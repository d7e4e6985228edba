//! Linking entries into their tenant's hash chain: the head row lock that
//! serialises appends, and the one function that assigns an entry its
//! sequence, content digest and hash. Append, delete and legal hold all go
//! through it.

use super::entity::{audit_log, audit_tenant};
use crate::domain::{AuditLogEntry, ChainLink, entry_to_message, now_micros};
use audit_proto::integrity::{GENESIS_HASH, chain_hash, content_digest};
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    Order, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// A tenant's chain head, read under its row lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainHead {
    pub tenant_id: String,
    pub sequence: i64,
    pub hash: [u8; 32],
}

impl ChainHead {
    /// Gives `entry` the next sequence, its digest and hash, and advances
    /// the head to it.
    pub fn link(&mut self, entry: &AuditLogEntry) -> Result<ChainLink, DbErr> {
        self.link_owned(entry.clone())
    }

    /// Like [`link`](Self::link), consuming the entry: its digest is taken
    /// from it without a copy (appends link every entry of a batch).
    pub fn link_owned(&mut self, entry: AuditLogEntry) -> Result<ChainLink, DbErr> {
        let sequence = self.sequence + 1;
        let content_digest = digest_at(entry, sequence)?;
        let link = ChainLink {
            sequence,
            content_digest,
            hash: chain_hash(&content_digest, &self.hash),
        };
        self.sequence = link.sequence;
        self.hash = link.hash;
        Ok(link)
    }

    /// Writes the head back; the caller commits.
    pub async fn save<C: ConnectionTrait>(&self, txn: &C) -> Result<(), DbErr> {
        audit_tenant::Entity::update_many()
            .col_expr(
                audit_tenant::Column::HeadSequence,
                Expr::value(self.sequence),
            )
            .col_expr(
                audit_tenant::Column::HeadHash,
                Expr::value(self.hash.to_vec()),
            )
            .filter(audit_tenant::Column::TenantId.eq(self.tenant_id.as_str()))
            .exec(txn)
            .await?;
        Ok(())
    }
}

/// Returns the content digest of `entry` as if it stood at `sequence`.
pub(crate) fn digest_at(entry: AuditLogEntry, sequence: i64) -> Result<[u8; 32], DbErr> {
    let mut message = entry_to_message(entry);
    message.sequence = sequence;
    // Only a bug can get here: validation refuses non-finite numbers and the
    // id is a Uuid. Failing the append keeps the chain from holding a link
    // nobody could recompute.
    content_digest(&message).map_err(|error| DbErr::Custom(format!("canonical form: {error}")))
}

/// Records the tenant if new, then locks and returns its chain head. On
/// Postgres the `FOR UPDATE` row lock makes concurrent appends to one tenant
/// take turns, so sequence order is commit order; on SQLite the transaction
/// already holds the database's write lock from BEGIN IMMEDIATE.
pub(crate) async fn lock_head(
    txn: &DatabaseTransaction,
    tenant_id: &str,
) -> Result<ChainHead, DbErr> {
    head_of(lock_tenant(txn, tenant_id).await?)
}

/// Records the tenant if new, then locks and returns its row. Until the
/// caller's transaction ends nobody else can move the chain head, nor set or
/// clear the tenant's legal hold, which takes the same lock.
///
/// The lock comes first and the insert only when the tenant has no row yet:
/// every append takes this path, and for a known tenant that is one round
/// trip, not an upsert before it.
pub(crate) async fn lock_tenant(
    txn: &DatabaseTransaction,
    tenant_id: &str,
) -> Result<audit_tenant::Model, DbErr> {
    if let Some(row) = select_tenant(txn, tenant_id).await? {
        return Ok(row);
    }
    // A concurrent first append of the same tenant may insert it between
    // our SELECT and this INSERT: DO NOTHING, then lock the row it made.
    audit_tenant::Entity::insert(new_tenant(tenant_id))
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    select_tenant(txn, tenant_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("tenant {tenant_id} after upsert")))
}

/// Like [`lock_head`] for several tenants at once (a group commit's), in
/// two round trips or, when some tenant is new, four. `tenant_ids` must be
/// sorted and without duplicates.
///
/// Postgres locks the rows in the order the statement returns them, sorted
/// by the tenant id's bytes (`COLLATE "C"`, whatever the database's
/// collation): the order every multi-tenant lock taker uses (retention sorts
/// the same way), so two of them do not wait on each other in a cycle. The
/// one exception: new tenants are inserted after the known ones are
/// locked, so replicas creating the same tenants at once can deadlock;
/// Postgres then fails one transaction, and group commit writes its calls
/// one by one.
pub(crate) async fn lock_heads(
    txn: &DatabaseTransaction,
    tenant_ids: &[&str],
) -> Result<HashMap<String, ChainHead>, DbErr> {
    if let [tenant_id] = tenant_ids {
        let head = lock_head(txn, tenant_id).await?;
        return Ok(HashMap::from([(head.tenant_id.clone(), head)]));
    }
    let mut rows = select_tenants(txn, tenant_ids).await?;
    if rows.len() < tenant_ids.len() {
        let known: HashSet<&str> = rows.iter().map(|row| row.tenant_id.as_str()).collect();
        let new: Vec<audit_tenant::ActiveModel> = tenant_ids
            .iter()
            .filter(|tenant_id| !known.contains(*tenant_id))
            .map(|tenant_id| new_tenant(tenant_id))
            .collect();
        // As in `lock_tenant`: DO NOTHING for a tenant inserted meanwhile.
        audit_tenant::Entity::insert_many(new)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
        rows = select_tenants(txn, tenant_ids).await?;
    }
    if rows.len() != tenant_ids.len() {
        return Err(DbErr::RecordNotFound(format!(
            "{} of {} tenants after upsert",
            rows.len(),
            tenant_ids.len()
        )));
    }
    rows.into_iter()
        .map(|row| head_of(row).map(|head| (head.tenant_id.clone(), head)))
        .collect()
}

/// The row of a tenant's first append.
fn new_tenant(tenant_id: &str) -> audit_tenant::ActiveModel {
    audit_tenant::ActiveModel {
        tenant_id: ActiveValue::Set(tenant_id.to_owned()),
        created_at: ActiveValue::Set(now_micros()),
        head_sequence: ActiveValue::Set(0),
        head_hash: ActiveValue::Set(None),
    }
}

/// Reads the rows of `tenant_ids`, locked `FOR UPDATE` in byte order on
/// Postgres (see [`lock_heads`]). The ids travel as one array, so the
/// statement's text is the same for any number of tenants and is prepared
/// once per connection.
async fn select_tenants(
    txn: &DatabaseTransaction,
    tenant_ids: &[&str],
) -> Result<Vec<audit_tenant::Model>, DbErr> {
    let query = audit_tenant::Entity::find();
    if txn.get_database_backend() != DbBackend::Postgres {
        return query
            .filter(audit_tenant::Column::TenantId.is_in(tenant_ids.iter().copied()))
            .all(txn)
            .await;
    }
    let ids: Vec<String> = tenant_ids.iter().map(|id| (*id).to_owned()).collect();
    query
        .filter(
            Expr::col((audit_tenant::Entity, audit_tenant::Column::TenantId))
                .eq(PgFunc::any(Expr::val(ids))),
        )
        .order_by(
            Expr::cust(r#""audit_tenants"."tenant_id" COLLATE "C""#),
            Order::Asc,
        )
        .lock_exclusive()
        .all(txn)
        .await
}

/// Reads a tenant's row, locked `FOR UPDATE` on Postgres (on SQLite the
/// transaction already holds the database's write lock from BEGIN
/// IMMEDIATE).
async fn select_tenant(
    txn: &DatabaseTransaction,
    tenant_id: &str,
) -> Result<Option<audit_tenant::Model>, DbErr> {
    let mut query = audit_tenant::Entity::find_by_id(tenant_id.to_owned());
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await
}

/// Returns the head a tenant row holds.
pub(crate) fn head_of(row: audit_tenant::Model) -> Result<ChainHead, DbErr> {
    let hash = match row.head_hash {
        None => GENESIS_HASH,
        Some(bytes) => to_hash(&bytes).ok_or_else(|| {
            DbErr::Custom(format!(
                "tenant {} has a {}-byte head hash",
                row.tenant_id,
                bytes.len()
            ))
        })?,
    };
    Ok(ChainHead {
        tenant_id: row.tenant_id,
        sequence: row.head_sequence,
        hash,
    })
}

/// Returns a 32-byte digest, or None for any other length.
pub(crate) fn to_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// Stores a link in the row of its entry.
pub(crate) fn set_link(row: &mut audit_log::Model, link: &ChainLink) {
    row.sequence = Some(link.sequence);
    row.content_digest = Some(link.content_digest.to_vec());
    row.hash = Some(link.hash.to_vec());
}
