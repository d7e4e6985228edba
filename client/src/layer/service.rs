//! [`AuditedService`]: the wrapped service, unchanged but for an event per
//! call, and its [`ResponseFuture`].

use super::Extractors;
use super::body::AuditedBody;
use super::call::CallRecord;
use crate::Recorder;
use http::{Request, Response};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower::Service;

/// A service wrapped by [`AuditLayer`](super::AuditLayer): requests,
/// responses, errors and readiness pass through unchanged; each call's event
/// goes to the [`Recorder`] when its response body ends.
#[derive(Clone)]
pub struct AuditedService<S> {
    inner: S,
    recorder: Recorder,
    extractors: Arc<Extractors>,
}

impl<S> AuditedService<S> {
    pub(crate) fn new(inner: S, recorder: Recorder, extractors: Arc<Extractors>) -> Self {
        Self {
            inner,
            recorder,
            extractors,
        }
    }

    /// Returns the wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Returns the wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuditedService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<AuditedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let call = self.extractors.begin(&parts, &self.recorder);
        ResponseFuture {
            inner: self.inner.call(Request::from_parts(parts, body)),
            call,
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for AuditedService<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AuditedService")
            .field("inner", &self.inner)
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The response future of [`AuditedService`]: the inner future's result
    /// with the body wrapped in [`AuditedBody`]. Dropped before it resolves,
    /// it records the call as cancelled.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<CallRecord>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<AuditedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        match result {
            Ok(response) => {
                if let Some(call) = call.as_mut() {
                    call.response_head(response.status(), response.headers());
                }
                Poll::Ready(Ok(response.map(|body| AuditedBody::new(body, call))))
            }
            Err(error) => {
                if let Some(call) = call.as_mut() {
                    call.failed();
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ResponseFuture")
            .finish_non_exhaustive()
    }
}
