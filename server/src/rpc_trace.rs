//! A tower layer that gives every RPC a span (method, tenant, status code)
//! and reports oversized requests as RESOURCE_EXHAUSTED.

use http::{HeaderValue, Request, Response};
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};
use tracing::Instrument;

/// Wraps the whole router; the auth layer and handlers fill in the span's
/// `tenant` and `grpc.code` fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcTraceLayer;

impl<S> Layer<S> for RpcTraceLayer {
    type Service = RpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTrace { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcTrace<S> {
    inner: S,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for RpcTrace<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let span = tracing::info_span!(
            "rpc",
            otel.name = %request.uri().path(),
            rpc.method = %request.uri().path(),
            tenant = tracing::field::Empty,
            grpc.code = tracing::field::Empty,
        );
        let response = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let mut response = response.await?;
                report_oversize_as_exhausted(&mut response);
                if let Some(code) = header_code(&response) {
                    tracing::Span::current().record("grpc.code", code);
                }
                tracing::debug!("rpc done");
                Ok(response)
            }
            .instrument(span),
        )
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
