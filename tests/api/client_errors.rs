//! What the client's `Error` says: the rejected fields of INVALID_ARGUMENT,
//! the code of any other status, connect and endpoint failures, which are
//! retryable, and configuration from the environment.

use audit_client::{AuditClient, AuditEvent, ClientBuilder, DEFAULT_ENDPOINT, Error};
use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp, input, on_both_backends, violated_fields};
use std::collections::HashMap;
use std::time::Duration;
use tonic::{Code, Status};

fn fields(error: &Error) -> Vec<String> {
    error
        .field_violations()
        .iter()
        .map(|violation| violation.field.clone())
        .collect()
}

on_both_backends!(invalid_argument_names_every_rejected_field);
async fn invalid_argument_names_every_rejected_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client_for(ACME, ALL_SCOPES);

    let error = client
        .append([
            AuditEvent::new(""),
            AuditEvent::new("user.login").client_ip("not-an-ip"),
        ])
        .await
        .expect_err("both entries are invalid");

    assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(!error.is_retryable());
    assert_eq!(
        fields(&error),
        ["entries[0].action", "entries[1].client_ip"]
    );
    let described = error.to_string();
    assert!(
        described.contains("entries[1].client_ip: must be an IPv4 or IPv6 address"),
        "the message names each field and why: {described}"
    );
    let status = Status::from(error);
    assert_eq!(
        violated_fields(&status),
        ["entries[0].action", "entries[1].client_ip"],
        "the status keeps its details"
    );
}

on_both_backends!(query_builders_report_rejected_fields);
async fn query_builders_report_rejected_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client_for(ACME, ALL_SCOPES);

    let list = client
        .list()
        .client_ip("10.0.0.0/99")
        .page_size(5000)
        .collect()
        .await
        .expect_err("bad cidr and page size");
    let stats = client
        .stats()
        .top(1000)
        .send()
        .await
        .expect_err("top out of range");
    let get = client.get("not-a-uuid").await.expect_err("malformed id");

    let mut list_fields = fields(&list);
    list_fields.sort();
    assert_eq!(list_fields, ["filter.client_ip", "page_size"]);
    assert_eq!(fields(&stats), ["top"]);
    assert_eq!(fields(&get), ["id"]);
}

on_both_backends!(other_statuses_keep_their_code_and_are_not_retried);
async fn other_statuses_keep_their_code_and_are_not_retried(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.client_for(ACME, "audit:read");
    let unknown = uuid::Uuid::now_v7();

    let not_found = reader.get(unknown).await.expect_err("nothing stored");
    let denied = reader
        .append([input("user.login")])
        .await
        .expect_err("no audit:append");
    let anonymous = app
        .anonymous()
        .describe_filters()
        .await
        .expect_err("no token");

    for (error, code) in [
        (&not_found, Code::NotFound),
        (&denied, Code::PermissionDenied),
        (&anonymous, Code::Unauthenticated),
    ] {
        assert!(matches!(error, Error::Status { .. }), "{error:?}");
        assert_eq!(error.code(), code);
        assert_eq!(error.status().map(Status::code), Some(code));
        assert!(!error.is_retryable(), "{code:?} is not retryable");
        assert!(error.field_violations().is_empty());
    }
    assert!(
        denied.to_string().contains("audit:append"),
        "the server's message is kept: {denied}"
    );
}

on_both_backends!(an_expired_deadline_is_not_retryable);
async fn an_expired_deadline_is_not_retryable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hurried = app
        .client_for(ACME, ALL_SCOPES)
        .with_deadline(Some(Duration::from_nanos(1)));

    let error = hurried
        .describe_filters()
        .await
        .expect_err("no call finishes in a nanosecond");

    assert_eq!(error.code(), Code::DeadlineExceeded, "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_connect_error() {
    // Bind and drop a listener: a port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();

    let error = AuditClient::builder(format!("127.0.0.1:{port}"))
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .expect_err("nothing listens there");

    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_eq!(error.code(), Code::Unavailable);
    assert!(error.is_retryable());
    assert!(error.status().is_none());
}

#[tokio::test]
async fn malformed_endpoints_are_refused_before_dialling() {
    for endpoint in ["http://exa mple:50051", "ftp://127.0.0.1:21", ""] {
        let error = AuditClient::connect(endpoint)
            .await
            .expect_err("not a gRPC endpoint");
        assert!(
            matches!(error, Error::InvalidEndpoint { .. }),
            "{endpoint:?}: {error:?}"
        );
        assert!(!error.is_retryable());
    }
    // Without the `tls` feature an https endpoint says what is missing;
    // with it, the endpoint is fine and only the dial fails.
    match AuditClient::connect("https://127.0.0.1:1").await {
        Err(Error::InvalidEndpoint { reason, .. }) => assert!(reason.contains("tls"), "{reason}"),
        Err(Error::Connect { .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    let lazy = ClientBuilder::new("127.0.0.1:1").connect_lazy();
    assert!(lazy.is_ok(), "a lazy client dials on its first call");
}

on_both_backends!(from_env_reads_the_endpoint_and_the_token);
async fn from_env_reads_the_endpoint_and_the_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.api_key(ACME, "audit:read").await;
    let env = HashMap::from([
        // No scheme: plaintext is assumed.
        ("AUDIT_ENDPOINT", app.addr.to_string()),
        ("AUDIT_TOKEN", key.key.clone()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();

    let client = ClientBuilder::from_env_with(lookup)
        .connect()
        .await
        .expect("connects to AUDIT_ENDPOINT");
    client
        .describe_filters()
        .await
        .expect("AUDIT_TOKEN is sent as the bearer token");

    let without_token =
        ClientBuilder::from_env_with(|name| (name == "AUDIT_ENDPOINT").then(|| app.endpoint()))
            .connect()
            .await
            .expect("connects");
    let error = without_token
        .describe_filters()
        .await
        .expect_err("no token");
    assert_eq!(error.code(), Code::Unauthenticated);

    let empty = ClientBuilder::from_env_with(|_| None);
    assert_eq!(empty.endpoint(), DEFAULT_ENDPOINT);
    let from_process = std::env::var("AUDIT_ENDPOINT")
        .ok()
        .filter(|endpoint| !endpoint.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    assert_eq!(ClientBuilder::from_env().endpoint(), from_process.trim());
}

on_both_backends!(api_key_and_bearer_token_travel_the_same_way);
async fn api_key_and_bearer_token_travel_the_same_way(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.api_key(ACME, "audit:read").await;
    let token = app.token("alice", ACME, "audit:read");

    for builder in [
        AuditClient::builder(app.endpoint()).api_key(key.key),
        AuditClient::builder(app.endpoint()).bearer_token(token),
    ] {
        let client = builder.connect().await.expect("connect");
        client.describe_filters().await.expect("authenticated");
    }
    let broken = app.with_token("line\nbreak");
    let error = broken
        .describe_filters()
        .await
        .expect_err("a token a header cannot carry");
    assert_eq!(error.code(), Code::Unauthenticated);
}
