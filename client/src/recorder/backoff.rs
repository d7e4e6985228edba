//! Jittered exponential backoff between resends of a batch.

use std::time::Duration;

/// The first delay before resending a batch.
const INITIAL_DELAY: Duration = Duration::from_millis(100);

/// Doubling delays capped at a maximum, each drawn from the upper half of
/// its range so that many recorders do not retry in lockstep.
#[derive(Debug)]
pub(crate) struct Backoff {
    ceiling: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(max: Duration) -> Self {
        Self {
            ceiling: INITIAL_DELAY.min(max),
            max,
        }
    }

    /// Returns the delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.ceiling.mul_f64(0.5 + fastrand::f64() * 0.5);
        self.ceiling = (self.ceiling * 2).min(self.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_maximum() {
        let max = Duration::from_secs(1);
        let mut backoff = Backoff::new(max);
        let first = backoff.next_delay();
        assert!(first >= INITIAL_DELAY / 2 && first <= INITIAL_DELAY);
        let later: Vec<Duration> = (0..20).map(|_| backoff.next_delay()).collect();
        assert!(later.iter().all(|delay| *delay <= max));
        assert!(later.last().is_some_and(|delay| *delay >= max / 2));
    }
}
