//! Offline verification of a tenant's hash chain (`docs/integrity.md`) from
//! entries as an export holds them, so an auditor need not trust the
//! server: every content digest is recomputed with the contract crate's
//! encoder ([`audit_proto::integrity`]) and every link is checked.
//!
//! What an export can prove:
//! - It must be **unfiltered and of one tenant**: a filtered export holds
//!   only some links of the chain, and every missing one is a gap.
//! - Deleted entries do not appear in it. A missing sequence is accepted
//!   when an `audit_log.deleted` entry later in the same export names it
//!   (`deleted_sequence`, `deleted_content_digest`): the named digest stands
//!   in for the deleted entry's and the chain continues through it.
//! - It may start after sequence 1 (an export of a later range): the hash
//!   before its first entry is then unknown. Pass it as
//!   [`VerifyOptions::anchor`] to check the first link too; without one the
//!   first link is taken on trust ([`Verdict::anchored`] is false) and every
//!   later link is checked.
//! - It cannot show a truncated tail or a consistently rewritten chain by
//!   itself: pass a head hash kept elsewhere as [`VerifyOptions::head`] and
//!   the chain must reach it.
//!
//! - Given a signed checkpoint ([`VerifyOptions::checkpoint`], its
//!   signature checked beforehand with [`audit_proto::checkpoint`]), the
//!   link at its sequence must have its head hash, and the entries must
//!   reach it.
//!
//! Entries may come in any order (exports are newest first by default):
//! [`verify_entries`] sorts them by sequence in memory;
//! [`verify_ndjson_file`] streams a file already in sequence order and
//! sorts any other in bounded memory (runs spilled to temporary files).
//!
//! # Layout
//! - [`verify_entries`], [`VerifyOptions`]: the walk along the chain
//!   (`verifier`, one entry at a time).
//! - [`verify_ndjson_file`]: a file of any size (`ndjson`, `line` for the
//!   borrowed parsing, `sorted_lines` for the external sort).
//! - [`checkpoint_from_json`], [`checkpoint_to_json`]: checkpoint files.
//! - [`Verdict`]: what it found, shaped like `VerifyAuditChain`'s verdict.
//! - `deletions`: the tombstones the deletion records in an export name.

mod checkpoint_json;
mod deletions;
mod line;
mod metadata_line;
mod ndjson;
mod sorted_lines;
mod verdict;
mod verifier;

#[cfg(test)]
mod tests;

pub use checkpoint_json::{chain_point, checkpoint_from_json, checkpoint_to_json};
pub use ndjson::{NdjsonError, verify_ndjson_file};
pub use verdict::Verdict;
pub use verifier::{ChainPoint, VerifyOptions, verify_entries};

/// Returns the bytes of a hex string (either case); None when it is not hex.
///
/// ```
/// assert_eq!(audit_client::integrity::parse_hex("0aFf"), Some(vec![0x0a, 0xff]));
/// assert_eq!(audit_client::integrity::parse_hex("0g"), None);
/// ```
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high << 4 | low).ok()
        })
        .collect()
}

/// Returns a 32-byte hash from its hex form; None unless it is 64 hex digits.
pub fn parse_hash(text: &str) -> Option<[u8; 32]> {
    to_hash(&parse_hex(text)?)
}

/// The bytes as a 32-byte hash; None for any other length.
pub fn to_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).ok()
}
