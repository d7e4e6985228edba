//! What an offline verification found: the fields of the server's
//! `ChainVerdict`, plus where the verified stretch begins and ends and
//! whether its first link could be checked.

use audit_proto::{BreakKind, ChainStatus};

/// The result of verifying a stretch of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Intact` or `Broken`.
    pub status: ChainStatus,
    /// The first sequence found wrong; 0 when intact, or for an entry
    /// without a sequence.
    pub first_broken_sequence: i64,
    /// What was wrong; `Unspecified` when intact.
    pub kind: BreakKind,
    /// Why, in words; empty when intact.
    pub detail: String,
    /// Links checked before the break (all of them when intact), the
    /// deleted entries' links included.
    pub entries_checked: u64,
    /// How many of those were deleted entries, vouched for by a deletion
    /// record.
    pub tombstones: u64,
    /// The first sequence of the stretch (1 for a whole chain); 0 when
    /// there was nothing to check.
    pub first_sequence: i64,
    /// The last sequence checked; 0 when none was.
    pub last_sequence: i64,
    /// The hash of the last link checked: the head a later verification
    /// must extend. None when no link was checked.
    pub head_hash: Option<[u8; 32]>,
    /// False when the first link was taken on trust: the stretch starts
    /// after sequence 1 and no anchor was given.
    pub anchored: bool,
}

impl Verdict {
    /// Returns true when no break was found.
    pub fn is_intact(&self) -> bool {
        self.status == ChainStatus::Intact
    }

    /// Returns the break kind as the contract spells it without its prefix
    /// (`HASH_MISMATCH`, `GAP`, …).
    pub fn kind_name(&self) -> &'static str {
        let name = self.kind.as_str_name();
        name.strip_prefix("BREAK_KIND_").unwrap_or(name)
    }
}
