//! A List page as protobuf: its entries, written from rows as they are
//! read, and the `ListAuditLogsResponse` that tonic sends as it is.

use super::row::encode_row;
use super::{MalformedRow, put_message, put_str};
use crate::domain::{AuditLogEntry, Cursor};
use audit_validation::entry::encode_entry;
use bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType, decode_varint, encode_key, encode_varint};
use prost::{DecodeError, Message};
use sea_orm::sqlx::postgres::PgRow;

/// A typical entry's encoded size (the benchmark's average is about 690
/// bytes).
const ENTRY_BYTES: usize = 768;
/// Entries a page's buffer is first sized for at most (the default page).
const PREALLOCATED_ENTRIES: usize = 100;

/// `ListAuditLogsResponse`'s field numbers.
const AUDIT_LOGS: u32 = 1;
const NEXT_PAGE_TOKEN: u32 = 2;
const TOTAL_COUNT: u32 = 3;

/// The entries of one page, each already written as an `audit_logs` field
/// of `ListAuditLogsResponse`.
#[derive(Debug, Default)]
pub(crate) struct EncodedPage {
    fields: Vec<u8>,
    len: usize,
    last: Option<Cursor>,
}

impl EncodedPage {
    /// An empty page with room for `entries` typical entries, at most
    /// [`PREALLOCATED_ENTRIES`]: sized once rather than grown a dozen times,
    /// yet a large page size asked for a few matches reserves little.
    pub(crate) fn for_entries(entries: usize) -> Self {
        Self {
            fields: Vec::with_capacity(entries.min(PREALLOCATED_ENTRIES) * ENTRY_BYTES),
            ..Self::default()
        }
    }

    /// Appends the entry a Postgres row stores.
    pub(crate) fn push_row(&mut self, row: &PgRow) -> Result<(), MalformedRow> {
        let cursor = put_message(&mut self.fields, AUDIT_LOGS, |entry| encode_row(row, entry))?;
        self.pushed(cursor);
        Ok(())
    }

    /// Appends an entry read the structured way (SQLite, follow mode),
    /// encoded by prost.
    pub(crate) fn push_entry(&mut self, entry: AuditLogEntry) {
        let cursor = Cursor {
            occurred_at: entry.occurred_at,
            id: entry.id,
        };
        prost::encoding::message::encode(AUDIT_LOGS, &encode_entry(entry), &mut self.fields);
        self.pushed(cursor);
    }

    fn pushed(&mut self, cursor: Cursor) {
        self.len += 1;
        self.last = Some(cursor);
    }

    /// How many entries the page holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The place of the page's last entry, where the next page starts.
    pub(crate) fn last_cursor(&self) -> Option<Cursor> {
        self.last
    }
}

/// A `ListAuditLogsResponse` already encoded: what the server's stubs send
/// for ListAuditLogs (see `rpc::stubs`), so a page's bytes are written once
/// and copied into the HTTP/2 frame as they are. Clients decode the same
/// bytes as the generated `pb::ListAuditLogsResponse`.
#[derive(Default)]
pub struct ListReply {
    encoded: Vec<u8>,
}

/// The size, not a page of bytes, should a reply ever be logged.
impl std::fmt::Debug for ListReply {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ListReply")
            .field("encoded_len", &self.encoded.len())
            .finish()
    }
}

impl ListReply {
    /// The message carrying `page`, resumable at `next_page_token` ("" at
    /// the end), with the total count when one was asked for.
    pub(crate) fn new(page: EncodedPage, next_page_token: &str, total_count: Option<i64>) -> Self {
        // Fields in number order, as prost writes them.
        let mut encoded = page.fields;
        put_str(&mut encoded, NEXT_PAGE_TOKEN, next_page_token);
        if let Some(count) = total_count {
            // `optional`: written even when 0.
            encode_key(TOTAL_COUNT, WireType::Varint, &mut encoded);
            encode_varint(count as u64, &mut encoded);
        }
        Self { encoded }
    }
}

impl Message for ListReply {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.encoded);
    }

    /// The server only sends this message. Should it be decoded, its
    /// length-delimited and varint fields (all it has) are kept as they
    /// came, so it encodes to the same message; anything else is skipped.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match wire_type {
            WireType::LengthDelimited => {
                let mut value = Vec::new();
                prost::encoding::bytes::merge(wire_type, &mut value, buf, ctx)?;
                encode_key(tag, wire_type, &mut self.encoded);
                encode_varint(value.len() as u64, &mut self.encoded);
                self.encoded.extend_from_slice(&value);
                Ok(())
            }
            WireType::Varint => {
                let value = decode_varint(buf)?;
                encode_key(tag, wire_type, &mut self.encoded);
                encode_varint(value, &mut self.encoded);
                Ok(())
            }
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        self.encoded.len()
    }

    fn clear(&mut self) {
        self.encoded.clear();
    }
}
