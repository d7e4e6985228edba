//! Group commit: append calls that arrive while a write transaction runs
//! wait in a queue, and the next free writer stores everything queued (of
//! any tenants, up to a size) in one transaction. A second writer (up to
//! the most) starts only when enough entries wait (see
//! [`ANOTHER_WRITER_ENTRIES`]).
//!
//! Why: every transaction pays fixed costs: its round trips (one statement
//! on heads this server wrote last, else BEGIN, the head lock, the INSERT,
//! COMMIT; see `append`) and a WAL flush at commit, which for a one-entry
//! append is nearly all of its cost. Calls to one tenant take
//! turns on its chain-head lock anyway; calls to different tenants do not,
//! but on a small machine more concurrent transactions only queue for the
//! same cores and disk. Grouped, the calls waiting behind a transaction
//! share the next one. Each call still gets its own ids (or its own error),
//! only after the transaction holding its entries committed. After a
//! small group the writer waits a moment for its callers' next appends
//! (see `gather`).
//!
//! A tenant is in at most one transaction of this server at a time (its
//! calls wait while one runs), so its sequences follow arrival order and no
//! writer holds a connection idle on another writer's head lock. Writers are
//! tasks detached from the calls, so a client that leaves after sending
//! cannot cut a transaction short: its entries are stored or not, as a
//! timeout always left it (idempotency keys make a retry safe).

use super::append::{Stored, TenantBatch};
use super::gather::{GATHER_WAIT, Gathering};
use super::{AuditStore, StoreError};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

/// Most entries one grouped transaction takes (four full requests). A
/// request is never split: the first one taken is taken whatever its size.
const MAX_GROUP_ENTRIES: usize = 4000;

/// While a writer runs, another starts only once this many entries wait
/// (a writer taking the locked way does not count: it may wait on head
/// locks held elsewhere, and the calls queued meanwhile, of other tenants,
/// get a writer of their own).
/// Fewer join the running writer's next transaction: on a small machine a
/// second transaction for a few entries competes for the same cores and
/// costs Postgres a statement and a WAL flush of its own, where waiting
/// for the running one costs a fraction of a millisecond. Single appends
/// from 4 clients, 20,000-event bench, append pool (see `lease_pool`), two
/// A/B rounds: 0.80 and 0.93 of the direct INSERTs with one writer, 0.68
/// to 0.72 with two; Postgres CPU per call 0.26 against 0.42 ms. Full
/// requests (batch ingest) still get a writer each, up to the most.
pub(crate) const ANOTHER_WRITER_ENTRIES: usize = 100;

/// The queue of appends and the count of running writers; shared by every
/// clone of one store.
#[derive(Clone)]
pub(crate) struct AppendQueue {
    state: Arc<Mutex<QueueState>>,
    /// Told of every call queued, for a writer gathering (see `gather`).
    arrived: Arc<Notify>,
    max_writers: usize,
    written: Arc<WrittenCounts>,
}

/// Append transactions committed since start, by the way they took.
#[derive(Default)]
struct WrittenCounts {
    one_statement: AtomicU64,
    locked: AtomicU64,
}

/// Which way an append transaction took (see `append`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendWay {
    /// One statement on the chain heads this server wrote last.
    OneStatement,
    /// BEGIN, the head locks, the statement, COMMIT.
    Locked,
}

#[derive(Default)]
struct QueueState {
    /// Calls waiting, per tenant, in arrival order.
    waiting: HashMap<String, VecDeque<Pending>>,
    /// Tenants with calls waiting and none in a transaction, in the order
    /// they became so.
    ready: VecDeque<String>,
    /// Tenants with calls in a running transaction.
    writing: HashSet<String>,
    /// Entries of the calls waiting.
    waiting_entries: usize,
    /// Writer tasks running.
    writers: usize,
    /// Of those, writers taking the locked way.
    locking: usize,
    /// What a writer expects to gather after a small group.
    gathering: Gathering,
}

