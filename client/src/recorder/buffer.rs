//! The bounded buffer between [`Recorder::record`](crate::Recorder::record)
//! and the sender task: a queue under a short-lived lock, its counters, and
//! the wake-up that tells the sender a batch may be ready.

use super::overflow::{OverflowPolicy, OverflowWarning};
use audit_proto::AuditLogInput;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// One buffered event with its arrival order and time.
#[derive(Debug)]
struct Queued {
    seq: u64,
    at: Instant,
    event: AuditLogInput,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Queued>,
    /// Events taken by the sender and not yet settled.
    in_flight: usize,
    /// The sequence number the next recorded event gets.
    next_seq: u64,
    /// Events with a lower sequence number go out without waiting for age.
    flush_upto: u64,
    /// Set by shutdown: new events are dropped, buffered ones go out now.
    closed: bool,
}

/// What the sender should do next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Send these events now.
    Batch(Vec<AuditLogInput>),
    /// Nothing is due: sleep until woken, or until `until` if set (the
    /// moment the oldest event reaches the age threshold).
    Idle { until: Option<Instant> },
    /// Closed and empty: the sender may stop.
    Done,
}

/// The buffer shared by every [`Recorder`](crate::Recorder) handle and the
/// sender task.
#[derive(Debug)]
pub(crate) struct Buffer {
    state: Mutex<State>,
    wake: Notify,
    closing: watch::Sender<bool>,
    capacity: usize,
    batch_size: usize,
    policy: OverflowPolicy,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    overflow_warning: OverflowWarning,
}

impl Buffer {
    pub(crate) fn new(capacity: usize, batch_size: usize, policy: OverflowPolicy) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            closing: watch::Sender::new(false),
            capacity: capacity.max(1),
            batch_size: batch_size.max(1),
            policy,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            overflow_warning: OverflowWarning::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, so a poisoned state is
        // still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an event, applying the overflow policy when the buffer is full.
    pub(crate) fn push(&self, event: AuditLogInput) {
        let mut state = self.lock();
        let full = state.queue.len() + state.in_flight >= self.capacity;
        let room = if state.closed {
            false
        } else if !full {
            true
        } else {
            // Only queued events can give way: the batch in flight is gone.
            self.policy == OverflowPolicy::DropOldest && state.queue.pop_front().is_some()
        };
        if room {
            self.enqueue(&mut state, event);
        }
        let queued = state.queue.len();
        drop(state);
        if !room || full {
            self.count_dropped();
        }
        // The sender needs to hear of the first event (to arm the age timer)
        // and of a full batch; waking it for every event would only cost CPU.
        if room && !full && (queued == 1 || queued == self.batch_size) {
            self.wake.notify_one();
        }
    }

    fn enqueue(&self, state: &mut State, event: AuditLogInput) {
        let seq = state.next_seq;
        state.next_seq += 1;
        state.queue.push_back(Queued {
            seq,
            at: Instant::now(),
            event,
        });
    }

    fn count_dropped(&self) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        self.overflow_warning.dropped(self.policy, total);
    }

    /// Asks for every event recorded so far to go out now, and returns the
    /// watermark that [`Buffer::watermark`] reaches once they have.
    pub(crate) fn request_flush(&self) -> u64 {
        let mut state = self.lock();
        state.flush_upto = state.next_seq;
        let target = state.next_seq;
        drop(state);
        self.wake.notify_one();
        target
    }

    /// Stops accepting events; buffered ones go out without waiting.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.closing.send_replace(true);
        self.wake.notify_one();
    }

    /// Returns a receiver that turns true once the buffer is closed.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Waits for a push, a flush request or shutdown.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Takes the next batch if one is due at `now`.
    pub(crate) fn next(&self, now: Instant, flush_interval: Duration) -> Next {
        let mut state = self.lock();
        let Some(oldest) = state.queue.front() else {
            return if state.closed {
                Next::Done
            } else {
                Next::Idle { until: None }
            };
        };
        let due_at = oldest.at + flush_interval;
        let due = state.closed
            || state.queue.len() >= self.batch_size
            || oldest.seq < state.flush_upto
            || due_at <= now;
        if !due {
            return Next::Idle {
                until: Some(due_at),
            };
        }
        let take = state.queue.len().min(self.batch_size);
        state.in_flight += take;
        let batch = state
            .queue
            .drain(..take)
            .map(|queued| queued.event)
            .collect();
        Next::Batch(batch)
    }

    /// Settles `count` events taken by [`Buffer::next`] as sent or failed.
    pub(crate) fn settle(&self, count: usize, delivered: bool) {
        {
            let mut state = self.lock();
            state.in_flight = state.in_flight.saturating_sub(count);
        }
        let counter = if delivered { &self.sent } else { &self.failed };
        counter.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Returns the sequence number below which every event is settled or
    /// dropped; meaningful while nothing is in flight.
    pub(crate) fn watermark(&self) -> u64 {
        let state = self.lock();
        state
            .queue
            .front()
            .map_or(state.next_seq, |oldest| oldest.seq)
    }

    /// Gives up on every held event (the shutdown deadline passed) and
    /// returns how many there were; they count as failed.
    pub(crate) fn abandon(&self) -> usize {
        let mut state = self.lock();
        let count = state.queue.len() + state.in_flight;
        state.queue.clear();
        state.in_flight = 0;
        drop(state);
        self.failed.fetch_add(count as u64, Ordering::Relaxed);
        count
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Returns the events held: queued plus in flight.
    pub(crate) fn held(&self) -> usize {
        let state = self.lock();
        state.queue.len() + state.in_flight
    }
}
