//! Signed checkpoints: GetCheckpoint and GetPublicKeys, a tampered
//! checkpoint refused, a chain rewritten consistently or truncated caught
//! only against an earlier checkpoint, and the periodic checkpoint files.

use audit_proto::checkpoint::verify_checkpoint;
use audit_proto::integrity::{GENESIS_HASH, chain_hash, content_digest, to_hex};
use audit_proto::{
    BreakKind, ChainStatus, ChainVerdict, Checkpoint, GetCheckpointRequest, GetPublicKeysRequest,
    ListAuditLogsRequest, VerifyAuditChainRequest,
};
use audit_tests::{
    ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, input, on_both_backends, tamper, verify_chain,
};
use std::time::Duration;
use tonic::Code;

async fn checkpoint(app: &TestApp, tenant: &str) -> Checkpoint {
    app.client_for(tenant, ALL_SCOPES)
        .stub()
        .get_checkpoint(GetCheckpointRequest::default())
        .await
        .expect("get checkpoint")
        .into_inner()
}

async fn public_key(app: &TestApp) -> (String, [u8; 32]) {
    let keys = app
        .client_for(ACME, "audit:read")
        .stub()
        .get_public_keys(GetPublicKeysRequest {})
        .await
        .expect("get public keys")
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].algorithm, "ed25519");
    let key = keys[0].public_key.as_slice().try_into().expect("32 bytes");
    (keys[0].key_id.clone(), key)
}

/// Verifies `tenant`'s whole chain against `checkpoint`.
async fn verify(
    app: &TestApp,
    tenant: &str,
    checkpoint: Option<Checkpoint>,
) -> Result<ChainVerdict, tonic::Status> {
    let request = VerifyAuditChainRequest {
        checkpoint,
        ..Default::default()
    };
    verify_chain(app, tenant, request).await
}

/// A byte-string literal in the backend's SQL.
fn blob(backend: Backend, bytes: &[u8]) -> String {
    match backend {
        Backend::Postgres => format!("decode('{}', 'hex')", to_hex(bytes)),
        Backend::Sqlite => format!("X'{}'", to_hex(bytes)),
    }
}

fn assert_mismatch(verdict: &ChainVerdict, sequence: i64) {
    assert_eq!(verdict.status(), ChainStatus::Broken, "{verdict:?}");
    assert_eq!(verdict.kind(), BreakKind::CheckpointMismatch, "{verdict:?}");
    assert_eq!(verdict.first_broken_sequence, sequence, "{verdict:?}");
}

async fn seeded(backend: Backend, count: usize) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let entries = (0..count)
        .map(|n| input(&format!("user.step{n}")))
        .collect();
    app.seed(ACME, entries).await;
    app
}

on_both_backends!(a_checkpoint_verifies_with_the_published_key);
async fn a_checkpoint_verifies_with_the_published_key(backend: Backend) {
    let app = seeded(backend, 3).await;
    let taken = checkpoint(&app, ACME).await;
    let (key_id, key) = public_key(&app).await;
    assert_eq!((taken.tenant_id.as_str(), taken.sequence), (ACME, 3));
    assert_eq!(taken.key_id, key_id);
    verify_checkpoint(&taken, &key).expect("the signature verifies");
    let verdict = verify(&app, ACME, None).await.expect("verify");
    assert_eq!(taken.head_hash, verdict.head_hash);

    app.seed(ACME, vec![input("user.later")]).await;
    let extended = verify(&app, ACME, Some(taken)).await.expect("verify");
    assert_eq!(extended.status(), ChainStatus::Intact, "{extended:?}");

    let empty = checkpoint(&app, "initech").await;
    assert_eq!(
        (empty.sequence, empty.head_hash),
        (0, GENESIS_HASH.to_vec())
    );

    let denied = app
        .client_for(GLOBEX, ALL_SCOPES)
        .stub()
        .get_checkpoint(GetCheckpointRequest {
            tenant_id: ACME.into(),
        })
        .await
        .expect_err("another tenant's checkpoint");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let admin = app
        .admin()
        .stub()
        .get_checkpoint(GetCheckpointRequest {
            tenant_id: ACME.into(),
        })
        .await
        .expect("admin checkpoint")
        .into_inner();
    assert_eq!((admin.tenant_id.as_str(), admin.sequence), (ACME, 4));
}

