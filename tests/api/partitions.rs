//! Monthly partitions on Postgres: `audit_logs` is partitioned by month of
//! receipt (the UUIDv7 id), with a DEFAULT partition, and the server
//! creates the current and coming months' partitions at start. An entry
//! received in a month without a partition lands in DEFAULT and moves to
//! its month when upkeep creates it. Idempotency keys live in their own
//! table on both backends: a retry still stores once, and a deleted or
//! purged entry's key is forgotten as it was when the key lived on the row.
//! A past month all of whose entries have expired is dropped whole, with
//! the same outcome as the batch purge that SQLite (and Postgres, when a
//! tenant keeps the month) runs.

use audit_proto::{
    ChainStatus, SetLegalHoldRequest, SetRetentionPolicyRequest, VerifyAuditChainRequest,
};
use audit_server::checkpoint::CheckpointSigner;
use audit_server::domain::{
    Actor, ActorType, AuditLogEntry, Outcome, RequestInfo, Target, now_micros,
};
use audit_server::retention::{PurgeOutcome, RetentionSettings, TenantPurge, purge_expired};
use audit_server::store::Migrator;
use audit_server::store::{MONTHS_AHEAD, ReceiptMonth};
use audit_tests::app::TEST_SIGNING_SEED;
use audit_tests::migrations::steps_back_before;
use audit_tests::plans::{explain, spawn_postgres_with_connection};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, input, on_both_backends, verify_chain,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Returns the single integer `sql` selects.
async fn scalar(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .expect("one row")
        .try_get_by_index(0)
        .expect("an integer")
}

/// Returns the partition of the month `micros` falls in.
fn partition_of(micros: i64) -> String {
    ReceiptMonth::of_micros(micros)
        .expect("a month")
        .partition_name()
}

#[tokio::test]
async fn the_server_partitions_audit_logs_by_month_with_a_default_and_months_ahead() {
    let (app, db) = spawn_postgres_with_connection().await;
    let key = Statement::from_string(
        DbBackend::Postgres,
        "SELECT pg_get_partkeydef('audit_logs'::regclass)",
    );
    let key: String = db
        .query_one_raw(key)
        .await
        .expect("partition key")
        .expect("a row")
        .try_get_by_index(0)
        .expect("text");
    assert_eq!(key, "RANGE (id)");

    let partitions = app.store().partition_names().await.expect("partitions");
    assert!(
        partitions.contains(&"audit_logs_default".to_owned()),
        "{partitions:?}"
    );
    let mut month = ReceiptMonth::of_micros(now_micros()).expect("this month");
    for _ in 0..=MONTHS_AHEAD {
        assert!(
            partitions.contains(&month.partition_name()),
            "{} missing from {partitions:?}",
            month.partition_name()
        );
        month = month.next();
    }

    // An appended entry lands in this month's partition.
    let ids = app.seed(ACME, vec![input("user.login")]).await;
    let id: Uuid = ids[0].parse().expect("a UUID");
    assert_eq!(
        ReceiptMonth::of_id(id).map(ReceiptMonth::partition_name),
        Some(partition_of(now_micros()))
    );
    let in_month = format!("SELECT COUNT(*) FROM {}", partition_of(now_micros()));
    assert_eq!(scalar(&db, &in_month).await, 1);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM audit_logs_default").await,
        0
    );
}

#[tokio::test]
async fn entries_of_a_month_without_partition_wait_in_default_until_upkeep_moves_them() {
    let (mut app, db) = spawn_postgres_with_connection().await;
    // As if the server had been down since before this month's partition
    // was made: without it, this month's ids fall to DEFAULT.
    let this_month = partition_of(now_micros());
    db.execute_unprepared(&format!(
        "ALTER TABLE audit_logs DETACH PARTITION {this_month}; DROP TABLE {this_month}"
    ))
    .await
    .expect("drop this month's partition");

    let ids = app
        .seed(
            ACME,
            vec![
                input("user.login"),
                input("user.logout").idempotency_key("logout-1"),
            ],
        )
        .await;
    app.seed(GLOBEX, vec![input("document.read")]).await;
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM audit_logs_default").await,
        3
    );
    assert_eq!(
        app.get(ACME, &ids[0]).await.expect("get from DEFAULT").id,
        ids[0]
    );

    // Startup runs upkeep: the month's partition is created with the rows
    // DEFAULT held for it.
    app.restart().await;
    let partitions = app.store().partition_names().await.expect("partitions");
    assert!(partitions.contains(&this_month), "{partitions:?}");
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM audit_logs_default").await,
        0
    );
    assert_eq!(
        scalar(&db, &format!("SELECT COUNT(*) FROM {this_month}")).await,
        3
    );

    // Everything reads as before the move.
    for id in &ids {
        assert_eq!(app.get(ACME, id).await.expect("get after the move").id, *id);
    }
    let retried = app
        .seed(ACME, vec![input("user.logout").idempotency_key("logout-1")])
        .await;
    assert_eq!(retried, vec![ids[1].clone()]);
    for (tenant, entries) in [(ACME, 2), (GLOBEX, 1)] {
        let verdict = verify_chain(&app, tenant, VerifyAuditChainRequest::default())
            .await
            .expect("verify");
        assert_eq!(
            (verdict.status(), verdict.entries_checked),
            (ChainStatus::Intact, entries),
            "{tenant}: {verdict:?}"
        );
    }
}

