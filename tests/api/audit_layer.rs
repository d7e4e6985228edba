//! [`AuditLayer`] around a toy tonic service (gRPC health) recording through
//! a [`Recorder`] to the real audit server: each call's fields arrive, and the
//! toy service keeps its speed while the audit service is down or hangs.

use audit_client::layer::default_action;
use audit_client::prost_types::value::Kind;
use audit_client::{
    Actor, ActorType, AuditClient, AuditLayer, AuditLog, AuditLogFilter, ListAuditLogsRequest,
    Outcome, Recorder,
};
use audit_tests::{ACME, Backend, TestApp, labels, on_both_backends};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::service::InterceptorLayer;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

const CHECK: &str = "grpc.health.v1.health.check";
const WATCH: &str = "grpc.health.v1.health.watch";

/// The toy service's own authentication: calls must name a user.
fn require_user(request: Request<()>) -> Result<Request<()>, Status> {
    if request.metadata().contains_key("x-user") {
        Ok(request)
    } else {
        Err(Status::unauthenticated("name a user in x-user"))
    }
}

/// The audit layer as a service would set it up: the actor from `x-user`,
/// and probes (`x-probe`) left out.
fn audit_layer(recorder: &Recorder) -> AuditLayer {
    AuditLayer::new(recorder.clone())
        .action_fn(|parts| (!parts.headers.contains_key("x-probe")).then(|| default_action(parts)))
        .actor_fn(|parts| {
            Some(Actor {
                id: parts.headers.get("x-user")?.to_str().ok()?.to_owned(),
                r#type: ActorType::User as i32,
                ..Default::default()
            })
        })
}

/// The toy gRPC service on a loopback port, stopped when dropped.
struct Toy {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Toy {
    /// Serves gRPC health behind `require_user`, and behind `audit` if given.
    async fn spawn(audit: Option<AuditLayer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let incoming = TcpIncoming::from(listener);
        let (_reporter, health) = tonic_health::server::health_reporter();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let auth = InterceptorLayer::new(require_user as fn(_) -> _);
        match audit {
            Some(audit) => tokio::spawn(
                Server::builder()
                    .layer(audit)
                    .layer(auth)
                    .add_service(health)
                    .serve_with_incoming_shutdown(incoming, stopped),
            ),
            None => tokio::spawn(
                Server::builder()
                    .layer(auth)
                    .add_service(health)
                    .serve_with_incoming_shutdown(incoming, stopped),
            ),
        };
        Self { addr, _stop: stop }
    }

    async fn client(&self) -> HealthClient<tonic::transport::Channel> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("a valid endpoint")
            .connect()
            .await
            .expect("connect to the toy service");
        HealthClient::new(channel)
    }
}

/// Health/Check for `service` with `headers`.
async fn check(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
    headers: &[(&'static str, &str)],
) -> Result<HealthCheckResponse, Status> {
    let mut request = Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    for (name, value) in headers {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("a header value"));
    }
    client.check(request).await.map(tonic::Response::into_inner)
}

async fn entries(app: &TestApp, action: &str) -> Vec<AuditLog> {
    let request = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: action.to_owned(),
            ..Default::default()
        }),
        order: audit_client::SortOrder::OldestFirst as i32,
        ..Default::default()
    };
    app.list(ACME, request).await.expect("list as acme")
}

fn number(entry: &AuditLog, key: &str) -> Option<f64> {
    match entry.metadata.as_ref()?.fields.get(key)?.kind {
        Some(Kind::NumberValue(value)) => Some(value),
        _ => None,
    }
}

