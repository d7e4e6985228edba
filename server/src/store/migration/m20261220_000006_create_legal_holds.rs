//! Creates `audit_legal_holds`: the tenants on legal hold, with why, since
//! when and set by whom. A table of its own rather than columns on
//! `audit_tenants`, whose entity earlier migrations read.

use super::{key_text, plain_text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLegalHolds {
    Table,
    TenantId,
    Reason,
    Since,
    SetBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(AuditLegalHolds::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditLegalHolds::TenantId))
                    .col(plain_text(AuditLegalHolds::Reason))
                    .col(
                        ColumnDef::new(AuditLegalHolds::Since)
                            .big_integer()
                            .not_null(),
                    )
                    .col(plain_text(AuditLegalHolds::SetBy))
                    .primary_key(Index::create().col(AuditLegalHolds::TenantId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AuditLegalHolds::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
