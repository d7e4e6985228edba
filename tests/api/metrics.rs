//! Prometheus metrics on their own port: requests by method and code,
//! latency, appended entries, open streams, pool use, health; and the
//! server-wide limit on concurrent List/Verify streams.

use audit_proto::{GetAuditLogRequest, ListAuditLogsRequest, VerifyAuditChainRequest};
use audit_server::config::{Cli, Settings};
use audit_tests::{
    ACME, ALL_SCOPES, AuditLogInputExt, Backend, Scrape, TestApp, assert_code, http_get, input,
    on_both_backends,
};
use clap::Parser;
use serde_json::json;
use std::time::Duration;
use tonic::Code;

const APPEND: &str = "audit.v1.AuditService/AppendAuditLogs";
const LIST: &str = "audit.v1.AuditService/ListAuditLogs";
const GET: &str = "audit.v1.AuditService/GetAuditLog";
const VERIFY: &str = "audit.v1.AuditService/VerifyAuditChain";

fn with_metrics(settings: &mut Settings) {
    settings.metrics_listen = Some("127.0.0.1:0".parse().expect("loopback address parses"));
}

/// Scrapes until `holds` accepts the scrape: gauges settle a moment after
/// the call that moves them returns to the client.
async fn scrape_until(app: &TestApp, what: &str, holds: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let scrape = app.scrape().await;
        if holds(&scrape) {
            return scrape;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never showed in the scrape:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Entries big enough that a List stream of them cannot fit in the
/// client's HTTP/2 window, so the stream stays open until it is read.
async fn seed_a_long_trail(app: &TestApp) {
    let padding = "x".repeat(2048);
    let entries = (0..200)
        .map(|index| input("document.read").metadata(json!({ "index": index, "padding": padding })))
        .collect();
    app.seed(ACME, entries).await;
}

/// A List stream of one entry per message, read just far enough to know
/// the server has started it.
async fn open_list_stream(app: &TestApp) -> tonic::Streaming<audit_proto::ListAuditLogsResponse> {
    let request = ListAuditLogsRequest {
        page_size: 1,
        ..Default::default()
    };
    let mut stream = app
        .client_for(ACME, ALL_SCOPES)
        .stub()
        .list_audit_logs(request)
        .await
        .expect("the List stream starts")
        .into_inner();
    let first = stream.message().await.expect("the first page arrives");
    assert!(first.is_some(), "the trail is not empty");
    stream
}

on_both_backends!(
    requests_are_counted_by_method_and_code,
    open_streams_count_a_list_stream_until_it_ends,
    streaming_calls_over_the_limit_are_refused_cleanly,
);

async fn requests_are_counted_by_method_and_code(backend: Backend) {
    let app = TestApp::spawn_with(backend, with_metrics).await;
    app.seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;
    app.seed(ACME, vec![input("user.login")]).await;
    assert_code(
        app.append(ACME, vec![input("")]).await,
        Code::InvalidArgument,
    );
    app.list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_code(app.get(ACME, &unknown).await, Code::NotFound);
    assert_code(
        app.anonymous()
            .stub()
            .get_audit_log(GetAuditLogRequest { id: unknown })
            .await,
        Code::Unauthenticated,
    );

    let scrape = scrape_until(&app, "health SERVING", |scrape| {
        scrape.value("audit_health_serving", &[]) == Some(1.0)
    })
    .await;
    let requests = |method: &str, code: &str| {
        scrape
            .value(
                "audit_rpc_requests_total",
                &[("method", method), ("code", code)],
            )
            .unwrap_or(0.0)
    };
    assert_eq!(requests(APPEND, "OK"), 2.0);
    assert_eq!(requests(APPEND, "INVALID_ARGUMENT"), 1.0);
    assert_eq!(requests(LIST, "OK"), 1.0);
    assert_eq!(requests(GET, "NOT_FOUND"), 1.0);
    assert_eq!(requests(GET, "UNAUTHENTICATED"), 1.0);
    assert_eq!(requests(GET, "OK"), 0.0);

    let append_calls = [("method", APPEND)];
    assert_eq!(
        scrape.expect("audit_rpc_duration_seconds_count", &append_calls),
        3.0
    );
    assert_eq!(
        scrape.expect(
            "audit_rpc_duration_seconds_bucket",
            &[("method", APPEND), ("le", "+Inf")]
        ),
        3.0
    );
    assert!(
        scrape.expect(
            "audit_rpc_duration_seconds_bucket",
            &[("method", APPEND), ("le", "10")]
        ) <= 3.0
    );
    assert!(scrape.expect("audit_rpc_duration_seconds_sum", &append_calls) > 0.0);
    // Only acknowledged entries count; the refused batch does not.
    assert_eq!(scrape.expect("audit_entries_appended_total", &[]), 3.0);

    let idle = scrape.expect("audit_db_pool_connections", &[("state", "idle")]);
    let in_use = scrape.expect("audit_db_pool_connections", &[("state", "in_use")]);
    let max = scrape.expect("audit_db_pool_max_connections", &[]);
    assert!(
        idle + in_use >= 1.0,
        "the pool holds the connection just used"
    );
    assert!(
        idle + in_use <= max,
        "{idle} idle + {in_use} in use > max {max}"
    );

    // Nothing waits for an append transaction once the appends answered.
    assert_eq!(scrape.expect("audit_append_calls_waiting", &[]), 0.0);
    assert_eq!(scrape.expect("audit_append_writers", &[]), 0.0);
    let max_writers = scrape.expect("audit_append_max_writers", &[]);
    let expected = app.store().append_queue_use().max_writers as f64;
    assert_eq!(max_writers, expected);
    assert!(max_writers >= 1.0);

    // Follow mode is not served yet: its series exist, at zero.
    assert_eq!(scrape.expect("audit_follow_streams", &[]), 0.0);
    assert_eq!(scrape.expect("audit_follow_lag_entries", &[]), 0.0);
    assert_eq!(
        scrape.expect(
            "audit_build_info",
            &[("backend", app.store().backend_name())]
        ),
        1.0
    );
}

async fn open_streams_count_a_list_stream_until_it_ends(backend: Backend) {
    let app = TestApp::spawn_with(backend, with_metrics).await;
    seed_a_long_trail(&app).await;
    let open = |scrape: &Scrape| scrape.expect("audit_open_streams", &[("method", LIST)]);
    assert_eq!(open(&app.scrape().await), 0.0, "no stream before the call");

    let stream = open_list_stream(&app).await;
    assert_eq!(open(&app.scrape().await), 1.0, "the List stream is open");

    drop(stream);
    let scrape = scrape_until(&app, "the List stream closing", |scrape| {
        open(scrape) == 0.0
    })
    .await;
    assert_eq!(
        scrape.expect(
            "audit_rpc_requests_total",
            &[("method", LIST), ("code", "CANCELLED")]
        ),
        1.0,
        "a stream the client walked away from counts as cancelled"
    );
    assert_eq!(
        scrape.expect("audit_rpc_duration_seconds_count", &[("method", LIST)]),
        1.0
    );
}

async fn streaming_calls_over_the_limit_are_refused_cleanly(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        with_metrics(settings);
        settings.limits.max_streaming_calls = 1;
    })
    .await;
    seed_a_long_trail(&app).await;
    let client = app.client_for(ACME, ALL_SCOPES);
    let held = open_list_stream(&app).await;

    let refused = assert_code(
        client
            .stub()
            .list_audit_logs(ListAuditLogsRequest::default())
            .await,
        Code::ResourceExhausted,
    );
    assert!(
        refused.message().contains("limit of 1 concurrent"),
        "the message names the limit: {}",
        refused.message()
    );
    assert_code(
        client
            .stub()
            .verify_audit_chain(VerifyAuditChainRequest::default())
            .await,
        Code::ResourceExhausted,
    );
    // Unary calls are not streams: they still pass.
    app.seed(ACME, vec![input("user.login")]).await;

    let scrape = app.scrape().await;
    assert_eq!(
        scrape.expect("audit_streaming_calls_refused_total", &[("method", LIST)]),
        1.0
    );
    assert_eq!(
        scrape.expect("audit_streaming_calls_refused_total", &[("method", VERIFY)]),
        1.0
    );
    assert_eq!(scrape.expect("audit_streaming_calls_max", &[]), 1.0);

    drop(held);
    scrape_until(&app, "the held stream closing", |scrape| {
        scrape.expect("audit_open_streams", &[("method", LIST)]) == 0.0
    })
    .await;
    let all = app
        .list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("a List passes once the held stream has ended");
    assert_eq!(all.len(), 201);
}

