//! The gRPC side: the generated client over its own HTTP/2 connection, and
//! a bearer token per tenant (plus an admin one for cross-tenant reads).

use crate::dataset::{DataSet, TENANTS};
use crate::server::JWT_SECRET;
use anyhow::{Context, Result};
use audit_proto::audit_service_client::AuditServiceClient;
use audit_server::auth::{JwtSecret, issue_token};
use std::sync::Arc;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

/// Tokens live for the whole run (a 10M run takes hours).
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// `authorization` values: one per tenant, and one admin.
#[derive(Clone)]
pub struct Tokens {
    tenants: Arc<Vec<MetadataValue<Ascii>>>,
    admin: MetadataValue<Ascii>,
}

impl Tokens {
    pub fn issue() -> Result<Self> {
        let secret = JwtSecret::new(JWT_SECRET.as_bytes().to_vec());
        let bearer = |tenant: &str, scopes: &str| -> Result<MetadataValue<Ascii>> {
            let token = issue_token(&secret, "audit-bench", tenant, scopes, TOKEN_TTL)
                .map_err(|error| anyhow::anyhow!("cannot issue a token: {error}"))?;
            format!("Bearer {token}")
                .parse()
                .context("a token is not a header value")
        };
        let tenants = (0..TENANTS)
            .map(|tenant| bearer(&DataSet::tenant_name(tenant), "audit:read audit:append"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            tenants: Arc::new(tenants),
            admin: bearer("audit-bench-admin", "audit:admin")?,
        })
    }

    pub fn tenant(&self, tenant: usize) -> MetadataValue<Ascii> {
        self.tenants[tenant].clone()
    }

    pub fn admin(&self) -> MetadataValue<Ascii> {
        self.admin.clone()
    }
}

/// Opens a new connection to the server.
pub async fn connect(endpoint: &str) -> Result<AuditServiceClient<Channel>> {
    // Export pages of 1000 entries with 500 bytes of metadata exceed the
    // default 4 MiB decode limit.
    Ok(AuditServiceClient::new(channel(endpoint).await?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES))
}

/// The most bytes one response message may have.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The largest HTTP/2 frame the server may send, as `audit-client` sets
/// it: a 100-entry page (~70 KB) leaves in one frame, not five.
const MAX_FRAME_BYTES: u32 = 1024 * 1024;

/// Opens a new HTTP/2 connection to the server.
pub async fn channel(endpoint: &str) -> Result<Channel> {
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
        .tcp_nodelay(true)
        .max_frame_size(MAX_FRAME_BYTES)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {endpoint}"))
}

/// Wraps `message` in a request carrying `token`.
pub fn request<T>(message: T, token: MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", token);
    request
}
