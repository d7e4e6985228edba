//! The migration that added the hash chain (m20261201_000004) backfills
//! `sequence`, `content_digest` and `hash` for rows stored before it: a
//! database taken back to the migration before it, holding rows without
//! any chain column as an older release wrote them, is chained by the rest
//! of the migrations at startup and verifies INTACT, per tenant, in id
//! (creation) order.

use audit_proto::{ActorType, ChainStatus, VerifyAuditChainRequest};
use audit_server::store::Migrator;
use audit_tests::migrations::steps_back_before;
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, assert_chain_intact, input, json_struct,
    on_both_backends, verify_chain,
};
use sea_orm_migration::MigratorTrait;

on_both_backends!(rows_stored_before_the_chain_are_chained_by_the_migration);
async fn rows_stored_before_the_chain_are_chained_by_the_migration(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let acme: Vec<_> = (0..7)
        .map(|n| {
            input(&format!("document.read{n}"))
                .by(&format!("u{n}"), ActorType::User)
                .on("document", &format!("d{n}"))
                .request("GET", &format!("/documents/d{n}"), 200)
                .metadata(serde_json::json!({"n": n, "tags": ["a", "b"]}))
        })
        .collect();
    app.seed(ACME, acme).await;
    app.seed(GLOBEX, vec![input("user.login"), input("user.logout")])
        .await;
    app.stop_server().await;

    // Back to the schema before the chain: the chain columns, the
    // tombstones, checkpoints and legal holds are gone; the rows stay.
    let connection = app.store().connection();
    Migrator::down(connection, Some(steps_back_before("_000004_")))
        .await
        .expect("migrate down to before the chain");
    let pending = Migrator::get_pending_migrations(connection)
        .await
        .expect("pending migrations");
    assert_eq!(pending.len(), steps_back_before("_000004_") as usize);
    assert!(
        pending[0].name().contains("000004"),
        "{}",
        pending[0].name()
    );

    // Startup migrates up again, backfilling the chain.
    app.start_server().await;
    for (tenant, count) in [(ACME, 7), (GLOBEX, 2)] {
        let verdict = assert_chain_intact(&app, tenant).await;
        assert_eq!(verdict.entries_checked, count, "{tenant}: {verdict:?}");
        assert_eq!(verdict.head_sequence, count, "{tenant}: {verdict:?}");
    }

    // Chained in id order; new appends continue the backfilled chain.
    let mut listed = app.list(ACME, Default::default()).await.expect("list");
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let sequences: Vec<i64> = listed.iter().map(|entry| entry.sequence).collect();
    assert_eq!(sequences, (1..=7).collect::<Vec<i64>>());
    assert_eq!(
        listed[3].metadata,
        Some(json_struct(serde_json::json!({"n": 3, "tags": ["a", "b"]})))
    );
    app.seed(ACME, vec![input("user.logout")]).await;
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(
        (verdict.status(), verdict.entries_checked),
        (ChainStatus::Intact, 8)
    );
}
