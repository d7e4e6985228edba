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

/// Where each column of `audit_logs` stands in the SELECTs these readers
/// serve (the entity's declaration order).
pub(crate) mod column {
    pub(crate) const TENANT_ID: usize = 0;
    pub(crate) const ID: usize = 1;
    pub(crate) const OCCURRED_AT: usize = 2;
    pub(crate) const RECEIVED_AT: usize = 3;
    pub(crate) const ACTION: usize = 4;
    pub(crate) const ACTION_NAMESPACE: usize = 5;
    pub(crate) const ACTOR_ID: usize = 6;
    pub(crate) const ACTOR_TYPE: usize = 7;
    pub(crate) const ACTOR_NAME: usize = 8;
    pub(crate) const ACTOR_EMAIL: usize = 9;
    pub(crate) const TARGET_TYPE: usize = 10;
    pub(crate) const TARGET_ID: usize = 11;
    pub(crate) const TARGET_NAME: usize = 12;
    pub(crate) const RESULT: usize = 13;
    pub(crate) const CLIENT_IP: usize = 14;
    pub(crate) const USER_AGENT: usize = 15;
    pub(crate) const REQUEST_METHOD: usize = 16;
    pub(crate) const REQUEST_PATH: usize = 17;
    pub(crate) const REQUEST_STATUS_CODE: usize = 18;
    pub(crate) const METADATA: usize = 19;
    pub(crate) const REQUEST_ID: usize = 20;
    pub(crate) const IDEMPOTENCY_KEY: usize = 21;
    pub(crate) const IDEMPOTENCY_FINGERPRINT: usize = 22;
    pub(crate) const SEQUENCE: usize = 23;
    pub(crate) const CONTENT_DIGEST: usize = 24;
    pub(crate) const HASH: usize = 25;
}

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
            tenant_id: $column!(column::TENANT_ID),
            id: $column!(column::ID),
            occurred_at: $column!(column::OCCURRED_AT),
            received_at: $column!(column::RECEIVED_AT),
            action: $column!(column::ACTION),
            action_namespace: $column!(column::ACTION_NAMESPACE),
            actor_id: $column!(column::ACTOR_ID),
            actor_type: $column!(column::ACTOR_TYPE),
            actor_name: $column!(column::ACTOR_NAME),
            actor_email: $column!(column::ACTOR_EMAIL),
            target_type: $column!(column::TARGET_TYPE),
            target_id: $column!(column::TARGET_ID),
            target_name: $column!(column::TARGET_NAME),
            result: $column!(column::RESULT),
            client_ip: $column!(column::CLIENT_IP),
            user_agent: $column!(column::USER_AGENT),
            request_method: $column!(column::REQUEST_METHOD),
            request_path: $column!(column::REQUEST_PATH),
            request_status_code: $column!(column::REQUEST_STATUS_CODE),
            metadata: $column!(column::METADATA),
            request_id: $column!(column::REQUEST_ID),
            idempotency_key: $column!(column::IDEMPOTENCY_KEY),
            idempotency_fingerprint: $column!(column::IDEMPOTENCY_FINGERPRINT),
            sequence: $column!(column::SEQUENCE),
            content_digest: $column!(column::CONTENT_DIGEST),
            hash: $column!(column::HASH),
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
