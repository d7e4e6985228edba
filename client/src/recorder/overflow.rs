//! What happens when the buffer is full: the [`OverflowPolicy`], and the
//! rate-limited warning that reports dropped events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which event a full buffer gives up.
///
/// The buffer holds at most
/// [`buffer_capacity`](crate::recorder::RecorderBuilder::buffer_capacity)
/// events, counting the batch being sent. Either way the dropped event is
/// counted in [`Recorder::dropped`](crate::Recorder::dropped) and reported by a
/// `tracing` warning at most once every 10 seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Drops the event being recorded and keeps the older ones (the default):
    /// the trail keeps the start of an outage intact.
    #[default]
    DropNewest,
    /// Drops the oldest buffered event to make room for the new one: the
    /// trail keeps the latest events. The batch already being sent cannot be
    /// recalled, so when every held event is in that batch the new event is
    /// dropped instead.
    DropOldest,
}

/// How often, at most, the overflow warning is logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Logs dropped events at most once per [`WARNING_INTERVAL`], with the
/// number dropped since the last warning, so an outage does not flood the log.
#[derive(Debug)]
pub(crate) struct OverflowWarning {
    origin: Instant,
    /// Milliseconds after `origin` of the last warning, plus one; 0 = never.
    last_warning: AtomicU64,
    unreported: AtomicU64,
}

impl OverflowWarning {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_warning: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
        }
    }

    /// Notes one dropped event and warns if the last warning is old enough.
    pub(crate) fn dropped(&self, policy: OverflowPolicy, total_dropped: u64) {
        self.unreported.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last_warning.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARNING_INTERVAL.as_millis() as u64;
        // Only the caller that wins the exchange warns; the others' drops are
        // reported in its count or the next one.
        if due
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let dropped = self.unreported.swap(0, Ordering::Relaxed);
            tracing::warn!(
                dropped,
                total_dropped,
                ?policy,
                "audit recorder buffer full: dropping events"
            );
        }
    }
}
