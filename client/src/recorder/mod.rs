//! [`Recorder`]: the fire-and-forget path for producers.
//!
//! [`Recorder::record`] never blocks and never waits for the network: it
//! stamps the event and puts it in a bounded buffer. One background task
//! sends the buffer in batches, when a batch is full or when its oldest event
//! reaches the flush interval, and resends a batch after a transient failure
//! with the same idempotency keys, so a resend after a lost reply stores
//! nothing twice. While the service is down, the buffer's
//! [`OverflowPolicy`] bounds memory.
//!
//! ```no_run
//! use audit_client::{AuditClient, AuditLogInput, Recorder};
//!
//! # async fn example() -> Result<(), audit_client::Error> {
//! // A lazy connection lets the service start while the audit service is down.
//! let client = AuditClient::builder("http://127.0.0.1:50051")
//!     .bearer_token("my-token")
//!     .connect_lazy()?;
//! let recorder = Recorder::builder(client).start();
//! recorder.record(AuditLogInput {
//!     action: "user.login".into(),
//!     ..Default::default()
//! });
//! let stats = recorder.shutdown().await;
//! println!("sent {}, dropped {}, failed {}", stats.sent, stats.dropped, stats.failed);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`builder`]: [`RecorderBuilder`] and its settings.
//! - `config`: the defaults.
//! - [`overflow`]: [`OverflowPolicy`] and the rate-limited drop warning.
//! - `buffer`: the bounded queue and counters shared with the task.
//! - `sender`: the task; `sink` classifies failures; `backoff` spaces resends.

mod backoff;
mod buffer;
pub mod builder;
mod config;
pub mod overflow;
mod sender;
mod sink;

#[cfg(test)]
pub(crate) mod fake_sink;
#[cfg(test)]
pub(crate) mod tests;

pub use builder::RecorderBuilder;
pub use config::{
    DEFAULT_BATCH_SIZE, DEFAULT_BUFFER_CAPACITY, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BACKOFF,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, MAX_BATCH_SIZE,
};
pub use overflow::OverflowPolicy;

use crate::AuditClient;
use audit_proto::AuditLogInput;
use buffer::Buffer;
use config::RecorderConfig;
use sink::BatchSink;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::watch;

/// A cheap, cloneable handle that buffers audit events and sends them in
/// batches from a background task; see the [module docs](self).
///
/// Dropping the last handle closes the buffer: the task still delivers what
/// is buffered, within the shutdown timeout, while the runtime runs. Call
/// [`Recorder::shutdown`] to wait for that and get the final counts.
#[derive(Clone)]
pub struct Recorder {
    buffer: Arc<Buffer>,
    progress: watch::Receiver<u64>,
    _handles: Arc<CloseOnLastDrop>,
}

/// Closes the buffer when the last [`Recorder`] handle goes away, so the
/// task drains and stops instead of waiting forever.
struct CloseOnLastDrop(Arc<Buffer>);

impl Drop for CloseOnLastDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The recorder's counts of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Events the service stored.
    pub sent: u64,
    /// Events never buffered: the buffer was full, or shutdown had begun.
    pub dropped: u64,
    /// Events buffered but not stored: refused by the service, or still held
    /// when the shutdown deadline passed.
    pub failed: u64,
}

impl Recorder {
    /// Starts configuring a recorder that sends through `client`.
    ///
    /// ```no_run
    /// # use audit_client::{AuditClient, Recorder};
    /// # fn example(client: AuditClient) {
    /// let recorder = Recorder::builder(client).batch_size(1000).start();
    /// # }
    /// ```
    pub fn builder(client: AuditClient) -> RecorderBuilder {
        RecorderBuilder::new(client)
    }

    /// Spawns the sender task over any sink; the seam for unit tests.
    pub(crate) fn start_with<K: BatchSink>(config: RecorderConfig, sink: K) -> Self {
        let buffer = Arc::new(Buffer::new(
            config.buffer_capacity,
            config.batch_size,
            config.overflow,
        ));
        let (progress_tx, progress) = watch::channel(0);
        tokio::spawn(sender::run(buffer.clone(), sink, config, progress_tx));
        Self {
            _handles: Arc::new(CloseOnLastDrop(buffer.clone())),
            buffer,
            progress,
        }
    }

    /// Buffers `event` for sending and returns at once; it never waits for
    /// the network.
    ///
    /// An event without an `idempotency_key` gets a fresh UUIDv7 one, and
    /// one without `occurred_at` gets the current time, so the stored time
    /// is when it happened, not when its batch arrived. When the buffer is
    /// full the [`OverflowPolicy`] drops an event; after shutdown began the
    /// event is dropped. Either way [`Recorder::dropped`] counts it.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLogInput, Recorder};
    /// # fn example(recorder: &Recorder) {
    /// recorder.record(AuditLogInput {
    ///     action: "document.shared".into(),
    ///     ..Default::default()
    /// });
    /// # }
    /// ```
    pub fn record(&self, mut event: AuditLogInput) {
        if event.idempotency_key.is_empty() {
            event.idempotency_key = uuid::Uuid::now_v7().to_string();
        }
        if event.occurred_at.is_none() {
            event.occurred_at = Some(SystemTime::now().into());
        }
        self.buffer.push(event);
    }

    /// Sends every event recorded before this call now, without waiting for
    /// the flush interval, and returns once each is stored or has failed.
    ///
    /// While the service is unreachable this waits for it; bound it with
    /// [`tokio::time::timeout`] if needed.
    ///
    /// ```no_run
    /// # use audit_client::Recorder;
    /// # async fn example(recorder: &Recorder) {
    /// recorder.flush().await;
    /// # }
    /// ```
    pub async fn flush(&self) {
        let target = self.buffer.request_flush();
        let mut progress = self.progress.clone();
        // An error means the task is gone: nothing is left to wait for.
        let _ = progress.wait_for(|done| *done >= target).await;
    }

    /// Stops accepting events, delivers what is buffered within the shutdown
    /// timeout, stops the task and returns the final counts.
    ///
    /// Every handle shares the shutdown: afterwards their `record` drops
    /// events. Calling it again returns the counts at once.
    ///
    /// ```no_run
    /// # use audit_client::Recorder;
    /// # async fn example(recorder: Recorder) {
    /// let stats = recorder.shutdown().await;
    /// assert_eq!(stats.failed, 0);
    /// # }
    /// ```
    pub async fn shutdown(&self) -> RecorderStats {
        self.buffer.close();
        let mut progress = self.progress.clone();
        let _ = progress.wait_for(|done| *done == sender::STOPPED).await;
        self.stats()
    }

    /// Returns the current counts.
    pub fn stats(&self) -> RecorderStats {
        RecorderStats {
            sent: self.sent(),
            dropped: self.dropped(),
            failed: self.failed(),
        }
    }

    /// Returns how many events the service has stored.
    pub fn sent(&self) -> u64 {
        self.buffer.sent()
    }

    /// Returns how many events were dropped without being buffered.
    pub fn dropped(&self) -> u64 {
        self.buffer.dropped()
    }

    /// Returns how many buffered events were not stored.
    pub fn failed(&self) -> u64 {
        self.buffer.failed()
    }

    /// Returns how many events are held: waiting, or in the batch being sent.
    pub fn buffered(&self) -> usize {
        self.buffer.held()
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Recorder")
            .field("buffered", &self.buffered())
            .field("stats", &self.stats())
            .finish()
    }
}
