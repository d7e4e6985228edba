//! A typed Rust client for the audit-log service (`audit.v1.AuditService`).
//!
//! [`AuditClient`] wraps the generated tonic stub, adds the bearer token to
//! every call, and returns the messages a caller actually wants (ids, entries,
//! stats) instead of `tonic::Response` wrappers. Failures are the server's
//! `tonic::Status`, unchanged: its code and, for INVALID_ARGUMENT, the
//! `google.rpc.BadRequest` details naming each bad field.
//!
//! ```no_run
//! use audit_client::{AuditClient, AuditLogInput, ListAuditLogsRequest};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = AuditClient::connect("http://127.0.0.1:50051", "my-token").await?;
//! let ids = client
//!     .append(vec![AuditLogInput {
//!         action: "user.login".into(),
//!         ..Default::default()
//!     }])
//!     .await?;
//! let entries = client.list_all(ListAuditLogsRequest::default()).await?;
//! println!("stored {ids:?}; the tenant holds {} entries", entries.len());
//! # Ok(())
//! # }
//! ```

mod bearer;

pub use audit_proto::{
    AuditLog, AuditLogFilter, AuditLogInput, AuditStats, DeleteAuditLogResponse, FilterMetadata,
    GetAuditStatsRequest, ListAuditLogsRequest, ListAuditLogsResponse,
};
pub use bearer::BearerToken;

use audit_proto::audit_service_client::AuditServiceClient;
use audit_proto::{
    AppendAuditLogsRequest, DeleteAuditLogRequest, DescribeFiltersRequest, GetAuditLogRequest,
};
use futures_util::TryStreamExt;
use tonic::Status;
use tonic::codec::Streaming;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// The largest message the client accepts: the server's default limit, so a
/// full page of large entries is never refused on the way in.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Why a client could not be created.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint is not a valid URI.
    #[error("invalid endpoint {endpoint:?}: {source}")]
    InvalidEndpoint {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The server could not be reached.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
}

/// The generated stub behind [`AuditClient`], with the bearer token added to
/// every request.
pub type AuditServiceStub = AuditServiceClient<InterceptedService<Channel, BearerToken>>;

/// A connection to the audit-log service that sends one bearer token.
///
/// Cloning is cheap and shares the connection; [`AuditClient::with_token`]
/// shares it under another identity.
#[derive(Debug, Clone)]
pub struct AuditClient {
    channel: Channel,
    stub: AuditServiceStub,
}

impl AuditClient {
    /// Connects to `endpoint` (`http://host:port`, or `host:port` for
    /// plaintext) and sends `token` as `authorization: Bearer <token>`; an
    /// empty token sends no header.
    pub async fn connect(
        endpoint: impl Into<String>,
        token: impl Into<String>,
    ) -> Result<Self, Error> {
        let mut endpoint = endpoint.into();
        if !endpoint.contains("://") {
            endpoint = format!("http://{endpoint}");
        }
        let channel = Endpoint::from_shared(endpoint.clone())
            .map_err(|source| Error::InvalidEndpoint {
                endpoint: endpoint.clone(),
                source,
            })?
            .connect()
            .await
            .map_err(|source| Error::Connect { endpoint, source })?;
        Ok(Self::from_channel(channel, token))
    }

    /// Wraps an existing channel, e.g. one with TLS or timeouts configured.
    pub fn from_channel(channel: Channel, token: impl Into<String>) -> Self {
        let stub = AuditServiceClient::with_interceptor(channel.clone(), BearerToken::new(token))
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        Self { channel, stub }
    }

    /// Returns a client on the same connection that sends `token` instead.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self::from_channel(self.channel.clone(), token)
    }

    /// Returns the generated stub, for calls that need request metadata or
    /// other options this client does not expose.
    pub fn stub(&self) -> AuditServiceStub {
        self.stub.clone()
    }

    /// Appends `entries` atomically and returns their ids in input order.
    pub async fn append(&self, entries: Vec<AuditLogInput>) -> Result<Vec<String>, Status> {
        let response = self
            .stub()
            .append_audit_logs(AppendAuditLogsRequest { entries })
            .await?;
        Ok(response.into_inner().ids)
    }

    /// Opens a List stream: one message per page, each with a resumable
    /// `next_page_token`.
    pub async fn list(
        &self,
        request: ListAuditLogsRequest,
    ) -> Result<Streaming<ListAuditLogsResponse>, Status> {
        Ok(self.stub().list_audit_logs(request).await?.into_inner())
    }

    /// Reads a whole List stream and returns every entry in stream order.
    pub async fn list_all(&self, request: ListAuditLogsRequest) -> Result<Vec<AuditLog>, Status> {
        let pages: Vec<ListAuditLogsResponse> = self.list(request).await?.try_collect().await?;
        Ok(pages.into_iter().flat_map(|page| page.audit_logs).collect())
    }

    /// Returns one entry by id.
    pub async fn get(&self, id: impl Into<String>) -> Result<AuditLog, Status> {
        let request = GetAuditLogRequest { id: id.into() };
        Ok(self.stub().get_audit_log(request).await?.into_inner())
    }

    /// Deletes one entry, recording `reason` in the deletion record.
    pub async fn delete(
        &self,
        id: impl Into<String>,
        reason: impl Into<String>,
    ) -> Result<DeleteAuditLogResponse, Status> {
        let request = DeleteAuditLogRequest {
            id: id.into(),
            reason: reason.into(),
        };
        Ok(self.stub().delete_audit_log(request).await?.into_inner())
    }

    /// Counts the entries matching a filter.
    pub async fn stats(&self, request: GetAuditStatsRequest) -> Result<AuditStats, Status> {
        Ok(self.stub().get_audit_stats(request).await?.into_inner())
    }

    /// Describes the filter fields, sort orders and the actions and target
    /// types present in the caller's tenant.
    pub async fn describe_filters(&self) -> Result<FilterMetadata, Status> {
        let response = self
            .stub()
            .describe_filters(DescribeFiltersRequest {})
            .await?;
        Ok(response.into_inner())
    }
}
