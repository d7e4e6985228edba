//! Tests that need a store: API keys end to end and the layer in front of a
//! service, on an in-memory SQLite database.

use super::*;
use crate::auth::scope::Scope;
use http::{Request, Response};
use std::convert::Infallible;
use std::future::{Ready, poll_fn, ready};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn store() -> AuditStore {
    let store = AuditStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn authenticator() -> (Authenticator, AuditStore) {
    let store = store().await;
    let authenticator = Authenticator::new(&JwtSecret::new(SECRET), None, store.clone()).unwrap();
    (authenticator, store)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn rejection(result: Result<Caller, AuditError>) -> String {
    match result {
        Err(AuditError::Unauthenticated(message)) => message,
        other => panic!("expected unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn api_key_lifecycle() {
    let (authenticator, store) = authenticator().await;
    let created = create_api_key(&store, "acme", "audit:append audit:read", " exporter ")
        .await
        .unwrap();
    assert!(created.key.starts_with(&format!("ak_{}_", created.id)));

    let caller = authenticator
        .authenticate(Some(&bearer(&created.key)))
        .await
        .unwrap();
    assert_eq!(caller.tenant_id, "acme");
    assert_eq!(caller.subject, created.id);
    assert!(caller.require(Scope::Append).is_ok());
    assert!(caller.require(Scope::Write).is_err());
    assert_eq!(
        caller.credential,
        Credential::ApiKey {
            id: created.id.clone(),
            name: "exporter".into()
        }
    );

    // Only the hash of the secret is stored, with canonical scopes.
    let record = store.find_api_key(&created.id).await.unwrap().unwrap();
    let (_, secret) = api_key::parse_key(&created.key).unwrap();
    assert_eq!(record.secret_hash, api_key::hash_secret(secret));
    assert_eq!(record.scopes, "audit:read audit:append");
    assert_eq!(record.tenant_id, "acme");

    let wrong_secret = format!("ak_{}_{}", created.id, "x".repeat(43));
    assert_eq!(
        rejection(
            authenticator
                .authenticate(Some(&bearer(&wrong_secret)))
                .await
        ),
        "invalid api key"
    );
    let unknown = format!("ak_0000000000000000_{}", "x".repeat(43));
    assert_eq!(
        rejection(authenticator.authenticate(Some(&bearer(&unknown))).await),
        "invalid api key"
    );
    assert_eq!(
        rejection(authenticator.authenticate(Some("Bearer ak_garbage")).await),
        "malformed api key"
    );

    // Revocation applies to the very next request.
    assert!(revoke_api_key(&store, &created.id).await.unwrap());
    assert_eq!(
        rejection(
            authenticator
                .authenticate(Some(&bearer(&created.key)))
                .await
        ),
        "api key revoked"
    );
    assert!(!revoke_api_key(&store, "0000000000000000").await.unwrap());
}

#[tokio::test]
async fn create_api_key_validates_its_input() {
    let store = store().await;
    for (tenant, scopes) in [
        ("acme", "audit:everything"),
        ("acme", ""),
        ("", "audit:read"),
    ] {
        let error = create_api_key(&store, tenant, scopes, "")
            .await
            .unwrap_err();
        assert!(matches!(error, AuditError::InvalidArgument(_)), "{error}");
    }
    assert!(store.list_api_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn authenticator_accepts_jwts() {
    let (authenticator, _store) = authenticator().await;
    let token = issue_token(
        &JwtSecret::new(SECRET),
        "alice",
        "acme",
        "audit:read",
        Duration::from_secs(60),
    )
    .unwrap();
    let caller = authenticator
        .authenticate(Some(&bearer(&token)))
        .await
        .unwrap();
    assert_eq!(caller.subject, "alice");
    assert_eq!(
        rejection(authenticator.authenticate(None).await),
        "missing bearer token"
    );
}

/// Answers with the caller's tenant, or `anonymous` when there is none.
#[derive(Clone)]
struct Echo;

impl Service<Request<()>> for Echo {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let body = request
            .extensions()
            .get::<Caller>()
            .map_or_else(|| "anonymous".to_owned(), |caller| caller.tenant_id.clone());
        ready(Ok(Response::new(body)))
    }
}

async fn call(
    service: &mut AuthService<Echo>,
    path: &str,
    authorization: Option<&str>,
) -> Response<String> {
    let mut request = Request::builder().uri(path);
    if let Some(value) = authorization {
        request = request.header(http::header::AUTHORIZATION, value);
    }
    poll_fn(|cx| service.poll_ready(cx)).await.unwrap();
    service.call(request.body(()).unwrap()).await.unwrap()
}

fn grpc_status(response: &Response<String>) -> Option<(tonic::Code, String)> {
    let status = tonic::Status::from_header_map(response.headers())?;
    Some((status.code(), status.message().to_owned()))
}

#[tokio::test]
async fn layer_guards_the_audit_service_only() {
    let (authenticator, _store) = authenticator().await;
    let mut service = AuthLayer::new(authenticator).layer(Echo);
    let list = "/audit.v1.AuditService/ListAuditLogs";

    // Health and reflection need no token.
    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        let response = call(&mut service, path, None).await;
        assert_eq!(response.body(), "anonymous");
        assert_eq!(grpc_status(&response), None);
    }

    // No token: the layer answers UNAUTHENTICATED (16) itself.
    let response = call(&mut service, list, None).await;
    assert_eq!(
        grpc_status(&response),
        Some((tonic::Code::Unauthenticated, "missing bearer token".into()))
    );
    assert_eq!(response.body(), "");

    let response = call(&mut service, list, Some("Bearer not.a.jwt")).await;
    assert_eq!(
        grpc_status(&response).map(|status| status.0),
        Some(tonic::Code::Unauthenticated)
    );

    // A valid token reaches the handler with its caller attached.
    let token = issue_token(
        &JwtSecret::new(SECRET),
        "alice",
        "acme",
        "audit:read",
        Duration::from_secs(60),
    )
    .unwrap();
    let response = call(&mut service, list, Some(&bearer(&token))).await;
    assert_eq!(grpc_status(&response), None);
    assert_eq!(response.body(), "acme");
}

/// Collects `name=value` for every field recorded on a span after creation.
#[derive(Clone, Default)]
struct RecordedFields(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RecordedFields {
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Visitor<'a>(&'a mut Vec<String>);
        impl tracing::field::Visit for Visitor<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push(format!("{}={value:?}", field.name()));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.push(format!("{}={value}", field.name()));
            }
        }
        if let Ok(mut fields) = self.0.lock() {
            values.record(&mut Visitor(&mut fields));
        }
    }
}

#[tokio::test]
async fn layer_records_the_tenant_on_the_rpc_span() {
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;

    let recorded = RecordedFields::default();
    let subscriber = tracing_subscriber::registry().with(recorded.clone());
    // The test runtime is single-threaded, so a thread default covers the call.
    let _guard = tracing::subscriber::set_default(subscriber);

    let (authenticator, _store) = authenticator().await;
    let mut service = AuthLayer::new(authenticator).layer(Echo);
    let token = issue_token(
        &JwtSecret::new(SECRET),
        "alice",
        "acme",
        "audit:read",
        Duration::from_secs(60),
    )
    .unwrap();
    let span = tracing::info_span!("rpc", tenant = tracing::field::Empty);
    let path = "/audit.v1.AuditService/GetAuditStats";
    call(&mut service, path, Some(&bearer(&token)))
        .instrument(span)
        .await;
    assert_eq!(*recorded.0.lock().unwrap(), ["tenant=acme"]);
}