/// The plan of `sql`, and the partitions it reads.
async fn partitions_read(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Vec<String> {
    let plan = explain(db, sql, values).await;
    println!("{}", plan.summary());
    plan.partitions_read()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn get_by_id_reads_one_partition_and_a_time_bounded_page_reads_indexes_in_order() {
    let (app, db) = spawn_postgres_with_connection().await;
    let ids = app.seed(ACME, vec![input("user.login")]).await;
    let id: Uuid = ids[0].parse().expect("a UUID");
    let month = partition_of(now_micros());

    // One tenant: the primary key, in the id's month only.
    let read = partitions_read(
        &db,
        "SELECT * FROM audit_logs WHERE tenant_id = $1 AND id = $2",
        vec![ACME.into(), id.into()],
    )
    .await;
    assert_eq!(read, vec![month.clone()]);

    // An admin's Get probes each tenant's key, still in one partition.
    let read = partitions_read(
        &db,
        "SELECT l.* FROM audit_tenants CROSS JOIN audit_logs AS l \
         WHERE l.tenant_id = audit_tenants.tenant_id AND l.id = $1 LIMIT 1",
        vec![id.into()],
    )
    .await;
    assert_eq!(read, vec![month.clone()]);

    // A time filter is on `occurred_at`, the producer's clock, which says
    // nothing about the month of receipt: no partition can be pruned, but
    // each is read through its time index in order and merged, unsorted.
    let plan = explain(
        &db,
        "SELECT * FROM audit_logs WHERE tenant_id = $1 AND occurred_at >= $2 \
         AND occurred_at < $3 ORDER BY occurred_at DESC, id DESC LIMIT 101",
        vec![
            ACME.into(),
            (now_micros() - DAY_MICROS).into(),
            now_micros().into(),
        ],
    )
    .await;
    println!("{}", plan.summary());
    assert!(
        !plan.sorts_rows_of("audit_logs", false),
        "{}",
        plan.summary()
    );
    for scan in plan.scans_of("audit_logs") {
        assert!(
            !scan.indexes().is_empty(),
            "reads a partition without an index: {}",
            plan.summary()
        );
    }
}

async fn key_count(app: &TestApp) -> i64 {
    scalar(
        app.store().connection(),
        "SELECT COUNT(*) FROM audit_idempotency_keys",
    )
    .await
}

on_both_backends!(idempotency_keys_resolve_through_their_table_until_the_entry_is_gone);
async fn idempotency_keys_resolve_through_their_table_until_the_entry_is_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app
        .seed(ACME, vec![input("user.login").idempotency_key("login-1")])
        .await;
    let retried = app
        .seed(ACME, vec![input("user.login").idempotency_key("login-1")])
        .await;
    assert_eq!(retried, first);
    assert_eq!(key_count(&app).await, 1);

    // A deleted entry's key is forgotten with it: a retry stores anew.
    app.delete(ACME, &first[0], "test").await.expect("delete");
    assert_eq!(key_count(&app).await, 0);
    let again = app
        .seed(ACME, vec![input("user.login").idempotency_key("login-1")])
        .await;
    assert_ne!(again, first);
    assert_eq!(key_count(&app).await, 1);

    // So is a purged entry's.
    app.admin()
        .stub()
        .set_retention_policy(SetRetentionPolicyRequest {
            tenant_id: ACME.to_owned(),
            retention_days: 365,
            reason: "records schedule".to_owned(),
        })
        .await
        .expect("set policy");
    let signer = CheckpointSigner::from_seed(TEST_SIGNING_SEED);
    purge_expired(
        app.store(),
        &signer,
        &RetentionSettings::default(),
        now_micros() + 400 * DAY_MICROS,
    )
    .await
    .expect("purge");
    assert_eq!(key_count(&app).await, 0);
    let after_purge = app
        .seed(ACME, vec![input("user.login").idempotency_key("login-1")])
        .await;
    assert_ne!(after_purge, again);
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
}

/// An entry the server received at `received` (a UUIDv7 of that time), as
/// an earlier month's appends left it.
fn received_at(tenant: &str, action: &str, received: i64) -> AuditLogEntry {
    let seconds = u64::try_from(received / 1_000_000).expect("after 1970");
    let nanos = u32::try_from(received % 1_000_000 * 1000).expect("under a second");
    let time = uuid::Timestamp::from_unix(uuid::NoContext, seconds, nanos);
    AuditLogEntry {
        id: Uuid::new_v7(time),
        tenant_id: tenant.to_owned(),
        occurred_at: received,
        received_at: received,
        action: action.to_owned(),
        actor: Actor {
            id: "u1".to_owned(),
            kind: ActorType::User,
            name: String::new(),
            email: String::new(),
        },
        target: Target::default(),
        result: Outcome::Success,
        client_ip: None,
        user_agent: String::new(),
        request: RequestInfo::default(),
        metadata: serde_json::Value::Null,
        request_id: String::new(),
        idempotency_key: None,
        fingerprint: None,
        chain: None,
    }
}

/// Entries received 100 days ago (acme: 3, globex: 2, in the partition of
/// that month on Postgres) and now (acme: 2, globex: 1), and a 365-day
/// policy for both. Returns the old month's partition.
async fn a_past_month_and_this_one(app: &TestApp) -> String {
    let past = now_micros() - 100 * DAY_MICROS;
    // Upkeep as it ran that month.
    app.store()
        .prepare_partitions(past)
        .await
        .expect("partitions of the past month");
    for (tenant, actions) in [
        (ACME, &["user.login", "user.logout", "document.read"][..]),
        (GLOBEX, &["user.login", "user.logout"][..]),
    ] {
        let entries = actions
            .iter()
            .enumerate()
            .map(|(n, action)| received_at(tenant, action, past + n as i64))
            .collect();
        app.store().append(tenant, entries).await.expect("append");
    }
    app.seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;
    app.seed(GLOBEX, vec![input("user.login")]).await;
    for tenant in [ACME, GLOBEX] {
        app.admin()
            .stub()
            .set_retention_policy(SetRetentionPolicyRequest {
                tenant_id: tenant.to_owned(),
                retention_days: 365,
                reason: "records schedule".to_owned(),
            })
            .await
            .expect("set policy");
    }
    partition_of(past)
}

/// A purge round when the past month has expired and this one has not.
async fn purge_past_month(app: &TestApp) -> Vec<TenantPurge> {
    let signer = CheckpointSigner::from_seed(TEST_SIGNING_SEED);
    purge_expired(
        app.store(),
        &signer,
        &RetentionSettings::default(),
        now_micros() + 330 * DAY_MICROS,
    )
    .await
    .expect("purge")
}

fn purged_range(report: &[TenantPurge], tenant: &str) -> Option<(i64, i64)> {
    report
        .iter()
        .find(|purge| purge.tenant_id == tenant)
        .and_then(|purge| match purge.outcome {
            PurgeOutcome::Purged { from, through, .. } => Some((from, through)),
            _ => None,
        })
}

async fn assert_intact(app: &TestApp, tenant: &str, entries: i64) {
    let verdict = verify_chain(app, tenant, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(
        (verdict.status(), verdict.entries_checked),
        (ChainStatus::Intact, entries),
        "{tenant}: {verdict:?}"
    );
}

// The same on both backends: Postgres drops the month, SQLite deletes in
// batches, and what users see afterwards is the same.
on_both_backends!(a_wholly_expired_month_is_purged_as_batches_would_purge_it);
async fn a_wholly_expired_month_is_purged_as_batches_would_purge_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let month = a_past_month_and_this_one(&app).await;

    let report = purge_past_month(&app).await;

    assert_eq!(purged_range(&report, ACME), Some((1, 3)), "{report:?}");
    assert_eq!(purged_range(&report, GLOBEX), Some((1, 2)), "{report:?}");
    let partitions = app.store().partition_names().await.expect("partitions");
    assert!(!partitions.contains(&month), "{month} kept: {partitions:?}");
    // Left: this month's entries, the policy record and the purge record.
    assert_intact(&app, ACME, 4).await;
    assert_intact(&app, GLOBEX, 3).await;
    let policy = app.store().retention(ACME).await.expect("retention");
    assert_eq!(policy.pruned.sequence(), 3);
}

on_both_backends!(a_month_with_a_tenant_on_legal_hold_is_kept_and_purged_in_batches);
async fn a_month_with_a_tenant_on_legal_hold_is_kept_and_purged_in_batches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let month = a_past_month_and_this_one(&app).await;
    app.admin()
        .stub()
        .set_legal_hold(SetLegalHoldRequest {
            tenant_id: GLOBEX.to_owned(),
            reason: "case 9".to_owned(),
        })
        .await
        .expect("hold");

    let report = purge_past_month(&app).await;

    assert_eq!(purged_range(&report, ACME), Some((1, 3)), "{report:?}");
    assert_eq!(purged_range(&report, GLOBEX), None, "{report:?}");
    if backend == Backend::Postgres {
        let partitions = app.store().partition_names().await.expect("partitions");
        assert!(
            partitions.contains(&month),
            "{month} dropped: {partitions:?}"
        );
    }
    assert_intact(&app, ACME, 4).await;
    // Nothing of globex went: 2 old, 1 new, the policy and hold records.
    assert_intact(&app, GLOBEX, 5).await;
}