on_both_backends!(a_tampered_checkpoint_is_rejected);
async fn a_tampered_checkpoint_is_rejected(backend: Backend) {
    let app = seeded(backend, 2).await;
    let taken = checkpoint(&app, ACME).await;
    let (_, key) = public_key(&app).await;

    let mut hash_changed = taken.clone();
    hash_changed.head_hash[0] ^= 1;
    let mut signature_changed = taken.clone();
    signature_changed.signature[10] ^= 1;
    let mut sequence_changed = taken.clone();
    sequence_changed.sequence = 1;
    for forged in [hash_changed, signature_changed, sequence_changed] {
        assert!(verify_checkpoint(&forged, &key).is_err(), "{forged:?}");
        let refused = verify(&app, ACME, Some(forged))
            .await
            .expect_err("a forged checkpoint");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains("checkpoint"), "{refused:?}");
    }
    let other_tenant = verify(&app, GLOBEX, Some(taken))
        .await
        .expect_err("another tenant's checkpoint");
    assert_eq!(other_tenant.code(), Code::InvalidArgument);
}

on_both_backends!(a_consistently_rewritten_chain_is_caught_by_an_earlier_checkpoint);
async fn a_consistently_rewritten_chain_is_caught_by_an_earlier_checkpoint(backend: Backend) {
    let app = seeded(backend, 4).await;
    let saved = checkpoint(&app, ACME).await;

    // A superuser changes entry 2 and recomputes every digest and hash
    // from there on, and the head, as this document's reader could.
    let mut entries = app
        .list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");
    entries.sort_by_key(|entry| entry.sequence);
    let mut previous = GENESIS_HASH;
    for entry in &mut entries {
        let stored = content_digest(entry).expect("digest");
        assert_eq!(stored.to_vec(), entry.content_digest, "the model matches");
        if entry.sequence == 2 {
            entry.actor.as_mut().expect("actor").name = "mallory".into();
        }
        let digest = content_digest(entry).expect("digest");
        let hash = chain_hash(&digest, &previous);
        previous = hash;
        let name = entry
            .actor
            .as_ref()
            .expect("actor")
            .name
            .replace('\'', "''");
        tamper(
            &app,
            &format!(
                "UPDATE audit_logs SET actor_name = '{name}', content_digest = {}, hash = {} \
                 WHERE tenant_id = '{ACME}' AND sequence = {}",
                blob(backend, &digest),
                blob(backend, &hash),
                entry.sequence
            ),
        )
        .await;
    }
    tamper(
        &app,
        &format!(
            "UPDATE audit_tenants SET head_hash = {} WHERE tenant_id = '{ACME}'",
            blob(backend, &previous)
        ),
    )
    .await;

    let alone = verify(&app, ACME, None).await.expect("verify");
    assert_eq!(alone.status(), ChainStatus::Intact, "{alone:?}");
    let against = verify(&app, ACME, Some(saved)).await.expect("verify");
    assert_mismatch(&against, 4);
}

on_both_backends!(a_truncated_tail_is_caught_by_an_earlier_checkpoint);
async fn a_truncated_tail_is_caught_by_an_earlier_checkpoint(backend: Backend) {
    let app = seeded(backend, 5).await;
    let saved = checkpoint(&app, ACME).await;
    tamper(
        &app,
        &format!("DELETE FROM audit_logs WHERE tenant_id = '{ACME}' AND sequence > 3"),
    )
    .await;
    tamper(
        &app,
        &format!(
            "UPDATE audit_tenants SET head_sequence = 3, head_hash = \
             (SELECT hash FROM audit_logs WHERE tenant_id = '{ACME}' AND sequence = 3) \
             WHERE tenant_id = '{ACME}'"
        ),
    )
    .await;

    let alone = verify(&app, ACME, None).await.expect("verify");
    assert_eq!(
        (alone.status(), alone.head_sequence),
        (ChainStatus::Intact, 3)
    );
    let against = verify(&app, ACME, Some(saved)).await.expect("verify");
    assert_mismatch(&against, 4);
}

