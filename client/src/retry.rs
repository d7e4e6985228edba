//! [`RetryPolicy`]: how often and how patiently a call that met an
//! unavailable server is sent again.

use crate::Error;
use crate::pages::is_broken_call;
use std::time::Duration;

/// How a call that failed with a retryable error ([`Error::is_retryable`])
/// is repeated: up to `max_attempts` sends in all, waiting a jittered,
/// doubling backoff between them.
///
/// Only calls that are safe to repeat are retried: List, Get, GetAuditStats,
/// DescribeFilters, and Append when every entry carries an idempotency key.
/// Delete is never retried, because a delete that did land the first time
/// would answer NOT_FOUND the second time.
///
/// ```
/// use audit_client::RetryPolicy;
/// use std::time::Duration;
///
/// let patient = RetryPolicy {
///     max_attempts: 10,
///     initial_backoff: Duration::from_millis(100),
///     max_backoff: Duration::from_secs(5),
/// };
/// assert!(patient.backoff(0) <= Duration::from_millis(100));
/// assert_eq!(RetryPolicy::never().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends in all, the first included; 1 (or 0) means no retry.
    pub max_attempts: u32,
    /// The longest wait before the first retry.
    pub initial_backoff: Duration,
    /// The cap on any one wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, waiting up to 50 ms, 100 ms, then 200 ms: enough to
    /// ride out a rolling restart, short enough not to hide an outage.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Returns a policy that sends each call once.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Returns the wait before retry number `retry` (0 for the first): the
    /// doubled, capped backoff with "equal jitter", so it lies between half
    /// the backoff and all of it. Jitter keeps many clients that failed
    /// together from retrying together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)));
        let capped = doubled.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Returns true when a call that is safe to repeat and failed with
    /// `error` after `attempts` sends should be sent again: when the server
    /// was unavailable, and also when the connection broke mid-call (the
    /// server was killed or the network cut it), where whether the call
    /// landed is unknown.
    pub(crate) fn allows_retry(&self, error: &Error, attempts: u32) -> bool {
        (error.is_retryable() || is_broken_call(error)) && attempts < self.max_attempts
    }
}

/// Runs `call` until it succeeds, fails for good, or `policy` runs out;
/// `idempotent: false` sends exactly once.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    idempotent: bool,
    mut call: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempts = 1;
    loop {
        match call().await {
            Err(error) if idempotent && policy.allows_retry(&error, attempts) => {
                let delay = policy.backoff(attempts - 1);
                tracing::debug!(attempts, ?delay, %error, "audit call failed, retrying");
                tokio::time::sleep(delay).await;
                attempts += 1;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RetryPolicy;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
        };
        for _ in 0..100 {
            for (retry, full) in [(0, 100), (1, 200), (2, 400), (3, 800), (4, 800), (40, 800)] {
                let delay = policy.backoff(retry);
                let full = Duration::from_millis(full);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "retry {retry}: {delay:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }
}
