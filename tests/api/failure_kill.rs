//! Failure contract, point 1: a `kill -9` of the server while several
//! clients append 100,000 events with idempotency keys and retries loses no
//! acknowledged entry and stores none twice, and the chain stays intact.

use audit_client::{AuditClient, RetryPolicy};
use audit_proto::{ChainStatus, VerifyAuditChainRequest};
use audit_server::auth::{JwtSecret, issue_token};
use audit_tests::server_process::ServerProcess;
use audit_tests::{
    ACME, ALL_SCOPES, AuditLogInputExt, Backend, input, on_both_backends, verify_chain_as,
};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

const CLIENTS: usize = 4;
const EVENTS: usize = 100_000;
const BATCH: usize = 1000;
/// Kill once this many events are acknowledged: mid-load, with batches in
/// flight on every client.
const KILL_AFTER: usize = EVENTS / 4;
/// The load must reach the kill point within this bound: generous, because
/// CI runs this debug build beside the rest of the suite on two cores.
const LOAD_BOUND: Duration = Duration::from_secs(240);

on_both_backends!(acknowledged_appends_survive_kill_9_without_duplicates);
async fn acknowledged_appends_survive_kill_9_without_duplicates(backend: Backend) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = backend.fresh_database_url(dir.path()).await;
    let mut server = ServerProcess::start(&database_url, dir.path()).await;
    let client = client_of(&server);

    let acked = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|worker| tokio::spawn(append_share(client.clone(), worker, acked.clone())))
        .collect();

    while acked.load(Ordering::Relaxed) < KILL_AFTER {
        assert!(
            started.elapsed() < LOAD_BOUND,
            "the load did not reach {KILL_AFTER} acknowledged events"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let acked_at_kill = acked.load(Ordering::Relaxed);
    // The clients keep retrying against a closed port meanwhile.
    server.start_again().await;

    let mut acknowledged: HashMap<String, String> = HashMap::new();
    for worker in workers {
        let ids = worker
            .await
            .expect("a client task panicked")
            .unwrap_or_else(|error| {
                panic!("a batch was never acknowledged: {error}\n{}", server.log())
            });
        acknowledged.extend(ids);
    }
    assert!(
        acked_at_kill < EVENTS,
        "the kill must land mid-load, but all {EVENTS} were already acknowledged"
    );
    assert_eq!(acknowledged.len(), EVENTS, "every event acknowledged once");

    let stored = stored_ids_by_key(&database_url).await;
    let duplicated: Vec<_> = stored.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        duplicated.is_empty(),
        "{} keys stored more than once, e.g. {:?}",
        duplicated.len(),
        duplicated.first()
    );
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|(key, id)| {
            stored
                .get(*key)
                .is_none_or(|ids| ids != &vec![(*id).clone()])
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged ids are not stored under their key, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert_eq!(stored.len(), EVENTS, "no row beyond the acknowledged ones");

    let verdict = verify_chain_as(&client, VerifyAuditChainRequest::default())
        .await
        .expect("verify the chain after the restart");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!(verdict.entries_checked, EVENTS as i64, "{verdict:?}");
    eprintln!(
        "{backend:?}: {EVENTS} events by {CLIENTS} clients, killed after {acked_at_kill} acks, {:?} in all",
        started.elapsed()
    );
}

/// A client of tenant acme that retries through a restart: each batch
/// carries idempotency keys, so the client may resend it.
fn client_of(server: &ServerProcess) -> AuditClient {
    let token = issue_token(
        &JwtSecret::new(audit_tests::app::TEST_JWT_SECRET),
        "loader",
        ACME,
        ALL_SCOPES,
        Duration::from_secs(3600),
    )
    .expect("token");
    AuditClient::builder(server.endpoint())
        .bearer_token(token)
        .deadline(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy {
            max_attempts: 100,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(250),
        })
        .connect_lazy()
        .expect("client")
}

/// Appends this worker's share of the events in batches and returns the
/// acknowledged id of each idempotency key.
async fn append_share(
    client: AuditClient,
    worker: usize,
    acked: Arc<AtomicUsize>,
) -> Result<Vec<(String, String)>, audit_client::Error> {
    let share = EVENTS / CLIENTS;
    let mut acknowledged = Vec::with_capacity(share);
    for batch_start in (0..share).step_by(BATCH) {
        let keys: Vec<String> = (batch_start..batch_start + BATCH)
            .map(|n| format!("w{worker}-e{n}"))
            .collect();
        let entries: Vec<_> = keys
            .iter()
            .map(|key| input("document.read").idempotency_key(key))
            .collect();
        let ids = client.append(entries).await?;
        assert_eq!(ids.len(), keys.len(), "one id per entry");
        acked.fetch_add(ids.len(), Ordering::Relaxed);
        acknowledged.extend(keys.into_iter().zip(ids));
    }
    Ok(acknowledged)
}

/// Reads every row's idempotency key and id straight from the database.
async fn stored_ids_by_key(database_url: &str) -> HashMap<String, Vec<String>> {
    let db = Database::connect(database_url)
        .await
        .expect("connect to the database directly");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT idempotency_key, id FROM audit_logs WHERE tenant_id = '{ACME}'"),
        ))
        .await
        .expect("read the stored rows");
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        let key: Option<String> = row.try_get_by_index(0).expect("idempotency_key");
        let id: uuid::Uuid = row.try_get_by_index(1).expect("id");
        stored
            .entry(key.unwrap_or_default())
            .or_default()
            .push(id.to_string());
    }
    if db.get_database_backend() == DbBackend::Sqlite {
        // Leave nothing open on the file the server still serves.
        db.close().await.expect("close");
    }
    stored
}
