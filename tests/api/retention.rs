//! Retention: an admin sets a tenant's policy (never under the server's
//! minimum), and a purge round at a chosen `now` removes exactly the
//! expired prefix of the chain, records itself, signs the pruned point, and
//! leaves a chain that verifies from it. Legal hold stops it.

use audit_client::integrity::{VerifyOptions, verify_entries};
use audit_proto::checkpoint::{verify_checkpoint, verify_pruned_checkpoint};
use audit_proto::{
    AuditLog, BreakKind, ChainStatus, Checkpoint, ClearLegalHoldRequest, GetCheckpointRequest,
    GetPublicKeysRequest, GetRetentionPolicyRequest, ListAuditLogsRequest, RetentionPolicy,
    SetLegalHoldRequest, SetRetentionPolicyRequest, SortOrder, VerifyAuditChainRequest,
};
use audit_server::checkpoint::CheckpointSigner;
use audit_server::domain::now_micros;
use audit_server::retention::{
    PURGED_ACTION, PurgeOutcome, RetentionSettings, TenantPurge, purge_expired,
};
use audit_tests::app::TEST_SIGNING_SEED;
use audit_tests::{
    ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, assert_code, assert_invalid_field, input,
    on_both_backends, tamper, verify_chain,
};
use prost_types::value::Kind;
use sea_orm::{ConnectionTrait, Statement};
use std::time::Duration;
use tonic::Code;

const DAY_MICROS: i64 = 86_400 * 1_000_000;
/// The server's default minimum, which the test server keeps.
const MINIMUM_DAYS: i32 = 365;

async fn set_policy(
    app: &TestApp,
    tenant: &str,
    days: i32,
) -> Result<RetentionPolicy, tonic::Status> {
    let request = SetRetentionPolicyRequest {
        tenant_id: tenant.to_owned(),
        retention_days: days,
        reason: "records schedule 4.2".to_owned(),
    };
    Ok(app
        .admin()
        .stub()
        .set_retention_policy(request)
        .await?
        .into_inner())
}

async fn get_policy(app: &TestApp, tenant: &str) -> RetentionPolicy {
    let request = GetRetentionPolicyRequest {
        tenant_id: tenant.to_owned(),
    };
    app.admin()
        .stub()
        .get_retention_policy(request)
        .await
        .expect("get retention policy")
        .into_inner()
}

/// One purge round, as the job runs it, at `now`.
async fn purge_at(app: &TestApp, now: i64, batch_size: u32) -> Vec<TenantPurge> {
    let settings = RetentionSettings {
        batch_size,
        ..RetentionSettings::default()
    };
    let signer = CheckpointSigner::from_seed(TEST_SIGNING_SEED);
    purge_expired(app.store(), &signer, &settings, now)
        .await
        .expect("purge round")
}

/// The outcome of a round for `tenant`.
fn outcome_of(report: &[TenantPurge], tenant: &str) -> PurgeOutcome {
    report
        .iter()
        .find(|purge| purge.tenant_id == tenant)
        .map(|purge| purge.outcome.clone())
        .unwrap_or_else(|| panic!("{tenant} is not in the purge report {report:?}"))
}

/// A time that separates what was appended before it from what comes
/// after, and the `now` at which exactly the earlier entries have expired
/// under a policy of the minimum.
async fn boundary() -> (i64, i64) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let boundary = now_micros();
    tokio::time::sleep(Duration::from_millis(5)).await;
    (boundary, boundary + i64::from(MINIMUM_DAYS) * DAY_MICROS)
}

async fn oldest_first(app: &TestApp, tenant: &str) -> Vec<AuditLog> {
    let request = ListAuditLogsRequest {
        order: SortOrder::OldestFirst as i32,
        ..Default::default()
    };
    app.list(tenant, request).await.expect("list")
}

