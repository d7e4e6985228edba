//! Moves idempotency keys into `audit_idempotency_keys` (both backends),
//! then, on Postgres, partitions `audit_logs` by month of receipt.
//!
//! Postgres enforces a unique index on a partitioned table only when it
//! contains the partition key, and `(tenant_id, idempotency_key)` cannot:
//! hence the key table, primary-keyed by exactly that, written with the
//! rows (see `store::idempotency`). The table is `PARTITION BY RANGE (id)`
//! with monthly bounds on the UUIDv7 receipt time (see `store::partitions`):
//! the primary key `(tenant_id, id)` contains the partition key, and a Get
//! by id reads one partition. `(tenant_id, sequence)` becomes a plain
//! index: the chain head row lock already hands out each sequence once
//! (appends, deletes and purges link entries only under it), and
//! verification reports a duplicate should one ever be written.
//!
//! The conversion runs in the migration's transaction: the table is
//! renamed, an empty partitioned one created with the same columns
//! (generated `client_network` included), a DEFAULT partition and one
//! partition per month that holds rows or lies within
//! [`MONTHS_AHEAD`](crate::store::MONTHS_AHEAD) of now; the rows are copied,
//! the old table dropped, and the primary key and every index of the earlier
//! migrations created as partitioned indexes. It rewrites the table once:
//! on a large database, expect it to take as long as copying it. SQLite
//! keeps one unpartitioned table and its unique indexes.

use super::{bytes, key_text, uuid};
use crate::domain::now_micros;
use crate::store::partitions::{
    DEFAULT_PARTITION, MONTHS_AHEAD, PARENT, ReceiptMonth, create_month_partition, stored_columns,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;
use std::collections::BTreeSet;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditIdempotencyKeys {
    Table,
    TenantId,
    IdempotencyKey,
    Id,
    Fingerprint,
}

/// The filter indexes of migrations 000001 and 000008: each is
/// `(tenant_id, <columns>occurred_at, id)`.
const FILTER_INDEXES: &[(&str, &str)] = &[
    ("audit_logs_time_idx", ""),
    ("audit_logs_actor_id_idx", "actor_id, "),
    ("audit_logs_actor_email_idx", "actor_email, "),
    ("audit_logs_action_idx", "action, "),
    ("audit_logs_action_namespace_idx", "action_namespace, "),
    ("audit_logs_result_idx", "result, "),
    ("audit_logs_client_ip_idx", "client_ip, "),
    ("audit_logs_target_type_idx", "target_type, "),
    ("audit_logs_target_id_idx", "target_id, "),
    ("audit_logs_client_network_idx", "client_network, "),
];

/// The table's name while its rows are copied into the new layout.
const OLD_LAYOUT: &str = "audit_logs_previous_layout";

/// The distinct receipt months (UTC) of the UUIDv7 ids in the old table:
/// the first 48 bits as milliseconds. Other ids stay in DEFAULT.
const MONTHS_OF_ROWS: &str = "SELECT DISTINCT \
     CAST(EXTRACT(YEAR FROM received) AS int4), CAST(EXTRACT(MONTH FROM received) AS int4) \
     FROM (SELECT to_timestamp(('x' || lpad(left(replace(id::text, '-', ''), 12), 16, '0'))\
     ::bit(64)::int8 / 1000.0) AT TIME ZONE 'UTC' AS received \
     FROM audit_logs_previous_layout WHERE substr(id::text, 15, 1) = '7') AS ids";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(AuditIdempotencyKeys::Table)
                    .if_not_exists()
                    .col(key_text(backend, AuditIdempotencyKeys::TenantId))
                    .col(key_text(backend, AuditIdempotencyKeys::IdempotencyKey))
                    .col(uuid(backend, AuditIdempotencyKeys::Id))
                    .col(bytes(AuditIdempotencyKeys::Fingerprint).null())
                    .primary_key(
                        Index::create()
                            .col(AuditIdempotencyKeys::TenantId)
                            .col(AuditIdempotencyKeys::IdempotencyKey),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO audit_idempotency_keys (tenant_id, idempotency_key, id, fingerprint) \
             SELECT tenant_id, idempotency_key, id, idempotency_fingerprint FROM audit_logs \
             WHERE idempotency_key IS NOT NULL",
        )
        .await?;
        if backend == DbBackend::Postgres {
            partition(db).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            unpartition(manager.get_connection()).await?;
        }
        manager
            .drop_table(
                Table::drop()
                    .table(AuditIdempotencyKeys::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

/// Rebuilds `audit_logs` as a table partitioned by month of receipt.
async fn partition<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("ALTER TABLE {PARENT} RENAME TO {OLD_LAYOUT}"))
        .await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE {PARENT} (LIKE {OLD_LAYOUT} INCLUDING DEFAULTS INCLUDING GENERATED) \
         PARTITION BY RANGE (id)"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT"
    ))
    .await?;
    for month in months_to_create(db).await? {
        create_month_partition(db, month).await?;
    }
    copy_rows(db, OLD_LAYOUT).await?;
    db.execute_unprepared(&format!(
        "ALTER TABLE {PARENT} ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (tenant_id, id)"
    ))
    .await?;
    create_filter_indexes(db).await?;
    // Not unique: see the module documentation.
    db.execute_unprepared(&format!(
        "CREATE INDEX audit_logs_sequence_idx ON {PARENT} (tenant_id, sequence)"
    ))
    .await?;
    Ok(())
}

