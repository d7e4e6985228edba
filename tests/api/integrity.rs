//! VerifyAuditChain against a chain that is intact, and against one that a
//! database administrator tampered with directly, on both backends.

use audit_proto::verify_audit_chain_response::Message;
use audit_proto::{BreakKind, ChainStatus, ChainVerdict, VerifyAuditChainRequest};
use audit_tests::{
    ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, assert_code, input, on_both_backends, tamper,
    verify_chain,
};
use futures_util::TryStreamExt;
use tonic::Code;

/// Verifies `tenant`'s whole chain as its user and returns the verdict.
async fn verify(app: &TestApp, tenant: &str) -> ChainVerdict {
    verify_chain(app, tenant, VerifyAuditChainRequest::default())
        .await
        .expect("verify")
}

fn assert_broken(verdict: &ChainVerdict, sequence: i64, kind: BreakKind) {
    assert_eq!(verdict.status(), ChainStatus::Broken, "{verdict:?}");
    assert_eq!(verdict.kind(), kind, "{verdict:?}");
    assert_eq!(verdict.first_broken_sequence, sequence, "{verdict:?}");
}

async fn seeded(backend: Backend, count: usize) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let entries = (0..count)
        .map(|n| input(&format!("user.action{n}")))
        .collect();
    app.seed(ACME, entries).await;
    app
}

on_both_backends!(an_untouched_chain_is_intact);
async fn an_untouched_chain_is_intact(backend: Backend) {
    let app = seeded(backend, 5).await;
    app.seed(ACME, vec![input("user.logout")]).await;
    app.seed(GLOBEX, vec![input("user.login")]).await;

    let verdict = verify(&app, ACME).await;
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!(verdict.entries_checked, 6);
    assert_eq!(verdict.head_sequence, 6);
    assert_eq!(verify(&app, GLOBEX).await.entries_checked, 1);
    let empty = verify(&app, "initech").await;
    assert_eq!(
        (empty.status(), empty.entries_checked),
        (ChainStatus::Intact, 0)
    );

    let listed = app.list(ACME, Default::default()).await.expect("list");
    let mut sequences: Vec<i64> = listed.iter().map(|entry| entry.sequence).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, vec![1, 2, 3, 4, 5, 6]);
    assert!(
        listed
            .iter()
            .all(|entry| entry.hash.len() == 32 && entry.content_digest.len() == 32)
    );

    let middle = verify_chain(
        &app,
        ACME,
        VerifyAuditChainRequest {
            from_sequence: 3,
            to_sequence: 4,
            ..Default::default()
        },
    )
    .await
    .expect("verify a range");
    assert_eq!(
        (middle.status(), middle.entries_checked),
        (ChainStatus::Intact, 2)
    );
}

on_both_backends!(a_changed_field_is_a_hash_mismatch_at_its_sequence);
async fn a_changed_field_is_a_hash_mismatch_at_its_sequence(backend: Backend) {
    let app = seeded(backend, 5).await;
    tamper(
        &app,
        "UPDATE audit_logs SET actor_name = 'mallory' WHERE sequence = 3",
    )
    .await;
    assert_broken(&verify(&app, ACME).await, 3, BreakKind::HashMismatch);
}

on_both_backends!(a_removed_row_is_a_gap);
async fn a_removed_row_is_a_gap(backend: Backend) {
    let app = seeded(backend, 5).await;
    tamper(&app, "DELETE FROM audit_logs WHERE sequence = 2").await;
    assert_broken(&verify(&app, ACME).await, 2, BreakKind::Gap);

    let tail = seeded(backend, 3).await;
    tamper(&tail, "DELETE FROM audit_logs WHERE sequence = 3").await;
    assert_broken(&verify(&tail, ACME).await, 3, BreakKind::Gap);
}

on_both_backends!(a_forged_row_is_an_unexpected_entry);
async fn a_forged_row_is_an_unexpected_entry(backend: Backend) {
    let app = seeded(backend, 3).await;
    let forged_id = if backend == Backend::Postgres {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    };
    tamper(
        &app,
        &format!(
            "INSERT INTO audit_logs (tenant_id, id, occurred_at, received_at, action, \
             action_namespace, actor_id, actor_type, actor_name, actor_email, target_type, \
             target_id, target_name, result, user_agent, request_method, request_path, \
             request_status_code, request_id, sequence, content_digest, hash) \
             SELECT tenant_id, {forged_id}, occurred_at, received_at, 'user.promoted', \
             action_namespace, actor_id, actor_type, actor_name, actor_email, target_type, \
             target_id, target_name, result, user_agent, request_method, request_path, \
             request_status_code, request_id, 4, content_digest, hash \
             FROM audit_logs WHERE sequence = 3"
        ),
    )
    .await;
    assert_broken(&verify(&app, ACME).await, 4, BreakKind::UnexpectedEntry);
}

