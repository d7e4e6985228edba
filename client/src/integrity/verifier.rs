//! The walk along a chain: each link at the next sequence, a row whose
//! digest is recomputed or a deleted entry's vouched-for digest, each hash
//! checked against the one before; the first break ends the walk.
//!
//! [`ChainVerifier`] takes the entries one at a time in sequence order and
//! holds only a few of them (the lookahead that tells a reordering from an
//! edit), so a file of any size verifies in constant memory.

use super::deletions::Deletions;
use super::{Verdict, to_hash};
use audit_proto::integrity::{GENESIS_HASH, chain_hash, content_digest, to_hex};
use audit_proto::{AuditLog, BreakKind, ChainStatus};
use std::collections::VecDeque;

/// How many following entries a mismatching one is compared against to
/// tell a reordering from an edit (as the server does).
const REORDER_LOOKAHEAD: usize = 8;

/// A link the chain must pass through, as a signed checkpoint states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPoint {
    /// The tenant whose chain it is: every entry must be of it.
    pub tenant_id: String,
    /// The link's sequence; 0 for an empty chain.
    pub sequence: i64,
    /// The link's hash (32 zero bytes at sequence 0).
    pub hash: [u8; 32],
}

/// What the verifier knows beyond the entries themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The hash of the link just before the first entry, for an export that
    /// starts after sequence 1; without it that first link is taken on
    /// trust. A whole chain needs none (its first link follows 32 zero
    /// bytes).
    pub anchor: Option<[u8; 32]>,
    /// A head hash kept elsewhere (an earlier verdict's `head_hash`, a
    /// checkpoint): the chain must end at it or pass through it, otherwise
    /// its tail was truncated or it was rewritten.
    pub head: Option<[u8; 32]>,
    /// A checkpoint whose signature was already checked: the link at its
    /// sequence must have its hash (else `CHECKPOINT_MISMATCH`: rewritten),
    /// and the entries must reach its sequence (else truncated). A
    /// checkpoint just before the first entry anchors it.
    pub checkpoint: Option<ChainPoint>,
}

/// Verifies the entries of one tenant's chain, in any order: sorts them by
/// sequence (in memory), recomputes every content digest, checks every
/// link, and stops at the first break. See [the module](super) for what an
/// export can and cannot prove; [`super::verify_ndjson_file`] does the same
/// for a file of any size in bounded memory.
///
/// ```
/// use audit_client::integrity::{VerifyOptions, verify_entries};
///
/// let verdict = verify_entries(Vec::new(), &VerifyOptions::default());
/// assert!(verdict.is_intact());
/// assert_eq!(verdict.entries_checked, 0);
/// ```
pub fn verify_entries(
    entries: impl IntoIterator<Item = audit_proto::AuditLog>,
    options: &VerifyOptions,
) -> Verdict {
    let mut entries: Vec<AuditLog> = entries.into_iter().collect();
    // Stable, so a sequence taken twice shows up in the order it was read.
    entries.sort_by_key(|entry| entry.sequence);
    let mut deletions = Deletions::default();
    for entry in &entries {
        deletions.note(entry);
    }
    let mut verifier = ChainVerifier::new(options, deletions);
    for entry in entries {
        if !verifier.push(entry) {
            break;
        }
    }
    verifier.finish()
}

/// A sequence and the hash of its link.
#[derive(Debug, Clone, Copy)]
struct Link {
    sequence: i64,
    hash: [u8; 32],
}

/// A verification under way, fed entries in sequence order.
pub struct ChainVerifier {
    deletions: Deletions,
    options: VerifyOptions,
    /// The checkpoint's link, copied out of `options`.
    checkpoint: Option<Link>,
    /// Entries read but not yet checked: the one to check next and the
    /// lookahead after it.
    window: VecDeque<AuditLog>,
    /// The tenant of the first entry; every other must share it.
    tenant: Option<String>,
    /// The hash of the last link; None only before the first row of an
    /// unanchored stretch.
    previous: Option<[u8; 32]>,
    /// The sequence the next link must have; 0 before the first entry.
    next: i64,
    /// The deleted sequence just passed, if the last link was one: a link
    /// that then fails to follow blames it.
    after_tombstone: Option<i64>,
    reached_head: bool,
    reached_checkpoint: bool,
    verdict: Verdict,
    /// Set at the first break; nothing after it is looked at.
    broken: Option<Verdict>,
}

