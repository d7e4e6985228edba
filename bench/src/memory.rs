//! The server's memory, read from /proc/PID/status: VmHWM (the kernel's own
//! peak resident set) at the end, and VmRSS sampled every 100 ms so each
//! phase gets its own peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The largest VmRSS seen since the last [`take_peak`](RssSampler::take_peak).
#[derive(Clone)]
pub struct RssSampler {
    pid: u32,
    peak_kib: Arc<AtomicU64>,
}

impl RssSampler {
    /// Starts sampling `pid` on the runtime until the process is gone.
    pub fn start(pid: u32) -> Self {
        let sampler = Self {
            pid,
            peak_kib: Arc::new(AtomicU64::new(0)),
        };
        let background = sampler.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let Some(rss) = status_kib(background.pid, "VmRSS:") else {
                    return;
                };
                background.peak_kib.fetch_max(rss, Ordering::Relaxed);
            }
        });
        sampler
    }

    /// Returns the peak RSS (bytes) since the last call, and starts anew
    /// from the current RSS.
    pub fn take_peak(&self) -> u64 {
        let current = status_kib(self.pid, "VmRSS:").unwrap_or(0);
        let peak = self.peak_kib.swap(current, Ordering::Relaxed).max(current);
        peak * 1024
    }

    /// Returns VmHWM (bytes): the peak resident set over the whole life of
    /// the process.
    pub fn high_water_mark(&self) -> u64 {
        status_kib(self.pid, "VmHWM:").unwrap_or(0) * 1024
    }
}

/// Reads one `Key:   1234 kB` line of /proc/PID/status.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
