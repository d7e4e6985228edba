//! Reading `audit_logs` rows by column position, for the read paths that
//! return many rows (List pages, exports, follow).
//!
//! Why not the entity's derived reader: it looks every column up by name
//! (a hash lookup and a string compare per column per row) and checks each
//! value's declared type against the Rust type before decoding. A List page
//! of a hundred rows did that 2,600 times, and the profile of the page
//! benchmark put a fifth of the server's CPU in it. The SELECTs these rows
//! come from list the entity's columns in declaration order (SeaORM's
//! `find()`, or `l.*` of it), and the migrations fix the column types, so
//! position and type are known.

use super::StoreError;
use super::entity::audit_log;
use super::rows::model_to_entry;
use crate::domain::AuditLogEntry;
use sea_orm::sqlx::Row;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::{DbErr, FromQueryResult, QueryResult};

/// One `audit_logs` row read by position; see the module docs.
pub(crate) struct PositionalRow(pub audit_log::Model);

/// Returns the entries the rows hold; Internal for a malformed row.
pub(crate) fn into_entries(rows: Vec<PositionalRow>) -> Result<Vec<AuditLogEntry>, StoreError> {
    rows.into_iter()
        .map(|PositionalRow(row)| model_to_entry(row))
        .collect()
}

impl PositionalRow {
    /// Reads a row sqlx fetched from Postgres directly.
    pub(crate) fn from_pg_row(row: &PgRow) -> Result<Self, DbErr> {
        read_postgres(row).map(Self)
    }
}

impl FromQueryResult for PositionalRow {
    fn from_query_result(result: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        match result.try_as_pg_row() {
            Some(row) => read_postgres(row).map(Self),
            None => read_any(result).map(Self),
        }
    }
}

/// The entity's columns in SELECT order, each read with `$column!(index)`.
macro_rules! model_by_position {
    ($column:ident) => {
        audit_log::Model {
            tenant_id: $column!(0),
            id: $column!(1),
            occurred_at: $column!(2),
            received_at: $column!(3),
            action: $column!(4),
            action_namespace: $column!(5),
            actor_id: $column!(6),
            actor_type: $column!(7),
            actor_name: $column!(8),
            actor_email: $column!(9),
            target_type: $column!(10),
            target_id: $column!(11),
            target_name: $column!(12),
            result: $column!(13),
            client_ip: $column!(14),
            user_agent: $column!(15),
            request_method: $column!(16),
            request_path: $column!(17),
            request_status_code: $column!(18),
            metadata: $column!(19),
            request_id: $column!(20),
            idempotency_key: $column!(21),
            idempotency_fingerprint: $column!(22),
            sequence: $column!(23),
            content_digest: $column!(24),
            hash: $column!(25),
        }
    };
}

/// Postgres: decodes each column without the type check (the column types
/// are the migrations'); a mismatch still fails on the value's length or
/// format, never reads as another value.
fn read_postgres(row: &PgRow) -> Result<audit_log::Model, DbErr> {
    let decode_error = |error: sea_orm::sqlx::Error| {
        DbErr::Custom(format!("cannot read an audit_logs row: {error}"))
    };
    macro_rules! postgres_column {
        ($index:expr) => {
            row.try_get_unchecked($index).map_err(decode_error)?
        };
    }
    Ok(model_by_position!(postgres_column))
}

/// Any other backend (SQLite): SeaORM's positional getters, which convert
/// the backend's storage types as the derived reader does.
fn read_any(result: &QueryResult) -> Result<audit_log::Model, DbErr> {
    macro_rules! any_column {
        ($index:expr) => {
            result.try_get_by_index($index)?
        };
    }
    Ok(model_by_position!(any_column))
}
