//! [`ListQuery`]: which entries to list, in what order and pages, and the
//! ways to read them (a stream of entries, of pages, or a `Vec`).

use crate::filter::filter_setters;
use crate::pages::page_stream;
use crate::{AuditClient, AuditLog, AuditLogFilter, Error, ListAuditLogsRequest, SortOrder};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

/// The entries of a List query, one at a time, across every page and every
/// resumed call.
pub type AuditLogStream = BoxStream<'static, Result<AuditLog, Error>>;

/// The messages of a List query, one [`Page`] each.
pub type PageStream = BoxStream<'static, Result<Page, Error>>;

/// One streamed message of a List query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The entries of the page, in the query's order.
    pub entries: Vec<AuditLog>,
    /// Resumes right after this page (see [`ListQuery::page_token`]); empty
    /// on the last page.
    pub next_page_token: String,
    /// The number of matching entries, on the first page when
    /// [`ListQuery::include_total_count`] asked for it.
    pub total_count: Option<i64>,
}

/// A List query under construction; nothing is sent until it is read.
///
/// The stream follows the server's page tokens: if the connection breaks or
/// the server becomes unavailable mid-way, it resumes right after the last
/// entry it delivered (per the client's [`RetryPolicy`](crate::RetryPolicy)),
/// so each matching entry arrives once, in order.
///
/// ```no_run
/// use audit_client::{AuditClient, Outcome};
/// use futures_util::TryStreamExt;
/// use std::time::{Duration, SystemTime};
///
/// # async fn example(client: AuditClient) -> Result<(), audit_client::Error> {
/// let week_ago = SystemTime::now() - Duration::from_secs(7 * 86_400);
/// let mut denied = client
///     .list()
///     .action("api_key.*")
///     .result(Outcome::Denied)
///     .since(week_ago)
///     .oldest_first()
///     .stream();
/// while let Some(entry) = denied.try_next().await? {
///     println!("{} {}", entry.action, entry.client_ip);
/// }
///
/// // Page at a time, with the total on the first page.
/// let mut pages = client.list().page_size(50).include_total_count().pages();
/// if let Some(first) = pages.try_next().await? {
///     println!("{:?} entries; resume with {:?}", first.total_count, first.next_page_token);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ListQuery {
    client: AuditClient,
    request: ListAuditLogsRequest,
}

impl ListQuery {
    pub(crate) fn new(client: AuditClient, request: ListAuditLogsRequest) -> Self {
        Self { client, request }
    }

    fn filter_mut(&mut self) -> &mut AuditLogFilter {
        self.request.filter.get_or_insert_with(Default::default)
    }

    filter_setters!();

    /// Lists newest first (the default).
    pub fn newest_first(self) -> Self {
        self.order(SortOrder::NewestFirst)
    }

    /// Lists oldest first.
    pub fn oldest_first(self) -> Self {
        self.order(SortOrder::OldestFirst)
    }

    /// Sets the order by `occurred_at`, ties broken by id.
    pub fn order(mut self, order: SortOrder) -> Self {
        self.request.order = order as i32;
        self
    }

    /// Sets the entries per streamed message: 1 to 1000 (default 100).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.request.page_size = i32::try_from(page_size).unwrap_or(i32::MAX);
        self
    }

    /// Stops after `limit` entries in all.
    pub fn limit(mut self, limit: u32) -> Self {
        self.request.limit = i32::try_from(limit).unwrap_or(i32::MAX);
        self
    }

    /// Resumes after the page that returned `page_token`; the filter and
    /// order must be the ones it was issued for.
    pub fn page_token(mut self, page_token: impl Into<String>) -> Self {
        self.request.page_token = page_token.into();
        self
    }

    /// Follow mode: the matching history in commit order, then every new
    /// matching entry as it commits, until the stream is dropped. Leave the
    /// order unset. The stream needs no deadline and gets none; when the
    /// server ends it with a resume token (shutdown, or this reader fell too
    /// far behind), it reconnects from that token per the client's
    /// [`RetryPolicy`](crate::RetryPolicy), so no entry is missed or
    /// repeated.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    ///
    /// # async fn example(client: audit_client::AuditClient) -> Result<(), audit_client::Error> {
    /// let mut live = client.list().action("user.*").follow().stream();
    /// while let Some(entry) = live.try_next().await? {
    ///     println!("{} {} {}", entry.sequence, entry.tenant_id, entry.action);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn follow(mut self) -> Self {
        self.request.follow = true;
        self
    }

    /// Asks for the number of matching entries on the first page.
    pub fn include_total_count(mut self) -> Self {
        self.request.include_total_count = true;
        self
    }

    /// Returns the request as it will be sent.
    pub fn request(&self) -> &ListAuditLogsRequest {
        &self.request
    }

    /// Returns the matching entries one at a time.
    pub fn stream(self) -> AuditLogStream {
        self.pages()
            .map_ok(|page| futures_util::stream::iter(page.entries.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// Returns the matching entries a page (one server message) at a time.
    pub fn pages(self) -> PageStream {
        page_stream(self.client, self.request)
    }

    /// Reads every matching entry into a `Vec`.
    pub async fn collect(self) -> Result<Vec<AuditLog>, Error> {
        self.stream().try_collect().await
    }

    /// Reads every matching entry into a `Vec`; the same as
    /// [`collect`](Self::collect).
    pub async fn all(self) -> Result<Vec<AuditLog>, Error> {
        self.collect().await
    }
}
