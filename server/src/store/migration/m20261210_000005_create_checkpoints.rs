//! Creates `audit_checkpoints`: the signed checkpoints of each tenant's
//! chain head.

use super::{bytes, key_text, plain_text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    TenantId,
    Sequence,
    Time,
    HeadHash,
    KeyId,
    Signature,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditCheckpoints::TenantId))
                    .col(
                        ColumnDef::new(AuditCheckpoints::Sequence)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditCheckpoints::Time)
                            .big_integer()
                            .not_null(),
                    )
                    .col(bytes(AuditCheckpoints::HeadHash).not_null())
                    .col(plain_text(AuditCheckpoints::KeyId))
                    .col(bytes(AuditCheckpoints::Signature).not_null())
                    .primary_key(
                        Index::create()
                            .col(AuditCheckpoints::TenantId)
                            .col(AuditCheckpoints::Sequence)
                            .col(AuditCheckpoints::Time),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AuditCheckpoints::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
