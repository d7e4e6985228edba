//! The indexes that let every List filter be read in `(occurred_at, id)`
//! order (the gaps the query-plan test listed):
//!
//! - `target_type` alone and `target_id` alone: the old `(tenant_id,
//!   target_type, target_id, occurred_at, id)` index serves neither in time
//!   order. It is replaced by one index per column; type + id is served by
//!   the id index with the type as a filter (an id rarely spans types). Net
//!   write cost: one more B-tree entry per appended row.
//! - a client-address block: `client_network`, a generated column holding
//!   the /24 of an IPv4 address (15 bytes of its mapped key) or the /48 of
//!   an IPv6 one (6 bytes), indexed before time, so any block inside one
//!   network is an equality followed by time order. Write cost: one more
//!   B-tree entry per row with an address, and 6-15 bytes. On Postgres the
//!   column is STORED, so adding it rewrites the table once (under this
//!   migration's lock); on SQLite it is VIRTUAL (SQLite cannot add a stored
//!   column) and only the index holds its values.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    TenantId,
    TargetType,
    TargetId,
    ClientNetwork,
    OccurredAt,
    Id,
}

/// The network of a stored address key; must equal
/// `conditions::network_of` for every key.
const POSTGRES_NETWORK: &str = "substring(client_ip from 1 for (CASE WHEN \
     substring(client_ip from 1 for 12) = '\\x00000000000000000000ffff'::bytea \
     THEN 15 ELSE 6 END))";
const SQLITE_NETWORK: &str = "substr(client_ip, 1, CASE WHEN \
     substr(client_ip, 1, 12) = x'00000000000000000000ffff' THEN 15 ELSE 6 END)";

const NEW_INDEXES: &[(&str, AuditLogs)] = &[
    ("audit_logs_target_type_idx", AuditLogs::TargetType),
    ("audit_logs_target_id_idx", AuditLogs::TargetId),
    ("audit_logs_client_network_idx", AuditLogs::ClientNetwork),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add_column = match manager.get_database_backend() {
            DbBackend::Postgres => format!(
                "ALTER TABLE audit_logs ADD COLUMN IF NOT EXISTS client_network bytea \
                 GENERATED ALWAYS AS ({POSTGRES_NETWORK}) STORED"
            ),
            _ => format!(
                "ALTER TABLE audit_logs ADD COLUMN client_network blob \
                 GENERATED ALWAYS AS ({SQLITE_NETWORK}) VIRTUAL"
            ),
        };
        manager
            .get_connection()
            .execute_unprepared(&add_column)
            .await?;
        for (name, column) in NEW_INDEXES {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(*name)
                        .table(AuditLogs::Table)
                        .col(AuditLogs::TenantId)
                        .col(*column)
                        .col(AuditLogs::OccurredAt)
                        .col(AuditLogs::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name("audit_logs_target_idx")
                    .table(AuditLogs::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("audit_logs_target_idx")
                    .table(AuditLogs::Table)
                    .col(AuditLogs::TenantId)
                    .col(AuditLogs::TargetType)
                    .col(AuditLogs::TargetId)
                    .col(AuditLogs::OccurredAt)
                    .col(AuditLogs::Id)
                    .to_owned(),
            )
            .await?;
        for (name, _) in NEW_INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .if_exists()
                        .name(*name)
                        .table(AuditLogs::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLogs::Table)
                    .drop_column(AuditLogs::ClientNetwork)
                    .to_owned(),
            )
            .await
    }
}
