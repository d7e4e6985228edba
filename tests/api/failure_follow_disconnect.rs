//! Failure contract, point 4, for follow streams: a follower that goes away
//! while it catches up on a large history, or while it waits for new
//! entries, frees its database connection and its follow slot within a
//! second.

use audit_proto::{ListAuditLogsRequest, ListAuditLogsResponse};
use audit_server::config::Settings;
use audit_tests::database_activity::{
    Observer, leave_and_expect_release, stall_on_locked_audit_logs, wait_until_pool_idle,
};
use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp, input, on_both_backends};
use std::time::Duration;
use tokio::time::Instant;
use tonic::codec::Streaming;

const ROWS: usize = 20_000;
const PAGE: i32 = 1000;
const WITHIN: Duration = Duration::from_secs(1);

fn with_metrics(settings: &mut Settings) {
    settings.metrics_listen = Some("127.0.0.1:0".parse().expect("loopback address parses"));
}

async fn seeded_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, with_metrics).await;
    for _ in 0..ROWS / PAGE as usize {
        app.seed(ACME, (0..PAGE).map(|_| input("document.read")).collect())
            .await;
    }
    app
}

async fn follow(app: &TestApp) -> Streaming<ListAuditLogsResponse> {
    let request = ListAuditLogsRequest {
        follow: true,
        page_size: PAGE,
        ..Default::default()
    };
    app.client_for(ACME, ALL_SCOPES)
        .stub()
        .list_audit_logs(request)
        .await
        .expect("the follow stream opens")
        .into_inner()
}

/// Returns the open follow streams the server reports.
async fn open_follow_streams(app: &TestApp) -> f64 {
    app.scrape().await.expect("audit_follow_streams", &[])
}

/// Polls `/metrics` until no follow stream is open; returns how long that
/// took, or `None` after `within`.
async fn wait_until_no_follower(app: &TestApp, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if open_follow_streams(app).await == 0.0 {
            return Some(started.elapsed());
        }
        if started.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_released(app: &TestApp) {
    let idle_after = wait_until_pool_idle(app, WITHIN).await;
    assert!(
        idle_after.is_some(),
        "connections still in use 1 s after the follower left: {:?}",
        app.store().pool_usage()
    );
    let slot_freed_after = wait_until_no_follower(app, WITHIN).await;
    assert!(
        slot_freed_after.is_some(),
        "the follow stream still counts as open 1 s after its client left: {}",
        open_follow_streams(app).await
    );
}

on_both_backends!(
    a_follower_that_leaves_during_catch_up_frees_its_connection_and_slot,
    a_follower_that_leaves_while_waiting_for_entries_frees_its_slot
);

async fn a_follower_that_leaves_during_catch_up_frees_its_connection_and_slot(backend: Backend) {
    let app = seeded_app(backend).await;
    let mut stream = follow(&app).await;
    let first = stream.message().await.expect("first page").expect("a page");
    assert_eq!(first.audit_logs.len(), PAGE as usize, "history comes first");
    assert_eq!(open_follow_streams(&app).await, 1.0);

    drop(stream);
    assert_released(&app).await;
}

async fn a_follower_that_leaves_while_waiting_for_entries_frees_its_slot(backend: Backend) {
    let app = TestApp::spawn_with(backend, with_metrics).await;
    app.seed(ACME, vec![input("document.read")]).await;
    let mut stream = follow(&app).await;
    let history = stream.message().await.expect("history").expect("a message");
    assert_eq!(history.audit_logs.len(), 1);
    // Nothing more to read: the stream now waits for the next commit.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stream.message())
            .await
            .is_err(),
        "no message arrives while nothing is appended"
    );
    assert_eq!(open_follow_streams(&app).await, 1.0);

    drop(stream);
    assert_released(&app).await;
    // The tenant's next append reaches no one and costs nothing extra.
    app.seed(ACME, vec![input("document.read")]).await;
    assert_released(&app).await;
}

/// The deterministic case: the follower's next catch-up read is waiting on
/// a lock (a connection is certainly in use) when the client leaves.
#[tokio::test]
async fn a_follower_that_leaves_while_its_read_waits_frees_the_connection_on_postgres() {
    let app = seeded_app(Backend::Postgres).await;
    let observer = Observer::connect(&app).await;
    let mut stream = follow(&app).await;
    stream.message().await.expect("first page").expect("a page");
    let lock = stall_on_locked_audit_logs(&app, &observer, &mut stream).await;
    leave_and_expect_release(&app, &observer, stream, lock).await;
}
