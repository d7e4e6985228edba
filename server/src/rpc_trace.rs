//! A tower layer that gives every RPC a span (method, tenant, status code),
//! joined to the caller's trace when it sends W3C `traceparent`; meters it
//! (count, duration until its stream ends, open streams); refuses streaming
//! calls over the server's limit; and reports oversized requests as
//! RESOURCE_EXHAUSTED.

use crate::metrics::{MeteredBody, Metrics};
use http::{HeaderMap, HeaderValue, Request, Response};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Wraps the whole router; the auth layer and handlers fill in the span's
/// `tenant` and `grpc.code` fields.
#[derive(Debug, Clone)]
pub struct RpcTraceLayer {
    metrics: Metrics,
}

impl RpcTraceLayer {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RpcTraceLayer {
    type Service = RpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTrace {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpcTrace<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for RpcTrace<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = Response<MeteredBody<ResponseBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<RequestBody>) -> Self::Future {
        let span = tracing::info_span!(
            "rpc",
            otel.name = %request.uri().path(),
            rpc.method = %request.uri().path(),
            tenant = tracing::field::Empty,
            grpc.code = tracing::field::Empty,
        );
        join_callers_trace(&span, request.headers());
        let call = match self.metrics.call_started(request.uri().path()) {
            Ok(call) => call,
            Err(refused) => {
                let _entered = span.enter();
                let status = refused.status();
                tracing::warn!(limit = refused.limit, "streaming call refused at the limit");
                tracing::Span::current().record("grpc.code", status.code() as i32);
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        };
        // Handlers reach the metrics here (appended entries, follow mode).
        request.extensions_mut().insert(self.metrics.clone());
        let response = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let mut response = response.await?;
                report_oversize_as_exhausted(&mut response);
                let call = match header_code(&response) {
                    Some(code) => {
                        tracing::Span::current().record("grpc.code", code);
                        call.finish(tonic::Code::from_i32(code));
                        None
                    }
                    None => Some(call),
                };
                tracing::debug!("rpc done");
                Ok(response.map(|body| MeteredBody::new(body, call)))
            }
            .instrument(span),
        )
    }
}

/// Makes the caller's span (W3C `traceparent`/`tracestate` in the gRPC
/// metadata) the parent of this RPC's span, so exported spans join the
/// caller's trace. Without the OpenTelemetry layer this does nothing.
fn join_callers_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&MetadataExtractor(headers));
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: nothing to
        // join then.
        let _ = span.set_parent(parent);
    }
}

/// Reads propagation fields from request headers (gRPC metadata).
struct MetadataExtractor<'a>(&'a HeaderMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The status of a trailers-only response (errors before the body).
fn header_code<B>(response: &Response<B>) -> Option<i32> {
    response
        .headers()
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// tonic refuses a message over the decoding limit with OUT_OF_RANGE; gRPC
/// convention (and our contract) says RESOURCE_EXHAUSTED.
fn report_oversize_as_exhausted<B>(response: &mut Response<B>) {
    let out_of_range = header_code(response) == Some(tonic::Code::OutOfRange as i32);
    let oversize = response
        .headers()
        .get("grpc-message")
        .and_then(|message| message.to_str().ok())
        .is_some_and(|message| {
            message.contains("message%20length%20too%20large")
                || message.contains("message length too large")
        });
    if out_of_range && oversize {
        let headers = response.headers_mut();
        headers.insert(
            "grpc-status",
            HeaderValue::from(tonic::Code::ResourceExhausted as i32),
        );
        headers.insert(
            "grpc-message",
            HeaderValue::from_static(
                "request%20message%20is%20larger%20than%20the%20server%27s%20limit",
            ),
        );
    }
}
