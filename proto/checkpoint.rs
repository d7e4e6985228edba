//! Signed checkpoints of a tenant's chain head (`docs/integrity.md`,
//! "Checkpoints"): their canonical bytes, the key id, and signature
//! verification, so that anyone holding a checkpoint and a public key can
//! check it without the server.
//!
//! Like the entry bytes, the format is frozen; a change needs a new tag.

use crate::{Checkpoint, PrunedCheckpoint};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// Prefixes every checkpoint's canonical bytes, so a signature over them can
/// never be replayed as a signature over anything else.
pub const CHECKPOINT_DOMAIN_TAG: &[u8] = b"audit.v1.checkpoint\n";

/// Prefixes a pruned checkpoint's canonical bytes ("purged through this
/// sequence, whose link had this hash"): another tag than
/// [`CHECKPOINT_DOMAIN_TAG`], so neither signature passes for the other.
pub const PRUNED_CHECKPOINT_DOMAIN_TAG: &[u8] = b"audit.v1.pruned-checkpoint\n";

/// The only algorithm checkpoints are signed with today.
pub const ED25519: &str = "ed25519";

/// Why a checkpoint does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// `head_hash` is not 32 bytes.
    HeadHashLength(usize),
    /// `time` is missing or outside what microseconds in an i64 can hold.
    Time,
    /// The key id names no key the verifier holds.
    UnknownKey(String),
    /// `signature` is not 64 bytes, or the public key is not a valid point.
    Malformed(String),
    /// The signature does not verify over the checkpoint's bytes.
    BadSignature,
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::HeadHashLength(len) => {
                write!(f, "head_hash must be 32 bytes, got {len}")
            }
            CheckpointError::Time => f.write_str("time is missing or out of range"),
            CheckpointError::UnknownKey(key_id) => write!(f, "unknown key_id {key_id:?}"),
            CheckpointError::Malformed(reason) => f.write_str(reason),
            CheckpointError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

// `Display` by hand: no `thiserror` in the contract crate keeps the
// dependency list of offline verifiers short.
impl std::error::Error for CheckpointError {}

/// Returns the canonical bytes a checkpoint's signature covers:
/// tag ‖ text(tenant_id) ‖ i64(sequence) ‖ head_hash (32 bytes) ‖
/// i64(time in microseconds) ‖ text(key_id), where a text is a 4-byte
/// big-endian length and UTF-8, and integers are big-endian.
pub fn canonical_checkpoint_bytes(
    tenant_id: &str,
    sequence: i64,
    head_hash: &[u8; 32],
    time_micros: i64,
    key_id: &str,
) -> Vec<u8> {
    tagged_bytes(
        CHECKPOINT_DOMAIN_TAG,
        tenant_id,
        sequence,
        head_hash,
        time_micros,
        key_id,
    )
}

/// Returns the canonical bytes a pruned checkpoint's signature covers: the
/// layout of [`canonical_checkpoint_bytes`] behind
/// [`PRUNED_CHECKPOINT_DOMAIN_TAG`], where `sequence` is the last purged
/// one and `head_hash` its link's hash.
pub fn canonical_pruned_checkpoint_bytes(
    tenant_id: &str,
    sequence: i64,
    head_hash: &[u8; 32],
    time_micros: i64,
    key_id: &str,
) -> Vec<u8> {
    tagged_bytes(
        PRUNED_CHECKPOINT_DOMAIN_TAG,
        tenant_id,
        sequence,
        head_hash,
        time_micros,
        key_id,
    )
}

fn tagged_bytes(
    tag: &[u8],
    tenant_id: &str,
    sequence: i64,
    head_hash: &[u8; 32],
    time_micros: i64,
    key_id: &str,
) -> Vec<u8> {
    let mut bytes =
        Vec::with_capacity(tag.len() + 4 + tenant_id.len() + 8 + 32 + 8 + 4 + key_id.len());
    bytes.extend_from_slice(tag);
    push_text(&mut bytes, tenant_id);
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(head_hash);
    bytes.extend_from_slice(&time_micros.to_be_bytes());
    push_text(&mut bytes, key_id);
    bytes
}

fn push_text(bytes: &mut Vec<u8>, text: &str) {
    // Texts longer than 4 GiB cannot reach here: gRPC messages are far
    // smaller, so the length always fits.
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(text.as_bytes());
}

/// Returns the canonical bytes of a checkpoint message.
pub fn checkpoint_bytes(checkpoint: &Checkpoint) -> Result<Vec<u8>, CheckpointError> {
    let (head_hash, time_micros) = hash_and_time(&checkpoint.head_hash, checkpoint.time.as_ref())?;
    Ok(canonical_checkpoint_bytes(
        &checkpoint.tenant_id,
        checkpoint.sequence,
        &head_hash,
        time_micros,
        &checkpoint.key_id,
    ))
}