impl ChainVerifier {
    /// Starts a verification; `deletions` are the tombstones vouched for by
    /// the deletion records of the whole input (collected beforehand, as a
    /// record comes after the entry it deletes).
    pub(crate) fn new(options: &VerifyOptions, deletions: Deletions) -> Self {
        Self {
            deletions,
            options: options.clone(),
            checkpoint: options.checkpoint.as_ref().map(|checkpoint| Link {
                sequence: checkpoint.sequence,
                hash: checkpoint.hash,
            }),
            window: VecDeque::with_capacity(REORDER_LOOKAHEAD + 1),
            // The checkpoint's tenant, when there is one, is the one the
            // entries must be of.
            tenant: options
                .checkpoint
                .as_ref()
                .map(|checkpoint| checkpoint.tenant_id.clone()),
            previous: options.anchor,
            next: 0,
            after_tombstone: None,
            reached_head: options.head.is_some() && options.head == options.anchor,
            reached_checkpoint: options
                .checkpoint
                .as_ref()
                .is_none_or(|checkpoint| checkpoint.sequence == 0),
            verdict: Verdict {
                status: ChainStatus::Intact,
                first_broken_sequence: 0,
                kind: BreakKind::Unspecified,
                detail: String::new(),
                entries_checked: 0,
                tombstones: 0,
                first_sequence: 0,
                last_sequence: 0,
                head_hash: None,
                anchored: true,
            },
            broken: None,
        }
    }

