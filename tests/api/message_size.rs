//! Requests over the configured message size are refused with a clear
//! status rather than buffered.

use audit_proto::{AppendAuditLogsRequest, AuditLogInput};
use audit_tests::{ACME, AuditLogInputExt, Backend, TestApp, assert_code, input, on_both_backends};
use serde_json::json;
use tonic::Code;

/// Returns `count` entries of about `bytes` each.
fn bulky_entries(count: usize, bytes: usize) -> Vec<AuditLogInput> {
    (0..count)
        .map(|_| AuditLogInput {
            user_agent: "x".repeat(bytes),
            ..input("user.login")
        })
        .collect()
}

// tonic refuses an oversize message with OUT_OF_RANGE; the server reports
// it as RESOURCE_EXHAUSTED, the gRPC convention the contract follows.

on_both_backends!(request_over_the_configured_limit_is_refused);
async fn request_over_the_configured_limit_is_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.limits.max_message_bytes = 64 * 1024
    })
    .await;

    let oversize = app.append(ACME, bulky_entries(50, 4000)).await;

    let status = assert_code(oversize, Code::ResourceExhausted);
    assert!(
        status.message().contains("limit"),
        "says a limit was hit: {}",
        status.message()
    );
    app.seed(ACME, bulky_entries(5, 4000)).await;
}

on_both_backends!(request_over_16_mib_is_refused_by_default);
async fn request_over_16_mib_is_refused_by_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let oversize = app.append(ACME, bulky_entries(1000, 17 * 1024)).await;

    assert_code(oversize, Code::ResourceExhausted);
    let listed = app
        .list(ACME, Default::default())
        .await
        .expect("the server still serves");
    assert!(listed.is_empty());
}

on_both_backends!(batch_over_tonics_4_mib_default_is_accepted);
async fn batch_over_tonics_4_mib_default_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let entries: Vec<AuditLogInput> = bulky_entries(1000, 4000)
        .into_iter()
        .map(|entry| entry.metadata(json!({"context": "y".repeat(6000)})))
        .collect();
    assert!(
        prost::Message::encoded_len(&AppendAuditLogsRequest {
            entries: entries.clone()
        }) > 8 * 1024 * 1024
    );

    let ids = app.seed(ACME, entries).await;

    assert_eq!(
        ids.len(),
        1000,
        "a 10 MB batch fits the default 16 MiB limit"
    );
}
