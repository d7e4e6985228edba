//! The audit-log service as the commands use it: the only module that calls
//! the client library's RPC methods, so a change there stays here.

use crate::error::CliError;
use audit_client::{AuditClient, Page};
use audit_proto::{
    AuditLog, AuditLogFilter, AuditLogInput, AuditStats, Checkpoint, DeleteAuditLogResponse,
    FilterMetadata, GetCheckpointRequest, GetPublicKeysRequest, Granularity, PublicKey, SortOrder,
};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use std::time::Duration;

/// A connection to the service under one token.
pub struct Service {
    client: AuditClient,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: AuditLogFilter,
    pub oldest_first: bool,
    pub page_size: u32,
    /// Most entries in the whole stream; None for every match.
    pub limit: Option<u32>,
    /// Resumes after an earlier message; empty to start at the beginning.
    pub page_token: String,
    pub include_total_count: bool,
    /// Follow mode: history in commit order, then new entries live.
    pub follow: bool,
}

impl Service {
    /// Connects to `endpoint`, sending `token` as a bearer token if given,
    /// with `timeout` as each call's deadline.
    pub async fn connect(
        endpoint: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, CliError> {
        let client = AuditClient::builder(endpoint)
            .bearer_token(token.unwrap_or_default())
            .deadline(timeout)
            .connect()
            .await?;
        Ok(Self { client })
    }

    /// Streams the matching entries, one item per server message; the
    /// library resumes a broken call from the last message's token.
    pub fn pages(&self, query: ListQuery) -> BoxStream<'static, Result<Page, CliError>> {
        let order = if query.oldest_first {
            SortOrder::OldestFirst
        } else {
            SortOrder::NewestFirst
        };
        let mut list = self
            .client
            .list()
            .filter(query.filter)
            .page_size(query.page_size)
            .page_token(query.page_token);
        // A follow stream has one order, commit order, and refuses another.
        list = if query.follow {
            list.follow()
        } else {
            list.order(order)
        };
        if let Some(limit) = query.limit {
            list = list.limit(limit);
        }
        if query.include_total_count {
            list = list.include_total_count();
        }
        list.pages().map_err(CliError::from).boxed()
    }

    /// Returns one entry.
    pub async fn get(&self, id: &str) -> Result<AuditLog, CliError> {
        Ok(self.client.get(id).await?)
    }

    /// Deletes one entry.
    pub async fn delete(&self, id: &str, reason: &str) -> Result<DeleteAuditLogResponse, CliError> {
        Ok(self.client.delete(id, reason).await?)
    }

    /// Counts the entries matching `filter`.
    pub async fn stats(
        &self,
        filter: AuditLogFilter,
        bucket: Granularity,
        top: u32,
    ) -> Result<AuditStats, CliError> {
        let stats = self.client.stats().filter(filter).by(bucket).top(top);
        Ok(stats.send().await?)
    }

    /// Has the service sign a checkpoint of a tenant's chain head (empty:
    /// the caller's own).
    pub async fn checkpoint(&self, tenant_id: &str) -> Result<Checkpoint, CliError> {
        let request = self.request(GetCheckpointRequest {
            tenant_id: tenant_id.to_owned(),
        });
        let response = self.client.stub().get_checkpoint(request).await;
        Ok(response.map_err(audit_client::Error::from)?.into_inner())
    }

    /// Returns the keys the service lists for checking checkpoints.
    pub async fn public_keys(&self) -> Result<Vec<PublicKey>, CliError> {
        let request = self.request(GetPublicKeysRequest {});
        let response = self.client.stub().get_public_keys(request).await;
        Ok(response
            .map_err(audit_client::Error::from)?
            .into_inner()
            .keys)
    }

    /// A request with the call deadline, for the calls made on the stub.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(deadline) = self.client.deadline() {
            request.set_timeout(deadline);
        }
        request
    }

    /// Describes the filters and the tenant's actions and target types.
    pub async fn describe(&self) -> Result<FilterMetadata, CliError> {
        Ok(self.client.describe_filters().await?)
    }

    /// Appends `entries` atomically and returns their ids in order; retried
    /// while the service is unavailable when every entry has an idempotency
    /// key.
    pub async fn append(&self, entries: Vec<AuditLogInput>) -> Result<Vec<String>, CliError> {
        Ok(self.client.append(entries).await?)
    }
}
