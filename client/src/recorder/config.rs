//! The recorder's settings and their defaults.

use super::overflow::OverflowPolicy;
use std::time::Duration;

/// The default number of events per append.
pub const DEFAULT_BATCH_SIZE: usize = 500;
/// The most events one append may carry (the service's limit).
pub const MAX_BATCH_SIZE: usize = 1000;
/// The default age at which a partial batch is sent.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// The default number of events held while the service is slow or down.
pub const DEFAULT_BUFFER_CAPACITY: usize = 10_000;
/// The default time [`Recorder::shutdown`](crate::Recorder::shutdown) spends
/// delivering what is buffered.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time one append may take before it is resent.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The default longest pause between resends of a batch.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Settings shared by the builder and the sender task.
#[derive(Debug, Clone)]
pub(crate) struct RecorderConfig {
    pub(crate) batch_size: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) buffer_capacity: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            overflow: OverflowPolicy::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}
