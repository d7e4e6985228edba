//! [`RecorderBuilder`]: batching, buffering and shutdown settings, then
//! [`RecorderBuilder::start`].

use super::Recorder;
use super::config::{MAX_BATCH_SIZE, RecorderConfig};
use super::overflow::OverflowPolicy;
use crate::{AuditClient, RetryPolicy};
use std::time::Duration;

/// Configures a [`Recorder`]; made by [`Recorder::builder`].
///
/// ```no_run
/// use audit_client::recorder::OverflowPolicy;
/// use audit_client::{AuditClient, Recorder};
/// use std::time::Duration;
///
/// # async fn example(client: AuditClient) {
/// let recorder = Recorder::builder(client)
///     .batch_size(1000)
///     .flush_interval(Duration::from_millis(500))
///     .buffer_capacity(50_000)
///     .overflow(OverflowPolicy::DropOldest)
///     .start();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RecorderBuilder {
    client: AuditClient,
    config: RecorderConfig,
}

impl RecorderBuilder {
    pub(crate) fn new(client: AuditClient) -> Self {
        Self {
            // The recorder paces its own resends, without limit until
            // shutdown; the client's bounded retries would only hide that.
            client: client.with_retry_policy(RetryPolicy::never()),
            config: RecorderConfig::default(),
        }
    }

    /// Sets how many events one append carries (default 500), clamped to
    /// 1..=1000. A full batch goes out at once.
    pub fn batch_size(mut self, events: usize) -> Self {
        self.config.batch_size = events.clamp(1, MAX_BATCH_SIZE);
        self
    }

    /// Sets how long the oldest buffered event may wait for its batch to
    /// fill before the partial batch goes out (default 1 s).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.config.flush_interval = interval;
        self
    }

    /// Sets how many events the recorder holds at most, counting the batch
    /// being sent (default 10,000; at least 1). Past it the
    /// [`overflow`](Self::overflow) policy drops events.
    pub fn buffer_capacity(mut self, events: usize) -> Self {
        self.config.buffer_capacity = events.max(1);
        self
    }

    /// Sets which event a full buffer drops (default
    /// [`OverflowPolicy::DropNewest`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.config.overflow = policy;
        self
    }

    /// Sets how long [`Recorder::shutdown`] keeps delivering buffered events
    /// (default 10 s); what is left then counts as failed.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Sets how long one append may take before it counts as a transient
    /// failure and is resent (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Sets the longest pause between resends of a batch while the service
    /// is unreachable (default 5 s); pauses start at 100 ms and double.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.config.max_backoff = max;
        self
    }

    /// Spawns the sender task on the current tokio runtime and returns the
    /// recorder.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, like [`tokio::spawn`].
    pub fn start(self) -> Recorder {
        Recorder::start_with(self.config, self.client)
    }
}
