//! [`AuditLayer`]: a tower layer that records one audit event per request of
//! any HTTP service — a tonic server, an axum router — through a
//! [`Recorder`].
//!
//! The event is recorded when the response body ends, so a gRPC status sent
//! in the trailers is known, or when the caller abandons the call. Recording
//! never waits for the audit service: when it is slow or down the wrapped
//! service answers as fast as without the layer, and events wait in (or
//! overflow) the recorder's bounded buffer.
//!
//! # The event
//! - `action`: [`default_action`] (`/pkg.Service/Method` →
//!   `pkg.service.method`, other requests `http.get` …), or what
//!   [`AuditLayer::action_fn`] returns; `None` skips the call.
//! - `actor`, `target`: from [`AuditLayer::actor_fn`] and
//!   [`AuditLayer::target_fn`], when set.
//! - `client_ip`: the first hop of `x-forwarded-for`, else the peer address
//!   (tonic's `TcpConnectInfo`, or a `SocketAddr` extension); override with
//!   [`AuditLayer::client_ip_fn`].
//! - `user_agent`, `request_id` (`x-request-id`), `request.method`,
//!   `request.path` (without the query, which may hold secrets).
//! - `request.status_code`: for gRPC, the call's status code (0 = OK …
//!   16); otherwise the HTTP status of the response (0 when none was sent).
//! - `result`: SUCCESS for gRPC OK or HTTP 1xx–3xx; DENIED for
//!   UNAUTHENTICATED, PERMISSION_DENIED, 401 and 403; FAILURE for the
//!   caller's errors (e.g. INVALID_ARGUMENT, NOT_FOUND, CANCELLED, other
//!   4xx); ERROR for the server's (e.g. INTERNAL, UNAVAILABLE, UNIMPLEMENTED,
//!   5xx) and for an error from the service or its body.
//! - `metadata.latency_ms`: from the call to the end of the response body.
//! - `occurred_at`: when the call arrived.
//!
//! ```no_run
//! use audit_client::layer::default_action;
//! use audit_client::{Actor, ActorType, AuditClient, AuditLayer, Recorder};
//! use tonic_health::server::health_reporter;
//!
//! # async fn example(client: AuditClient) -> Result<(), Box<dyn std::error::Error>> {
//! let recorder = Recorder::builder(client).start();
//! let audit = AuditLayer::new(recorder.clone())
//!     // Health checks are not worth an audit event.
//!     .action_fn(|parts| {
//!         let probe = parts.uri.path().starts_with("/grpc.health.v1.Health/");
//!         (!probe).then(|| default_action(parts))
//!     })
//!     .actor_fn(|parts| {
//!         let user = parts.headers.get("x-user-id")?.to_str().ok()?;
//!         Some(Actor {
//!             id: user.to_owned(),
//!             r#type: ActorType::User as i32,
//!             ..Default::default()
//!         })
//!     });
//! let (_reporter, health) = health_reporter();
//! tonic::transport::Server::builder()
//!     .layer(audit)
//!     .add_service(health)
//!     .serve("127.0.0.1:50061".parse()?)
//!     .await?;
//! recorder.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`service`]: [`AuditedService`] and its [`ResponseFuture`].
//! - [`body`]: [`AuditedBody`], which sees the trailers and the end.
//! - `call`: the event of one call in progress, recorded when dropped.
//! - `request_fields`: [`default_action`], the client address, headers.
//! - `outcome`: status codes → `result`.

pub mod body;
mod call;
mod outcome;
mod request_fields;
pub mod service;

#[cfg(test)]
mod tests;

pub use body::AuditedBody;
pub use request_fields::default_action;
pub use service::{AuditedService, ResponseFuture};

use crate::{Actor, AuditLogInput, Recorder, RequestInfo, Target};
use call::CallRecord;
use http::request::Parts;
use request_fields::{MAX_FIELD_BYTES, MAX_TEXT_BYTES, client_ip, header_text, is_grpc, truncate};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tower::Layer;

/// A function of the request head, as [`AuditLayer`]'s extractors are.
type Extractor<T> = Arc<dyn Fn(&Parts) -> Option<T> + Send + Sync>;

/// Wraps a service in [`AuditedService`], recording one audit event per
/// call through a [`Recorder`]; see the [module docs](self) for the fields.
#[derive(Clone)]
pub struct AuditLayer {
    recorder: Recorder,
    extractors: Arc<Extractors>,
}

/// How the layer turns a request head into the event's fields.
#[derive(Clone)]
pub(crate) struct Extractors {
    action: Extractor<String>,
    actor: Option<Extractor<Actor>>,
    target: Option<Extractor<Target>>,
    client_ip: Option<Extractor<IpAddr>>,
    trust_forwarded_for: bool,
}

impl AuditLayer {
    /// Returns a layer that records through `recorder`, with the default
    /// action, no actor or target, and the client address from
    /// `x-forwarded-for` or the connection.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLayer, Recorder};
    /// # fn example(recorder: Recorder) {
    /// let layer = AuditLayer::new(recorder);
    /// # }
    /// ```
    pub fn new(recorder: Recorder) -> Self {
        Self {
            recorder,
            extractors: Arc::new(Extractors {
                action: Arc::new(|parts| Some(default_action(parts))),
                actor: None,
                target: None,
                client_ip: None,
                trust_forwarded_for: true,
            }),
        }
    }