fn metadata_number(entry: &AuditLog, key: &str) -> Option<f64> {
    match entry.metadata.as_ref()?.fields.get(key)?.kind.as_ref()? {
        Kind::NumberValue(number) => Some(*number),
        _ => None,
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let connection = app.store().connection();
    let statement = Statement::from_string(connection.get_database_backend(), sql);
    let row = connection
        .query_one_raw(statement)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .expect("a row");
    row.try_get_by_index(0).expect("a count")
}

on_both_backends!(a_policy_is_set_reported_cleared_and_chained);
async fn a_policy_is_set_reported_cleared_and_chained(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = get_policy(&app, ACME).await;
    assert_eq!(
        (
            before.retention_days,
            before.minimum_days,
            before.pruned_through_sequence
        ),
        (0, MINIMUM_DAYS, 0)
    );

    let set = set_policy(&app, ACME, 400).await.expect("set");
    let got = get_policy(&app, ACME).await;
    assert_eq!(set, got);
    assert_eq!((got.tenant_id.as_str(), got.retention_days), (ACME, 400));
    assert_eq!(got.set_by, "auditor");
    assert!(got.set_at.is_some_and(|at| at.seconds > 0), "{got:?}");
    assert!(got.pruned_checkpoint.is_none(), "{got:?}");

    let cleared = set_policy(&app, ACME, 0).await.expect("clear");
    assert_eq!(cleared.retention_days, 0, "{cleared:?}");
    assert_eq!(get_policy(&app, GLOBEX).await.retention_days, 0);

    let recorded: Vec<_> = oldest_first(&app, ACME)
        .await
        .iter()
        .map(|entry| {
            (
                entry.action.clone(),
                metadata_number(entry, "retention_days"),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        vec![
            ("retention_policy.set".to_owned(), Some(400.0)),
            ("retention_policy.cleared".to_owned(), Some(0.0)),
        ]
    );
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
}

on_both_backends!(policies_under_the_minimum_or_from_non_admins_are_refused);
async fn policies_under_the_minimum_or_from_non_admins_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let below = assert_invalid_field(set_policy(&app, ACME, 30).await, "retention_days");
    assert!(below.message().contains("minimum of 365"), "{below:?}");
    assert_invalid_field(set_policy(&app, ACME, -1).await, "retention_days");
    assert_invalid_field(set_policy(&app, ACME, 36_501).await, "retention_days");
    assert_invalid_field(set_policy(&app, "", 400).await, "tenant_id");

    let user = app.client_for(ACME, ALL_SCOPES).stub();
    let set = SetRetentionPolicyRequest {
        tenant_id: ACME.into(),
        retention_days: 400,
        reason: String::new(),
    };
    assert_code(
        user.clone().set_retention_policy(set).await,
        Code::PermissionDenied,
    );
    let get = GetRetentionPolicyRequest {
        tenant_id: ACME.into(),
    };
    assert_code(
        user.clone().get_retention_policy(get).await,
        Code::PermissionDenied,
    );
    // Nothing was recorded by the refused calls.
    assert!(oldest_first(&app, ACME).await.is_empty());
}

on_both_backends!(a_purge_removes_exactly_the_expired_prefix_and_verifies_from_it);
async fn a_purge_removes_exactly_the_expired_prefix_and_verifies_from_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    let old = app
        .seed(ACME, (0..5).map(|_| input("user.login")).collect())
        .await;
    let (_, now) = boundary().await;
    let recent = app
        .seed(ACME, (0..3).map(|_| input("user.logout")).collect())
        .await;
    let before = oldest_first(&app, ACME).await;
    let last_old = &before[5];
    assert_eq!(last_old.id, old[4]);

    // A day early nothing has expired.
    let early = purge_at(&app, now - DAY_MICROS, 100).await;
    assert_eq!(outcome_of(&early, ACME), PurgeOutcome::NothingExpired);
    assert_eq!(oldest_first(&app, ACME).await.len(), 9);

    let report = purge_at(&app, now, 100).await;
    let PurgeOutcome::Purged {
        from,
        through,
        record_id: Some(record_id),
        ..
    } = outcome_of(&report, ACME)
    else {
        panic!("expected a purge, got {report:?}");
    };
    assert_eq!((from, through), (1, 6));

    let after = oldest_first(&app, ACME).await;
    let remaining: Vec<_> = after.iter().map(|entry| entry.id.clone()).collect();
    let mut expected = recent.clone();
    expected.push(record_id.to_string());
    assert_eq!(remaining, expected);
    for id in &old {
        assert_code(app.get(ACME, id).await, Code::NotFound);
    }
    let record = &after[3];
    assert_eq!(
        (record.action.as_str(), record.sequence),
        (PURGED_ACTION, 10)
    );
    assert_eq!(metadata_number(record, "purged_from_sequence"), Some(1.0));
    assert_eq!(
        metadata_number(record, "purged_through_sequence"),
        Some(6.0)
    );
    assert_eq!(metadata_number(record, "purged_count"), Some(6.0));
    assert_eq!(metadata_number(record, "retention_days"), Some(365.0));
    let actor = record.actor.as_ref().expect("actor");
    assert_eq!(actor.r#type(), audit_proto::ActorType::System);

    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!((verdict.entries_checked, verdict.head_sequence), (4, 10));
    let purged_range = VerifyAuditChainRequest {
        from_sequence: 3,
        ..Default::default()
    };
    assert_invalid_field(
        verify_chain(&app, ACME, purged_range).await,
        "from_sequence",
    );

    // The pruned checkpoint names the last purged link and is signed by a
    // published key, over bytes that are not an ordinary checkpoint's.
    let policy = get_policy(&app, ACME).await;
    assert_eq!(policy.pruned_through_sequence, 6);
    let pruned = policy.pruned_checkpoint.expect("a pruned checkpoint");
    assert_eq!(
        (
            pruned.tenant_id.as_str(),
            pruned.sequence,
            &pruned.head_hash
        ),
        (ACME, 6, &last_old.hash)
    );
    let keys = app
        .client_for(ACME, ALL_SCOPES)
        .stub()
        .get_public_keys(GetPublicKeysRequest {})
        .await
        .expect("public keys")
        .into_inner();
    let key: [u8; 32] = keys.keys[0]
        .public_key
        .as_slice()
        .try_into()
        .expect("32 bytes");
    verify_pruned_checkpoint(&pruned, &key).expect("the pruned checkpoint verifies");
    let as_ordinary = Checkpoint {
        tenant_id: pruned.tenant_id.clone(),
        sequence: pruned.sequence,
        head_hash: pruned.head_hash.clone(),
        time: pruned.time,
        key_id: pruned.key_id.clone(),
        signature: pruned.signature.clone(),
    };
    assert!(verify_checkpoint(&as_ordinary, &key).is_err());

    // An export of what remains verifies offline from the pruned hash.
    let anchor: [u8; 32] = pruned.head_hash.as_slice().try_into().expect("32 bytes");
    let head: [u8; 32] = verdict.head_hash.as_slice().try_into().expect("32 bytes");
    let offline = verify_entries(
        after,
        &VerifyOptions {
            anchor: Some(anchor),
            head: Some(head),
            checkpoint: None,
        },
    );
    assert!(offline.is_intact() && offline.anchored, "{offline:?}");

    // A second round finds nothing more and records nothing.
    let again = purge_at(&app, now, 100).await;
    assert_eq!(outcome_of(&again, ACME), PurgeOutcome::NothingExpired);
    assert_eq!(oldest_first(&app, ACME).await.len(), 4);
}

on_both_backends!(a_tampered_pruned_point_breaks_the_chain);
async fn a_tampered_pruned_point_breaks_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    app.seed(ACME, (0..4).map(|_| input("user.login")).collect())
        .await;
    let (_, now) = boundary().await;
    app.seed(ACME, vec![input("user.logout")]).await;
    purge_at(&app, now, 100).await;

    // Moving the pruned point down, as if fewer entries had been purged,
    // no longer matches its signature.
    tamper(
        &app,
        "UPDATE audit_retention SET pruned_sequence = pruned_sequence - 1",
    )
    .await;
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Broken, "{verdict:?}");
    assert_eq!(verdict.kind(), BreakKind::CheckpointMismatch, "{verdict:?}");
    assert_eq!(verdict.first_broken_sequence, 4, "{verdict:?}");

    // Without the pruned point the chain starts at a missing sequence 1.
    tamper(&app, "DELETE FROM audit_retention").await;
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Broken, "{verdict:?}");
    assert_eq!(
        (verdict.kind(), verdict.first_broken_sequence),
        (BreakKind::Gap, 1),
        "{verdict:?}"
    );
}

