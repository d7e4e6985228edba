//! One Postgres `audit_logs` row written as an `audit.v1.AuditLog`.
//!
//! Mirrors what `store::rows::model_to_entry` then `entry_to_message` make
//! of the row (the tests compare the bytes), reading each column where the
//! row already holds it: strings are copied once, into the message.

use super::metadata::encode_metadata;
use super::{MalformedRow, put_bytes, put_int, put_message, put_str};
use crate::domain::{Cursor, from_micros, ip_from_key, no_request, no_target};
use crate::store::row_reader::column;
use crate::store::rows::{actor_type_from_column, outcome_from_column};
use sea_orm::sqlx::Row;
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat};
use std::io::Write;
use uuid::Uuid;

/// `AuditLog`'s field numbers (proto/audit/v1/audit.proto).
mod field {
    pub const ID: u32 = 1;
    pub const TENANT_ID: u32 = 2;
    pub const OCCURRED_AT: u32 = 3;
    pub const RECEIVED_AT: u32 = 4;
    pub const ACTION: u32 = 5;
    pub const ACTOR: u32 = 6;
    pub const TARGET: u32 = 7;
    pub const RESULT: u32 = 8;
    pub const CLIENT_IP: u32 = 9;
    pub const USER_AGENT: u32 = 10;
    pub const REQUEST: u32 = 11;
    pub const METADATA: u32 = 12;
    pub const REQUEST_ID: u32 = 13;
    pub const IDEMPOTENCY_KEY: u32 = 14;
    pub const SEQUENCE: u32 = 15;
    pub const CONTENT_DIGEST: u32 = 16;
    pub const HASH: u32 = 17;
}

/// Appends the content of the `AuditLog` that `row` stores (without its
/// own tag and length) and returns the row's place in the order, for the
/// page token.
pub(crate) fn encode_row(row: &PgRow, out: &mut Vec<u8>) -> Result<Cursor, MalformedRow> {
    let id: Uuid = get(row, column::ID)?;
    let malformed = |what: String| MalformedRow(format!("audit log {id} {what}"));
    let occurred_at: i64 = get(row, column::OCCURRED_AT)?;

    let mut id_text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    put_str(out, field::ID, id.hyphenated().encode_lower(&mut id_text));
    put_str(out, field::TENANT_ID, get(row, column::TENANT_ID)?);
    put_timestamp(out, field::OCCURRED_AT, occurred_at);
    put_timestamp(out, field::RECEIVED_AT, get(row, column::RECEIVED_AT)?);
    put_str(out, field::ACTION, get(row, column::ACTION)?);

    let actor_type = actor_type_from_column(get(row, column::ACTOR_TYPE)?);
    let (actor_id, actor_name, actor_email): (&str, &str, &str) = (
        get(row, column::ACTOR_ID)?,
        get(row, column::ACTOR_NAME)?,
        get(row, column::ACTOR_EMAIL)?,
    );
    // Always present, as `entry_to_message` always sets it.
    put_message(out, field::ACTOR, |actor| {
        put_str(actor, 1, actor_id);
        put_int(actor, 2, actor_type as i64);
        put_str(actor, 3, actor_name);
        put_str(actor, 4, actor_email);
    });

    let (target_type, target_id, target_name): (&str, &str, &str) = (
        get(row, column::TARGET_TYPE)?,
        get(row, column::TARGET_ID)?,
        get(row, column::TARGET_NAME)?,
    );
    if !no_target(target_type, target_id, target_name) {
        put_message(out, field::TARGET, |target| {
            put_str(target, 1, target_type);
            put_str(target, 2, target_id);
            put_str(target, 3, target_name);
        });
    }

    let outcome = outcome_from_column(get(row, column::RESULT)?);
    put_int(out, field::RESULT, outcome as i64);
    if let Some(key) = get::<Option<&[u8]>>(row, column::CLIENT_IP)? {
        let key: [u8; 16] = key
            .try_into()
            .map_err(|_| malformed(format!("has a {}-byte client_ip, expected 16", key.len())))?;
        // The longest IPv6 text is 45 bytes.
        let mut text = [0u8; 64];
        let mut unused = &mut text[..];
        write!(unused, "{}", ip_from_key(key))
            .map_err(|error| malformed(format!("client_ip: {error}")))?;
        let written = 64 - unused.len();
        put_bytes(out, field::CLIENT_IP, &text[..written]);
    }
    put_str(out, field::USER_AGENT, get(row, column::USER_AGENT)?);

    let (method, path, status_code): (&str, &str, i32) = (
        get(row, column::REQUEST_METHOD)?,
        get(row, column::REQUEST_PATH)?,
        get(row, column::REQUEST_STATUS_CODE)?,
    );
    if !no_request(method, path, status_code) {
        put_message(out, field::REQUEST, |request| {
            put_str(request, 1, method);
            put_str(request, 2, path);
            put_int(request, 3, i64::from(status_code));
        });
    }

    if let Some(document) = metadata_text(row)? {
        encode_metadata(field::METADATA, document, out)
            .map_err(|error| malformed(error.to_string()))?;
    }
    put_str(out, field::REQUEST_ID, get(row, column::REQUEST_ID)?);
    if let Some(key) = get::<Option<&str>>(row, column::IDEMPOTENCY_KEY)? {
        put_str(out, field::IDEMPOTENCY_KEY, key);
    }

    // A row outside the chain reads back with no link at all, whatever its
    // digest columns hold.
    if let Some(sequence) = get::<Option<i64>>(row, column::SEQUENCE)? {
        // Worded as `store::rows::chain_link` words it: List and Get log alike.
        let digest = |index: usize, what: &str| match get::<Option<&[u8]>>(row, index)? {
            Some(bytes) if bytes.len() == 32 => Ok(bytes),
            _ => Err(malformed(format!(
                "at sequence {sequence} has a malformed {what}"
            ))),
        };
        let (digest, hash) = (
            digest(column::CONTENT_DIGEST, "content digest")?,
            digest(column::HASH, "hash")?,
        );
        put_int(out, field::SEQUENCE, sequence);
        put_bytes(out, field::CONTENT_DIGEST, digest);
        put_bytes(out, field::HASH, hash);
    }
    Ok(Cursor { occurred_at, id })
}

