//! Trace-context propagation: a call that carries W3C `traceparent` gets an
//! RPC span, exported over OTLP, in the caller's trace and under the
//! caller's span, whether the caller set it by hand or the client's `otel`
//! feature sent the span it was called in. Its own test binary: the tracing subscriber and its OTLP
//! exporter are process-wide, and this one exports to a fake collector.

use audit_proto::GetAuditLogRequest;
use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use std::sync::{Arc, Mutex};
use tonic::metadata::MetadataValue;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tracing::Instrument;

/// An OTLP/gRPC trace collector on loopback that keeps every span it gets.
#[derive(Clone, Default)]
struct FakeCollector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for FakeCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.spans.lock().expect("collector lock").extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl FakeCollector {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("collector binds");
        let addr = listener.local_addr().expect("collector address");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        format!("http://{addr}")
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("collector lock").clone()
    }
}

/// A caller's trace and span, as it would send them.
struct CallerSpan {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

impl CallerSpan {
    fn new(seed: u8) -> Self {
        Self {
            trace_id: [seed; 16],
            span_id: [seed.wrapping_add(1); 8],
        }
    }

    fn traceparent(&self) -> String {
        format!("00-{}-{}-01", hex(&self.trace_id), hex(&self.span_id))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// GetAuditLog with `traceparent` in its metadata; the outcome (NOT_FOUND)
/// does not matter, the span does.
async fn call_with_traceparent(app: &TestApp, caller: &CallerSpan) {
    let mut request = tonic::Request::new(GetAuditLogRequest {
        id: uuid::Uuid::now_v7().to_string(),
    });
    let traceparent: MetadataValue<_> = caller
        .traceparent()
        .parse()
        .expect("traceparent is valid metadata");
    request.metadata_mut().insert("traceparent", traceparent);
    let outcome = app
        .client_for(ACME, ALL_SCOPES)
        .stub()
        .get_audit_log(request)
        .await;
    assert_eq!(
        outcome.expect_err("no such entry").code(),
        tonic::Code::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_spans_join_the_callers_trace() {
    let collector = FakeCollector::default();
    let endpoint = collector.start().await;
    let telemetry = audit_server::telemetry::init_exporting_to("audit-server", &endpoint);

    let mut callers = Vec::new();
    for (seed, backend) in [(0x11, Backend::Sqlite), (0x22, Backend::Postgres)] {
        let app = TestApp::spawn(backend).await;
        let caller = CallerSpan::new(seed);
        call_with_traceparent(&app, &caller).await;
        callers.push((backend, caller));
    }
    // A call without traceparent starts a trace of its own.
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.client_for(ACME, ALL_SCOPES)
        .describe_filters()
        .await
        .expect("describe filters");

    // With its `otel` feature the client sends the span it is called in.
    async {
        let unknown = uuid::Uuid::now_v7().to_string();
        let outcome = app.client_for(ACME, ALL_SCOPES).get(&unknown).await;
        assert!(outcome.is_err(), "no such entry");
    }
    .instrument(tracing::info_span!("checkout"))
    .await;

    // Shutting the provider down flushes the batch; it blocks, so off the
    // runtime's workers, which the exporter's channel needs.
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .expect("flushing traces");

    let spans = collector.spans();
    for (backend, caller) in &callers {
        let rpc_span = spans
            .iter()
            .find(|span| {
                span.name == "/audit.v1.AuditService/GetAuditLog"
                    && span.trace_id == caller.trace_id
            })
            .unwrap_or_else(|| {
                panic!(
                    "{backend:?}: no GetAuditLog span in trace {}; got {:?}",
                    hex(&caller.trace_id),
                    spans
                        .iter()
                        .map(|span| (&span.name, hex(&span.trace_id)))
                        .collect::<Vec<_>>()
                )
            });
        assert_eq!(
            rpc_span.parent_span_id, caller.span_id,
            "{backend:?}: the RPC span's parent is the caller's span"
        );
    }
    let describe = spans
        .iter()
        .find(|span| span.name == "/audit.v1.AuditService/DescribeFilters")
        .expect("the untraced call was exported too");
    assert!(
        describe.parent_span_id.is_empty(),
        "a call without traceparent is a root span"
    );
    assert!(
        callers
            .iter()
            .all(|(_, caller)| describe.trace_id != caller.trace_id),
        "and in a trace of its own"
    );

    let checkout = spans
        .iter()
        .find(|span| span.name == "checkout")
        .expect("the caller's own span was exported");
    let served = spans
        .iter()
        .find(|span| {
            span.name == "/audit.v1.AuditService/GetAuditLog" && span.trace_id == checkout.trace_id
        })
        .expect("the RPC span is in the trace of the client's span");
    assert_eq!(
        served.parent_span_id, checkout.span_id,
        "the RPC span's parent is the span the client was called in"
    );
}
