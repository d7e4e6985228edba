//! The per-tenant hash chain as the domain sees it: an entry's link, and
//! what verification reports (`docs/integrity.md`).

pub use audit_proto::{BreakKind, ChainStatus};

/// The action of the record every deletion appends.
pub const DELETED_ACTION: &str = "audit_log.deleted";

/// Metadata key of a deletion record that names the deleted sequence.
pub const DELETED_SEQUENCE_KEY: &str = "deleted_sequence";
/// Metadata key of a deletion record that names the deleted entry's content
/// digest, in lowercase hex.
pub const DELETED_DIGEST_KEY: &str = "deleted_content_digest";

/// Where an entry sits in its tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// 1, 2, 3, … per tenant, in commit order.
    pub sequence: i64,
    /// SHA-256 of the entry's canonical bytes.
    pub content_digest: [u8; 32],
    /// SHA-256(content_digest ‖ previous hash).
    pub hash: [u8; 32],
}

/// How far a verification has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainProgress {
    pub checked_through_sequence: i64,
    pub entries_checked: i64,
}

/// The outcome of verifying a range of a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerdict {
    pub status: ChainStatus,
    /// The first sequence found wrong; 0 when intact or when the break has
    /// no sequence.
    pub first_broken_sequence: i64,
    pub kind: BreakKind,
    /// Sequences checked, tombstones included.
    pub entries_checked: i64,
    pub tombstones: i64,
    pub head_sequence: i64,
    pub head_hash: [u8; 32],
}