/// Append calls waiting and append transactions running, right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendQueueUse {
    /// Calls queued for the next transaction.
    pub waiting_calls: u64,
    /// Append transactions running (or about to).
    pub writers: u64,
    /// Most append transactions at once.
    pub max_writers: u64,
    /// Append transactions committed as one statement on remembered chain
    /// heads, since start.
    pub one_statement_writes: u64,
    /// Append transactions committed under the head locks, since start.
    pub locked_writes: u64,
}

/// The calls one transaction takes, and their entries (counted while
/// taken, for the gathering after it).
struct Group {
    calls: Vec<Pending>,
    entries: usize,
}

/// One append call waiting for its transaction.
struct Pending {
    batch: TenantBatch,
    reply: oneshot::Sender<Result<Vec<Uuid>, StoreError>>,
}

/// A poisoned lock only means a panic elsewhere; the queue stays usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppendQueue {
    /// A queue served by at most `max_writers` concurrent transactions.
    pub(crate) fn new(max_writers: usize) -> Self {
        Self {
            state: Arc::default(),
            arrived: Arc::default(),
            max_writers: max_writers.max(1),
            written: Arc::default(),
        }
    }

    /// Counts a committed append transaction.
    pub(crate) fn count_written(&self, way: AppendWay) {
        let counter = match way {
            AppendWay::OneStatement => &self.written.one_statement,
            AppendWay::Locked => &self.written.locked,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues an append; true when the caller must start a writer (work is
    /// ready and fewer than the most writers run).
    fn enqueue(&self, pending: Pending) -> bool {
        let mut state = lock(&self.state);
        let state = &mut *state;
        let tenant_id = pending.batch.tenant_id.clone();
        state.waiting_entries += pending.batch.entries.len();
        let queue = state.waiting.entry(tenant_id.clone()).or_default();
        let first = queue.is_empty();
        queue.push_back(pending);
        if first && !state.writing.contains(&tenant_id) {
            state.ready.push_back(tenant_id);
        }
        let enough_waiting = state.waiting_entries >= ANOTHER_WRITER_ENTRIES;
        let start_writer = self.claim_writer(state, enough_waiting);
        self.arrived.notify_one();
        start_writer
    }

    /// Counts a writer as taking the locked way; true when the caller must
    /// start another writer for the calls queued (work is ready, no other
    /// writer would take it, and fewer than the most run).
    fn begin_locked_way(&self) -> bool {
        let mut state = lock(&self.state);
        state.locking += 1;
        self.claim_writer(&mut state, false)
    }

    /// The one rule for starting a writer: work is ready, fewer than the
    /// most run, and either no running writer is free to take it (those on
    /// the locked way may wait on head locks) or `enough_waiting` entries
    /// are worth a writer of their own. Counts the writer when it says yes.
    fn claim_writer(&self, state: &mut QueueState, enough_waiting: bool) -> bool {
        if state.ready.is_empty() || state.writers >= self.max_writers {
            return false;
        }
        if state.writers > state.locking && !enough_waiting {
            return false;
        }
        state.writers += 1;
        true
    }

    /// Takes the next group: whole queues of ready tenants, oldest first,
    /// while they fit, and marks those tenants as writing. An empty group
    /// means nothing is ready and this writer must stop; both happen under
    /// the one lock, so no call is left queued with no writer to take it.
    fn take_group(&self) -> Group {
        let mut state = lock(&self.state);
        let state = &mut *state;
        let mut group: Vec<Pending> = Vec::new();
        let mut entries = 0;
        while let Some(tenant_id) = state.ready.front() {
            let Some(queue) = state.waiting.get_mut(tenant_id) else {
                state.ready.pop_front();
                continue;
            };
            let taken_before = group.len();
            while let Some(next) = queue.front() {
                let size = next.batch.entries.len();
                if !group.is_empty() && entries + size > MAX_GROUP_ENTRIES {
                    break;
                }
                entries += size;
                group.extend(queue.pop_front());
                state.waiting_entries -= size;
            }
            if group.len() == taken_before {
                break;
            }
            if queue.is_empty() {
                state.waiting.remove(tenant_id);
            }
            let Some(tenant_id) = state.ready.pop_front() else {
                break;
            };
            state.writing.insert(tenant_id);
            if entries >= MAX_GROUP_ENTRIES {
                break;
            }
        }
        if group.is_empty() {
            state.writers -= 1;
        }
        Group {
            calls: group,
            entries,
        }
    }

    /// After a transaction that wrote `written` entries: waits (see
    /// `gather`) until as many entries as expected are queued, another
    /// writer runs, or the wait runs out.
    async fn gather(&self, written: usize) {
        let target = {
            let mut state = lock(&self.state);
            let state = &mut *state;
            let (waiting, others) = (state.waiting_entries, state.writers > 1);
            state.gathering.target(written, waiting, others)
        };
        let Some(target) = target else { return };
        let deadline = tokio::time::Instant::now() + GATHER_WAIT;
        loop {
            // A call queued between the check and the wait is not missed:
            // `notify_one` keeps a permit when nobody waits yet.
            let arrived = self.arrived.notified();
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let mut state = lock(&self.state);
                let arrived = state.waiting_entries;
                state.gathering.ran_out(arrived);
                return;
            }
            let state = lock(&self.state);
            if state.waiting_entries >= target || state.writers > 1 {
                return;
            }
        }
    }

    /// Ends the transaction of `tenants`: those with calls still waiting
    /// are ready again.
    fn finish(&self, tenants: &[String]) {
        let mut state = lock(&self.state);
        for tenant_id in tenants {
            state.writing.remove(tenant_id);
            if state.waiting.contains_key(tenant_id) {
                state.ready.push_back(tenant_id.clone());
            }
        }
    }

    /// What is queued and running now.
    pub(crate) fn usage(&self) -> AppendQueueUse {
        let state = lock(&self.state);
        AppendQueueUse {
            waiting_calls: state.waiting.values().map(|queue| queue.len() as u64).sum(),
            writers: state.writers as u64,
            max_writers: self.max_writers as u64,
            one_statement_writes: self.written.one_statement.load(Ordering::Relaxed),
            locked_writes: self.written.locked.load(Ordering::Relaxed),
        }
    }

    /// Takes every call still queued.
    fn take_all(&self) -> Vec<Pending> {
        let mut state = lock(&self.state);
        state.ready.clear();
        state.waiting_entries = 0;
        state.waiting.drain().flat_map(|(_, queue)| queue).collect()
    }
}

impl AuditStore {
    /// Appends `batch` in the next grouped transaction and returns its ids
    /// in input order.
    pub(crate) async fn append_grouped(&self, batch: TenantBatch) -> Result<Vec<Uuid>, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.appends.enqueue(Pending { batch, reply }) {
            self.start_writer();
        }
        answer.await.map_err(|_| {
            StoreError::Internal("the append's writer stopped before answering".to_owned())
        })?
    }

    /// Starts a writer task, its place among the writers already counted.
    fn start_writer(&self) {
        // Made before the task, so that a task dropped before it first runs
        // (the runtime shutting down) still gives its place back.
        let watch = WriterWatch {
            queue: self.appends.clone(),
            tenants: Vec::new(),
            done: false,
        };
        tokio::spawn(self.clone().write_groups(watch));
    }

    /// Marks the calling writer as taking the locked way until the returned
    /// guard drops, and starts another writer if calls are queued that no
    /// other writer would take.
    pub(crate) fn locked_way(&self) -> LockedWay {
        if self.appends.begin_locked_way() {
            self.start_writer();
        }
        LockedWay {
            queue: self.appends.clone(),
        }
    }

    /// A writer: commits groups until nothing is ready.
    async fn write_groups(self, mut watch: WriterWatch) {
        loop {
            let Group { calls, entries } = self.appends.take_group();
            if calls.is_empty() {
                watch.done = true;
                return;
            }
            watch.tenants = group_tenants(&calls);
            self.commit_group(calls).await;
            self.appends.finish(&std::mem::take(&mut watch.tenants));
            self.appends.gather(entries).await;
        }
    }

    /// Writes one group and answers each of its calls.
    async fn commit_group(&self, mut group: Vec<Pending>) {
        loop {
            if group.len() <= 1 {
                let Some(pending) = group.pop() else { return };
                let outcome = self.append_batch(pending.batch).await;
                self.answer(pending.reply, outcome);
                return;
            }
            // Kept for another attempt: a group rolls back whole.
            let batches: Vec<TenantBatch> =
                group.iter().map(|pending| pending.batch.clone()).collect();
            match self.append_batches(batches).await {
                Ok(Stored::All(ids)) => {
                    for (pending, own) in group.into_iter().zip(ids) {
                        let _ = pending.reply.send(Ok(own));
                    }
                    return;
                }
                // Only the conflicting call fails; the others are written
                // together again.
                Ok(Stored::Conflict { batch, key }) if batch < group.len() => {
                    let pending = group.remove(batch);
                    let _ = pending
                        .reply
                        .send(Err(StoreError::IdempotencyConflict { key }));
                }
                Err(StoreError::Unavailable(cause)) => {
                    for pending in group {
                        let _ = pending
                            .reply
                            .send(Err(StoreError::Unavailable(cause.clone())));
                    }
                    self.fail_queued(&cause);
                    return;
                }
                // Anything else (a deadlock with another replica creating
                // tenants, say): each call alone, so that only a failing
                // call fails.
                _ => {
                    self.commit_one_by_one(group).await;
                    return;
                }
            }
        }
    }

    /// Writes each call of a failed group in a transaction of its own; once
    /// the database is unavailable, the rest fail at once.
    async fn commit_one_by_one(&self, group: Vec<Pending>) {
        let mut unavailable = None;
        for pending in group {
            if let Some(cause) = &unavailable {
                let _ = pending
                    .reply
                    .send(Err(StoreError::Unavailable(String::clone(cause))));
                continue;
            }
            let outcome = self.append_batch(pending.batch).await;
            if let Err(StoreError::Unavailable(cause)) = &outcome {
                unavailable = Some(cause.clone());
            }
            self.answer(pending.reply, outcome);
        }
    }

    /// Sends a call its outcome. When the database is unavailable, the calls
    /// queued meanwhile fail at once too rather than wait for writers that
    /// would try each group in turn.
    fn answer(
        &self,
        reply: oneshot::Sender<Result<Vec<Uuid>, StoreError>>,
        outcome: Result<Vec<Uuid>, StoreError>,
    ) {
        if let Err(StoreError::Unavailable(cause)) = &outcome {
            self.fail_queued(cause);
        }
        let _ = reply.send(outcome);
    }

    fn fail_queued(&self, cause: &str) {
        for pending in self.appends.take_all() {
            let _ = pending
                .reply
                .send(Err(StoreError::Unavailable(cause.to_owned())));
        }
    }
}

