//! Prometheus metrics: what an operator paged at night looks at first.
//! Request rate and errors by method and code, latency, appended entries,
//! open streams, follow lag, database pool use, health and build.
//!
//! The text exposition (format 0.0.4) is written by hand in
//! [`exposition`]: the handful of series here do not justify another
//! dependency, and the format is small and stable.
//!
//! # Layout
//! - [`Metrics`]: the handle (this file); cheap to clone.
//! - `methods`: method labels, bounded to the served methods.
//! - `call`: one RPC from request to end of its response stream.
//! - `histogram`, `follow`, `pool`: the pieces of state.
//! - `exposition`: renders everything as text.
//! - `http`: the `/metrics` listener.
//!
//! # For handlers
//! The RPC layer puts the [`Metrics`] into every request's extensions, so a
//! handler reaches it with `request.extensions().get::<Metrics>()`.
//! Follow mode calls [`Metrics::follow_stream_opened`] when a follow stream
//! starts, [`FollowStreamGuard::report_lag`] whenever it delivers entries
//! (or learns how far behind it is), and drops the guard when the stream
//! ends.

mod call;
mod exposition;
mod follow;
mod histogram;
pub mod http;
mod methods;
mod pool;

pub use call::{CallGuard, MeteredBody, StreamLimitReached};
pub use methods::code_name;
pub use pool::PoolUse;

use crate::store::AuditStore;
use follow::FollowStreams;
use histogram::Histogram;
use methods::KnownMethods;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The server's metrics; clones share one registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    methods: KnownMethods,
    store: AuditStore,
    rpc: Mutex<RpcSeries>,
    follow: Mutex<FollowStreams>,
    entries_appended: AtomicU64,
    serving: AtomicBool,
    /// Open audit.v1 server-streaming calls, against the limit.
    audit_streams: AtomicUsize,
    /// Most concurrent audit.v1 streaming calls; 0 means no limit.
    max_audit_streams: usize,
}

/// Series keyed by method label (and code); `BTreeMap`s so a scrape lists
/// them in a stable order.
#[derive(Default)]
struct RpcSeries {
    requests: BTreeMap<(Arc<str>, &'static str), u64>,
    durations: BTreeMap<Arc<str>, Histogram>,
    open: BTreeMap<Arc<str>, i64>,
    refused: BTreeMap<Arc<str>, u64>,
}

impl Metrics {
    /// A registry for a server on `store` that admits at most
    /// `max_streaming_calls` concurrent List/Verify (any audit.v1
    /// server-streaming) calls; 0 admits any number.
    pub fn new(store: AuditStore, max_streaming_calls: usize) -> Self {
        let methods = KnownMethods::served();
        let mut rpc = RpcSeries::default();
        for stream in methods.audit_streams() {
            // Present at 0 from the start, so alerts on them are not
            // "absent" before the first call.
            rpc.open.insert(stream.label.clone(), 0);
            rpc.refused.insert(stream.label.clone(), 0);
        }
        Self {
            inner: Arc::new(Inner {
                methods,
                store,
                rpc: Mutex::new(rpc),
                follow: Mutex::new(FollowStreams::default()),
                entries_appended: AtomicU64::new(0),
                serving: AtomicBool::new(false),
                audit_streams: AtomicUsize::new(0),
                max_audit_streams: max_streaming_calls,
            }),
        }
    }

    /// Starts metering a call to `path`. A streaming audit call over the
    /// limit is refused (and counted) instead.
    pub fn call_started(&self, path: &str) -> Result<CallGuard, StreamLimitReached> {
        let method = self.inner.methods.lookup(path).clone();
        if method.audit_stream && !self.admit_audit_stream() {
            *self.rpc().refused.entry(method.label.clone()).or_default() += 1;
            self.count_request(
                &method.label,
                tonic::Code::ResourceExhausted,
                Duration::ZERO,
            );
            return Err(StreamLimitReached {
                limit: self.inner.max_audit_streams,
            });
        }
        *self.rpc().open.entry(method.label.clone()).or_default() += 1;
        Ok(CallGuard::new(self.clone(), method))
    }

    /// Counts entries acknowledged by a successful AppendAuditLogs.
    pub fn entries_appended(&self, count: usize) {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        self.inner
            .entries_appended
            .fetch_add(count, Ordering::Relaxed);
    }

    /// Records the latest health verdict (database reachable or not).
    pub fn set_serving(&self, serving: bool) {
        self.inner.serving.store(serving, Ordering::Relaxed);
    }

    /// Registers an open follow stream; dropping the guard closes it.
    pub fn follow_stream_opened(&self) -> FollowStreamGuard {
        let id = lock(&self.inner.follow).open();
        FollowStreamGuard {
            metrics: self.clone(),
            id,
        }
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        exposition::render(self)
    }

    fn admit_audit_stream(&self) -> bool {
        let limit = self.inner.max_audit_streams;
        let admitted =
            self.inner
                .audit_streams
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                    (limit == 0 || open < limit).then_some(open + 1)
                });
        admitted.is_ok()
    }

    /// Ends a call admitted by [`call_started`](Self::call_started).
    fn call_ended(&self, method: &methods::MethodInfo, code: tonic::Code, elapsed: Duration) {
        if method.audit_stream {
            self.inner.audit_streams.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(open) = self.rpc().open.get_mut(&method.label) {
            *open -= 1;
        }
        self.count_request(&method.label, code, elapsed);
    }

    fn count_request(&self, method: &Arc<str>, code: tonic::Code, elapsed: Duration) {
        let mut rpc = self.rpc();
        *rpc.requests
            .entry((method.clone(), code_name(code)))
            .or_default() += 1;
        rpc.durations
            .entry(method.clone())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    fn rpc(&self) -> MutexGuard<'_, RpcSeries> {
        lock(&self.inner.rpc)
    }
}

/// An open follow stream, for follow mode to report its lag through.
#[derive(Debug)]
pub struct FollowStreamGuard {
    metrics: Metrics,
    id: u64,
}

impl FollowStreamGuard {
    /// How many committed entries this stream has yet to read (the sum over
    /// its tenants of chain head minus the last sequence it read past).
    pub fn report_lag(&self, entries: u64) {
        lock(&self.metrics.inner.follow).report_lag(self.id, entries);
    }
}

impl Drop for FollowStreamGuard {
    fn drop(&mut self) {
        lock(&self.metrics.inner.follow).close(self.id);
    }
}

/// Metrics must keep counting even if a thread panicked while holding the
/// lock: the counters stay valid, so take the data back.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