    /// Names the action of each call; `None` records nothing for the call
    /// (health checks, metrics scrapes). Call [`default_action`] inside to
    /// keep the default for the rest.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLayer, Recorder};
    /// # fn example(recorder: Recorder) {
    /// let layer = AuditLayer::new(recorder).action_fn(|parts| match parts.uri.path() {
    ///     "/healthz" | "/metrics" => None,
    ///     path if path.starts_with("/admin/") => Some("admin.request".to_owned()),
    ///     _ => Some(audit_client::layer::default_action(parts)),
    /// });
    /// # }
    /// ```
    pub fn action_fn<F>(mut self, action: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.extractors).action = Arc::new(action);
        self
    }

    /// Finds who made the call, e.g. from an auth header or an extension an
    /// earlier layer inserted; `None` leaves the actor empty.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLayer, Recorder};
    /// use audit_client::{Actor, ActorType};
    /// # fn example(recorder: Recorder) {
    /// let layer = AuditLayer::new(recorder).actor_fn(|parts| {
    ///     let key_id = parts.headers.get("x-api-key-id")?.to_str().ok()?;
    ///     Some(Actor {
    ///         id: key_id.to_owned(),
    ///         r#type: ActorType::ApiKey as i32,
    ///         ..Default::default()
    ///     })
    /// });
    /// # }
    /// ```
    pub fn actor_fn<F>(mut self, actor: F) -> Self
    where
        F: Fn(&Parts) -> Option<Actor> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.extractors).actor = Some(Arc::new(actor));
        self
    }

    /// Finds what the call acted on; `None` leaves the target empty.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLayer, Recorder};
    /// use audit_client::Target;
    /// # fn example(recorder: Recorder) {
    /// let layer = AuditLayer::new(recorder).target_fn(|parts| {
    ///     let id = parts.uri.path().strip_prefix("/documents/")?;
    ///     Some(Target {
    ///         r#type: "document".to_owned(),
    ///         id: id.to_owned(),
    ///         ..Default::default()
    ///     })
    /// });
    /// # }
    /// ```
    pub fn target_fn<F>(mut self, target: F) -> Self
    where
        F: Fn(&Parts) -> Option<Target> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.extractors).target = Some(Arc::new(target));
        self
    }

    /// Replaces the client address lookup, e.g. to read axum's
    /// `ConnectInfo<SocketAddr>` or a TLS connection's info.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLayer, Recorder};
    /// # fn example(recorder: Recorder) {
    /// let layer = AuditLayer::new(recorder).client_ip_fn(|parts| {
    ///     parts.headers.get("x-real-ip")?.to_str().ok()?.parse().ok()
    /// });
    /// # }
    /// ```
    pub fn client_ip_fn<F>(mut self, client_ip: F) -> Self
    where
        F: Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.extractors).client_ip = Some(Arc::new(client_ip));
        self
    }

    /// Sets whether the default address lookup believes `x-forwarded-for`
    /// (default true). Anyone can send that header: turn this off unless a
    /// proxy in front sets it.
    ///
    /// ```no_run
    /// # use audit_client::{AuditLayer, Recorder};
    /// # fn example(recorder: Recorder) {
    /// let layer = AuditLayer::new(recorder).trust_forwarded_for(false);
    /// # }
    /// ```
    pub fn trust_forwarded_for(mut self, trust: bool) -> Self {
        Arc::make_mut(&mut self.extractors).trust_forwarded_for = trust;
        self
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = AuditedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuditedService::new(inner, self.recorder.clone(), self.extractors.clone())
    }
}

impl fmt::Debug for AuditLayer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AuditLayer")
            .field("recorder", &self.recorder)
            .field("trust_forwarded_for", &self.extractors.trust_forwarded_for)
            .finish_non_exhaustive()
    }
}

impl Extractors {
    /// Reads the request head into a call record; `None` when the action
    /// function skips the call.
    pub(crate) fn begin(&self, parts: &Parts, recorder: &Recorder) -> Option<CallRecord> {
        let action = (self.action)(parts)?;
        let client_ip = match &self.client_ip {
            Some(lookup) => lookup(parts),
            None => client_ip(parts, self.trust_forwarded_for),
        };
        let event = AuditLogInput {
            occurred_at: Some(SystemTime::now().into()),
            action,
            actor: self.actor.as_ref().and_then(|actor| actor(parts)),
            target: self.target.as_ref().and_then(|target| target(parts)),
            client_ip: client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: header_text(parts, "user-agent", MAX_TEXT_BYTES),
            request: Some(RequestInfo {
                method: parts.method.as_str().to_owned(),
                path: truncate(parts.uri.path(), MAX_TEXT_BYTES).to_owned(),
                status_code: 0,
            }),
            request_id: header_text(parts, "x-request-id", MAX_FIELD_BYTES),
            ..Default::default()
        };
        Some(CallRecord::begin(recorder.clone(), event, is_grpc(parts)))
    }
}
