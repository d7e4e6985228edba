//! Protobuf written straight from database rows, for the reply that carries
//! many entries: a List page.
//!
//! Why: a page of a hundred entries went row → `audit_log::Model` →
//! `AuditLogEntry` → `pb::AuditLog` → bytes, allocating every string three
//! times and every metadata key and value twice (`serde_json::Value`, then
//! `prost_types::Struct`). The profile of the page benchmark put two fifths
//! of the server's CPU in those steps. Here each Postgres row's column bytes
//! are written into the page's protobuf once. The bytes are those prost
//! writes for the same entry (tests compare them), so clients see no
//! difference.
//!
//! - [`row`]: one `audit_logs` row as an `AuditLog` message.
//! - [`metadata`]: a `jsonb` document as a `google.protobuf.Struct`.
//! - [`page`]: the entries of a page, and the `ListAuditLogsResponse` that
//!   carries them through tonic's prost codec.

pub(crate) mod metadata;
pub(crate) mod page;
pub(crate) mod row;

pub(crate) use page::{EncodedPage, ListReply};

use prost::encoding::{WireType, encode_key, encode_varint};

/// Why a row could not be written as protobuf: a column holds what the
/// migrations never store.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct MalformedRow(pub String);

/// Appends a `string` field; nothing for "", as prost skips a proto3
/// default.
fn put_str(out: &mut Vec<u8>, field: u32, value: &str) {
    put_bytes(out, field, value.as_bytes());
}

/// Appends a `bytes` field; nothing when empty.
fn put_bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    if value.is_empty() {
        return;
    }
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(value.len() as u64, out);
    out.extend_from_slice(value);
}

/// Appends an `int64`, `int32` or enum field (negative values sign-extend
/// to ten bytes, as prost writes them); nothing for 0.
fn put_int(out: &mut Vec<u8>, field: u32, value: i64) {
    if value == 0 {
        return;
    }
    encode_key(field, WireType::Varint, out);
    encode_varint(value as u64, out);
}

/// Appends a message field whose content `write` appends; its length is
/// only known once written (metadata), so it is filled in after.
fn put_message<T>(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    encode_key(field, WireType::LengthDelimited, out);
    let start = begin_length(out);
    let outcome = write(out);
    end_length(out, start);
    outcome
}

/// Starts a length-delimited content, returning where it begins. One byte
/// is set aside for its length, enough below 128 bytes: only longer content
/// is shifted to make room for the rest of the varint.
fn begin_length(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len()
}

/// Writes the length of the content begun at `start`.
fn end_length(out: &mut Vec<u8>, start: usize) {
    let mut varint = [0u8; 10];
    let mut unused = &mut varint[..];
    encode_varint((out.len() - start) as u64, &mut unused);
    let written = 10 - unused.len();
    out[start - 1] = varint[0];
    if written > 1 {
        out.splice(start..start, varint[1..written].iter().copied());
    }
}
