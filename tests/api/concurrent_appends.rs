//! Concurrent appends, to one tenant and to several: each call gets its own
//! ids or its own error, each tenant's chain stays gapless with each batch
//! contiguous in it, however the server groups the calls into transactions
//! (group commit: calls that queue behind busy writers share the next
//! transaction, whatever their tenants).

use audit_proto::{ActorType, AuditLog, ListAuditLogsRequest, SortOrder};
use audit_tests::database_activity::Observer;
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, assert_chain_intact, assert_code, input,
    on_both_backends,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;
use tonic::Code;

type Call = JoinHandle<Result<Vec<String>, audit_client::Error>>;

/// A tenant that has no entries before the test appends.
const INITECH: &str = "initech";

/// Starts one append of `entries` as ACME's user.
fn append(app: &TestApp, entries: Vec<audit_proto::AuditLogInput>) -> Call {
    append_as(app, ACME, entries)
}

/// Starts one append of `entries` as `tenant`'s user.
fn append_as(app: &TestApp, tenant: &str, entries: Vec<audit_proto::AuditLogInput>) -> Call {
    let client = app.client_for(tenant, audit_tests::ALL_SCOPES);
    tokio::spawn(async move { client.append(entries).await })
}

/// Every entry of ACME in sequence order.
async fn chain(app: &TestApp) -> Vec<AuditLog> {
    chain_of(app, ACME).await
}

/// Every entry of `tenant` in sequence order.
async fn chain_of(app: &TestApp, tenant: &str) -> Vec<AuditLog> {
    app.list(
        tenant,
        ListAuditLogsRequest {
            order: SortOrder::OldestFirst as i32,
            ..Default::default()
        },
    )
    .await
    .expect("list")
}

/// Asserts of ACME's chain what [`assert_contiguous_in`] does.
async fn assert_contiguous(app: &TestApp, calls: &[Vec<String>]) {
    assert_contiguous_in(app, ACME, calls).await;
}

