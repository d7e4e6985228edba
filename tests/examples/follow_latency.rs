//! Follow-mode delivery latency under load (a benchmark, not a test).
//!
//! Starts two server processes' worth of `Application` on one throwaway
//! Postgres (A and replica B), appends `RATE` entries/s spread over
//! `TENANTS` tenants through A in batches of `BATCH`, and follows every
//! tenant on A (woken in-process) and on B (woken by A's `pg_notify`). A
//! follower that never reads stays open on A all along.
//!
//! Latency per entry = the follower's clock when the entry arrives minus the
//! entry's `received_at` (the server's clock when the append arrived; one
//! machine, one clock). So it is an upper bound of commit → follower: it
//! also counts the append's own insert and commit.
//!
//! ```text
//! cargo run --release -p audit-tests --example follow_latency
//! FOLLOW_BENCH_RATE=2000 FOLLOW_BENCH_SECONDS=30 cargo run --release -p audit-tests --example follow_latency
//! ```

use audit_client::AuditClient;
use audit_proto::{AuditLogInput, ListAuditLogsRequest};
use audit_tests::{ALL_SCOPES, Backend, TestApp};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let rate = setting("FOLLOW_BENCH_RATE", 1000);
    let tenants = setting("FOLLOW_BENCH_TENANTS", 4) as usize;
    let batch = setting("FOLLOW_BENCH_BATCH", 10) as usize;
    let seconds = setting("FOLLOW_BENCH_SECONDS", 20);

    let app = TestApp::spawn(Backend::Postgres).await;
    let replica = app.spawn_replica().await;
    let names: Vec<String> = (0..tenants).map(|i| format!("tenant-{i}")).collect();
    let per_tenant = (rate as usize * seconds as usize / tenants / batch) * batch;
    let rss_before = rss_kib();

    let (latencies, mut arrived) = mpsc::unbounded_channel();
    let mut followers = Vec::new();
    for name in &names {
        for (place, server) in [("local", &app), ("replica", &replica)] {
            let client = server.client_for(name, ALL_SCOPES);
            followers.push(tokio::spawn(follow(
                client,
                place,
                per_tenant,
                latencies.clone(),
            )));
        }
    }
    drop(latencies);
    // A follower that never reads: it must cost the others nothing.
    let stalled = app
        .client_for(&names[0], ALL_SCOPES)
        .stub()
        .list_audit_logs(ListAuditLogsRequest {
            follow: true,
            ..Default::default()
        })
        .await
        .expect("the stalled follower opens");

    let interval = Duration::from_secs_f64(batch as f64 / rate as f64);
    println!(
        "appending {rate} entries/s for {seconds} s over {tenants} tenants, batches of {batch} \
         (one batch every {interval:?})"
    );
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut appends = Vec::new();
    for round in 0..per_tenant / batch * tenants {
        ticker.tick().await;
        let client = app.client_for(&names[round % tenants], ALL_SCOPES);
        appends.push(tokio::spawn(async move {
            let sent = Instant::now();
            client
                .append(entries(batch))
                .await
                .expect("the append succeeds");
            sent.elapsed()
        }));
    }
    let mut append_times = Vec::new();
    for append in appends {
        append_times.push(append.await.expect("append task"));
    }
    let elapsed = started.elapsed();
    for follower in followers {
        follower.await.expect("follower task");
    }
    let mut local = Vec::new();
    let mut remote = Vec::new();
    while let Some((place, latency)) = arrived.recv().await {
        if place == "local" {
            local.push(latency);
        } else {
            remote.push(latency);
        }
    }
    drop(stalled);

    let total = per_tenant * tenants;
    println!(
        "appended {total} entries in {elapsed:.2?} ({:.0} entries/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    report("append call (batch)", &mut append_times);
    report("commit -> follower, same process", &mut local);
    report("commit -> follower, other process (NOTIFY)", &mut remote);
    println!(
        "process RSS: {} KiB before, {} KiB after (server, client and one stalled follower)",
        rss_before,
        rss_kib()
    );
}

/// Follows one tenant until `expected` entries have arrived, sending each
/// entry's latency.
async fn follow(
    client: AuditClient,
    place: &'static str,
    expected: usize,
    latencies: mpsc::UnboundedSender<(&'static str, Duration)>,
) {
    let request = ListAuditLogsRequest {
        follow: true,
        page_size: 1000,
        ..Default::default()
    };
    let mut stream = client
        .stub()
        .list_audit_logs(request)
        .await
        .expect("the follow stream opens")
        .into_inner();
    let mut seen = 0;
    while seen < expected {
        let message = stream
            .message()
            .await
            .expect("the follow stream keeps going")
            .expect("the follow stream does not end");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        for entry in message.audit_logs {
            seen += 1;
            let received = entry.received_at.unwrap_or_default();
            let received = Duration::new(
                u64::try_from(received.seconds).unwrap_or_default(),
                u32::try_from(received.nanos).unwrap_or_default(),
            );
            let _ = latencies.send((place, now.saturating_sub(received)));
        }
    }
}

fn entries(count: usize) -> Vec<AuditLogInput> {
    (0..count)
        .map(|i| AuditLogInput {
            action: "document.read".to_owned(),
            request_id: format!("bench-{i}"),
            ..Default::default()
        })
        .collect()
}

fn report(what: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        println!("{what}: no samples");
        return;
    }
    samples.sort_unstable();
    let at = |quantile: f64| samples[((samples.len() - 1) as f64 * quantile).round() as usize];
    println!(
        "{what}: n={} p50={:.1?} p90={:.1?} p99={:.1?} max={:.1?}",
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        samples[samples.len() - 1]
    );
}

/// The process's resident set size, from /proc (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