/// Returns the canonical bytes of a pruned checkpoint message.
pub fn pruned_checkpoint_bytes(checkpoint: &PrunedCheckpoint) -> Result<Vec<u8>, CheckpointError> {
    let (head_hash, time_micros) = hash_and_time(&checkpoint.head_hash, checkpoint.time.as_ref())?;
    Ok(canonical_pruned_checkpoint_bytes(
        &checkpoint.tenant_id,
        checkpoint.sequence,
        &head_hash,
        time_micros,
        &checkpoint.key_id,
    ))
}

fn hash_and_time(
    head_hash: &[u8],
    time: Option<&prost_types::Timestamp>,
) -> Result<([u8; 32], i64), CheckpointError> {
    let head_hash: [u8; 32] = head_hash
        .try_into()
        .map_err(|_| CheckpointError::HeadHashLength(head_hash.len()))?;
    let time = time.ok_or(CheckpointError::Time)?;
    let time_micros = time
        .seconds
        .checked_mul(1_000_000)
        .and_then(|micros| micros.checked_add(i64::from(time.nanos / 1_000)))
        .ok_or(CheckpointError::Time)?;
    Ok((head_hash, time_micros))
}

/// Returns the key id of an Ed25519 public key: lowercase hex of the first
/// 8 bytes of its SHA-256.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    crate::integrity::to_hex(&digest[..8])
}

/// Checks a checkpoint's signature with `public_key` (32 raw bytes); the
/// checkpoint's `key_id` must be that key's.
pub fn verify_checkpoint(
    checkpoint: &Checkpoint,
    public_key: &[u8; 32],
) -> Result<(), CheckpointError> {
    if checkpoint.key_id != key_id(public_key) {
        return Err(CheckpointError::UnknownKey(checkpoint.key_id.clone()));
    }
    verify_signature(
        &checkpoint_bytes(checkpoint)?,
        &checkpoint.signature,
        public_key,
    )
}

/// Checks a pruned checkpoint's signature with `public_key` (32 raw
/// bytes); its `key_id` must be that key's.
pub fn verify_pruned_checkpoint(
    checkpoint: &PrunedCheckpoint,
    public_key: &[u8; 32],
) -> Result<(), CheckpointError> {
    if checkpoint.key_id != key_id(public_key) {
        return Err(CheckpointError::UnknownKey(checkpoint.key_id.clone()));
    }
    verify_signature(
        &pruned_checkpoint_bytes(checkpoint)?,
        &checkpoint.signature,
        public_key,
    )
}

fn verify_signature(
    bytes: &[u8],
    signature: &[u8],
    public_key: &[u8; 32],
) -> Result<(), CheckpointError> {
    let key = VerifyingKey::from_bytes(public_key)
        .map_err(|_| CheckpointError::Malformed("public key is not an Ed25519 key".into()))?;
    let signature = Signature::from_slice(signature).map_err(|_| {
        CheckpointError::Malformed(format!(
            "signature must be 64 bytes, got {}",
            signature.len()
        ))
    })?;
    // Strict: rejects the malleable and small-order forms plain `verify`
    // lets through, so one checkpoint has one valid signature.
    key.verify_strict(bytes, &signature)
        .map_err(|_| CheckpointError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_follow_the_documented_layout() {
        let bytes = canonical_checkpoint_bytes("acme", 3, &[0xab; 32], -1, "k1");
        let mut expected = b"audit.v1.checkpoint\n".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 4]);
        expected.extend_from_slice(b"acme");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        expected.extend_from_slice(&[0xab; 32]);
        expected.extend_from_slice(&[0xff; 8]);
        expected.extend_from_slice(&[0, 0, 0, 2]);
        expected.extend_from_slice(b"k1");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pruned_bytes_differ_from_ordinary_ones_only_in_the_tag() {
        let ordinary = canonical_checkpoint_bytes("acme", 3, &[0xab; 32], -1, "k1");
        let pruned = canonical_pruned_checkpoint_bytes("acme", 3, &[0xab; 32], -1, "k1");
        let mut expected = b"audit.v1.pruned-checkpoint\n".to_vec();
        expected.extend_from_slice(&ordinary[CHECKPOINT_DOMAIN_TAG.len()..]);
        assert_eq!(pruned, expected);
    }

    #[test]
    fn key_id_is_eight_bytes_of_hex() {
        assert_eq!(key_id(&[0; 32]).len(), 16);
    }
}
