//! The background task: takes due batches from the buffer and appends them,
//! resending on transient failures and isolating rejected events.

use super::backoff::Backoff;
use super::buffer::{Buffer, Next};
use super::config::RecorderConfig;
use super::sink::{BatchSink, FailureKind, SendFailure};
use audit_proto::AuditLogInput;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The watermark published once the task has stopped.
pub(crate) const STOPPED: u64 = u64::MAX;

/// Sends batches until the buffer is closed and drained, or the shutdown
/// deadline passes; then publishes [`STOPPED`].
pub(crate) async fn run<K: BatchSink>(
    buffer: Arc<Buffer>,
    sink: K,
    config: RecorderConfig,
    progress: watch::Sender<u64>,
) {
    let mut closing = buffer.closing();
    let sender = Sender {
        buffer: &buffer,
        sink: &sink,
        config: &config,
        progress: &progress,
    };
    let deadline = async {
        // `buffer` owns the watch's sender while this task runs, so this
        // cannot fail.
        let _ = closing.wait_for(|closed| *closed).await;
        tokio::time::sleep(config.shutdown_timeout).await;
    };
    tokio::select! {
        () = sender.drain() => {}
        () = deadline => {
            let abandoned = buffer.abandon();
            if abandoned > 0 {
                tracing::error!(
                    abandoned,
                    timeout = ?config.shutdown_timeout,
                    "audit recorder shutdown deadline passed: events not delivered"
                );
            }
        }
    }
    progress.send_replace(STOPPED);
}

struct Sender<'a, K> {
    buffer: &'a Buffer,
    sink: &'a K,
    config: &'a RecorderConfig,
    progress: &'a watch::Sender<u64>,
}

impl<K: BatchSink> Sender<'_, K> {
    /// Sends due batches until the buffer is closed and empty.
    async fn drain(&self) {
        loop {
            match self.buffer.next(Instant::now(), self.config.flush_interval) {
                Next::Batch(batch) => {
                    self.deliver(batch).await;
                    self.progress.send_replace(self.buffer.watermark());
                }
                Next::Idle { until } => {
                    self.progress.send_replace(self.buffer.watermark());
                    match until {
                        Some(until) => {
                            tokio::select! {
                                () = self.buffer.woken() => {}
                                () = tokio::time::sleep_until(until.into()) => {}
                            }
                        }
                        None => self.buffer.woken().await,
                    }
                }
                Next::Done => return,
            }
        }
    }

    /// Delivers a batch; a rejected part is halved until each bad event
    /// fails alone, so one bad event costs about 2·log2(batch) calls and
    /// the good events around it are still stored.
    async fn deliver(&self, batch: Vec<AuditLogInput>) {
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            let count = part.len();
            match self.send_until_settled(&part).await {
                Ok(()) => self.buffer.settle(count, true),
                Err(failure) if failure.kind == FailureKind::Rejected && count > 1 => {
                    let mut first = part;
                    let second = first.split_off(count / 2);
                    // Popped first-half first, so events keep their order.
                    parts.push(second);
                    parts.push(first);
                }
                Err(failure) => {
                    tracing::error!(
                        events = count,
                        error = %failure,
                        "audit service refused events: dropping them"
                    );
                    self.buffer.settle(count, false);
                }
            }
        }
    }

    /// Appends `part`, resending it with backoff while failures are
    /// transient. The same events (and idempotency keys) go out each time.
    async fn send_until_settled(&self, part: &[AuditLogInput]) -> Result<(), SendFailure> {
        let mut backoff = Backoff::new(self.config.max_backoff);
        let mut attempt: u32 = 1;
        loop {
            let failure = match self.send_once(part.to_vec()).await {
                Ok(()) => {
                    if attempt > 1 {
                        tracing::info!(attempt, events = part.len(), "audit append succeeded");
                    }
                    return Ok(());
                }
                Err(failure) if failure.kind == FailureKind::Transient => failure,
                Err(failure) => return Err(failure),
            };
            let delay = backoff.next_delay();
            // The first failure of an outage is worth a warning; the rest
            // would flood the log at the retry rate.
            if attempt == 1 {
                tracing::warn!(events = part.len(), error = %failure, ?delay, "audit append failed: retrying");
            } else {
                tracing::debug!(attempt, events = part.len(), error = %failure, ?delay, "audit append failed again");
            }
            tokio::time::sleep(delay).await;
            attempt = attempt.saturating_add(1);
        }
    }

    async fn send_once(&self, part: Vec<AuditLogInput>) -> Result<(), SendFailure> {
        let timeout: Duration = self.config.request_timeout;
        match tokio::time::timeout(timeout, self.sink.append(part)).await {
            Ok(result) => result,
            Err(_) => Err(SendFailure::transient(format!(
                "no reply within {timeout:?}"
            ))),
        }
    }
}
