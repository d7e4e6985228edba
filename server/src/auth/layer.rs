//! The tower layer that authenticates every `audit.v1.AuditService` call
//! before it reaches a handler; health and reflection pass through.

use super::{Authenticator, Caller};
use crate::error::AuditError;
use crate::rpc::stubs::audit_service_server::SERVICE_NAME;
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Wraps a service (tonic's router) in [`AuthService`]:
/// `Server::builder().layer(AuthLayer::new(authenticator))`.
#[derive(Clone)]
pub struct AuthLayer {
    authenticator: Authenticator,
}

impl AuthLayer {
    pub fn new(authenticator: Authenticator) -> Self {
        Self { authenticator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// Authenticates calls under `/audit.v1.AuditService/`, puts the [`Caller`]
/// in the request extensions, and answers failures itself with a gRPC status
/// (the inner service never sees them).
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Authenticator,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        if !is_protected(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // The service polled ready is `self.inner`: move it into the future
        // and keep a fresh clone for the next call (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let result = match authorization(&request) {
                Ok(header) => authenticator.authenticate(header.as_deref()).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(caller) => {
                    record_on_span(&caller);
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(error) => {
                    tracing::info!(path = request.uri().path(), reason = %error, "call rejected");
                    Ok(tonic::Status::from(error).into_http())
                }
            }
        })
    }
}

/// True for the calls that need a token: every method of the audit service.
fn is_protected(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(SERVICE_NAME))
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The `authorization` header as text, if present.
fn authorization<B>(request: &Request<B>) -> Result<Option<String>, AuditError> {
    match request.headers().get(http::header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|text| Some(text.to_owned()))
            .map_err(|_| {
                AuditError::Unauthenticated("authorization header is not valid text".into())
            }),
    }
}

/// Records the caller's tenant on the request's span (the `rpc` span of
/// `RpcTraceLayer` declares it; on a span without the field this is a no-op).
fn record_on_span(caller: &Caller) {
    tracing::Span::current().record("tenant", caller.tenant_id.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_audit_service_paths_are_protected() {
        assert!(is_protected("/audit.v1.AuditService/ListAuditLogs"));
        assert!(is_protected("/audit.v1.AuditService/Unknown"));
        assert!(!is_protected("/grpc.health.v1.Health/Check"));
        assert!(!is_protected(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_protected("/audit.v1.AuditServiceX/ListAuditLogs"));
        assert!(!is_protected("/"));
        assert!(!is_protected(""));
    }
}
