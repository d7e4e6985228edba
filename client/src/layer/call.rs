//! [`CallRecord`]: the event of one call in progress. It learns the status
//! from the response head and trailers, and is recorded when dropped, which
//! happens when the body ends, fails, or is abandoned by the caller.

use super::outcome::{
    GRPC_CANCELLED, GRPC_UNKNOWN, grpc_code_from_http, grpc_outcome, http_outcome,
};
use crate::Recorder;
use audit_proto::AuditLogInput;
use audit_proto::Result as Outcome;
use http::HeaderMap;
use prost_types::Value;
use prost_types::value::Kind;
use std::time::Instant;

/// How far the call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// No end seen yet; dropped in this state, the caller gave up.
    Running,
    /// The body ended normally.
    Ended,
    /// The inner service or the body returned an error.
    Failed,
}

/// The event of one call in progress; recorded exactly once, on drop.
#[derive(Debug)]
pub(crate) struct CallRecord {
    recorder: Recorder,
    event: AuditLogInput,
    grpc: bool,
    started: Instant,
    http_status: Option<u16>,
    grpc_status: Option<i32>,
    progress: Progress,
}

impl CallRecord {
    /// Starts timing a call whose request fields are already in `event`.
    pub(crate) fn begin(recorder: Recorder, event: AuditLogInput, grpc: bool) -> Self {
        Self {
            recorder,
            event,
            grpc,
            started: Instant::now(),
            http_status: None,
            grpc_status: None,
            progress: Progress::Running,
        }
    }

    /// Notes the response's HTTP status, and a trailers-only response's
    /// `grpc-status`.
    pub(crate) fn response_head(&mut self, status: http::StatusCode, headers: &HeaderMap) {
        self.http_status = Some(status.as_u16());
        if self.grpc {
            self.grpc_status = grpc_status(headers).or(self.grpc_status);
        }
    }

    /// Notes the `grpc-status` of the trailers, which end the body.
    pub(crate) fn trailers(&mut self, trailers: &HeaderMap) {
        if self.grpc {
            self.grpc_status = grpc_status(trailers).or(self.grpc_status);
        }
        self.progress = Progress::Ended;
    }

    /// Notes that the body ended.
    pub(crate) fn ended(&mut self) {
        if self.progress == Progress::Running {
            self.progress = Progress::Ended;
        }
    }

    /// Notes that the service or the body failed.
    pub(crate) fn failed(&mut self) {
        self.progress = Progress::Failed;
    }

    /// Fills in the status, result and latency.
    fn complete(&mut self) -> AuditLogInput {
        let mut event = std::mem::take(&mut self.event);
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut metadata = event.metadata.take().unwrap_or_default();
        metadata
            .fields
            .insert("latency_ms".to_owned(), number(latency_ms));
        let grpc_code = self.grpc.then(|| self.final_grpc_status());
        let outcome = if let Some(code) = grpc_code {
            grpc_outcome(code)
        } else {
            match (self.progress, self.http_status) {
                (Progress::Failed, _) => Outcome::Error,
                (_, Some(status)) => http_outcome(status),
                // The caller left before any response.
                (_, None) => Outcome::Failure,
            }
        };
        event.result = outcome as i32;
        event.metadata = Some(metadata);
        // A gRPC call rides on HTTP 200 whatever happened: its own status
        // code is what a reader of the trail wants.
        event.request.get_or_insert_default().status_code =
            grpc_code.unwrap_or_else(|| self.http_status.map_or(0, i32::from));
        event
    }

    fn final_grpc_status(&self) -> i32 {
        if let Some(code) = self.grpc_status {
            return code;
        }
        // A non-200 response without a status comes from a proxy or a
        // layer that is not gRPC-aware: read it as a gRPC client would.
        if let Some(status) = self.http_status.filter(|status| *status != 200) {
            return grpc_code_from_http(status);
        }
        match self.progress {
            Progress::Running => GRPC_CANCELLED,
            Progress::Ended | Progress::Failed => GRPC_UNKNOWN,
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        let event = self.complete();
        // Never blocks: a full buffer drops the event instead.
        self.recorder.record(event);
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn number(value: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(value)),
    }
}
