//! Concurrent appends to one tenant: each call gets its own ids or its own
//! error, the chain stays gapless with each batch contiguous in it, however
//! the server groups the calls into transactions.

use audit_proto::{ActorType, AuditLog, ChainStatus, ListAuditLogsRequest, SortOrder};
use audit_tests::database_activity::Observer;
use audit_tests::{
    ACME, AuditLogInputExt, Backend, TestApp, assert_code, input, on_both_backends, verify_chain,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;
use tonic::Code;

type Call = JoinHandle<Result<Vec<String>, audit_client::Error>>;

/// Starts one append of `entries` actions as ACME's user.
fn append(app: &TestApp, entries: Vec<audit_proto::AuditLogInput>) -> Call {
    let client = app.client_for(ACME, audit_tests::ALL_SCOPES);
    tokio::spawn(async move { client.append(entries).await })
}

/// Every entry of ACME in sequence order.
async fn chain(app: &TestApp) -> Vec<AuditLog> {
    app.list(
        ACME,
        ListAuditLogsRequest {
            order: SortOrder::OldestFirst as i32,
            ..Default::default()
        },
    )
    .await
    .expect("list")
}

/// Asserts that sequences run 1..=n with no gap, that each call's ids hold
/// consecutive sequences in its input order, and that the server verifies
/// the chain as intact.
async fn assert_contiguous(app: &TestApp, calls: &[Vec<String>]) {
    let entries = chain(app).await;
    let mut sequences: Vec<i64> = entries.iter().map(|entry| entry.sequence).collect();
    sequences.sort_unstable();
    let expected: Vec<i64> = (1..=entries.len() as i64).collect();
    assert_eq!(sequences, expected, "sequences have gaps or repeats");
    let sequence_of: HashMap<&str, i64> = entries
        .iter()
        .map(|entry| (entry.id.as_str(), entry.sequence))
        .collect();
    for ids in calls {
        let own: Vec<i64> = ids.iter().map(|id| sequence_of[id.as_str()]).collect();
        let consecutive: Vec<i64> = (own[0]..own[0] + own.len() as i64).collect();
        assert_eq!(own, consecutive, "a call's entries are not contiguous");
    }
    let verdict = verify_chain(app, ACME, Default::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
}

on_both_backends!(concurrent_appends_to_one_tenant_each_get_their_own_ids);
async fn concurrent_appends_to_one_tenant_each_get_their_own_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let calls: Vec<Call> = (0..24)
        .map(|call| {
            let entries = (0..=call % 3)
                .map(|n| input(&format!("doc.edit.{call}.{n}")))
                .collect();
            append(&app, entries)
        })
        .collect();

    let mut stored = Vec::new();
    for (call, handle) in calls.into_iter().enumerate() {
        let ids = handle.await.expect("task").expect("append");
        assert_eq!(
            ids.len(),
            call % 3 + 1,
            "call {call} got the wrong id count"
        );
        stored.push(ids);
    }

    let all: Vec<&String> = stored.iter().flatten().collect();
    let distinct: std::collections::HashSet<&&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "two calls got the same id");
    assert_eq!(chain(&app).await.len(), all.len());
    assert_contiguous(&app, &stored).await;
}

/// Postgres only: the observer holds the tenant's chain head so that the
/// calls pile up behind the first one, and are written together after it.
#[tokio::test]
async fn a_conflicting_call_queued_with_others_fails_alone() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let first = app
        .seed(ACME, vec![input("user.login").idempotency_key("login-1")])
        .await;
    let observer = Observer::connect(&app).await;
    let held = observer.lock_chain_head(ACME).await;

    let blocked = append(&app, vec![input("doc.create"), input("doc.share")]);
    let started = tokio::time::Instant::now();
    while observer.server_statements_waiting_on_locks().await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the first append never waited on the chain head"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let conflicting = append(
        &app,
        vec![
            input("user.login")
                .by("u2", ActorType::User)
                .idempotency_key("login-1"),
        ],
    );
    let queued: Vec<Call> = (0..6)
        .map(|call| append(&app, vec![input(&format!("doc.view.{call}"))]))
        .collect();
    let retried = append(&app, vec![input("user.login").idempotency_key("login-1")]);
    // Let every call reach the server before the head is released.
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.rollback().await.expect("release the chain head");

    let mut stored = vec![first.clone()];
    stored.push(blocked.await.expect("task").expect("the blocked append"));
    let status = assert_code(conflicting.await.expect("task"), Code::AlreadyExists);
    assert!(status.message().contains("login-1"), "{status:?}");
    for call in queued {
        stored.push(call.await.expect("task").expect("a queued append"));
    }
    let retry = retried.await.expect("task").expect("the retried append");
    assert_eq!(retry, first, "the retry resolves to the stored entry");

    assert_eq!(chain(&app).await.len(), 1 + 2 + 6);
    assert_contiguous(&app, &stored).await;
}