#[tokio::test]
async fn the_migration_partitions_rows_of_every_month_and_rolls_back_to_one_table() {
    let (mut app, db) = spawn_postgres_with_connection().await;
    let past = now_micros() - 100 * DAY_MICROS;
    let entries = (0..3)
        .map(|n| received_at(ACME, "user.login", past + n))
        .collect();
    app.store().append(ACME, entries).await.expect("append");
    app.seed(ACME, vec![input("user.logout").idempotency_key("logout-1")])
        .await;
    app.stop_server().await;

    // Back to one table, as the release before partitioning left it: every
    // row kept, and its unique indexes back.
    Migrator::down(
        app.store().connection(),
        Some(steps_back_before("_000009_")),
    )
    .await
    .expect("migrate down");
    let partitioned = "SELECT COUNT(*) FROM pg_partitioned_table \
                       WHERE partrelid = 'audit_logs'::regclass";
    assert_eq!(scalar(&db, partitioned).await, 0);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM audit_logs").await, 4);
    let unique = "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'audit_logs' \
                  AND indexname IN ('audit_logs_idempotency_key_uq', 'audit_logs_sequence_uq')";
    assert_eq!(scalar(&db, unique).await, 2);

    // Startup migrates up: the old month gets a partition of its own.
    app.start_server().await;
    assert_eq!(scalar(&db, partitioned).await, 1);
    let old_month = format!("SELECT COUNT(*) FROM {}", partition_of(past));
    assert_eq!(scalar(&db, &old_month).await, 3);
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM audit_logs_default").await,
        0
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM audit_idempotency_keys").await,
        1
    );
    let retried = app
        .seed(ACME, vec![input("user.logout").idempotency_key("logout-1")])
        .await;
    assert_eq!(
        app.list(ACME, Default::default())
            .await
            .expect("list")
            .len(),
        4
    );
    assert_eq!(
        app.get(ACME, &retried[0]).await.expect("get").action,
        "user.logout"
    );
    assert_intact(&app, ACME, 4).await;
}

#[tokio::test]
async fn a_month_with_a_tenant_without_policy_is_kept() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let month = a_past_month_and_this_one(&app).await;
    app.admin()
        .stub()
        .set_retention_policy(SetRetentionPolicyRequest {
            tenant_id: GLOBEX.to_owned(),
            retention_days: 0,
            reason: "kept for good".to_owned(),
        })
        .await
        .expect("clear policy");

    let report = purge_past_month(&app).await;

    assert_eq!(purged_range(&report, ACME), Some((1, 3)), "{report:?}");
    let partitions = app.store().partition_names().await.expect("partitions");
    assert!(
        partitions.contains(&month),
        "{month} dropped: {partitions:?}"
    );
    assert_intact(&app, ACME, 4).await;
    // 2 old, 1 new, the policy set and cleared.
    assert_intact(&app, GLOBEX, 5).await;
}
