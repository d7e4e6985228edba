//! Which way an append takes, as `audit_append_transactions_total` counts
//! it: on Postgres, one statement on the chain heads the server wrote last
//! (no head lock), or the locked way when the server knows no head for the
//! tenant, another replica moved it, or a retried call's key is stored
//! already. Whatever the way, each call gets its ids (a retry its first
//! ones) and every chain stays gapless and intact.

use audit_proto::{ListAuditLogsRequest, SortOrder};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, Scrape, TestApp, assert_chain_intact, input,
};

/// Committed append transactions so far: (one statement, locked).
fn ways(scrape: &Scrape) -> (f64, f64) {
    let way = |name: &str| scrape.expect("audit_append_transactions_total", &[("way", name)]);
    (way("one_statement"), way("locked"))
}

async fn assert_intact(app: &TestApp, tenant: &str, entries: usize) {
    let stored = app
        .list(
            tenant,
            ListAuditLogsRequest {
                order: SortOrder::OldestFirst as i32,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let sequences: Vec<i64> = stored.iter().map(|entry| entry.sequence).collect();
    assert_eq!(
        sequences,
        (1..=entries as i64).collect::<Vec<_>>(),
        "{tenant}"
    );
    assert_chain_intact(app, tenant).await;
}

#[tokio::test]
async fn appends_to_heads_the_server_wrote_last_skip_the_lock_until_a_head_moves_elsewhere() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.metrics_listen = Some("127.0.0.1:0".parse().expect("loopback address parses"));
    })
    .await;
    assert_eq!(ways(&app.scrape().await), (0.0, 0.0));

    // A tenant's first append: no head known yet.
    app.seed(ACME, vec![input("user.login")]).await;
    assert_eq!(ways(&app.scrape().await), (0.0, 1.0));

    // Then the head this server wrote is where it left it: one statement,
    // with or without idempotency keys.
    app.seed(ACME, vec![input("doc.view"), input("doc.share")])
        .await;
    let keyed = app
        .seed(ACME, vec![input("doc.edit").idempotency_key("edit-1")])
        .await;
    assert_eq!(ways(&app.scrape().await), (2.0, 1.0));

    // A retried call finds its key stored: nothing of the one statement
    // stays, and the locked way resolves the key to the first id.
    let retried = app
        .seed(ACME, vec![input("doc.edit").idempotency_key("edit-1")])
        .await;
    assert_eq!(retried, keyed, "a retry gets the first call's id");
    assert_eq!(ways(&app.scrape().await), (2.0, 2.0));

    // Another replica moves the head: this server's memory of it is stale,
    // so its next append takes the lock, and the one after is one statement
    // again.
    let replica = app.spawn_replica().await;
    replica.seed(ACME, vec![input("user.logout")]).await;
    app.seed(ACME, vec![input("user.login")]).await;
    assert_eq!(ways(&app.scrape().await), (2.0, 3.0));
    app.seed(ACME, vec![input("doc.view")]).await;
    app.seed(GLOBEX, vec![input("user.login")]).await;
    assert_eq!(ways(&app.scrape().await), (3.0, 4.0));

    assert_intact(&app, ACME, 7).await;
    assert_intact(&app, GLOBEX, 1).await;
}

#[tokio::test]
async fn on_sqlite_every_append_takes_the_lock() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.metrics_listen = Some("127.0.0.1:0".parse().expect("loopback address parses"));
    })
    .await;
    app.seed(ACME, vec![input("user.login")]).await;
    app.seed(ACME, vec![input("doc.view")]).await;
    assert_eq!(ways(&app.scrape().await), (0.0, 2.0));
    assert_intact(&app, ACME, 2).await;
}
