//! Failure contract, point 5: a List whose deadline passes while its query
//! waits ends with DEADLINE_EXCEEDED, and the query is cancelled on the
//! database rather than left running (Postgres: dropping the client side of
//! a query does not stop it by itself).

use audit_proto::ListAuditLogsRequest;
use audit_tests::database_activity::{Observer, wait_until_pool_idle};
use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp, assert_code, input};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;

const DEADLINE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn a_list_past_its_deadline_is_deadline_exceeded_and_cancelled_on_postgres() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.seed(ACME, vec![input("document.read"), input("document.write")])
        .await;
    let observer = Observer::connect(&app).await;
    // Every read of audit_logs now waits: the slowest query there is.
    let lock = observer.lock_audit_logs().await;

    let client = app
        .client_for(ACME, ALL_SCOPES)
        .with_deadline(Some(DEADLINE));
    let started = Instant::now();
    let outcome = client
        .list_with(ListAuditLogsRequest::default())
        .collect()
        .await;
    let took = started.elapsed();
    let status = assert_code(outcome, Code::DeadlineExceeded);
    assert!(
        took < DEADLINE + Duration::from_secs(1),
        "the call ended {took:?} after it started, deadline {DEADLINE:?}: {status:?}"
    );

    let running = observer
        .wait_until_no_server_query(Duration::from_secs(1))
        .await;
    let idle_after = wait_until_pool_idle(&app, Duration::from_secs(1)).await;
    // Only now does the lock go: the query must have stopped before.
    lock.rollback().await.expect("release the lock");
    assert_eq!(
        running.map(|_| ()),
        Ok(()),
        "the server's query is still running or waiting on the database"
    );
    assert!(
        idle_after.is_some(),
        "the cancelled query's connection is still in use: {:?}",
        app.store().pool_usage()
    );
    // And the server still answers once the lock is gone.
    let entries = app
        .list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list after the lock");
    assert_eq!(entries.len(), 2);
}