on_both_backends!(legal_hold_blocks_the_purge_until_cleared);
async fn legal_hold_blocks_the_purge_until_cleared(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    app.seed(ACME, (0..3).map(|_| input("user.login")).collect())
        .await;
    let hold = SetLegalHoldRequest {
        tenant_id: ACME.into(),
        reason: "case 9".into(),
    };
    app.admin().stub().set_legal_hold(hold).await.expect("hold");
    let (_, now) = boundary().await;

    let report = purge_at(&app, now, 100).await;
    assert_eq!(outcome_of(&report, ACME), PurgeOutcome::OnHold);
    assert_eq!(oldest_first(&app, ACME).await.len(), 5, "nothing removed");
    assert_eq!(get_policy(&app, ACME).await.pruned_through_sequence, 0);

    let clear = ClearLegalHoldRequest {
        tenant_id: ACME.into(),
        reason: "case 9 closed".into(),
    };
    app.admin()
        .stub()
        .clear_legal_hold(clear)
        .await
        .expect("clear");
    let (_, later) = boundary().await;
    let report = purge_at(&app, later, 100).await;
    assert!(
        matches!(
            outcome_of(&report, ACME),
            PurgeOutcome::Purged {
                from: 1,
                through: 6,
                ..
            }
        ),
        "{report:?}"
    );
    let actions: Vec<_> = oldest_first(&app, ACME)
        .await
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, vec![PURGED_ACTION.to_owned()]);
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
}

