//! [`StatsQuery`]: counts of the entries matching a filter, by action,
//! target type, result, actor and time bucket.

use crate::filter::filter_setters;
use crate::retry::with_retries;
use crate::{AuditClient, AuditLogFilter, AuditStats, Error, GetAuditStatsRequest, Granularity};

/// A GetAuditStats query under construction; [`send`](Self::send) runs it.
///
/// ```no_run
/// use audit_client::{AuditClient, Granularity};
/// use std::time::{Duration, SystemTime};
///
/// # async fn example(client: AuditClient) -> Result<(), audit_client::Error> {
/// let stats = client
///     .stats()
///     .action("user.*")
///     .since(SystemTime::now() - Duration::from_secs(86_400))
///     .by(Granularity::Hour)
///     .top(5)
///     .send()
///     .await?;
/// println!("{} logins; busiest: {:?}", stats.total, stats.top_actors.first());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct StatsQuery {
    client: AuditClient,
    request: GetAuditStatsRequest,
}

impl StatsQuery {
    pub(crate) fn new(client: AuditClient, request: GetAuditStatsRequest) -> Self {
        Self { client, request }
    }

    fn filter_mut(&mut self) -> &mut AuditLogFilter {
        self.request.filter.get_or_insert_with(Default::default)
    }

    filter_setters!();

    /// Sets the width of the histogram's buckets (default a day).
    pub fn by(mut self, bucket: Granularity) -> Self {
        self.request.bucket = bucket as i32;
        self
    }

    /// Sets how many actors to rank: 1 to 100 (default 10).
    pub fn top(mut self, top: u32) -> Self {
        self.request.top = i32::try_from(top).unwrap_or(i32::MAX);
        self
    }

    /// Returns the request as it will be sent.
    pub fn request(&self) -> &GetAuditStatsRequest {
        &self.request
    }

    /// Runs the query, retrying while the server is unavailable.
    pub async fn send(self) -> Result<AuditStats, Error> {
        let client = &self.client;
        with_retries(client.retry_policy(), true, || async {
            let request = client.request(self.request.clone());
            Ok(client.stub().get_audit_stats(request).await?.into_inner())
        })
        .await
    }
}
