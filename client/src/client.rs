//! [`AuditClient`]: the connection, the caller's identity and call settings,
//! and one method per RPC.

use crate::retry::with_retries;
use crate::{
    AuditLog, AuditLogInput, BearerToken, ClientBuilder, DeleteAuditLogResponse, Error,
    FilterMetadata, GetAuditStatsRequest, ListAuditLogsRequest, ListQuery, RetryPolicy, StatsQuery,
};
use audit_proto::audit_service_client::AuditServiceClient;
use audit_proto::{
    AppendAuditLogsRequest, DeleteAuditLogRequest, DescribeFiltersRequest, GetAuditLogRequest,
};
use std::fmt::Display;
use std::time::Duration;
use tonic::Request;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The largest message the client accepts: the server's default limit, so a
/// full page of large entries is never refused on the way in.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The generated stub behind [`AuditClient`], with the bearer token added to
/// every request.
pub type AuditServiceStub = AuditServiceClient<InterceptedService<Channel, BearerToken>>;

/// A connection to the audit-log service, acting as one caller.
///
/// Cloning is cheap and shares the connection; [`with_token`](Self::with_token)
/// shares it under another identity. Every call carries the configured
/// deadline, and calls that are safe to repeat are retried per the
/// [`RetryPolicy`] when the server is unavailable.
///
/// ```no_run
/// use audit_client::{ActorType, AuditClient, AuditEvent, Outcome};
/// use futures_util::TryStreamExt;
/// use std::time::{Duration, SystemTime};
///
/// # async fn example() -> Result<(), audit_client::Error> {
/// let client = AuditClient::builder("http://127.0.0.1:50051")
///     .bearer_token("eyJ…")
///     .connect()
///     .await?;
///
/// let ids = client
///     .append([AuditEvent::new("user.login")
///         .actor(ActorType::User, "u_42")
///         .result(Outcome::Success)])
///     .await?;
///
/// let day_ago = SystemTime::now() - Duration::from_secs(86_400);
/// let mut logins = client.list().action("user.*").since(day_ago).stream();
/// while let Some(entry) = logins.try_next().await? {
///     println!("{} {}", entry.id, entry.action);
/// }
/// client.delete(&ids[0], "test event").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuditClient {
    channel: Channel,
    stub: AuditServiceStub,
    deadline: Option<Duration>,
    retry: RetryPolicy,
}

