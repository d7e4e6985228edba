//! The walk along a chain: each link at the next sequence, a row whose
//! digest is recomputed or a deleted entry's vouched-for digest, each hash
//! checked against the one before; the first break ends the walk.

use super::deletions::Deletions;
use super::{Verdict, to_hash};
use audit_proto::integrity::{GENESIS_HASH, chain_hash, content_digest, to_hex};
use audit_proto::{AuditLog, BreakKind, ChainStatus};

/// How many following entries a mismatching one is compared against to
/// tell a reordering from an edit (as the server does).
const REORDER_LOOKAHEAD: usize = 8;

/// What the verifier knows beyond the entries themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
}

/// Verifies the entries of one tenant's chain, in any order: sorts them by
/// sequence (in memory), recomputes every content digest, checks every
/// link, and stops at the first break. See [the module](super) for what an
/// export can and cannot prove.
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
    let deletions = Deletions::named_by(&entries);
    Walk::new(&entries, &deletions, options).run()
}

/// A verification under way.
struct Walk<'a> {
    entries: &'a [AuditLog],
    deletions: &'a Deletions,
    head: Option<[u8; 32]>,
    /// The hash of the last link; None only before the first row of an
    /// unanchored stretch.
    previous: Option<[u8; 32]>,
    /// The sequence the next link must have.
    next: i64,
    /// The deleted sequence just passed, if the last link was one: a link
    /// that then fails to follow blames it.
    after_tombstone: Option<i64>,
    reached_head: bool,
    verdict: Verdict,
}

impl<'a> Walk<'a> {
    fn new(entries: &'a [AuditLog], deletions: &'a Deletions, options: &VerifyOptions) -> Self {
        Self {
            entries,
            deletions,
            head: options.head,
            previous: options.anchor,
            next: 0,
            after_tombstone: None,
            reached_head: options.head.is_some() && options.head == options.anchor,
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
        }
    }

    fn run(mut self) -> Verdict {
        let Some(lowest) = self.entries.first().map(|entry| entry.sequence) else {
            return self.finish();
        };
        if lowest < 1 {
            return self.broken(0, BreakKind::UnexpectedEntry, "an entry without a sequence");
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
        self.verdict.anchored = self.previous.is_some();
        self.verdict.first_sequence = start;
        self.next = start;
        let entries = self.entries;
        let tenant = entries[0].tenant_id.as_str();
        for (index, entry) in entries.iter().enumerate() {
            if entry.sequence < self.next {
                let detail = format!("sequence {} appears twice", entry.sequence);
                return self.broken(entry.sequence, BreakKind::UnexpectedEntry, &detail);
            }
            if entry.tenant_id != tenant {
                let detail = format!("belongs to tenant {:?}, not {tenant:?}", entry.tenant_id);
                return self.broken(entry.sequence, BreakKind::UnexpectedEntry, &detail);
            }
            while entry.sequence > self.next {
                let Some(digest) = self.deletions.digest_of(self.next) else {
                    return self.broken(
                        self.next,
                        BreakKind::Gap,
                        "missing, and no deletion record names it",
                    );
                };
                self.pass_tombstone(*digest);
            }
            if let Some(verdict) = self.check_row(index) {
                return verdict;
            }
        }
        self.finish()
    }

    /// Links a deleted entry by the digest its deletion record names.
    fn pass_tombstone(&mut self, digest: [u8; 32]) {
        let hash = self.previous.map(|previous| chain_hash(&digest, &previous));
        self.verdict.tombstones += 1;
        self.after_tombstone = Some(self.next);
        self.advance(hash);
    }

    /// Checks the row at `index`, which stands at the expected sequence;
    /// returns the verdict when it breaks the chain.
    fn check_row(&mut self, index: usize) -> Option<Verdict> {
        let entries = self.entries;
        let entry = &entries[index];
        let sequence = entry.sequence;
        let (Some(stated_digest), Some(stated_hash)) =
            (to_hash(&entry.content_digest), to_hash(&entry.hash))
        else {
            return Some(self.broken(
                sequence,
                BreakKind::HashMismatch,
                "content_digest or hash is missing or not 32 bytes",
            ));
        };
        let digest = match content_digest(entry) {
            Ok(digest) => digest,
            Err(error) => {
                let detail = format!("no canonical form: {error}");
                return Some(self.broken(sequence, BreakKind::HashMismatch, &detail));
            }
        };
        if digest != stated_digest {
            let kind = self.mismatch_kind(index, stated_hash);
            return Some(self.broken(
                sequence,
                kind,
                "the entry's content does not match its content_digest",
            ));
        }
        if let Some(previous) = self.previous
            && chain_hash(&digest, &previous) != stated_hash
        {
            if let Some(deleted) = self.after_tombstone {
                return Some(self.broken(
                    deleted,
                    BreakKind::UnmatchedTombstone,
                    "the digest its deletion record names does not link the next entry",
                ));
            }
            let kind = self.mismatch_kind(index, stated_hash);
            return Some(self.broken(
                sequence,
                kind,
                "hash is not SHA-256(content_digest ‖ previous hash)",
            ));
        }
        self.after_tombstone = None;
        self.advance(Some(stated_hash));
        None
    }

    /// Tells a reordering (a following entry belongs at this sequence) from
    /// any other mismatch.
    fn mismatch_kind(&self, index: usize, stated_hash: [u8; 32]) -> BreakKind {
        let sequence = self.entries[index].sequence;
        let following = self.entries.iter().skip(index + 1).take(REORDER_LOOKAHEAD);
        for entry in following {
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

    /// Moves past a checked link whose hash is `hash` (None while unknown).
    fn advance(&mut self, hash: Option<[u8; 32]>) {
        if hash.is_some() && hash == self.head {
            self.reached_head = true;
        }
        self.previous = hash;
        self.verdict.head_hash = hash;
        self.verdict.last_sequence = self.next;
        self.verdict.entries_checked += 1;
        self.next += 1;
    }

    /// After the last entry: the head, if one was given, must have been
    /// reached.
    fn finish(self) -> Verdict {
        if let Some(head) = self.head
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
