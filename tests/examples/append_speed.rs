//! Append throughput on a throwaway database, to measure the insert path
//! before and after a change (not a test: it asserts nothing but the count).
//!
//! ```text
//! cargo run -p audit-tests --example append_speed -- [postgres|sqlite] [events] [batch] [clients] [keys]
//! ```
//!
//! Two passes: `store` calls `AuditStore::append` directly (the statements
//! alone, no gRPC, no validation), `rpc` sends `AppendAuditLogs` through the
//! real client from `clients` concurrent tasks, each its own tenant (one
//! chain head each, so they do not queue on one lock). With `keys`, every
//! entry carries an idempotency key (the store looks them all up first).

use audit_proto::{ActorType, AuditLogInput, Result as Outcome};
use audit_server::domain::{Actor, AuditLogEntry, RequestInfo, Target};
use audit_tests::{ALL_SCOPES, AuditLogInputExt, Backend, TestApp, input};
use std::time::Instant;
use uuid::Uuid;

fn arg<T: std::str::FromStr>(index: usize, default: T) -> T {
    std::env::args()
        .nth(index)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// An entry shaped like the plan test's: every column set, ~200 bytes of
/// metadata.
fn rpc_entry(n: usize, keyed: bool) -> AuditLogInput {
    let entry = if keyed {
        input("document.updated").idempotency_key(&format!("key-{}", Uuid::now_v7()))
    } else {
        input("document.updated")
    };
    entry
        .by(&format!("u-{:03}", n % 200), ActorType::User)
        .email(&format!("user{}@acme.test", n % 200))
        .named("Some Actor")
        .on("document", &format!("doc-{}", n % 5000))
        .outcome(Outcome::Success)
        .client_ip(&format!("10.{}.{}.{}", n % 7, n % 250, 1 + n % 200))
        .request("POST", "/v1/things", 200)
        .metadata(serde_json::json!({ "note": "x".repeat(200), "n": n }))
}

fn store_entry(tenant: &str, n: usize, keyed: bool) -> AuditLogEntry {
    let now = chrono::Utc::now().timestamp_micros();
    AuditLogEntry {
        id: Uuid::now_v7(),
        tenant_id: tenant.to_owned(),
        occurred_at: now,
        received_at: now,
        action: "document.updated".into(),
        actor: Actor {
            id: format!("u-{:03}", n % 200),
            kind: ActorType::User,
            name: "Some Actor".into(),
            email: format!("user{}@acme.test", n % 200),
        },
        target: Target {
            kind: "document".into(),
            id: format!("doc-{}", n % 5000),
            name: String::new(),
        },
        result: Outcome::Success,
        client_ip: Some(
            format!("10.{}.{}.{}", n % 7, n % 250, 1 + n % 200)
                .parse()
                .unwrap(),
        ),
        user_agent: "append_speed".into(),
        request: RequestInfo {
            method: "POST".into(),
            path: "/v1/things".into(),
            status_code: 200,
        },
        metadata: serde_json::json!({ "note": "x".repeat(200), "n": n }),
        request_id: String::new(),
        idempotency_key: keyed.then(|| format!("key-{}", Uuid::now_v7())),
        fingerprint: keyed.then(|| vec![7; 32]),
        chain: None,
    }
}

fn report(pass: &str, events: usize, started: Instant) {
    let elapsed = started.elapsed();
    println!(
        "{pass}: {events} events in {elapsed:.2?} = {:.0} events/s",
        events as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let backend = match std::env::args().nth(1).as_deref() {
        Some("sqlite") => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    let events: usize = arg(2, 100_000);
    let batch: usize = arg(3, 1000);
    let clients: usize = arg(4, 1);
    let keyed = std::env::args().nth(5).as_deref() == Some("keys");
    println!(
        "{backend:?}: {events} events, batches of {batch}, {clients} client(s), keys: {keyed}"
    );
    let app = TestApp::spawn(backend).await;

    let started = Instant::now();
    let store = app.store();
    for first in (0..events).step_by(batch) {
        let entries = (first..(first + batch).min(events))
            .map(|n| store_entry("store-tenant", n, keyed))
            .collect();
        store.append("store-tenant", entries).await.unwrap();
    }
    report("store", events, started);

    let started = Instant::now();
    let per_client = events / clients;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = app.client_for(&format!("tenant-{c}"), ALL_SCOPES);
            tokio::spawn(async move {
                for first in (0..per_client).step_by(batch) {
                    let entries: Vec<_> = (first..(first + batch).min(per_client))
                        .map(|n| rpc_entry(n, keyed))
                        .collect();
                    client.append(entries).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    report("rpc", per_client * clients, started);
}
