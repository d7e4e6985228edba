//! The layer around an in-process service: what each kind of ending records,
//! and that responses and errors pass through unchanged.

use super::AuditLayer;
use crate::recorder::fake_sink::FakeSink;
use crate::{AuditLogInput, Outcome};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame};
use prost_types::value::Kind;
use std::collections::VecDeque;
use std::future::{Ready, poll_fn, ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// A body that yields scripted frames.
#[derive(Default)]
struct ScriptedBody(VecDeque<Frame<&'static [u8]>>);

impl Body for ScriptedBody {
    type Data = &'static [u8];
    type Error = &'static str;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

/// A service that answers every call with the same response, or an error.
#[derive(Clone)]
struct Scripted(Result<Reply, &'static str>);

#[derive(Clone)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    data: Vec<&'static [u8]>,
    trailers: Option<HeaderMap>,
}

impl Service<Request<()>> for Scripted {
    type Response = Response<ScriptedBody>;
    type Error = &'static str;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<()>) -> Self::Future {
        ready(self.0.clone().map(|reply| {
            let mut frames: VecDeque<_> = reply.data.into_iter().map(Frame::data).collect();
            frames.extend(reply.trailers.map(Frame::trailers));
            let mut response = Response::new(ScriptedBody(frames));
            *response.status_mut() = reply.status;
            *response.headers_mut() = reply.headers;
            response
        }))
    }
}

fn grpc_reply(headers: &[(&'static str, &'static str)], trailer: Option<&'static str>) -> Scripted {
    let mut head = HeaderMap::new();
    head.insert("content-type", "application/grpc".parse().expect("header"));
    for (name, value) in headers {
        head.insert(*name, value.parse().expect("header"));
    }
    let trailers = trailer.map(|code| {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", code.parse().expect("header"));
        trailers
    });
    Scripted(Ok(Reply {
        status: StatusCode::OK,
        headers: head,
        data: vec![&b"\0\0\0\0\0"[..]],
        trailers,
    }))
}

fn grpc_request() -> Request<()> {
    Request::post("/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .header("user-agent", "test-agent/1")
        .body(())
        .expect("request")
}

async fn drain<B: Body + Unpin>(body: &mut B) -> usize {
    let mut frames = 0;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
        assert!(frame.is_ok());
        frames += 1;
    }
    frames
}

fn status_code(event: &AuditLogInput) -> i32 {
    event
        .request
        .as_ref()
        .map_or(-1, |request| request.status_code)
}

fn number(event: &AuditLogInput, key: &str) -> Option<f64> {
    match event.metadata.as_ref()?.fields.get(key)?.kind {
        Some(Kind::NumberValue(value)) => Some(value),
        _ => None,
    }
}

/// Calls `service` once through the layer, reads the whole body, and
/// returns the recorded events.
async fn one_call(service: Scripted, request: Request<()>) -> Vec<AuditLogInput> {
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let mut audited = AuditLayer::new(recorder.clone()).layer(service);
    if let Ok(mut response) = audited.call(request).await {
        drain(response.body_mut()).await;
    }
    recorder.flush().await;
    sink.stored()
}

#[tokio::test]
async fn a_grpc_status_in_the_trailers_is_recorded() {
    let events = one_call(grpc_reply(&[], Some("5")), grpc_request()).await;
    let [event] = events.as_slice() else {
        panic!("expected one event, got {events:?}");
    };
    assert_eq!(event.action, "grpc.health.v1.health.check");
    assert_eq!(event.result, Outcome::Failure as i32);
    let request = event.request.as_ref().expect("request info");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/grpc.health.v1.Health/Check");
    assert_eq!(request.status_code, 5);
    assert!(number(event, "latency_ms").is_some_and(|ms| ms >= 0.0));
    assert_eq!(event.user_agent, "test-agent/1");
    assert!(event.occurred_at.is_some());
}

#[tokio::test]
async fn a_trailers_only_response_is_read_from_the_headers() {
    let service = grpc_reply(&[("grpc-status", "16")], None);
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let mut audited = AuditLayer::new(recorder.clone()).layer(service);
    // Dropped unread, as hyper does with a body that is already at its end.
    drop(audited.call(grpc_request()).await);
    recorder.flush().await;
    let events = sink.stored();
    assert_eq!(events.len(), 1);
    assert_eq!(status_code(&events[0]), 16);
    assert_eq!(events[0].result, Outcome::Denied as i32);
}

#[tokio::test]
async fn a_body_dropped_before_its_status_is_a_cancelled_call() {
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let mut audited = AuditLayer::new(recorder.clone()).layer(grpc_reply(&[], Some("0")));
    let mut response = audited.call(grpc_request()).await.expect("response");
    let first = poll_fn(|cx| Pin::new(response.body_mut()).poll_frame(cx)).await;
    assert!(first.is_some_and(|frame| frame.is_ok_and(|frame| frame.is_data())));
    assert_eq!(recorder.buffered(), 0, "nothing recorded mid-body");
    drop(response);
    recorder.flush().await;
    let events = sink.stored();
    assert_eq!(status_code(&events[0]), 1);
    assert_eq!(events[0].result, Outcome::Failure as i32);
}

#[tokio::test]
async fn an_http_status_is_recorded_and_the_response_is_unchanged() {
    let service = Scripted(Ok(Reply {
        status: StatusCode::FORBIDDEN,
        headers: HeaderMap::new(),
        data: vec![&b"no"[..]],
        trailers: None,
    }));
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let mut audited = AuditLayer::new(recorder.clone()).layer(service);
    let request = Request::get("/documents/7?secret=x")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "req-1")
        .body(())
        .expect("request");
    let mut response = audited.call(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(drain(response.body_mut()).await, 1);
    drop(response);
    recorder.flush().await;

    let events = sink.stored();
    let event = &events[0];
    assert_eq!(event.action, "http.get");
    assert_eq!(event.result, Outcome::Denied as i32);
    assert_eq!(event.client_ip, "203.0.113.9");
    assert_eq!(event.request_id, "req-1");
    let request = event.request.as_ref().expect("request info");
    assert_eq!(request.path, "/documents/7", "the query is left out");
    assert_eq!(request.status_code, 403);
}

#[tokio::test]
async fn a_service_error_passes_through_and_is_recorded_as_an_error() {
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let mut audited = AuditLayer::new(recorder.clone()).layer(Scripted(Err("boom")));
    let outcome = audited.call(grpc_request()).await;
    assert_eq!(outcome.err(), Some("boom"));
    recorder.flush().await;
    let events = sink.stored();
    assert_eq!(events[0].result, Outcome::Error as i32);
    assert_eq!(status_code(&events[0]), 2, "UNKNOWN: the service failed");
}

#[tokio::test]
async fn skipped_calls_record_nothing() {
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let layer = AuditLayer::new(recorder.clone()).action_fn(|parts| {
        (parts.uri.path() != "/grpc.health.v1.Health/Check").then(|| "other".to_owned())
    });
    let mut audited = layer.layer(grpc_reply(&[], Some("0")));
    let mut response = audited.call(grpc_request()).await.expect("response");
    assert_eq!(drain(response.body_mut()).await, 2);
    drop(response);
    recorder.flush().await;
    assert!(sink.stored().is_empty());
}

#[tokio::test]
async fn extractors_fill_actor_and_target() {
    let sink = FakeSink::storing();
    let recorder = sink.recorder();
    let layer = AuditLayer::new(recorder.clone())
        .actor_fn(|parts| {
            Some(crate::Actor {
                id: parts.headers.get("x-user")?.to_str().ok()?.to_owned(),
                ..Default::default()
            })
        })
        .target_fn(|_| {
            Some(crate::Target {
                r#type: "health".into(),
                id: "probe".into(),
                ..Default::default()
            })
        })
        .client_ip_fn(|_| "198.51.100.4".parse().ok());
    let mut audited = layer.layer(grpc_reply(&[], Some("0")));
    let mut request = grpc_request();
    request
        .headers_mut()
        .insert("x-user", "alice".parse().expect("header"));
    let mut response = audited.call(request).await.expect("response");
    drain(response.body_mut()).await;
    drop(response);
    recorder.flush().await;

    let event = &sink.stored()[0];
    assert_eq!(event.actor.as_ref().map(|a| a.id.as_str()), Some("alice"));
    assert_eq!(event.target.as_ref().map(|t| t.id.as_str()), Some("probe"));
    assert_eq!(event.client_ip, "198.51.100.4");
    assert_eq!(event.result, Outcome::Success as i32);
}