/// The group's tenants, each once.
fn group_tenants(group: &[Pending]) -> Vec<String> {
    let mut tenants: Vec<String> = group
        .iter()
        .map(|pending| pending.batch.tenant_id.clone())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    tenants
}

/// A writer taking the locked way, counted as such until dropped.
pub(crate) struct LockedWay {
    queue: AppendQueue,
}

impl Drop for LockedWay {
    fn drop(&mut self) {
        let mut state = lock(&self.queue.state);
        state.locking = state.locking.saturating_sub(1);
    }
}

/// Keeps the queue consistent if a writer ends before nothing is ready (a
/// panic, or the runtime shutting down): it stops counting as running,
/// its tenants stop counting as writing, and the calls still queued fail
/// rather than wait for a writer that may never start (the next append
/// starts one).
struct WriterWatch {
    queue: AppendQueue,
    tenants: Vec<String>,
    done: bool,
}

impl Drop for WriterWatch {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let orphans = {
            let mut state = lock(&self.queue.state);
            state.writers = state.writers.saturating_sub(1);
            for tenant_id in &self.tenants {
                state.writing.remove(tenant_id);
            }
            state.ready.clear();
            state.waiting_entries = 0;
            state
                .waiting
                .drain()
                .flat_map(|(_, queue)| queue)
                .collect::<Vec<_>>()
        };
        for pending in orphans {
            let _ = pending.reply.send(Err(StoreError::Internal(
                "the append's writer stopped before writing it".to_owned(),
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{T0, entry};

    /// A call of `entries` entries of `tenant`; nobody waits for its answer.
    fn call(tenant: &str, entries: usize) -> Pending {
        let (reply, _) = oneshot::channel();
        let entries = (0..entries)
            .map(|_| entry(tenant, "user.login", T0))
            .collect();
        Pending {
            batch: TenantBatch {
                tenant_id: tenant.to_owned(),
                entries,
            },
            reply,
        }
    }

    #[test]
    fn a_second_writer_starts_only_for_enough_waiting_entries() {
        let queue = AppendQueue::new(3);
        assert!(
            queue.enqueue(call("a", 1)),
            "the first call starts a writer"
        );
        assert!(
            !queue.enqueue(call("b", 1)),
            "one waiting entry joins the running writer's next transaction"
        );
        assert!(
            queue.enqueue(call("c", ANOTHER_WRITER_ENTRIES - 1)),
            "a second writer starts once {ANOTHER_WRITER_ENTRIES} entries wait"
        );
        assert!(
            queue.enqueue(call("d", ANOTHER_WRITER_ENTRIES)),
            "a third for a full request's worth"
        );
        assert!(
            !queue.enqueue(call("e", 1000)),
            "never more than the most writers"
        );

        let group = queue.take_group().calls;
        let tenants: Vec<&str> = group
            .iter()
            .map(|pending| pending.batch.tenant_id.as_str())
            .collect();
        assert_eq!(tenants, ["a", "b", "c", "d", "e"]);
        assert_eq!(lock(&queue.state).waiting_entries, 0);
        queue.finish(&group_tenants(&group));
        assert_eq!(queue.usage().waiting_calls, 0);
    }

    #[test]
    fn a_writer_on_the_locked_way_does_not_hold_up_the_queue() {
        let queue = AppendQueue::new(3);
        assert!(queue.enqueue(call("a", 1)));
        assert_eq!(queue.take_group().calls.len(), 1);
        assert!(
            !queue.enqueue(call("b", 1)),
            "b waits for the running writer"
        );
        assert!(
            queue.begin_locked_way(),
            "the running writer may wait on head locks: b gets a writer"
        );
        let locked_way = LockedWay {
            queue: queue.clone(),
        };
        assert!(
            !queue.enqueue(call("c", 1)),
            "c waits for b's writer, which is not on the locked way"
        );
        drop(locked_way);
        assert_eq!(lock(&queue.state).locking, 0);
        assert_eq!(queue.usage().writers, 2);
    }

    /// A queue whose one writer has just answered a group.
    fn queue_after_a_group() -> AppendQueue {
        let queue = AppendQueue::new(3);
        assert!(queue.enqueue(call("a", 1)));
        let group = queue.take_group().calls;
        queue.finish(&group_tenants(&group));
        lock(&queue.state).gathering = Gathering::expecting(ANOTHER_WRITER_ENTRIES);
        queue
    }

    #[tokio::test]
    async fn a_writer_gathers_its_callers_next_appends() {
        let queue = queue_after_a_group();
        let callers = queue.clone();
        let comeback = tokio::spawn(async move {
            for tenant in ["a", "b", "c"] {
                tokio::task::yield_now().await;
                callers.enqueue(call(tenant, 1));
            }
        });
        queue.gather(3).await;
        comeback.await.expect("callers enqueue");
        let state = lock(&queue.state);
        assert_eq!(
            state.waiting_entries, 3,
            "all three wait for the next group"
        );
        assert_eq!(
            state.gathering,
            Gathering::expecting(ANOTHER_WRITER_ENTRIES),
            "the wait was met, not run out"
        );
    }

    #[tokio::test]
    async fn a_wait_in_vain_ends_and_expects_only_what_came() {
        let queue = queue_after_a_group();
        queue.enqueue(call("b", 1));
        queue.gather(3).await;
        assert_eq!(lock(&queue.state).gathering, Gathering::expecting(1));
        assert_eq!(
            queue.take_group().calls.len(),
            1,
            "the call that came is taken after the wait"
        );
    }
}
