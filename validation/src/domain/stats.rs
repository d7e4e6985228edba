//! The result of a stats query.

use super::Micros;

/// Histogram bucket width (UTC; weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Week,
    Month,
}

/// An actor and how many matching entries they performed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorCount {
    pub actor_id: String,
    pub actor_email: String,
    pub actor_name: String,
    pub count: i64,
}

/// The number of entries in `[start, start + width)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramBucket {
    pub start: Micros,
    pub count: i64,
}

/// Counts under one filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditStatsReport {
    pub total: i64,
    /// Most frequent first.
    pub by_action: Vec<(String, i64)>,
    /// Most frequent first; entries without a target under "".
    pub by_target_type: Vec<(String, i64)>,
    /// Keyed by the stored result value.
    pub by_result: Vec<(super::Outcome, i64)>,
    pub top_actors: Vec<ActorCount>,
    /// Non-empty buckets in time order.
    pub histogram: Vec<HistogramBucket>,
}
