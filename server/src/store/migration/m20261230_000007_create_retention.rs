//! Creates `audit_retention`: per tenant, the retention policy (days, set by
//! whom and when) and the pruned point of its chain (the last purged
//! sequence, that link's hash, and the signed pruned checkpoint). A table of
//! its own rather than columns on `audit_tenants`, whose entity earlier
//! migrations read.

use super::{bytes, key_text, plain_text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditRetention {
    Table,
    TenantId,
    RetentionDays,
    SetBy,
    SetAt,
    PrunedSequence,
    PrunedHash,
    PrunedAt,
    PrunedKeyId,
    PrunedSignature,
    RecordedThrough,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let big_integer = |name: AuditRetention| {
            ColumnDef::new(name)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(AuditRetention::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditRetention::TenantId))
                    .col(
                        ColumnDef::new(AuditRetention::RetentionDays)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(plain_text(AuditRetention::SetBy).default(""))
                    .col(ColumnDef::new(AuditRetention::SetAt).big_integer().null())
                    .col(big_integer(AuditRetention::PrunedSequence))
                    .col(bytes(AuditRetention::PrunedHash).null())
                    .col(
                        ColumnDef::new(AuditRetention::PrunedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(AuditRetention::PrunedKeyId).text().null())
                    .col(bytes(AuditRetention::PrunedSignature).null())
                    .col(big_integer(AuditRetention::RecordedThrough))
                    .primary_key(Index::create().col(AuditRetention::TenantId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AuditRetention::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
