//! Failure contract, point 4: a client that goes away in the middle of a
//! large List frees the server's database connection within a second.
//! (failure_follow_disconnect.rs holds the follow-stream variant.)

use audit_proto::{AuditLogFilter, ListAuditLogsRequest};
use audit_tests::database_activity::{
    Observer, leave_and_expect_release, stall_on_locked_audit_logs, wait_until_pool_idle,
};
use audit_tests::{ACME, ALL_SCOPES, Backend, TestApp, input, on_both_backends};
use std::time::Duration;

const ROWS: usize = 20_000;
const PAGE: i32 = 1000;

async fn seeded_app(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    for _ in 0..ROWS / PAGE as usize {
        app.seed(ACME, (0..PAGE).map(|_| input("document.read")).collect())
            .await;
    }
    app
}

fn large_list() -> ListAuditLogsRequest {
    ListAuditLogsRequest {
        page_size: PAGE,
        ..Default::default()
    }
}

on_both_backends!(a_client_that_leaves_a_large_list_frees_its_connection);
async fn a_client_that_leaves_a_large_list_frees_its_connection(backend: Backend) {
    let app = seeded_app(backend).await;
    let mut stream = app
        .client_for(ACME, ALL_SCOPES)
        .stub()
        .list_audit_logs(large_list())
        .await
        .expect("list starts")
        .into_inner();
    let first = stream.message().await.expect("first page").expect("a page");
    assert_eq!(first.audit_logs.len(), PAGE as usize);
    assert!(!first.next_page_token.is_empty(), "more pages follow");
    drop(stream);

    let idle_after = wait_until_pool_idle(&app, Duration::from_secs(1)).await;
    assert!(
        idle_after.is_some(),
        "connections still in use 1 s after the client left: {:?}",
        app.store().pool_usage()
    );
}

/// The deterministic case: the List's next query is waiting on a lock (a
/// connection is certainly in use) when the client leaves. Without a cancel
/// on the database the connection would stay taken until the lock goes.
#[tokio::test]
async fn a_client_that_leaves_while_its_query_waits_frees_the_connection_on_postgres() {
    let app = seeded_app(Backend::Postgres).await;
    let observer = Observer::connect(&app).await;
    let mut stream = app
        .client_for(ACME, ALL_SCOPES)
        .stub()
        .list_audit_logs(large_list())
        .await
        .expect("list starts")
        .into_inner();
    stream.message().await.expect("first page").expect("a page");
    let lock = stall_on_locked_audit_logs(&app, &observer, &mut stream).await;
    leave_and_expect_release(&app, &observer, stream, lock).await;
}

/// The same over every tenant: an admin's filtered List is the long
/// cross-tenant statement (well over the 1 KB of its text that pg_stat_activity keeps),
/// which the cancel must still recognise as the one it was meant for.
#[tokio::test]
async fn an_admin_that_leaves_a_cross_tenant_list_while_its_query_waits_frees_the_connection() {
    let app = seeded_app(Backend::Postgres).await;
    let observer = Observer::connect(&app).await;
    let request = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: "document.read".into(),
            ..Default::default()
        }),
        ..large_list()
    };
    let mut stream = app
        .admin()
        .stub()
        .list_audit_logs(request)
        .await
        .expect("list starts")
        .into_inner();
    stream.message().await.expect("first page").expect("a page");
    let waiting = stall_on_locked_audit_logs(&app, &observer, &mut stream).await;
    // pg_stat_activity shows the waiting page cut to 1,023 bytes (the
    // default track_activity_query_size, less its terminating NUL).
    let statements = observer.server_queries_on_audit_logs().await;
    assert!(
        statements.iter().any(|statement| statement
            .split_once(": ")
            .is_some_and(|(_, text)| text.len() == 1023)),
        "the cross-tenant page should be the long statement: {statements:?}"
    );
    leave_and_expect_release(&app, &observer, stream, waiting).await;
}