on_both_backends!(swapped_rows_are_a_reordering);
async fn swapped_rows_are_a_reordering(backend: Backend) {
    let app = seeded(backend, 5).await;
    tamper(
        &app,
        "UPDATE audit_logs SET sequence = -2 WHERE sequence = 2",
    )
    .await;
    tamper(
        &app,
        "UPDATE audit_logs SET sequence = 2 WHERE sequence = 3",
    )
    .await;
    tamper(
        &app,
        "UPDATE audit_logs SET sequence = 3 WHERE sequence = -2",
    )
    .await;
    assert_broken(&verify(&app, ACME).await, 2, BreakKind::Reordering);
}

on_both_backends!(a_deletion_through_the_api_keeps_the_chain_intact);
async fn a_deletion_through_the_api_keeps_the_chain_intact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app
        .seed(
            ACME,
            vec![
                input("user.login"),
                input("user.logout"),
                input("user.login"),
            ],
        )
        .await;
    let deleted = app.delete(ACME, &ids[1], "gdpr").await.expect("delete");

    let verdict = verify(&app, ACME).await;
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!((verdict.entries_checked, verdict.tombstones), (4, 1));
    let record = app
        .get(ACME, &deleted.deletion_record_id)
        .await
        .expect("get");
    assert_eq!(record.sequence, 4);
    let metadata = record.metadata.expect("metadata");
    assert!(metadata.fields.contains_key("deleted_sequence"));
    assert!(metadata.fields.contains_key("deleted_content_digest"));
}

on_both_backends!(a_tombstone_without_a_deletion_record_is_unmatched);
async fn a_tombstone_without_a_deletion_record_is_unmatched(backend: Backend) {
    let app = seeded(backend, 4).await;
    // Hides entry 2 behind a tombstone that points at entry 4, which
    // records no deletion.
    tamper(
        &app,
        "INSERT INTO audit_tombstones (tenant_id, sequence, entry_id, content_digest, hash, \
         deleted_at, deletion_sequence) \
         SELECT tenant_id, sequence, id, content_digest, hash, 0, 4 \
         FROM audit_logs WHERE sequence = 2",
    )
    .await;
    tamper(&app, "DELETE FROM audit_logs WHERE sequence = 2").await;
    assert_broken(&verify(&app, ACME).await, 2, BreakKind::UnmatchedTombstone);
}

on_both_backends!(concurrent_appends_get_consecutive_sequences);
async fn concurrent_appends_get_consecutive_sequences(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client_for(ACME, ALL_SCOPES);
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                for round in 0..5 {
                    let batch = vec![input(&format!("task{task}.a{round}")), input("x.b")];
                    client.append(batch).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("append task");
    }
    let verdict = verify(&app, ACME).await;
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!((verdict.entries_checked, verdict.head_sequence), (80, 80));
}

on_both_backends!(only_an_admin_verifies_another_tenant);
async fn only_an_admin_verifies_another_tenant(backend: Backend) {
    let app = seeded(backend, 2).await;
    let other = verify_chain(
        &app,
        GLOBEX,
        VerifyAuditChainRequest {
            tenant_id: ACME.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(other.expect_err("denied").code(), Code::PermissionDenied);

    let admin = app
        .admin()
        .stub()
        .verify_audit_chain(VerifyAuditChainRequest {
            tenant_id: ACME.into(),
            ..Default::default()
        })
        .await
        .expect("admin verify");
    let messages: Vec<_> = admin.into_inner().try_collect().await.expect("stream");
    assert!(matches!(
        messages.last().and_then(|last| last.message.clone()),
        Some(Message::Verdict(verdict)) if verdict.entries_checked == 2
    ));
    let beyond = verify_chain(
        &app,
        ACME,
        VerifyAuditChainRequest {
            from_sequence: 9,
            ..Default::default()
        },
    )
    .await;
    assert_code(
        beyond.map_err(audit_client::Error::from),
        Code::InvalidArgument,
    );
}

/// More entries than the server verifies per page (1,000 rows), so the walk
/// carries its previous hash across a page boundary.
const PAST_ONE_PAGE: usize = 2_300;

on_both_backends!(a_chain_longer_than_a_page_is_checked_across_pages);
async fn a_chain_longer_than_a_page_is_checked_across_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for batch in 0..PAST_ONE_PAGE / 100 {
        let entries = (0..100)
            .map(|n| input(&format!("user.step{}", batch * 100 + n)))
            .collect();
        app.seed(ACME, entries).await;
    }
    let verdict = verify(&app, ACME).await;
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!(verdict.entries_checked, PAST_ONE_PAGE as i64);
    assert_eq!(verdict.head_sequence, PAST_ONE_PAGE as i64);

    // A tamper in the second page, and one at the very first row of it.
    tamper(
        &app,
        "UPDATE audit_logs SET action = 'user.forged' WHERE sequence = 1500",
    )
    .await;
    let verdict = verify(&app, ACME).await;
    assert_broken(&verdict, 1500, BreakKind::HashMismatch);
    assert_eq!(verdict.entries_checked, 1499, "{verdict:?}");
    tamper(&app, "DELETE FROM audit_logs WHERE sequence = 1001").await;
    assert_broken(&verify(&app, ACME).await, 1001, BreakKind::Gap);
}
