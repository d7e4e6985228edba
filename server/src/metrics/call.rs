//! One RPC as the metrics see it: admitted (or refused at the streaming
//! limit), then finished with the status code of its headers or trailers,
//! or cancelled when its response is dropped before the end.

use super::Metrics;
use super::methods::MethodInfo;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// A streaming call refused because the server's limit of concurrent
/// streaming calls is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimitReached {
    pub limit: usize,
}

impl StreamLimitReached {
    /// The status the caller sees: retryable, naming the limit.
    pub fn status(self) -> tonic::Status {
        tonic::Status::resource_exhausted(format!(
            "the server already serves its limit of {} concurrent List/Verify streams; retry later",
            self.limit
        ))
    }
}

/// An admitted call; records its code and duration exactly once.
#[derive(Debug)]
pub struct CallGuard {
    metrics: Metrics,
    method: MethodInfo,
    started: Instant,
    finished: bool,
}

impl CallGuard {
    pub(super) fn new(metrics: Metrics, method: MethodInfo) -> Self {
        Self {
            metrics,
            method,
            started: Instant::now(),
            finished: false,
        }
    }

    /// The call ended with `code`.
    pub fn finish(mut self, code: tonic::Code) {
        self.record(code);
    }

    fn record(&mut self, code: tonic::Code) {
        if !self.finished {
            self.finished = true;
            self.metrics
                .call_ended(&self.method, code, self.started.elapsed());
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        // Dropped without a status: the client went away (or the
        // connection did) before the call ended.
        self.record(tonic::Code::Cancelled);
    }
}

/// The gRPC status in headers (trailers-only responses) or trailers.
pub fn grpc_code(headers: &HeaderMap) -> Option<tonic::Code> {
    let code: i32 = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    Some(tonic::Code::from_i32(code))
}

pin_project_lite::pin_project! {
    /// A response body that finishes its call's metrics when the stream
    /// ends, so streamed RPCs count their whole duration. Without an inner
    /// body it is the empty body of a trailers-only response.
    pub struct MeteredBody<B> {
        #[pin]
        inner: Option<B>,
        call: Option<CallGuard>,
    }
}

impl<B> MeteredBody<B> {
    pub fn new(inner: B, call: Option<CallGuard>) -> Self {
        Self {
            inner: Some(inner),
            call,
        }
    }
}

impl<B> Default for MeteredBody<B> {
    fn default() -> Self {
        Self {
            inner: None,
            call: None,
        }
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(inner.poll_frame(cx));
        let code = match &frame {
            Some(Ok(frame)) => frame.trailers_ref().and_then(grpc_code),
            // A body error resets the stream; the client sees no status.
            Some(Err(_)) => Some(tonic::Code::Unknown),
            None => Some(tonic::Code::Unknown),
        };
        if let Some(code) = code
            && let Some(call) = this.call.take()
        {
            call.finish(code);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
