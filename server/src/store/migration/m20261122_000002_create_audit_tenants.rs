//! Creates `audit_tenants`: one row per tenant with entries (later the
//! per-tenant chain head).

use super::key_text;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditTenants {
    Table,
    TenantId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(AuditTenants::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditTenants::TenantId).primary_key())
                    .col(
                        ColumnDef::new(AuditTenants::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AuditTenants::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
