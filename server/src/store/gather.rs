//! Gathering: after it answers a small group, the only writer running
//! waits a moment for its callers' next appends before it takes the next
//! group, so that callers that send their next append as soon as they get
//! an answer share one transaction. It waits only when fewer entries are
//! queued than it just wrote (the callers answered have not come back yet),
//! and then until the entries of both are queued.
//!
//! Why: without it, a few such callers split into two groups that take
//! turns (one group's callers come back while the other's transaction
//! runs), and on Postgres a transaction's cost barely depends on its size
//! at this scale (about 1 ms for one entry or four: starting the executor,
//! the statement's own steps, the commit and its WAL flush). Single
//! appends from 4 clients over 64 tenants, 20,000-event bench: groups of
//! 3 and 1 in turn without gathering, 4 with it; Postgres CPU per call
//! 0.31 against 0.21 ms; 0.62 to 0.75 of the direct INSERTs without,
//! 0.80 to 0.86 with. Waiting only for as many as were written (not also
//! for those already queued) left groups of 3 once a caller fell out of
//! step: 0.67 to 0.84.
//!
//! A steady stream from many independent callers is rarely held up: the
//! calls that arrived during a transaction are about as many as it wrote.
//! The wait ends as soon as enough entries wait, when another writer
//! starts, or after [`GATHER_WAIT`]. A wait that runs out lowers what the
//! writer expects next time to what came, and each transaction raises it
//! by one again: callers that stopped, or that send at their own pace, cost
//! a wait now and then rather than one per transaction. Only calls already
//! queued can be held up, and by at most the wait: a lone caller never is
//! (the one entry expected is its own next call), and a writer with nothing
//! queued that waits in vain just stops later.

use super::group_commit::ANOTHER_WRITER_ENTRIES;
use std::time::Duration;

/// The longest a writer waits for callers to come back. tokio's timers
/// tick every millisecond, so a wait that runs out lasts one to two.
pub(crate) const GATHER_WAIT: Duration = Duration::from_millis(1);

/// What a writer expects to gather: learned from the waits before.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Gathering {
    /// Most entries the next wait expects.
    expected: usize,
}

impl Gathering {
    /// A writer expecting at most `expected` entries.
    #[cfg(test)]
    pub(crate) fn expecting(expected: usize) -> Self {
        Self { expected }
    }

    /// How many entries to wait for after a transaction that wrote
    /// `written`, with `waiting` already queued; None when not to wait:
    /// as many wait already, a large group amortises its transaction by
    /// itself, or another writer runs (the next group is not this writer's
    /// to shape).
    pub(crate) fn target(
        &mut self,
        written: usize,
        waiting: usize,
        other_writers: bool,
    ) -> Option<usize> {
        if written >= ANOTHER_WRITER_ENTRIES || other_writers || waiting >= written {
            return None;
        }
        self.expected = (self.expected + 1).min(ANOTHER_WRITER_ENTRIES);
        let target = (written + waiting).min(self.expected);
        (waiting < target).then_some(target)
    }

    /// A wait ran out with `arrived` entries queued: expect that many next.
    pub(crate) fn ran_out(&mut self, arrived: usize) {
        self.expected = arrived;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_waits_until_its_answered_callers_are_back() {
        let mut gathering = Gathering::expecting(ANOTHER_WRITER_ENTRIES);
        assert_eq!(
            gathering.target(4, 0, false),
            Some(4),
            "the four callers answered"
        );
        assert_eq!(
            gathering.target(3, 1, false),
            Some(4),
            "three answered, one already back"
        );
        assert_eq!(gathering.target(4, 4, false), None, "as many wait already");
        assert_eq!(
            gathering.target(ANOTHER_WRITER_ENTRIES, 0, false),
            None,
            "a large group needs no company"
        );
        assert_eq!(
            gathering.target(4, 0, true),
            None,
            "another writer takes what comes"
        );
    }

    #[test]
    fn a_wait_that_ran_out_lowers_the_next_and_transactions_raise_it_again() {
        let mut gathering = Gathering::default();
        assert_eq!(gathering.target(4, 0, false), Some(1), "learned from zero");
        assert_eq!(gathering.target(4, 0, false), Some(2));
        assert_eq!(gathering.target(4, 0, false), Some(3));
        assert_eq!(gathering.target(4, 0, false), Some(4));
        // One of four callers stopped: three came back.
        gathering.ran_out(3);
        assert_eq!(gathering.target(3, 0, false), Some(3));
        assert_eq!(gathering.target(4, 0, false), Some(4), "raised by one");
        // Nobody came: the next wait expects one entry.
        gathering.ran_out(0);
        assert_eq!(gathering.target(4, 0, false), Some(1));
    }
}
