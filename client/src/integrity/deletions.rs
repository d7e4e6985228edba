//! The tombstones an export vouches for: deleted entries do not appear in
//! it, but the `audit_log.deleted` record chained after each names the
//! deleted sequence and content digest.

use super::parse_hash;
use audit_proto::AuditLog;
use prost_types::value::Kind;
use std::collections::HashMap;

/// The action of the record a deletion appends.
pub const DELETED_ACTION: &str = "audit_log.deleted";
/// The metadata key naming the deleted sequence (a number).
pub const DELETED_SEQUENCE_KEY: &str = "deleted_sequence";
/// The metadata key naming the deleted content digest (lowercase hex).
pub const DELETED_DIGEST_KEY: &str = "deleted_content_digest";

/// Deleted sequence → the sequence of its deletion record and the content
/// digest that record names.
#[derive(Debug, Default)]
pub struct Deletions {
    digests: HashMap<i64, (i64, [u8; 32])>,
}

impl Deletions {
    /// Notes the tombstone `entry` names, if it is a deletion record. A
    /// record counts only for a sequence before its own, as the server
    /// requires: a deletion cannot precede what it deletes.
    pub fn note(&mut self, entry: &AuditLog) {
        if entry.action != DELETED_ACTION {
            return;
        }
        let Some(metadata) = &entry.metadata else {
            return;
        };
        let sequence = match metadata
            .fields
            .get(DELETED_SEQUENCE_KEY)
            .and_then(|value| value.kind.as_ref())
        {
            Some(Kind::NumberValue(number)) if number.fract() == 0.0 => *number as i64,
            _ => return,
        };
        let digest = match metadata
            .fields
            .get(DELETED_DIGEST_KEY)
            .and_then(|value| value.kind.as_ref())
        {
            Some(Kind::StringValue(hex)) => parse_hash(hex),
            _ => None,
        };
        if let Some(digest) = digest
            && sequence > 0
            && sequence < entry.sequence
        {
            // The earliest record wins whatever order the entries come in,
            // as it would in the chain.
            let named = self
                .digests
                .entry(sequence)
                .or_insert((entry.sequence, digest));
            if entry.sequence < named.0 {
                *named = (entry.sequence, digest);
            }
        }
    }

    /// Returns the digest the deletion record of `sequence` names.
    pub fn digest_of(&self, sequence: i64) -> Option<&[u8; 32]> {
        self.digests.get(&sequence).map(|(_, digest)| digest)
    }

    /// Returns true when every sequence from 1 up to `sequence` (exclusive)
    /// was deleted.
    pub fn cover_all_before(&self, sequence: i64) -> bool {
        (1..sequence).all(|earlier| self.digests.contains_key(&earlier))
    }
}