    /// Takes the next entry (in sequence order); returns false once the
    /// chain is known to be broken, when the caller may stop reading.
    pub(crate) fn push(&mut self, entry: AuditLog) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.window.push_back(entry);
        if self.window.len() > REORDER_LOOKAHEAD {
            self.check_front();
        }
        self.broken.is_none()
    }

    /// Checks what is left and returns the verdict.
    pub(crate) fn finish(mut self) -> Verdict {
        while !self.window.is_empty() && self.broken.is_none() {
            self.check_front();
        }
        if let Some(verdict) = self.broken {
            return verdict;
        }
        if self.next == 0 {
            // No entries: the chain is empty; a checkpoint past 0 is not
            // reached.
            self.start_empty();
        }
        if let Some(checkpoint) = self.checkpoint
            && !self.reached_checkpoint
        {
            let detail = format!(
                "the entries end at sequence {}, before the checkpoint's sequence {}: \
                 the tail was truncated",
                self.verdict.last_sequence, checkpoint.sequence
            );
            return self.broken(checkpoint.sequence, BreakKind::CheckpointMismatch, &detail);
        }
        if let Some(head) = self.options.head
            && !self.reached_head
        {
            let detail = format!(
                "the chain never reaches the head {}: its tail was truncated or it was rewritten",
                to_hex(&head)
            );
            let sequence = self.verdict.last_sequence;
            return self.broken(sequence, BreakKind::HashMismatch, &detail);
        }
        self.verdict
    }

    fn start_empty(&mut self) {
        if let Some(checkpoint) = self.checkpoint
            && checkpoint.sequence == 0
            && checkpoint.hash != GENESIS_HASH
        {
            self.fail(
                0,
                BreakKind::CheckpointMismatch,
                "the checkpoint of an empty chain must have 32 zero bytes as its head hash",
            );
        }
    }

    /// Checks the entry at the front of the window.
    fn check_front(&mut self) {
        let Some(sequence) = self.window.front().map(|entry| entry.sequence) else {
            return;
        };
        if self.next == 0 && !self.start(sequence) {
            return;
        }
        if sequence < self.next {
            let detail = format!("sequence {sequence} appears twice");
            return self.fail(sequence, BreakKind::UnexpectedEntry, &detail);
        }
        let entry = &self.window[0];
        let tenant = self.tenant.get_or_insert_with(|| entry.tenant_id.clone());
        if entry.tenant_id != *tenant {
            let detail = format!("belongs to tenant {:?}, not {tenant:?}", entry.tenant_id);
            return self.fail(sequence, BreakKind::UnexpectedEntry, &detail);
        }
        while sequence > self.next {
            let Some(digest) = self.deletions.digest_of(self.next).copied() else {
                let next = self.next;
                return self.fail(
                    next,
                    BreakKind::Gap,
                    "missing, and no deletion record names it",
                );
            };
            if !self.pass_tombstone(digest) {
                return;
            }
        }
        self.check_row();
        self.window.pop_front();
    }

    /// Sets up the walk at the first entry's sequence; false when that
    /// already breaks the chain.
    fn start(&mut self, lowest: i64) -> bool {
        if lowest < 1 {
            self.fail(0, BreakKind::UnexpectedEntry, "an entry without a sequence");
            return false;
        }
        // A whole chain whose first entries were deleted still starts at 1.
        let start = if self.deletions.cover_all_before(lowest) {
            1
        } else {
            lowest
        };
        if start == 1 && self.previous.is_none() {
            self.previous = Some(GENESIS_HASH);
        }
        if let Some(checkpoint) = self.checkpoint
            && checkpoint.sequence > 0
            && checkpoint.sequence < start
        {
            if checkpoint.sequence < start - 1 {
                let detail = format!(
                    "the entries start at sequence {start}, after the checkpoint's sequence {}: \
                     they cannot show that the chain passes through it",
                    checkpoint.sequence
                );
                self.fail(checkpoint.sequence, BreakKind::CheckpointMismatch, &detail);
                return false;
            }
            // The checkpoint is the link just before the first entry: its
            // hash anchors the stretch.
            match self.previous {
                None => self.previous = Some(checkpoint.hash),
                Some(anchor) if anchor != checkpoint.hash => {
                    self.fail(
                        checkpoint.sequence,
                        BreakKind::CheckpointMismatch,
                        "the anchor differs from the checkpoint's head hash at the same sequence",
                    );
                    return false;
                }
                Some(_) => {}
            }
            self.reached_checkpoint = true;
        }
        if let Some(checkpoint) = self.checkpoint
            && checkpoint.sequence == 0
            && checkpoint.hash != GENESIS_HASH
        {
            self.start_empty();
            return false;
        }
        self.verdict.anchored = self.previous.is_some();
        self.verdict.first_sequence = start;
        self.next = start;
        true
    }

    /// Links a deleted entry by the digest its deletion record names; false
    /// when that breaks the chain.
    fn pass_tombstone(&mut self, digest: [u8; 32]) -> bool {
        let hash = self.previous.map(|previous| chain_hash(&digest, &previous));
        self.verdict.tombstones += 1;
        self.after_tombstone = Some(self.next);
        self.advance(hash)
    }

    /// Checks the row at the front of the window, which stands at the
    /// expected sequence.
    fn check_row(&mut self) {
        let entry = &self.window[0];
        let sequence = entry.sequence;
        let (Some(stated_digest), Some(stated_hash)) =
            (to_hash(&entry.content_digest), to_hash(&entry.hash))
        else {
            return self.fail(
                sequence,
                BreakKind::HashMismatch,
                "content_digest or hash is missing or not 32 bytes",
            );
        };
        let digest = match content_digest(entry) {
            Ok(digest) => digest,
            Err(error) => {
                let detail = format!("no canonical form: {error}");
                return self.fail(sequence, BreakKind::HashMismatch, &detail);
            }
        };
        if digest != stated_digest {
            let kind = self.mismatch_kind(stated_hash);
            return self.fail(
                sequence,
                kind,
                "the entry's content does not match its content_digest",
            );
        }
        if let Some(previous) = self.previous
            && chain_hash(&digest, &previous) != stated_hash
        {
            if let Some(deleted) = self.after_tombstone {
                return self.fail(
                    deleted,
                    BreakKind::UnmatchedTombstone,
                    "the digest its deletion record names does not link the next entry",
                );
            }
            let kind = self.mismatch_kind(stated_hash);
            return self.fail(
                sequence,
                kind,
                "hash is not SHA-256(content_digest ‖ previous hash)",
            );
        }
        self.after_tombstone = None;
        self.advance(Some(stated_hash));
    }

    /// Tells a reordering (a following entry belongs at this sequence) from
    /// any other mismatch.
    fn mismatch_kind(&self, stated_hash: [u8; 32]) -> BreakKind {
        let sequence = self.window[0].sequence;
        for entry in self.window.iter().skip(1) {
            let mut moved = entry.clone();
            moved.sequence = sequence;
            let Ok(digest) = content_digest(&moved) else {
                continue;
            };
            let belongs_here = match self.previous {
                Some(previous) => {
                    let hash = chain_hash(&digest, &previous);
                    hash == stated_hash || Some(hash) == to_hash(&entry.hash)
                }
                None => Some(digest) == to_hash(&entry.content_digest),
            };
            if belongs_here {
                return BreakKind::Reordering;
            }
        }
        BreakKind::HashMismatch
    }

    /// Moves past a checked link whose hash is `hash` (None while unknown);
    /// false when it contradicts the checkpoint.
    fn advance(&mut self, hash: Option<[u8; 32]>) -> bool {
        if hash.is_some() && hash == self.options.head {
            self.reached_head = true;
        }
        if let Some(checkpoint) = self.checkpoint
            && checkpoint.sequence == self.next
        {
            if hash != Some(checkpoint.hash) {
                let detail = format!(
                    "the link at the checkpoint's sequence does not have its head hash {}: \
                     the chain was rewritten",
                    to_hex(&checkpoint.hash)
                );
                self.fail(self.next, BreakKind::CheckpointMismatch, &detail);
                return false;
            }
            self.reached_checkpoint = true;
        }
        self.previous = hash;
        self.verdict.head_hash = hash;
        self.verdict.last_sequence = self.next;
        self.verdict.entries_checked += 1;
        self.next += 1;
        true
    }

    /// Records the first break.
    fn fail(&mut self, sequence: i64, kind: BreakKind, detail: &str) {
        if self.broken.is_none() {
            self.broken = Some(self.broken(sequence, kind, detail));
        }
    }

    fn broken(&self, sequence: i64, kind: BreakKind, detail: &str) -> Verdict {
        Verdict {
            status: ChainStatus::Broken,
            first_broken_sequence: sequence,
            kind,
            detail: detail.to_owned(),
            ..self.verdict.clone()
        }
    }
}