#[tokio::test]
async fn the_metrics_port_serves_only_metrics() {
    let app = TestApp::spawn_with(Backend::Sqlite, with_metrics).await;
    let addr = app.metrics_addr.expect("metrics port bound");
    assert_eq!(http_get(addr, "/metrics").await.status, 200);
    assert_eq!(http_get(addr, "/").await.status, 404);
    assert_eq!(http_get(addr, "/metrics/extra").await.status, 404);
}

#[tokio::test]
async fn no_metrics_listener_without_the_flag() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.metrics_addr, None);

    let default = Cli::try_parse_from(["audit-server"]).expect("no flags parse");
    assert_eq!(default.server.metrics_listen, None, "off by default");
    let asked = Cli::try_parse_from(["audit-server", "--metrics-listen", "127.0.0.1:9464"])
        .expect("the flag parses");
    assert_eq!(
        asked.server.metrics_listen,
        Some("127.0.0.1:9464".parse().expect("address parses"))
    );
}

/// Calls `path` on the server as a gRPC method taking and returning Empty.
async fn call_made_up_method(app: &TestApp, path: &'static str) -> tonic::Status {
    let channel = tonic::transport::Endpoint::from_shared(app.endpoint())
        .expect("endpoint parses")
        .connect()
        .await
        .expect("connects");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    grpc.unary(
        tonic::Request::new(()),
        http::uri::PathAndQuery::from_static(path),
        codec,
    )
    .await
    .expect_err("no such method")
}

#[tokio::test]
async fn made_up_methods_share_one_label() {
    let app = TestApp::spawn_with(Backend::Sqlite, with_metrics).await;
    // Without a token, the audit service's own path is refused before
    // routing; an unknown service is unimplemented.
    let nope = call_made_up_method(&app, "/audit.v1.AuditService/Nope").await;
    assert_eq!(nope.code(), Code::Unauthenticated);
    let unknown = call_made_up_method(&app, "/x.Y/Z").await;
    assert_eq!(unknown.code(), Code::Unimplemented);

    let scrape = app.scrape().await;
    for code in ["UNAUTHENTICATED", "UNIMPLEMENTED"] {
        assert_eq!(
            scrape.expect(
                "audit_rpc_requests_total",
                &[("method", "other"), ("code", code)]
            ),
            1.0
        );
    }
    assert!(
        !scrape.text.contains("Nope") && !scrape.text.contains("x.Y"),
        "a caller's made-up path never becomes a label:\n{}",
        scrape.text
    );
}