on_both_backends!(a_purge_over_many_batches_records_one_entry);
async fn a_purge_over_many_batches_records_one_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    app.seed(ACME, (0..10).map(|_| input("user.login")).collect())
        .await;
    let (_, now) = boundary().await;
    app.seed(ACME, vec![input("user.logout")]).await;

    let report = purge_at(&app, now, 4).await;
    let PurgeOutcome::Purged {
        from,
        through,
        batches,
        ..
    } = outcome_of(&report, ACME)
    else {
        panic!("expected a purge, got {report:?}");
    };
    assert_eq!((from, through, batches), (1, 11, 3));
    let remaining = oldest_first(&app, ACME).await;
    let records: Vec<_> = remaining
        .iter()
        .filter(|entry| entry.action == PURGED_ACTION)
        .collect();
    assert_eq!(records.len(), 1, "{remaining:?}");
    assert_eq!(metadata_number(records[0], "purged_count"), Some(11.0));
    assert_eq!(remaining.len(), 2);
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!(verdict.entries_checked, 2);
}

on_both_backends!(appends_during_a_purge_all_survive_and_the_chain_holds);
async fn appends_during_a_purge_all_survive_and_the_chain_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    for _ in 0..3 {
        app.seed(ACME, (0..100).map(|_| input("user.login")).collect())
            .await;
    }
    let (_, now) = boundary().await;

    let client = app.client_for(ACME, ALL_SCOPES);
    let appends = tokio::spawn(async move {
        let mut ids = Vec::new();
        for _ in 0..20 {
            let batch: Vec<_> = (0..5).map(|_| input("document.read")).collect();
            ids.extend(client.append(batch).await.expect("append during a purge"));
        }
        ids
    });
    let report = purge_at(&app, now, 10).await;
    let appended = appends.await.expect("the append task");

    let PurgeOutcome::Purged { through, .. } = outcome_of(&report, ACME) else {
        panic!("expected a purge, got {report:?}");
    };
    assert_eq!(through, 301, "the policy record and the 300 old entries");
    for id in &appended {
        app.get(ACME, id)
            .await
            .expect("an acknowledged append survives");
    }
    let remaining = oldest_first(&app, ACME).await;
    assert_eq!(
        remaining.len(),
        appended.len() + 1,
        "appends and the record"
    );
    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!(verdict.entries_checked, 101);
}