/// Asserts that `tenant`'s sequences run 1..=n with no gap, that each of
/// its calls' ids hold consecutive sequences in input order, and that the
/// server verifies the chain as intact.
async fn assert_contiguous_in(app: &TestApp, tenant: &str, calls: &[Vec<String>]) {
    let entries = chain_of(app, tenant).await;
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
    assert_chain_intact(app, tenant).await;
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
    wait_on_the_held_head(&observer).await;
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

/// Waits until an append of the server waits on a chain head the observer
/// holds.
async fn wait_on_the_held_head(observer: &Observer) {
    let started = tokio::time::Instant::now();
    while observer.server_statements_waiting_on_locks().await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the first append never waited on the chain head"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `calls` append calls wait in the server for a transaction
/// (the one writer is busy), so that all of them are queued before the
/// held head is released.
async fn wait_for_queued_calls(app: &TestApp, calls: u64) {
    let started = tokio::time::Instant::now();
    while app.store().append_queue_use().waiting_calls < calls {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "only {:?} of {calls} appends queued",
            app.store().append_queue_use()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Awaits each call and returns its ids, per tenant in call order.
async fn stored_by_tenant(
    calls: Vec<(&'static str, Call)>,
) -> HashMap<&'static str, Vec<Vec<String>>> {
    let mut stored: HashMap<&str, Vec<Vec<String>>> = HashMap::new();
    for (tenant, call) in calls {
        let ids = call.await.expect("task").expect("append");
        stored.entry(tenant).or_default().push(ids);
    }
    stored
}

on_both_backends!(concurrent_appends_to_several_tenants_each_get_their_own_ids);
async fn concurrent_appends_to_several_tenants_each_get_their_own_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenants = [ACME, GLOBEX, INITECH, "hooli", "umbrella"];
    let calls: Vec<(&'static str, Call)> = (0..30)
        .map(|call| {
            let tenant = tenants[call % tenants.len()];
            let entries = (0..=call % 4)
                .map(|n| input(&format!("doc.edit.{call}.{n}")))
                .collect();
            (tenant, append_as(&app, tenant, entries))
        })
        .collect();

    // Each call's ids name its own entries, in its input order.
    let mut stored: HashMap<&str, Vec<Vec<String>>> = HashMap::new();
    for (call, (tenant, handle)) in calls.into_iter().enumerate() {
        let ids = handle.await.expect("task").expect("append");
        let actions: Vec<String> = (0..=call % 4)
            .map(|n| format!("doc.edit.{call}.{n}"))
            .collect();
        let action_of: HashMap<String, String> = chain_of(&app, tenant)
            .await
            .into_iter()
            .map(|entry| (entry.id, entry.action))
            .collect();
        let named: Vec<&str> = ids.iter().map(|id| action_of[id].as_str()).collect();
        assert_eq!(named, actions, "call {call}'s ids name other entries");
        stored.entry(tenant).or_default().push(ids);
    }
    for tenant in tenants {
        let calls = &stored[tenant];
        let ids: Vec<&String> = calls.iter().flatten().collect();
        assert_eq!(chain_of(&app, tenant).await.len(), ids.len(), "{tenant}");
        assert_contiguous_in(&app, tenant, calls).await;
    }
}

/// Postgres only, one writer: while it waits on a chain head the observer
/// holds, appends to other tenants (one of them new) queue, then share one
/// transaction once it is free.
#[tokio::test]
async fn appends_to_several_tenants_queued_behind_a_busy_writer_share_one_transaction() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.append_writers = 1).await;
    let acme_first = app.seed(ACME, vec![input("user.login")]).await;
    let globex_first = app.seed(GLOBEX, vec![input("user.login")]).await;
    let observer = Observer::connect(&app).await;
    let held = observer.lock_chain_head(ACME).await;

    let blocked = append(&app, vec![input("doc.create")]);
    wait_on_the_held_head(&observer).await;
    let queued = vec![
        (
            GLOBEX,
            append_as(&app, GLOBEX, vec![input("doc.view"), input("doc.share")]),
        ),
        (INITECH, append_as(&app, INITECH, vec![input("user.login")])),
        (GLOBEX, append_as(&app, GLOBEX, vec![input("doc.delete")])),
    ];
    wait_for_queued_calls(&app, 3).await;
    let busy = app.store().append_queue_use();
    assert_eq!((busy.writers, busy.max_writers), (1, 1), "{busy:?}");
    held.rollback().await.expect("release the chain head");

    let blocked = blocked.await.expect("task").expect("the blocked append");
    let stored = stored_by_tenant(queued).await;
    let grouped: Vec<String> = stored.values().flatten().flatten().cloned().collect();
    assert_eq!(grouped.len(), 4);
    assert_eq!(
        observer.transactions_that_wrote(&grouped).await,
        1,
        "the queued appends were not written together"
    );
    let mut globex = vec![globex_first];
    globex.extend(stored[GLOBEX].iter().cloned());
    assert_contiguous_in(&app, ACME, &[acme_first, blocked]).await;
    assert_contiguous_in(&app, GLOBEX, &globex).await;
    assert_contiguous_in(&app, INITECH, &stored[INITECH]).await;
}

/// Postgres, default writers: while the one running writer waits on a chain
/// head the observer holds, single appends to other tenants (which would
/// otherwise wait for that writer's next transaction) are stored at once.
#[tokio::test]
async fn a_writer_waiting_on_a_held_chain_head_does_not_hold_up_other_tenants() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let acme_first = app.seed(ACME, vec![input("user.login")]).await;
    app.seed(GLOBEX, vec![input("user.login")]).await;
    let observer = Observer::connect(&app).await;
    let held = observer.lock_chain_head(ACME).await;

    let blocked = append(&app, vec![input("doc.create")]);
    wait_on_the_held_head(&observer).await;
    for action in ["doc.view", "doc.share", "doc.delete"] {
        let stored = tokio::time::timeout(
            Duration::from_secs(10),
            append_as(&app, GLOBEX, vec![input(action)]),
        )
        .await
        .expect("an append to another tenant waited behind the held head")
        .expect("task")
        .expect("the other tenant's append");
        assert_eq!(stored.len(), 1);
    }
    assert!(!blocked.is_finished(), "the head is still held");
    held.rollback().await.expect("release the chain head");

    let blocked = blocked.await.expect("task").expect("the blocked append");
    assert_contiguous_in(&app, ACME, &[acme_first, blocked]).await;
    assert_eq!(chain_of(&app, GLOBEX).await.len(), 4);
}

/// Postgres only, one writer: a call whose idempotency key conflicts, queued
/// with calls to other tenants, fails alone; the others are stored.
#[tokio::test]
async fn a_conflicting_call_in_a_group_of_several_tenants_fails_alone() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.append_writers = 1).await;
    let acme_first = app.seed(ACME, vec![input("user.login")]).await;
    let globex_first = app
        .seed(GLOBEX, vec![input("user.login").idempotency_key("login-1")])
        .await;
    let observer = Observer::connect(&app).await;
    let held = observer.lock_chain_head(ACME).await;

    let blocked = append(&app, vec![input("doc.create")]);
    wait_on_the_held_head(&observer).await;
    let before = append_as(&app, INITECH, vec![input("doc.view")]);
    let conflicting = append_as(
        &app,
        GLOBEX,
        vec![input("user.logout").idempotency_key("login-1")],
    );
    let after = append_as(&app, GLOBEX, vec![input("doc.share")]);
    wait_for_queued_calls(&app, 3).await;
    held.rollback().await.expect("release the chain head");

    let blocked = blocked.await.expect("task").expect("the blocked append");
    let status = assert_code(conflicting.await.expect("task"), Code::AlreadyExists);
    assert!(status.message().contains("login-1"), "{status:?}");
    let before = before
        .await
        .expect("task")
        .expect("the other tenant's append");
    let after = after
        .await
        .expect("task")
        .expect("the same tenant's other append");
    // Taken out of the group, the conflicting call leaves the others to be
    // written together still.
    let others: Vec<String> = before.iter().chain(&after).cloned().collect();
    assert_eq!(observer.transactions_that_wrote(&others).await, 1);

    assert_contiguous_in(&app, ACME, &[acme_first, blocked]).await;
    assert_contiguous_in(&app, GLOBEX, &[globex_first, after]).await;
    assert_contiguous_in(&app, INITECH, &[before]).await;
}