/// Rebuilds `audit_logs` as one table with the indexes of migrations
/// 000001–000008, unique ones included.
async fn unpartition<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_unprepared(&format!("ALTER TABLE {PARENT} RENAME TO {OLD_LAYOUT}"))
        .await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE {PARENT} (LIKE {OLD_LAYOUT} INCLUDING DEFAULTS INCLUDING GENERATED)"
    ))
    .await?;
    copy_rows(db, OLD_LAYOUT).await?;
    db.execute_unprepared(&format!(
        "ALTER TABLE {PARENT} ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (tenant_id, id)"
    ))
    .await?;
    create_filter_indexes(db).await?;
    db.execute_unprepared(&format!(
        "CREATE UNIQUE INDEX audit_logs_idempotency_key_uq ON {PARENT} \
         (tenant_id, idempotency_key); \
         CREATE UNIQUE INDEX audit_logs_sequence_uq ON {PARENT} (tenant_id, sequence)"
    ))
    .await?;
    Ok(())
}

/// Copies every row of `from` into `audit_logs`, then drops `from` (with
/// its partitions, if any).
async fn copy_rows<C: ConnectionTrait>(db: &C, from: &str) -> Result<(), DbErr> {
    let columns = stored_columns(db, from).await?.join(", ");
    db.execute_unprepared(&format!(
        "INSERT INTO {PARENT} ({columns}) SELECT {columns} FROM {from}"
    ))
    .await?;
    db.execute_unprepared(&format!("DROP TABLE {from}")).await?;
    Ok(())
}

async fn create_filter_indexes<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for (name, columns) in FILTER_INDEXES {
        db.execute_unprepared(&format!(
            "CREATE INDEX {name} ON {PARENT} (tenant_id, {columns}occurred_at, id)"
        ))
        .await?;
    }
    Ok(())
}

/// The months that hold rows, and the current one with the months ahead.
async fn months_to_create<C: ConnectionTrait>(db: &C) -> Result<BTreeSet<ReceiptMonth>, DbErr> {
    let mut months = BTreeSet::new();
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, MONTHS_OF_ROWS))
        .await?;
    for row in rows {
        let year: i32 = row.try_get_by_index(0)?;
        let month: i32 = row.try_get_by_index(1)?;
        if let Some(month) = <u32 as TryFrom<i32>>::try_from(month)
            .ok()
            .and_then(|month| ReceiptMonth::new(year, month))
        {
            months.insert(month);
        }
    }
    let mut month = ReceiptMonth::of_micros(now_micros())
        .ok_or_else(|| DbErr::Migration("the clock is outside every month".into()))?;
    for _ in 0..=MONTHS_AHEAD {
        months.insert(month);
        month = month.next();
    }
    Ok(months)
}