/// Reads a column without the type check: the migrations fix the types,
/// and a mismatch still fails on the value's length or format (as in
/// `store::row_reader`).
fn get<'r, T>(row: &'r PgRow, index: usize) -> Result<T, MalformedRow>
where
    T: sea_orm::sqlx::Decode<'r, sea_orm::sqlx::Postgres>,
{
    row.try_get_unchecked(index)
        .map_err(|error| MalformedRow(format!("cannot read an audit_logs row: {error}")))
}

/// The metadata document's JSON text; None for SQL NULL. Binary `jsonb`
/// starts with a format version byte (1, the only one Postgres has).
fn metadata_text(row: &PgRow) -> Result<Option<&[u8]>, MalformedRow> {
    let value = row
        .try_get_raw(column::METADATA)
        .map_err(|error| MalformedRow(format!("cannot read metadata: {error}")))?;
    if sea_orm::sqlx::ValueRef::is_null(&value) {
        return Ok(None);
    }
    let format = value.format();
    let bytes = value
        .as_bytes()
        .map_err(|error| MalformedRow(format!("cannot read metadata: {error}")))?;
    match (format, bytes) {
        (PgValueFormat::Text, text) => Ok(Some(text)),
        (PgValueFormat::Binary, [1, text @ ..]) => Ok(Some(text)),
        (PgValueFormat::Binary, _) => Err(MalformedRow(
            "metadata is not jsonb of format version 1".into(),
        )),
    }
}

/// Appends a `google.protobuf.Timestamp` field for `micros`; always present,
/// as `entry_to_message` always sets it.
fn put_timestamp(out: &mut Vec<u8>, field: u32, micros: i64) {
    let time = from_micros(micros);
    put_message(out, field, |body| {
        put_int(body, 1, time.seconds);
        put_int(body, 2, i64::from(time.nanos));
    });
}