on_both_backends!(each_call_is_recorded_with_its_fields);
async fn each_call_is_recorded_with_its_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let recorder = Recorder::builder(app.client_for(ACME, "audit:append")).start();
    let toy = Toy::spawn(Some(audit_layer(&recorder))).await;
    let mut health = toy.client().await;
    let alice = ("x-user", "alice");

    let serving = check(&mut health, "", &[alice, ("x-request-id", "ok")]).await;
    let unknown = check(&mut health, "nope", &[alice, ("x-request-id", "not-found")]).await;
    let anonymous = check(&mut health, "", &[("x-request-id", "denied")]).await;
    let forwarded = check(
        &mut health,
        "",
        &[
            alice,
            ("x-request-id", "forwarded"),
            ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
        ],
    )
    .await;
    let probe = check(&mut health, "", &[alice, ("x-probe", "1")]).await;
    recorder.flush().await;

    // The layer changes nothing the caller sees.
    assert!(serving.is_ok() && forwarded.is_ok() && probe.is_ok());
    assert_eq!(unknown.expect_err("unknown service").code(), Code::NotFound);
    assert_eq!(
        anonymous.expect_err("no user").code(),
        Code::Unauthenticated
    );

    let stored = entries(&app, CHECK).await;
    assert_eq!(
        labels(&stored),
        ["ok", "not-found", "denied", "forwarded"],
        "one entry per call, the probe skipped"
    );
    let expected = [
        (0.0, Outcome::Success, Some("alice"), "127.0.0.1"),
        (5.0, Outcome::Failure, Some("alice"), "127.0.0.1"),
        (16.0, Outcome::Denied, None, "127.0.0.1"),
        (0.0, Outcome::Success, Some("alice"), "203.0.113.7"),
    ];
    for (entry, (grpc_status, outcome, actor, client_ip)) in stored.iter().zip(expected) {
        let label = &entry.request_id;
        assert_eq!(entry.action, CHECK);
        assert_eq!(entry.result, outcome as i32, "{label}");
        assert_eq!(
            entry.actor.as_ref().map(|actor| actor.id.as_str()),
            actor.or(Some("")),
            "{label}"
        );
        if actor.is_some() {
            let actor_type = entry.actor.as_ref().map(|actor| actor.r#type);
            assert_eq!(actor_type, Some(ActorType::User as i32), "{label}");
        }
        assert_eq!(entry.client_ip, client_ip, "{label}");
        let request = entry.request.as_ref().expect("request info");
        assert_eq!(request.method, "POST", "{label}");
        assert_eq!(request.path, "/grpc.health.v1.Health/Check", "{label}");
        assert_eq!(
            f64::from(request.status_code),
            grpc_status,
            "{label}: the gRPC status"
        );
        assert!(
            number(entry, "latency_ms").is_some_and(|ms| ms >= 0.0),
            "{label}: latency"
        );
        assert!(entry.user_agent.contains("tonic"), "{label}: user agent");
        assert!(
            !entry.idempotency_key.is_empty(),
            "{label}: idempotency key"
        );
    }
    recorder.shutdown().await;
}

on_both_backends!(a_stream_the_caller_abandons_is_recorded_as_cancelled);
async fn a_stream_the_caller_abandons_is_recorded_as_cancelled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let recorder = Recorder::builder(app.client_for(ACME, "audit:append"))
        .flush_interval(Duration::from_millis(50))
        .start();
    let toy = Toy::spawn(Some(audit_layer(&recorder))).await;
    let mut health = toy.client().await;

    let mut request = Request::new(HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("x-user", "alice".parse().expect("a header value"));
    let mut watch = health.watch(request).await.expect("watch").into_inner();
    let first = watch.message().await.expect("a first status");
    assert!(first.is_some());
    drop(watch);

    let started = Instant::now();
    let stored = loop {
        let stored = entries(&app, WATCH).await;
        if !stored.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let [entry] = stored.as_slice() else {
        panic!("expected one watch entry, got {stored:?}");
    };
    let status_code = entry.request.as_ref().map(|request| request.status_code);
    assert_eq!(status_code, Some(1), "CANCELLED");
    assert_eq!(entry.result, Outcome::Failure as i32);
    recorder.shutdown().await;
}

/// Times `calls` Health/Check calls on a warmed-up connection.
async fn time_calls(toy: &Toy, calls: usize) -> Duration {
    let mut health = toy.client().await;
    let alice = [("x-user", "alice")];
    check(&mut health, "", &alice).await.expect("warm-up call");
    let started = Instant::now();
    for _ in 0..calls {
        check(&mut health, "", &alice)
            .await
            .expect("the toy answers");
    }
    started.elapsed()
}

/// Returns an address that accepts connections and never answers.
async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

/// Not on a backend: the audit service is never reached.
#[tokio::test]
async fn the_service_keeps_its_speed_while_the_audit_service_is_down_or_hangs() {
    const CALLS: usize = 50;
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("an address")
    };
    let (hanging, _hold) = black_hole().await;

    let baseline = time_calls(&Toy::spawn(None).await, CALLS).await;
    for (audit_service, addr) in [("down", closed), ("hanging", hanging)] {
        let client = AuditClient::builder(format!("http://{addr}"))
            .connect_lazy()
            .expect("a valid endpoint");
        let recorder = Recorder::builder(client)
            .flush_interval(Duration::from_millis(10))
            .shutdown_timeout(Duration::from_millis(100))
            .start();
        let toy = Toy::spawn(Some(audit_layer(&recorder))).await;

        let audited = time_calls(&toy, CALLS).await;

        // Generous: a layer that waited on the audit service would take
        // seconds (the connect or request timeout) per call.
        let bound = baseline * 5 + Duration::from_millis(250);
        assert!(
            audited <= bound,
            "{CALLS} calls took {audited:?} with the audit service {audit_service}, \
             {baseline:?} without the layer"
        );
        assert_eq!(
            recorder.buffered() + recorder.dropped() as usize,
            CALLS + 1,
            "every call was recorded (audit service {audit_service})"
        );
        recorder.shutdown().await;
    }
}