on_both_backends!(delete_then_purge_leaves_an_intact_chain);
async fn delete_then_purge_leaves_an_intact_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    let old = app
        .seed(ACME, (0..5).map(|_| input("user.login")).collect())
        .await;
    // Sequence 3 deleted before the boundary: its tombstone and deletion
    // record (7) both expire.
    app.delete(ACME, &old[1], "gdpr").await.expect("delete");
    let (_, now) = boundary().await;
    let recent = app
        .seed(ACME, (0..3).map(|_| input("user.logout")).collect())
        .await;
    // Sequence 4 deleted after it: its tombstone goes with the expired rows
    // around it, its deletion record (11) stays. Sequence 9 is recent: its
    // tombstone stays.
    app.delete(ACME, &old[2], "gdpr").await.expect("delete");
    app.delete(ACME, &recent[1], "gdpr").await.expect("delete");

    let report = purge_at(&app, now, 100).await;
    assert!(
        matches!(
            outcome_of(&report, ACME),
            PurgeOutcome::Purged {
                from: 1,
                through: 7,
                ..
            }
        ),
        "{report:?}"
    );
    let sequence_of = |sql_tail: &str| format!("SELECT COUNT(*) FROM audit_tombstones {sql_tail}");
    assert_eq!(count(&app, &sequence_of("WHERE sequence <= 7")).await, 0);
    assert_eq!(count(&app, &sequence_of("WHERE sequence = 9")).await, 1);

    let verdict = verify_chain(&app, ACME, VerifyAuditChainRequest::default())
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    // 8..13: two recent rows, a tombstone, two deletion records, the purge
    // record.
    assert_eq!((verdict.entries_checked, verdict.tombstones), (6, 1));
}

on_both_backends!(checkpoints_taken_before_a_purge_still_verify_or_say_they_were_purged);
async fn checkpoints_taken_before_a_purge_still_verify_or_say_they_were_purged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    let user = app.client_for(ACME, ALL_SCOPES).stub();
    app.seed(ACME, vec![input("user.login")]).await;
    let early = user
        .clone()
        .get_checkpoint(GetCheckpointRequest::default())
        .await
        .expect("checkpoint")
        .into_inner();
    app.seed(ACME, vec![input("user.login")]).await;
    let at_pruned_point = user
        .clone()
        .get_checkpoint(GetCheckpointRequest::default())
        .await
        .expect("checkpoint")
        .into_inner();
    let (_, now) = boundary().await;
    app.seed(ACME, vec![input("user.logout")]).await;
    purge_at(&app, now, 100).await;
    assert_eq!(get_policy(&app, ACME).await.pruned_through_sequence, 3);

    let with = |checkpoint: Checkpoint| VerifyAuditChainRequest {
        checkpoint: Some(checkpoint),
        ..Default::default()
    };
    let verdict = verify_chain(&app, ACME, with(at_pruned_point))
        .await
        .expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_invalid_field(
        verify_chain(&app, ACME, with(early)).await,
        "checkpoint.sequence",
    );
}

on_both_backends!(a_minimum_raised_after_the_policy_still_protects_entries);
async fn a_minimum_raised_after_the_policy_still_protects_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_policy(&app, ACME, MINIMUM_DAYS).await.expect("set");
    app.seed(ACME, vec![input("user.login")]).await;
    let (_, now) = boundary().await;
    let stricter = RetentionSettings {
        minimum_days: MINIMUM_DAYS + 30,
        ..RetentionSettings::default()
    };
    let signer = CheckpointSigner::from_seed(TEST_SIGNING_SEED);
    let report = purge_expired(app.store(), &signer, &stricter, now)
        .await
        .expect("purge round");
    assert_eq!(outcome_of(&report, ACME), PurgeOutcome::NothingExpired);
    assert_eq!(oldest_first(&app, ACME).await.len(), 2);

    let report = purge_expired(app.store(), &signer, &stricter, now + 30 * DAY_MICROS)
        .await
        .expect("purge round");
    assert!(
        matches!(
            outcome_of(&report, ACME),
            PurgeOutcome::Purged { through: 2, .. }
        ),
        "{report:?}"
    );
}
