//! Failure contract, point 2: Postgres stopped for 10 s under load. Calls
//! fail with UNAVAILABLE within their deadline (no INTERNAL, no SQL text),
//! health says NOT_SERVING, the server keeps running, and it serves again
//! within 5 s of Postgres coming back, without a restart.
//!
//! Runs on a private cluster: the shared one serves every other test.

use audit_client::{AuditClient, RetryPolicy};
use audit_tests::postgres::PostgresCluster;
use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp, input};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const OUTAGE: Duration = Duration::from_secs(10);
const DEADLINE: Duration = Duration::from_secs(8);
const RECOVERY: Duration = Duration::from_secs(5);

/// One call of the load: when it ended (since the test began), how long it
/// took, and its code and message.
#[derive(Debug)]
struct Call {
    ended: Duration,
    took: Duration,
    code: Code,
    message: String,
}

#[tokio::test]
async fn postgres_outage_is_unavailable_then_served_again_without_restart() {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(PostgresCluster::start_private)
            .await
            .expect("start a private cluster"),
    );
    let database_url = cluster.fresh_database_url().await;
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.database_url = database_url;
        settings.health_interval = Duration::from_millis(200);
    })
    .await;
    let mut health = health_client(&app).await;
    // The first database check registers the service as the server starts.
    let first = wait_for_status(&mut health, ServingStatus::Serving, RECOVERY).await;
    assert!(first.is_some(), "health never said SERVING at start");

    let began = Instant::now();
    let running = Arc::new(AtomicBool::new(true));
    let client = app
        .client_for(ACME, ALL_SCOPES)
        .with_deadline(Some(DEADLINE))
        .with_retry_policy(RetryPolicy::never());
    let load: Vec<_> = (0..3)
        .map(|_| tokio::spawn(append_until_stopped(client.clone(), began, running.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .expect("stop postgres");
    let stopped_at = began.elapsed();

    // Health turns NOT_SERVING while the database is away.
    let not_serving = wait_for_status(&mut health, ServingStatus::NotServing, OUTAGE).await;
    assert!(not_serving.is_some(), "health never said NOT_SERVING");
    tokio::time::sleep(OUTAGE.saturating_sub(began.elapsed() - stopped_at)).await;
    assert!(app.is_serving(), "the server exited during the outage");

    let resuming = cluster.clone();
    tokio::task::spawn_blocking(move || resuming.resume())
        .await
        .expect("start postgres again");
    let resumed_at = began.elapsed();
    let serving = wait_for_status(&mut health, ServingStatus::Serving, RECOVERY).await;
    assert!(
        serving.is_some(),
        "health not SERVING within {RECOVERY:?} of postgres returning"
    );
    let answered = wait_for_successful_append(&client, RECOVERY).await;
    assert!(
        answered.is_some(),
        "no append succeeded within {RECOVERY:?} of postgres returning"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.store(false, Ordering::Relaxed);

    let mut calls = Vec::new();
    for task in load {
        calls.extend(task.await.expect("a load task panicked"));
    }
    let failed: Vec<&Call> = calls.iter().filter(|call| call.code != Code::Ok).collect();
    assert!(!failed.is_empty(), "no call failed while postgres was down");
    for call in &failed {
        assert_eq!(call.code, Code::Unavailable, "{call:?}");
        assert_eq!(call.message, "the audit store is unavailable", "{call:?}");
        assert!(
            call.took < DEADLINE,
            "failed only at its deadline: {call:?}"
        );
        assert!(
            call.ended >= stopped_at.saturating_sub(Duration::from_secs(1))
                && call.ended <= resumed_at + RECOVERY,
            "failed outside the outage: {call:?}"
        );
    }
    let after: usize = calls
        .iter()
        .filter(|call| call.code == Code::Ok && call.ended > resumed_at)
        .count();
    assert!(
        after > 0,
        "the load never succeeded after postgres returned"
    );
    eprintln!(
        "outage: {} calls, {} UNAVAILABLE (slowest {:?}), NOT_SERVING after {:?}, \
         SERVING {:?} and an append {:?} after postgres returned",
        calls.len(),
        failed.len(),
        failed.iter().map(|call| call.took).max(),
        not_serving.unwrap_or_default(),
        serving.unwrap_or_default(),
        answered.unwrap_or_default(),
    );
}

async fn append_until_stopped(
    client: AuditClient,
    began: Instant,
    running: Arc<AtomicBool>,
) -> Vec<Call> {
    let mut calls = Vec::new();
    while running.load(Ordering::Relaxed) {
        let started = Instant::now();
        let outcome = client.append(vec![input("document.read")]).await;
        let (code, message) = match outcome {
            Ok(_) => (Code::Ok, String::new()),
            Err(error) => (
                error.code(),
                tonic::Status::from(error).message().to_owned(),
            ),
        };
        calls.push(Call {
            ended: began.elapsed(),
            took: started.elapsed(),
            code,
            message,
        });
        if code != Code::Ok {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    calls
}

async fn health_client(app: &TestApp) -> HealthClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(app.endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    HealthClient::new(channel)
}

/// Asks health about the audit service; NOT_FOUND until its first check.
async fn serving_status(
    health: &mut HealthClient<tonic::transport::Channel>,
) -> Result<ServingStatus, Code> {
    health
        .check(HealthCheckRequest {
            service: "audit.v1.AuditService".into(),
        })
        .await
        .map(|reply| reply.get_ref().status())
        .map_err(|status| status.code())
}

/// Polls health until it reports `wanted`; returns how long that took.
async fn wait_for_status(
    health: &mut HealthClient<tonic::transport::Channel>,
    wanted: ServingStatus,
    within: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if serving_status(health).await == Ok(wanted) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Appends until one succeeds; returns how long that took.
async fn wait_for_successful_append(client: &AuditClient, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let client = client.with_deadline(Some(within));
    while started.elapsed() < within {
        if client.append(vec![input("document.read")]).await.is_ok() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