impl AuditClient {
    /// Connects to `endpoint` without credentials and with default settings;
    /// see [`builder`](Self::builder) for the rest.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), audit_client::Error> {
    /// let client = audit_client::AuditClient::connect("http://127.0.0.1:50051")
    ///     .await?
    ///     .with_token("eyJ…");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self, Error> {
        ClientBuilder::new(endpoint).connect().await
    }

    /// Starts configuring a client for `endpoint`.
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(endpoint)
    }

    /// Connects as configured by `AUDIT_ENDPOINT` and `AUDIT_TOKEN`; see
    /// [`ClientBuilder::from_env`].
    pub async fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env().connect().await
    }

    /// Wraps an existing channel (no token, no deadline, default retries),
    /// e.g. one built with transport options this crate does not expose.
    pub fn from_channel(channel: Channel) -> Self {
        let stub = stub(channel.clone(), BearerToken::new(""));
        Self {
            channel,
            stub,
            deadline: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Returns a client on the same connection that sends `token` (a JWT or
    /// an API key) instead; an empty token sends none.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            stub: stub(self.channel.clone(), BearerToken::new(token)),
            ..self.clone()
        }
    }

    /// Returns a client on the same connection with another per-call
    /// deadline (`None`: as long as the server allows).
    pub fn with_deadline(&self, deadline: Option<Duration>) -> Self {
        Self {
            deadline,
            ..self.clone()
        }
    }

    /// Returns a client on the same connection with another retry policy.
    pub fn with_retry_policy(&self, retry: RetryPolicy) -> Self {
        Self {
            retry,
            ..self.clone()
        }
    }

    /// Returns the per-call deadline.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Returns the retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Returns the generated stub, for calls that need request metadata or
    /// options this client does not expose; it adds the token, but neither
    /// the deadline nor retries.
    pub fn stub(&self) -> AuditServiceStub {
        self.stub.clone()
    }

    /// Appends entries atomically and returns their ids in input order.
    ///
    /// Takes [`AuditLogInput`]s or anything that converts into one, such as
    /// [`AuditEvent`](crate::AuditEvent)s. A batch is retried only when every
    /// entry carries an idempotency key: otherwise a retry after a reply lost
    /// on the way could store the batch twice.
    pub async fn append<I>(&self, entries: I) -> Result<Vec<String>, Error>
    where
        I: IntoIterator,
        I::Item: Into<AuditLogInput>,
    {
        let entries: Vec<AuditLogInput> = entries.into_iter().map(Into::into).collect();
        let idempotent = !entries.is_empty()
            && entries
                .iter()
                .all(|entry| !entry.idempotency_key.is_empty());
        if !idempotent {
            return self.append_once(entries).await;
        }
        with_retries(self.retry, true, || self.append_once(entries.clone())).await
    }

    async fn append_once(&self, entries: Vec<AuditLogInput>) -> Result<Vec<String>, Error> {
        let request = self.request(AppendAuditLogsRequest { entries });
        let response = self.stub().append_audit_logs(request).await?;
        Ok(response.into_inner().ids)
    }

    /// Starts a List query: add filters and paging, then read it with
    /// [`ListQuery::stream`], [`ListQuery::pages`] or [`ListQuery::collect`].
    pub fn list(&self) -> ListQuery {
        ListQuery::new(self.clone(), ListAuditLogsRequest::default())
    }

    /// Starts a List query from a request built by hand; the builder's
    /// setters still apply on top.
    pub fn list_with(&self, request: ListAuditLogsRequest) -> ListQuery {
        ListQuery::new(self.clone(), request)
    }

    /// Returns one entry by id (a `&str`, a `String` or a `Uuid`).
    pub async fn get(&self, id: impl Display) -> Result<AuditLog, Error> {
        let id = id.to_string();
        with_retries(self.retry, true, || async {
            let request = self.request(GetAuditLogRequest { id: id.clone() });
            Ok(self.stub().get_audit_log(request).await?.into_inner())
        })
        .await
    }

    /// Deletes one entry, keeping `reason` in the deletion record; never
    /// retried (a repeat of a delete that landed would be NOT_FOUND).
    pub async fn delete(
        &self,
        id: impl Display,
        reason: impl Into<String>,
    ) -> Result<DeleteAuditLogResponse, Error> {
        let request = self.request(DeleteAuditLogRequest {
            id: id.to_string(),
            reason: reason.into(),
        });
        Ok(self.stub().delete_audit_log(request).await?.into_inner())
    }

    /// Starts a stats query: add filters, `by` and `top`, then
    /// [`StatsQuery::send`].
    pub fn stats(&self) -> StatsQuery {
        StatsQuery::new(self.clone(), GetAuditStatsRequest::default())
    }

    /// Starts a stats query from a request built by hand.
    pub fn stats_with(&self, request: GetAuditStatsRequest) -> StatsQuery {
        StatsQuery::new(self.clone(), request)
    }

    /// Describes the filter fields and sort orders, and lists the actions
    /// and target types present in the caller's tenant.
    pub async fn describe_filters(&self) -> Result<FilterMetadata, Error> {
        with_retries(self.retry, true, || async {
            let request = self.request(DescribeFiltersRequest {});
            Ok(self.stub().describe_filters(request).await?.into_inner())
        })
        .await
    }

    /// Wraps a message with the per-call deadline as its `grpc-timeout`.
    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(deadline) = self.deadline {
            request.set_timeout(deadline);
        }
        request
    }
}

fn stub(channel: Channel, token: BearerToken) -> AuditServiceStub {
    AuditServiceClient::with_interceptor(channel, token)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
}