on_both_backends!(periodic_checkpoints_are_written_outside_the_database);
async fn periodic_checkpoints_are_written_outside_the_database(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let checkpoint_dir = dir.path().to_owned();
    let app = TestApp::spawn_with(backend, |settings| {
        settings.checkpoint_interval = Duration::from_millis(100);
        settings.checkpoint_dir = Some(checkpoint_dir);
    })
    .await;
    app.seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;
    let path = dir.path().join(ACME).join("2.json");
    let mut waited = Duration::ZERO;
    while !path.exists() {
        assert!(waited < Duration::from_secs(10), "no {}", path.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    // The file is written in one go, but may still be open: read it whole.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = std::fs::read_to_string(&path).expect("read the checkpoint file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let (key_id, key) = public_key(&app).await;
    assert_eq!(json["key_id"], key_id.as_str());
    assert_eq!(json["public_key"], to_hex(&key).as_str());
    let micros = json["time_micros"].as_i64().expect("time_micros");
    let from_file = Checkpoint {
        tenant_id: json["tenant_id"].as_str().expect("tenant").into(),
        sequence: json["sequence"].as_i64().expect("sequence"),
        head_hash: from_hex(json["head_hash"].as_str().expect("head_hash")),
        time: Some(prost_types::Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).expect("nanos"),
        }),
        key_id,
        signature: from_hex(json["signature"].as_str().expect("signature")),
    };
    verify_checkpoint(&from_file, &key).expect("the file's signature verifies");
    let verdict = verify(&app, ACME, Some(from_file)).await.expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
}

fn from_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

/// A stored checkpoint record at `time` (its signature is not checked by
/// the pruning).
fn record_at(tenant: &str, sequence: i64, time: i64) -> audit_server::store::CheckpointRecord {
    audit_server::store::CheckpointRecord {
        tenant_id: tenant.into(),
        sequence,
        head_hash: [1; 32],
        time,
        key_id: "k".into(),
        signature: [2; 64],
    }
}

const DAY: i64 = 86_400_000_000;
/// 2024-01-01T00:00:00Z in microseconds.
const JAN_1: i64 = 1_704_067_200_000_000;

on_both_backends!(old_stored_checkpoints_are_pruned_to_the_newest_and_one_per_day);
async fn old_stored_checkpoints_are_pruned_to_the_newest_and_one_per_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    // Five a day for three days for acme; two for globex.
    for day in 0..3 {
        for n in 0..5 {
            let time = JAN_1 + day * DAY + n * 600_000_000;
            store
                .save_checkpoint(&record_at(ACME, day * 5 + n + 1, time))
                .await
                .unwrap();
        }
    }
    for n in 0..2 {
        store
            .save_checkpoint(&record_at(GLOBEX, n + 1, JAN_1 + n))
            .await
            .unwrap();
    }
    let pruned = store.prune_checkpoints(3).await.unwrap();
    assert_eq!(pruned, 10);
    let expected = vec![
        JAN_1 + 2 * DAY + 4 * 600_000_000,
        JAN_1 + 2 * DAY + 3 * 600_000_000,
        JAN_1 + 2 * DAY + 2 * 600_000_000,
        JAN_1 + DAY + 4 * 600_000_000,
        JAN_1 + 4 * 600_000_000,
    ];
    assert_eq!(store.checkpoint_times(ACME).await.unwrap(), expected);
    assert_eq!(store.checkpoint_times(GLOBEX).await.unwrap().len(), 2);
    assert_eq!(store.prune_checkpoints(3).await.unwrap(), 0);
}

#[tokio::test]
async fn the_periodic_task_prunes_the_stored_history() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.checkpoint_interval = Duration::from_millis(100);
    })
    .await;
    let store = app.store();
    let old = audit_server::checkpoint::task::KEEP_NEWEST as i64 + 10;
    for n in 0..old {
        store
            .save_checkpoint(&record_at(ACME, 0, JAN_1 + n))
            .await
            .unwrap();
    }
    // The head moves: a round checkpoints it, then prunes (a round may
    // already have pruned before it moved).
    app.seed(ACME, vec![input("user.login")]).await;
    let mut times = Vec::new();
    for _ in 0..100 {
        times = store.checkpoint_times(ACME).await.unwrap();
        if times.len() == audit_server::checkpoint::task::KEEP_NEWEST && times[0] > JAN_1 + DAY {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        times.len(),
        audit_server::checkpoint::task::KEEP_NEWEST,
        "{times:?}"
    );
    // The new checkpoint is among them, the oldest ones are gone.
    assert!(times[0] > JAN_1 + DAY, "{times:?}");
    assert!(!times.contains(&JAN_1), "{times:?}");
}
