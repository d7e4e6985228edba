//! Creates `audit_logs` with its primary key, the idempotency unique index and
//! one index per filter that also serves the `(occurred_at, id)` order.

use super::{bytes, key_text, plain_text, uuid};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    TenantId,
    Id,
    OccurredAt,
    ReceivedAt,
    Action,
    ActionNamespace,
    ActorId,
    ActorType,
    ActorName,
    ActorEmail,
    TargetType,
    TargetId,
    TargetName,
    Result,
    ClientIp,
    UserAgent,
    RequestMethod,
    RequestPath,
    RequestStatusCode,
    Metadata,
    RequestId,
    IdempotencyKey,
    IdempotencyFingerprint,
}

/// Secondary indexes: each leads with `tenant_id`, then the filtered
/// columns, then `occurred_at, id`, so a filtered page in either order is
/// an index range scan without a sort.
const INDEXES: &[(&str, &[AuditLogs])] = &[
    ("audit_logs_time_idx", &[]),
    ("audit_logs_actor_id_idx", &[AuditLogs::ActorId]),
    ("audit_logs_actor_email_idx", &[AuditLogs::ActorEmail]),
    ("audit_logs_action_idx", &[AuditLogs::Action]),
    (
        "audit_logs_action_namespace_idx",
        &[AuditLogs::ActionNamespace],
    ),
    (
        "audit_logs_target_idx",
        &[AuditLogs::TargetType, AuditLogs::TargetId],
    ),
    ("audit_logs_result_idx", &[AuditLogs::Result]),
    ("audit_logs_client_ip_idx", &[AuditLogs::ClientIp]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditLogs::TenantId))
                    .col(uuid(backend, AuditLogs::Id))
                    .col(
                        ColumnDef::new(AuditLogs::OccurredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditLogs::ReceivedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(key_text(backend, AuditLogs::Action))
                    .col(key_text(backend, AuditLogs::ActionNamespace))
                    .col(key_text(backend, AuditLogs::ActorId))
                    .col(
                        ColumnDef::new(AuditLogs::ActorType)
                            .small_integer()
                            .not_null(),
                    )
                    .col(plain_text(AuditLogs::ActorName))
                    .col(key_text(backend, AuditLogs::ActorEmail))
                    .col(key_text(backend, AuditLogs::TargetType))
                    .col(key_text(backend, AuditLogs::TargetId))
                    .col(plain_text(AuditLogs::TargetName))
                    .col(ColumnDef::new(AuditLogs::Result).small_integer().not_null())
                    .col(bytes(AuditLogs::ClientIp).null())
                    .col(plain_text(AuditLogs::UserAgent))
                    .col(plain_text(AuditLogs::RequestMethod))
                    .col(plain_text(AuditLogs::RequestPath))
                    .col(
                        ColumnDef::new(AuditLogs::RequestStatusCode)
                            .integer()
                            .not_null(),
                    )
                    // jsonb on Postgres, JSON text on SQLite.
                    .col(ColumnDef::new(AuditLogs::Metadata).json_binary().null())
                    .col(plain_text(AuditLogs::RequestId))
                    .col(ColumnDef::new(AuditLogs::IdempotencyKey).text().null())
                    .col(bytes(AuditLogs::IdempotencyFingerprint).null())
                    .primary_key(Index::create().col(AuditLogs::TenantId).col(AuditLogs::Id))
                    .to_owned(),
            )
            .await?;

        // NULL keys are distinct on both backends, so entries without a key
        // never collide.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("audit_logs_idempotency_key_uq")
                    .table(AuditLogs::Table)
                    .col(AuditLogs::TenantId)
                    .col(AuditLogs::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;

        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index
                .if_not_exists()
                .name(*name)
                .table(AuditLogs::Table)
                .col(AuditLogs::TenantId);
            for column in *columns {
                index.col(*column);
            }
            index.col(AuditLogs::OccurredAt).col(AuditLogs::Id);
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLogs::Table).if_exists().to_owned())
            .await
    }
}
