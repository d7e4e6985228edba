//! The Prometheus text exposition format, version 0.0.4.

use super::{Metrics, lock, pool};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(metrics: &Metrics) -> String {
    let mut out = Out::default();
    let inner = &metrics.inner;
    {
        let rpc = metrics.rpc();
        out.header(
            "audit_rpc_requests_total",
            "counter",
            "Finished RPCs by method and gRPC status code.",
        );
        for ((method, code), count) in &rpc.requests {
            out.sample(
                "audit_rpc_requests_total",
                &[("method", method), ("code", code)],
                count,
            );
        }
        out.header(
            "audit_rpc_duration_seconds",
            "histogram",
            "RPC duration from request to the end of the response stream.",
        );
        for (method, histogram) in &rpc.durations {
            for (le, count) in histogram.cumulative() {
                out.sample(
                    "audit_rpc_duration_seconds_bucket",
                    &[("method", method), ("le", &le)],
                    count,
                );
            }
            let labels = [("method", &**method)];
            out.sample("audit_rpc_duration_seconds_sum", &labels, histogram.sum());
            out.sample(
                "audit_rpc_duration_seconds_count",
                &labels,
                histogram.count(),
            );
        }
        out.header(
            "audit_open_streams",
            "gauge",
            "RPCs in flight by method: request received, response stream not yet ended.",
        );
        for (method, open) in &rpc.open {
            out.sample("audit_open_streams", &[("method", method)], open);
        }
        out.header(
            "audit_streaming_calls_refused_total",
            "counter",
            "List/Verify calls refused with RESOURCE_EXHAUSTED at the streaming-call limit.",
        );
        for (method, refused) in &rpc.refused {
            out.sample(
                "audit_streaming_calls_refused_total",
                &[("method", method)],
                refused,
            );
        }
    }
    out.header(
        "audit_streaming_calls_max",
        "gauge",
        "Most concurrent audit.v1 streaming calls admitted (0: no limit).",
    );
    out.sample("audit_streaming_calls_max", &[], inner.max_audit_streams);

    out.header(
        "audit_entries_appended_total",
        "counter",
        "Entries acknowledged by successful AppendAuditLogs calls (idempotent replays included).",
    );
    out.sample(
        "audit_entries_appended_total",
        &[],
        inner.entries_appended.load(Ordering::Relaxed),
    );

    {
        let follow = lock(&inner.follow);
        out.header("audit_follow_streams", "gauge", "Open follow streams.");
        out.sample("audit_follow_streams", &[], follow.open_count());
        out.header(
            "audit_follow_lag_entries",
            "gauge",
            "Committed entries the slowest open follow stream has yet to read.",
        );
        out.sample("audit_follow_lag_entries", &[], follow.max_lag());
    }

    if let Some(pool) = pool::pool_use(&inner.store) {
        out.header(
            "audit_db_pool_connections",
            "gauge",
            "Database pool connections by state.",
        );
        out.sample("audit_db_pool_connections", &[("state", "idle")], pool.idle);
        out.sample(
            "audit_db_pool_connections",
            &[("state", "in_use")],
            pool.in_use,
        );
        out.header(
            "audit_db_pool_max_connections",
            "gauge",
            "Most connections the database pool opens.",
        );
        out.sample("audit_db_pool_max_connections", &[], pool.max);
    }

    let appends = inner.store.append_queue_use();
    out.header(
        "audit_append_calls_waiting",
        "gauge",
        "Append calls waiting in the server for the next append transaction (group commit).",
    );
    out.sample("audit_append_calls_waiting", &[], appends.waiting_calls);
    out.header(
        "audit_append_writers",
        "gauge",
        "Append transactions running now.",
    );
    out.sample("audit_append_writers", &[], appends.writers);
    out.header(
        "audit_append_max_writers",
        "gauge",
        "Most append transactions at once (--append-writers).",
    );
    out.sample("audit_append_max_writers", &[], appends.max_writers);
    out.header(
        "audit_append_transactions_total",
        "counter",
        "Append transactions committed, by way: one statement on chain heads this server wrote last, or under the head locks.",
    );
    out.sample(
        "audit_append_transactions_total",
        &[("way", "one_statement")],
        appends.one_statement_writes,
    );
    out.sample(
        "audit_append_transactions_total",
        &[("way", "locked")],
        appends.locked_writes,
    );

    out.header(
        "audit_health_serving",
        "gauge",
        "1 while the health check reports SERVING (database reachable), else 0.",
    );
    out.sample(
        "audit_health_serving",
        &[],
        u8::from(inner.serving.load(Ordering::Relaxed)),
    );

    out.header(
        "audit_build_info",
        "gauge",
        "Always 1; the labels say which build and database backend run.",
    );
    out.sample(
        "audit_build_info",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("backend", inner.store.backend_name()),
        ],
        1,
    );
    out.0
}

#[derive(Default)]
struct Out(String);

impl Out {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (index, (key, value)) in labels.iter().enumerate() {
                if index > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{key}=\"{}\"", escape(value));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
