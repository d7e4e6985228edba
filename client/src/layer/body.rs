//! [`AuditedBody`]: the response body, passed through unchanged, that
//! completes the call's event when it ends, fails or is dropped.

use super::call::CallRecord;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project! {
    /// The wrapped service's response body, frame for frame. Reading the
    /// trailers (gRPC's status), the end of the body, an error, or dropping
    /// the body early records the call's event.
    pub struct AuditedBody<B> {
        #[pin]
        inner: B,
        call: Option<CallRecord>,
    }
}

impl<B> AuditedBody<B> {
    pub(crate) fn new(inner: B, call: Option<CallRecord>) -> Self {
        Self { inner, call }
    }
}

impl<B: Body> Body for AuditedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        // Taking the record out of the option drops it, which records it.
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(mut call) = this.call.take() {
                        call.trailers(trailers);
                    }
                } else if this.inner.is_end_stream()
                    && let Some(mut call) = this.call.take()
                {
                    call.ended();
                }
            }
            Some(Err(_)) => {
                if let Some(mut call) = this.call.take() {
                    call.failed();
                }
            }
            None => {
                if let Some(mut call) = this.call.take() {
                    call.ended();
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Default> Default for AuditedBody<B> {
    fn default() -> Self {
        Self::new(B::default(), None)
    }
}

impl<B: fmt::Debug> fmt::Debug for AuditedBody<B> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AuditedBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
