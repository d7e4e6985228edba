//! Helpers for the hash-chain tests: ask the server for a verdict, and edit
//! its database directly as a tampering administrator would.

use crate::{ALL_SCOPES, TestApp};
use audit_client::AuditClient;
use audit_proto::verify_audit_chain_response::Message;
use audit_proto::{ChainStatus, ChainVerdict, VerifyAuditChainRequest};
use futures_util::TryStreamExt;
use sea_orm::ConnectionTrait;

/// Runs VerifyAuditChain as a user of `tenant` and returns the verdict that
/// ends the stream (progress messages are skipped).
pub async fn verify_chain(
    app: &TestApp,
    tenant: &str,
    request: VerifyAuditChainRequest,
) -> Result<ChainVerdict, tonic::Status> {
    verify_chain_as(&app.client_for(tenant, ALL_SCOPES), request).await
}

/// Asserts that the server verifies `tenant`'s whole chain as intact;
/// returns the verdict for further checks.
pub async fn assert_chain_intact(app: &TestApp, tenant: &str) -> ChainVerdict {
    let verdict = verify_chain(app, tenant, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(
        verdict.status(),
        ChainStatus::Intact,
        "{tenant}: {verdict:?}"
    );
    verdict
}

/// Runs VerifyAuditChain with `client` (e.g. one of a server process) and
/// returns the verdict that ends the stream.
pub async fn verify_chain_as(
    client: &AuditClient,
    request: VerifyAuditChainRequest,
) -> Result<ChainVerdict, tonic::Status> {
    let messages: Vec<_> = client
        .stub()
        .verify_audit_chain(request)
        .await?
        .into_inner()
        .try_collect()
        .await?;
    match messages.last().and_then(|last| last.message.clone()) {
        Some(Message::Verdict(verdict)) => Ok(verdict),
        other => panic!("the stream must end with a verdict, got {other:?}"),
    }
}

/// Runs SQL against the server's database behind its back.
pub async fn tamper(app: &TestApp, sql: &str) {
    app.store()
        .connection()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}
