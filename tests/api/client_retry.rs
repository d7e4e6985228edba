//! The client rides out an unavailable server: idempotent calls retry with
//! backoff across a restart on the same port and database, appends retry
//! only when every entry has an idempotency key, and a List stream that
//! breaks mid-way resumes from its last page token.

use audit_client::{AuditClient, AuditEvent, AuditLog, RetryPolicy};
use audit_tests::{
    ACME, ALL_SCOPES, AuditLogInputExt, Backend, TcpRelay, TestApp, input, on_both_backends,
};
use futures_util::TryStreamExt;
use std::time::{Duration, Instant};
use tonic::Code;

/// How long the server stays down in the restart tests.
const DOWNTIME: Duration = Duration::from_millis(600);

/// Retries for up to about 8 s: far longer than any restart here.
fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 40,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

fn acme_client(app: &TestApp, retry: RetryPolicy) -> AuditClient {
    app.client_for(ACME, ALL_SCOPES).with_retry_policy(retry)
}

fn ids(entries: &[AuditLog]) -> Vec<String> {
    entries.iter().map(|entry| entry.id.clone()).collect()
}

on_both_backends!(idempotent_calls_ride_out_a_restart);
async fn idempotent_calls_ride_out_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let seeded = app
        .seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;
    let client = acme_client(&app, patient());
    client.describe_filters().await.expect("connected before");

    app.stop_server().await;
    let started = Instant::now();
    let calls = tokio::spawn({
        let client = client.clone();
        let id = seeded[0].clone();
        async move {
            let entry = client.get(&id).await;
            let listed = client.list().collect().await;
            let stats = client.stats().send().await;
            let described = client.describe_filters().await;
            (entry, listed, stats, described)
        }
    });
    tokio::time::sleep(DOWNTIME).await;
    app.start_server().await;
    let (entry, listed, stats, described) = calls.await.expect("the calls ran");

    assert_eq!(entry.expect("get retried").id, seeded[0]);
    assert_eq!(listed.expect("list retried").len(), 2);
    assert_eq!(stats.expect("stats retried").total, 2);
    described.expect("describe retried");
    assert!(
        started.elapsed() >= DOWNTIME,
        "the calls waited for the server to come back"
    );
}

on_both_backends!(without_retries_an_unavailable_server_is_a_retryable_error);
async fn without_retries_an_unavailable_server_is_a_retryable_error(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let client = acme_client(&app, RetryPolicy::never());
    client.describe_filters().await.expect("connected before");

    app.stop_server().await;
    let error = client
        .describe_filters()
        .await
        .expect_err("nothing is listening");

    assert_eq!(error.code(), Code::Unavailable, "{error}");
    assert!(error.is_retryable(), "{error}");
    assert!(error.status().is_some());
    app.start_server().await;
    client
        .describe_filters()
        .await
        .expect("the same client reconnects once the server is back");
}

on_both_backends!(append_retries_only_when_every_entry_has_an_idempotency_key);
async fn append_retries_only_when_every_entry_has_an_idempotency_key(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    // A first wait of 0.5 s or more: a retried call cannot return sooner.
    let slow_retries = RetryPolicy {
        max_attempts: 40,
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(1),
    };
    let client = acme_client(&app, slow_retries);
    client.describe_filters().await.expect("connected before");
    app.stop_server().await;

    let started = Instant::now();
    let unkeyed = vec![
        input("user.login").idempotency_key("k-1"),
        input("user.logout"),
    ];
    let error = client
        .append(unkeyed)
        .await
        .expect_err("the server is down");
    assert!(error.is_retryable(), "{error}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "a batch with an unkeyed entry is sent once, not retried"
    );

    let keyed = vec![
        AuditEvent::new("user.login").idempotency_key("k-1"),
        AuditEvent::new("user.logout").idempotency_key("k-2"),
    ];
    let append = tokio::spawn({
        let client = client.clone();
        async move { client.append(keyed).await }
    });
    tokio::time::sleep(DOWNTIME).await;
    app.start_server().await;
    let appended = append.await.expect("the append ran").expect("retried");

    assert_eq!(appended.len(), 2);
    let stored = app.list(ACME, Default::default()).await.expect("list");
    assert_eq!(stored.len(), 2, "stored once: {stored:?}");
}

on_both_backends!(list_stream_resumes_after_its_connection_breaks_mid_way);
async fn list_stream_resumes_after_its_connection_breaks_mid_way(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // 600 entries of ~8 KB: 4.8 MB, well over the 2 MiB the client's HTTP/2
    // window lets the server send ahead, so the cut lands mid-stream.
    let bulky: Vec<_> = (0..600)
        .map(|n| {
            let mut entry = input("document.read")
                .labelled(&format!("r{n}"))
                .metadata(serde_json::json!({"context": "y".repeat(4000)}));
            entry.user_agent = "x".repeat(4000);
            entry
        })
        .collect();
    app.seed(ACME, bulky).await;
    let expected = ids(&app.list(ACME, Default::default()).await.expect("list"));
    let relay = TcpRelay::start(app.addr).await;
    let token = app.token("reader", ACME, "audit:read");
    let client = AuditClient::builder(relay.endpoint())
        .bearer_token(token)
        .retry_policy(patient())
        .connect()
        .await
        .expect("connect through the relay");

    let mut pages = client.list().page_size(25).pages();
    let first = pages.try_next().await.expect("first page").expect("a page");
    relay.cut();
    let mut streamed = ids(&first.entries);
    while let Some(page) = pages.try_next().await.expect("resumed after the cut") {
        streamed.extend(ids(&page.entries));
    }

    assert_eq!(streamed.len(), expected.len(), "no entry lost or repeated");
    assert_eq!(streamed, expected, "in order across the resume");
    assert_eq!(
        relay.connections(),
        2,
        "the stream broke and resumed on a new connection"
    );
}

on_both_backends!(list_started_while_the_server_is_down_waits_for_it);
async fn list_started_while_the_server_is_down_waits_for_it(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    app.seed(ACME, (0..7).map(|_| input("user.login")).collect())
        .await;
    let client = acme_client(&app, patient());
    client.describe_filters().await.expect("connected before");

    app.restart().await;
    app.stop_server().await;
    let listing = tokio::spawn(async move { client.list().page_size(3).collect().await });
    tokio::time::sleep(DOWNTIME).await;
    app.start_server().await;

    let entries = listing.await.expect("the list ran").expect("retried");
    assert_eq!(entries.len(), 7);
}
