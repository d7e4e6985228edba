//! Follow-mode streams: how many are open and how many entries the slowest
//! one is behind its tenants' chain heads.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct FollowStreams {
    next_id: u64,
    /// Last reported lag in entries, per open stream.
    lag_by_stream: HashMap<u64, u64>,
}

impl FollowStreams {
    pub fn open(&mut self) -> u64 {
        self.next_id += 1;
        self.lag_by_stream.insert(self.next_id, 0);
        self.next_id
    }

    pub fn report_lag(&mut self, stream: u64, entries: u64) {
        if let Some(lag) = self.lag_by_stream.get_mut(&stream) {
            *lag = entries;
        }
    }

    pub fn close(&mut self, stream: u64) {
        self.lag_by_stream.remove(&stream);
    }

    pub fn open_count(&self) -> usize {
        self.lag_by_stream.len()
    }

    /// The worst lag among open streams: the one an operator is paged for.
    pub fn max_lag(&self) -> u64 {
        self.lag_by_stream.values().copied().max().unwrap_or(0)
    }
}