/// Postgres only, two replicas appending to the same tenants in turn: each
/// finds the head it last wrote moved by the other (a remembered head is
/// only a hint), appends under the head lock instead, and every chain stays
/// gapless and intact.
#[tokio::test]
async fn replicas_appending_to_the_same_tenants_in_turn_keep_each_chain_intact() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let replica = app.spawn_replica().await;
    let mut stored: HashMap<&str, Vec<Vec<String>>> = HashMap::new();
    for round in 0..6 {
        for tenant in [ACME, GLOBEX] {
            let through = if round % 2 == 0 { &app } else { &replica };
            let entries = vec![input(&format!("doc.edit.{round}")), input("doc.view")];
            let ids = through.seed(tenant, entries).await;
            stored.entry(tenant).or_default().push(ids);
        }
    }
    for tenant in [ACME, GLOBEX] {
        assert_eq!(chain_of(&app, tenant).await.len(), 12, "{tenant}");
        assert_contiguous_in(&app, tenant, &stored[tenant]).await;
    }
}

/// Postgres only, one writer: a group of two tenants, of which the server
/// remembers one head correctly and the other since moved by another
/// replica. The group's one-statement write must move neither head (a head
/// moved without its rows would fork the chain), then be stored under the
/// head locks, still as one transaction.
#[tokio::test]
async fn a_group_with_one_head_moved_by_another_replica_is_stored_whole_under_the_locks() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.append_writers = 1).await;
    let replica = app.spawn_replica().await;
    let acme_first = app.seed(ACME, vec![input("user.login")]).await;
    let globex_first = app.seed(GLOBEX, vec![input("user.login")]).await;
    let observer = Observer::connect(&app).await;
    let held = observer.lock_chain_head(ACME).await;

    let blocked = append(&app, vec![input("doc.create")]);
    wait_on_the_held_head(&observer).await;
    // GLOBEX's head moves where this server does not see it.
    let elsewhere = replica.seed(GLOBEX, vec![input("doc.view")]).await;
    let queued = vec![
        (GLOBEX, append_as(&app, GLOBEX, vec![input("doc.share")])),
        (
            ACME,
            append(&app, vec![input("doc.edit"), input("doc.save")]),
        ),
    ];
    wait_for_queued_calls(&app, 2).await;
    held.rollback().await.expect("release the chain head");

    let blocked = blocked.await.expect("task").expect("the blocked append");
    let stored = stored_by_tenant(queued).await;
    let grouped: Vec<String> = stored.values().flatten().flatten().cloned().collect();
    assert_eq!(grouped.len(), 3);
    assert_eq!(
        observer.transactions_that_wrote(&grouped).await,
        1,
        "the group was not stored as one transaction"
    );
    let mut acme = vec![acme_first, blocked];
    acme.extend(stored[ACME].iter().cloned());
    let mut globex = vec![globex_first, elsewhere];
    globex.extend(stored[GLOBEX].iter().cloned());
    assert_contiguous_in(&app, ACME, &acme).await;
    assert_contiguous_in(&app, GLOBEX, &globex).await;
}
