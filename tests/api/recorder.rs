//! The batching [`Recorder`] against the real server: full batches and aged
//! partial ones arrive, shutdown flushes, an outage and a lost reply neither
//! lose nor duplicate events, and a full buffer drops exactly the overflow.

use audit_client::{AuditClient, AuditLog, AuditLogFilter, ListAuditLogsRequest, Recorder};
use audit_tests::{ACME, Backend, LossyRelay, TestApp, input, on_both_backends};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Long enough that a partial batch never goes out by age during a test.
const NEVER: Duration = Duration::from_secs(3600);

fn appender(app: &TestApp) -> AuditClient {
    app.client_for(ACME, "audit:append")
}

async fn entries(app: &TestApp, action: &str) -> Vec<AuditLog> {
    let request = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: action.to_owned(),
            ..Default::default()
        }),
        page_size: 1000,
        ..Default::default()
    };
    app.list(ACME, request).await.expect("list as acme")
}

/// Asserts `count` entries with `action`, each with its own idempotency key.
async fn assert_stored_once(app: &TestApp, action: &str, count: usize) {
    let stored = entries(app, action).await;
    let keys: HashSet<&str> = stored.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(stored.len(), count, "{action} entries stored");
    assert_eq!(keys.len(), count, "every {action} entry once, by its key");
}

async fn eventually(what: &str, within: Duration, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < within, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_backends!(full_batches_go_out_at_once_and_shutdown_sends_the_rest);
async fn full_batches_go_out_at_once_and_shutdown_sends_the_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let recorder = Recorder::builder(appender(&app))
        .batch_size(1000)
        .flush_interval(NEVER)
        .start();

    for _ in 0..2500 {
        recorder.record(input("bulk.event"));
    }
    eventually(
        "two full batches are stored",
        Duration::from_secs(30),
        || recorder.sent() == 2000,
    )
    .await;
    assert_eq!(recorder.buffered(), 500, "the partial batch waits");

    let stats = recorder.shutdown().await;

    assert_eq!((stats.sent, stats.dropped, stats.failed), (2500, 0, 0));
    assert_stored_once(&app, "bulk.event", 2500).await;
}

on_both_backends!(a_lone_event_arrives_after_the_flush_interval);
async fn a_lone_event_arrives_after_the_flush_interval(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let interval = Duration::from_millis(300);
    let recorder = Recorder::builder(appender(&app))
        .flush_interval(interval)
        .start();

    let recorded = Instant::now();
    recorder.record(input("lone.event"));
    loop {
        if entries(&app, "lone.event").await.len() == 1 {
            break;
        }
        assert!(
            recorded.elapsed() < interval + Duration::from_secs(5),
            "the lone event never arrived"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        recorded.elapsed() >= interval,
        "sent before its batch was old enough"
    );
    assert_eq!(recorder.sent(), 1);
}

on_both_backends!(shutdown_flushes_and_later_events_are_dropped);
async fn shutdown_flushes_and_later_events_are_dropped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let recorder = Recorder::builder(appender(&app))
        .flush_interval(NEVER)
        .start();
    for _ in 0..10 {
        recorder.record(input("user.login"));
    }

    let stats = recorder.shutdown().await;
    recorder.record(input("user.logout"));

    assert_eq!((stats.sent, stats.failed), (10, 0));
    assert_stored_once(&app, "user.login", 10).await;
    assert_eq!(recorder.dropped(), 1, "recorded after shutdown");
    assert!(entries(&app, "user.logout").await.is_empty());
}

on_both_backends!(a_restart_of_the_service_loses_and_duplicates_nothing);
async fn a_restart_of_the_service_loses_and_duplicates_nothing(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let recorder = Recorder::builder(appender(&app))
        .batch_size(50)
        .flush_interval(Duration::from_millis(50))
        .max_backoff(Duration::from_millis(200))
        .shutdown_timeout(Duration::from_secs(30))
        .start();
    for _ in 0..250 {
        recorder.record(input("outage.event"));
    }
    recorder.flush().await;

    app.stop_server().await;
    for _ in 0..250 {
        recorder.record(input("outage.event"));
    }
    // Let the sender fail and back off a few times against the closed port.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        recorder.sent(),
        250,
        "nothing is stored while the server is down"
    );
    assert_eq!(recorder.buffered(), 250);
    app.start_server().await;

    let stats = recorder.shutdown().await;

    assert_eq!((stats.sent, stats.dropped, stats.failed), (500, 0, 0));
    assert_stored_once(&app, "outage.event", 500).await;
}

on_both_backends!(a_batch_resent_after_a_lost_reply_is_stored_once);
async fn a_batch_resent_after_a_lost_reply_is_stored_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let relay = LossyRelay::start(app.addr).await;
    let client = AuditClient::builder(relay.endpoint())
        .bearer_token(app.token("acme-user", ACME, "audit:append"))
        .connect_lazy()
        .expect("a valid endpoint");
    let recorder = Recorder::builder(client)
        .batch_size(100)
        .flush_interval(NEVER)
        .max_backoff(Duration::from_millis(100))
        .start();
    recorder.record(input("warmup.event"));
    recorder.flush().await;
    assert_eq!(recorder.sent(), 1, "connected through the relay");

    relay.lose_next_reply();
    for _ in 0..100 {
        recorder.record(input("lost_reply.event"));
    }
    recorder.flush().await;

    assert_eq!(relay.replies_lost(), 1, "the first send's reply was lost");
    assert_eq!((recorder.sent(), recorder.failed()), (101, 0));
    assert_stored_once(&app, "lost_reply.event", 100).await;
}

/// Not on a backend: the service is never reached.
#[tokio::test]
async fn a_full_buffer_drops_exactly_the_overflow_without_blocking() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port to close");
    let addr = closed.local_addr().expect("an address");
    drop(closed);
    let client = AuditClient::builder(format!("http://{addr}"))
        .connect_lazy()
        .expect("a valid endpoint");
    let recorder = Recorder::builder(client)
        .batch_size(10)
        .buffer_capacity(100)
        .flush_interval(Duration::from_millis(10))
        .shutdown_timeout(Duration::from_millis(200))
        .start();

    let started = Instant::now();
    for _ in 0..10_000 {
        recorder.record(input("overflow.event"));
        assert!(recorder.buffered() <= 100, "the buffer stays bounded");
    }
    let recording = started.elapsed();

    assert!(
        recording < Duration::from_secs(2),
        "10,000 record() calls took {recording:?}"
    );
    assert_eq!(recorder.dropped(), 9_900);
    assert_eq!(recorder.buffered(), 100);
    let stats = recorder.shutdown().await;
    assert_eq!((stats.sent, stats.dropped, stats.failed), (0, 9_900, 100));
}
