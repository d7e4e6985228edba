//! Schema migrations (sea-orm-migration), written with the schema builder so
//! one migration serves Postgres and SQLite, plus the few column types that
//! must differ between them.
//!
//! Every primary key, unique constraint and index leads with `tenant_id`: a
//! later change distributes the tables by tenant.

mod m20261122_000001_create_audit_logs;
mod m20261122_000002_create_audit_tenants;
mod m20261122_000003_create_api_keys;
mod m20261201_000004_create_hash_chain;
mod m20261210_000005_create_checkpoints;
mod m20261220_000006_create_legal_holds;
mod m20261230_000007_create_retention;
mod m20261230_000008_ordered_filter_indexes;
mod m20261231_000009_partition_audit_logs_by_month;
mod m20270101_000010_create_all_or_none_check;

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

/// The store's migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_audit_logs::Migration),
            Box::new(m20261122_000002_create_audit_tenants::Migration),
            Box::new(m20261122_000003_create_api_keys::Migration),
            Box::new(m20261201_000004_create_hash_chain::Migration),
            Box::new(m20261210_000005_create_checkpoints::Migration),
            Box::new(m20261220_000006_create_legal_holds::Migration),
            Box::new(m20261230_000007_create_retention::Migration),
            Box::new(m20261230_000008_ordered_filter_indexes::Migration),
            Box::new(m20261231_000009_partition_audit_logs_by_month::Migration),
            Box::new(m20270101_000010_create_all_or_none_check::Migration),
        ]
    }
}

/// A NOT NULL text column that is compared, ranged or sorted. On Postgres it
/// gets the "C" collation: byte order, like SQLite's BINARY, so prefix ranges
/// (`action >= 'user.' AND action < 'user/'`) and sorted keys mean the same
/// on both backends and whatever the database's default locale is.
fn key_text(backend: DbBackend, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    column.text().not_null();
    if backend == DbBackend::Postgres {
        column.extra("COLLATE \"C\"");
    }
    column
}

/// A NOT NULL text column that is only stored and returned.
fn plain_text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

/// A byte-string column: `bytea` on Postgres, `blob` on SQLite (compared
/// with memcmp on both, which is what CIDR ranges rely on).
fn bytes(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).blob().to_owned()
}

/// A UUID column: `uuid` on Postgres; a 16-byte `blob` on SQLite, which is how
/// sqlx binds a `Uuid` there (a blob column has no affinity to convert it).
fn uuid(backend: DbBackend, name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    if backend == DbBackend::Postgres {
        column.uuid();
    } else {
        column.blob();
    }
    column.not_null();
    column
}
