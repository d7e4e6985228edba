//! Adds the per-tenant hash chain: `sequence`, `content_digest` and `hash`
//! on `audit_logs` with a unique `(tenant_id, sequence)`, the chain head on
//! `audit_tenants`, and `audit_tombstones`. Rows stored before are chained
//! here, per tenant in id (UUIDv7, so creation) order.

use super::{bytes, key_text, uuid};
use crate::store::chain::ChainHead;
use crate::store::entity::{audit_log, audit_tenant};
use crate::store::rows::model_to_entry;
use audit_proto::integrity::GENESIS_HASH;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    TenantId,
    Sequence,
    ContentDigest,
    Hash,
}

#[derive(DeriveIden)]
enum AuditTenants {
    Table,
    HeadSequence,
    HeadHash,
}

#[derive(DeriveIden)]
enum AuditTombstones {
    Table,
    TenantId,
    Sequence,
    EntryId,
    ContentDigest,
    Hash,
    DeletedAt,
    DeletionSequence,
}

/// Rows chained per read while backfilling.
const BACKFILL_PAGE: u64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // One column per ALTER: SQLite takes no more.
        for column in [
            ColumnDef::new(AuditLogs::Sequence)
                .big_integer()
                .null()
                .to_owned(),
            bytes(AuditLogs::ContentDigest).null().to_owned(),
            bytes(AuditLogs::Hash).null().to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditLogs::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // NULLs are distinct: rows the chain does not account for do not
        // collide here, and verification reports them.
        manager
            .create_index(
                Index::create()
                    .name("audit_logs_sequence_uq")
                    .table(AuditLogs::Table)
                    .col(AuditLogs::TenantId)
                    .col(AuditLogs::Sequence)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(AuditTenants::HeadSequence)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            bytes(AuditTenants::HeadHash).null().to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditTenants::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditTombstones::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditTombstones::TenantId))
                    .col(
                        ColumnDef::new(AuditTombstones::Sequence)
                            .big_integer()
                            .not_null(),
                    )
                    .col(uuid(backend, AuditTombstones::EntryId))
                    .col(bytes(AuditTombstones::ContentDigest).not_null())
                    .col(bytes(AuditTombstones::Hash).not_null())
                    .col(
                        ColumnDef::new(AuditTombstones::DeletedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditTombstones::DeletionSequence)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AuditTombstones::TenantId)
                            .col(AuditTombstones::Sequence),
                    )
                    .to_owned(),
            )
            .await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AuditTombstones::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("audit_logs_sequence_uq")
                    .table(AuditLogs::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            AuditLogs::Sequence,
            AuditLogs::ContentDigest,
            AuditLogs::Hash,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditLogs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [AuditTenants::HeadSequence, AuditTenants::HeadHash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditTenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Chains every tenant's existing rows in id order and sets its head. Runs
/// inside the migration's transaction (which holds the write lock), so no
/// append interleaves.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let tenants = audit_tenant::Entity::find().all(db).await?;
    for tenant in tenants {
        let mut head = ChainHead {
            tenant_id: tenant.tenant_id.clone(),
            sequence: 0,
            hash: GENESIS_HASH,
        };
        let mut after = None;
        loop {
            let mut page = audit_log::Entity::find()
                .filter(audit_log::Column::TenantId.eq(tenant.tenant_id.as_str()))
                .order_by_asc(audit_log::Column::Id)
                .limit(BACKFILL_PAGE);
            if let Some(last) = after {
                page = page.filter(audit_log::Column::Id.gt(last));
            }
            let rows = page.all(db).await?;
            let Some(last) = rows.last().map(|row| row.id) else {
                break;
            };
            for row in rows {
                let entry =
                    model_to_entry(row).map_err(|error| DbErr::Migration(error.to_string()))?;
                let link = head.link(&entry)?;
                audit_log::Entity::update_many()
                    .col_expr(audit_log::Column::Sequence, Expr::value(link.sequence))
                    .col_expr(
                        audit_log::Column::ContentDigest,
                        Expr::value(link.content_digest.to_vec()),
                    )
                    .col_expr(audit_log::Column::Hash, Expr::value(link.hash.to_vec()))
                    .filter(audit_log::Column::TenantId.eq(entry.tenant_id.as_str()))
                    .filter(audit_log::Column::Id.eq(entry.id))
                    .exec(db)
                    .await?;
            }
            after = Some(last);
        }
        head.save(db).await?;
    }
    Ok(())
}
