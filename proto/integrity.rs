//! The canonical bytes of an entry and the hash chain built on them, as
//! specified in `docs/integrity.md`: the one encoder the server chains with
//! and an offline verifier can recompute with.
//!
//! The format is frozen: a change would break every stored chain, so a new
//! format would need a new domain tag.

mod canonical_json;

pub use canonical_json::{canonical_json, canonical_number};

use crate::AuditLog;
use sha2::{Digest, Sha256};

/// Prefixes every entry's canonical bytes, so they can never be mistaken for
/// another kind of hashed record.
pub const ENTRY_DOMAIN_TAG: &[u8] = b"audit.v1.entry\n";

/// The previous hash of a tenant's first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Why an entry has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalError {
    /// `id` is not a hyphenated UUID.
    InvalidId(String),
    /// A metadata number is NaN or infinite (JSON cannot hold it).
    NonFiniteNumber,
}

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CanonicalError::InvalidId(id) => write!(f, "entry id {id:?} is not a UUID"),
            CanonicalError::NonFiniteNumber => write!(f, "metadata holds a non-finite number"),
        }
    }
}

impl std::error::Error for CanonicalError {}

/// Returns the canonical bytes of an entry. `content_digest` and `hash` are
/// not part of them; `sequence` is.
pub fn canonical_bytes(entry: &AuditLog) -> Result<Vec<u8>, CanonicalError> {
    // Borrowed, not cloned: this runs once per entry on every append and
    // every verification.
    let (no_actor, no_target, no_request) = Default::default();
    let actor: &crate::Actor = entry.actor.as_ref().unwrap_or(&no_actor);
    let target: &crate::Target = entry.target.as_ref().unwrap_or(&no_target);
    let request: &crate::RequestInfo = entry.request.as_ref().unwrap_or(&no_request);
    let metadata = match &entry.metadata {
        None => String::new(),
        Some(fields) => canonical_json(fields)?,
    };
    let mut out = Vec::with_capacity(256 + metadata.len());
    out.extend_from_slice(ENTRY_DOMAIN_TAG);
    put_text(&mut out, &entry.tenant_id);
    out.extend_from_slice(&uuid_bytes(&entry.id)?);
    out.extend_from_slice(&entry.sequence.to_be_bytes());
    out.extend_from_slice(&micros(entry.occurred_at.as_ref()).to_be_bytes());
    out.extend_from_slice(&micros(entry.received_at.as_ref()).to_be_bytes());
    put_text(&mut out, &entry.action);
    put_text(&mut out, &actor.id);
    out.extend_from_slice(&actor.r#type.to_be_bytes());
    put_text(&mut out, &actor.name);
    put_text(&mut out, &actor.email);
    put_text(&mut out, &target.r#type);
    put_text(&mut out, &target.id);
    put_text(&mut out, &target.name);
    out.extend_from_slice(&entry.result.to_be_bytes());
    put_text(&mut out, &entry.client_ip);
    put_text(&mut out, &entry.user_agent);
    put_text(&mut out, &request.method);
    put_text(&mut out, &request.path);
    out.extend_from_slice(&request.status_code.to_be_bytes());
    put_text(&mut out, &metadata);
    put_text(&mut out, &entry.request_id);
    put_text(&mut out, &entry.idempotency_key);
    Ok(out)
}

/// Returns SHA-256 of the entry's canonical bytes.
pub fn content_digest(entry: &AuditLog) -> Result<[u8; 32], CanonicalError> {
    Ok(Sha256::digest(canonical_bytes(entry)?).into())
}

/// Returns SHA-256(content_digest ‖ previous_hash): the link that makes
/// every entry vouch for all the ones before it.
pub fn chain_hash(content_digest: &[u8; 32], previous_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(content_digest);
    hasher.update(previous_hash);
    hasher.finalize().into()
}

/// Returns lowercase hex, the form digests take in metadata and vectors.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// A 4-byte big-endian length, then the UTF-8 bytes. Fields are bounded
/// far below 4 GiB by validation; a longer one would saturate the length
/// rather than wrap.
fn put_text(out: &mut Vec<u8>, text: &str) {
    let length = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Microseconds since the epoch; an absent time counts as 0 (the service
/// always sets both times).
fn micros(timestamp: Option<&prost_types::Timestamp>) -> i64 {
    timestamp.map_or(0, |time| {
        time.seconds * 1_000_000 + i64::from(time.nanos).div_euclid(1_000)
    })
}

/// The 16 bytes of a hyphenated UUID (either case).
fn uuid_bytes(id: &str) -> Result<[u8; 16], CanonicalError> {
    let invalid = || CanonicalError::InvalidId(id.to_owned());
    let bytes = id.as_bytes();
    if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&dash| bytes[dash] != b'-') {
        return Err(invalid());
    }
    let digits: Vec<u8> = bytes
        .iter()
        .filter(|&&byte| byte != b'-')
        .map(|&byte| char::from(byte).to_digit(16).map(|digit| digit as u8))
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    if digits.len() != 32 {
        return Err(invalid());
    }
    let mut out = [0u8; 16];
    for (index, pair) in digits.chunks_exact(2).enumerate() {
        out[index] = (pair[0] << 4) | pair[1];
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
