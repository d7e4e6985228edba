//! The `AuditService` implementation: one file per RPC, each a thin step of
//! decode and validate, call the store, encode.

mod append;
mod checkpoint;
mod delete;
mod describe;
mod follow;
mod get;
mod legal_hold;
mod list;
mod retention;
mod stats;
pub(crate) mod stubs;
mod verify;

pub use audit_validation::page_token::PageTokenKey;

use crate::checkpoint::Checkpointer;
use crate::error::AuditError;
use crate::follow::{FollowHub, FollowSettings};
use crate::metrics::Metrics;
use crate::retention::RetentionSettings;
use crate::store::AuditStore;
use audit_proto as pb;
use stubs::audit_service_server::AuditService;
use tonic::{Request, Response, Status};

/// The service behind every `audit.v1.AuditService` RPC.
#[derive(Clone)]
pub struct AuditRpc {
    store: AuditStore,
    page_tokens: PageTokenKey,
    checkpoints: Checkpointer,
    follow: FollowHub,
    retention: RetentionSettings,
}

impl AuditRpc {
    pub fn new(
        store: AuditStore,
        page_tokens: PageTokenKey,
        checkpoints: Checkpointer,
        retention: RetentionSettings,
    ) -> Self {
        Self {
            store,
            page_tokens,
            checkpoints,
            follow: FollowHub::new(FollowSettings::default()),
            retention,
        }
    }

    /// Serves follow streams under `hub` (its caps and shutdown signal).
    pub fn with_follow(mut self, hub: FollowHub) -> Self {
        self.follow = hub;
        self
    }
}

/// Maps a handler's outcome to its status and records the code on the
/// RPC's span.
fn respond<T>(result: Result<T, AuditError>) -> Result<Response<T>, Status> {
    let result = result.map(Response::new).map_err(Status::from);
    let code = match &result {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    };
    tracing::Span::current().record("grpc.code", code as i32);
    result
}

#[tonic::async_trait]
impl AuditService for AuditRpc {
    async fn append_audit_logs(
        &self,
        request: Request<pb::AppendAuditLogsRequest>,
    ) -> Result<Response<pb::AppendAuditLogsResponse>, Status> {
        let metrics = request.extensions().get::<Metrics>().cloned();
        let response = respond(append::append(self, request).await);
        if let (Some(metrics), Ok(response)) = (metrics, &response) {
            metrics.entries_appended(response.get_ref().ids.len());
        }
        response
    }

    type ListAuditLogsStream = list::ListStream;

    async fn list_audit_logs(
        &self,
        request: Request<pb::ListAuditLogsRequest>,
    ) -> Result<Response<Self::ListAuditLogsStream>, Status> {
        respond(list::list(self, request).await)
    }

    async fn get_audit_log(
        &self,
        request: Request<pb::GetAuditLogRequest>,
    ) -> Result<Response<pb::AuditLog>, Status> {
        respond(get::get(self, request).await)
    }

    async fn delete_audit_log(
        &self,
        request: Request<pb::DeleteAuditLogRequest>,
    ) -> Result<Response<pb::DeleteAuditLogResponse>, Status> {
        respond(delete::delete(self, request).await)
    }

    async fn get_audit_stats(
        &self,
        request: Request<pb::GetAuditStatsRequest>,
    ) -> Result<Response<pb::AuditStats>, Status> {
        respond(stats::stats(self, request).await)
    }

    async fn describe_filters(
        &self,
        request: Request<pb::DescribeFiltersRequest>,
    ) -> Result<Response<pb::FilterMetadata>, Status> {
        respond(describe::describe(self, request).await)
    }

    type VerifyAuditChainStream = verify::VerifyStream;

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<Self::VerifyAuditChainStream>, Status> {
        respond(verify::verify(self, request).await)
    }

    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        respond(checkpoint::get_checkpoint(self, request).await)
    }

    async fn get_public_keys(
        &self,
        request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::PublicKeys>, Status> {
        respond(checkpoint::get_public_keys(self, request).await)
    }

    async fn set_legal_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Result<Response<pb::LegalHold>, Status> {
        respond(legal_hold::set_legal_hold(self, request).await)
    }

    async fn clear_legal_hold(
        &self,
        request: Request<pb::ClearLegalHoldRequest>,
    ) -> Result<Response<pb::LegalHold>, Status> {
        respond(legal_hold::clear_legal_hold(self, request).await)
    }

    async fn get_legal_hold(
        &self,
        request: Request<pb::GetLegalHoldRequest>,
    ) -> Result<Response<pb::LegalHold>, Status> {
        respond(legal_hold::get_legal_hold(self, request).await)
    }

    async fn set_retention_policy(
        &self,
        request: Request<pb::SetRetentionPolicyRequest>,
    ) -> Result<Response<pb::RetentionPolicy>, Status> {
        respond(retention::set_retention_policy(self, request).await)
    }

    async fn get_retention_policy(
        &self,
        request: Request<pb::GetRetentionPolicyRequest>,
    ) -> Result<Response<pb::RetentionPolicy>, Status> {
        respond(retention::get_retention_policy(self, request).await)
    }
}
