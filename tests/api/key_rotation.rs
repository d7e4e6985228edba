//! Rotating the checkpoint signing key: after a restart with a new key and
//! the old public key listed as previous, GetPublicKeys lists both (the new
//! one current) and a checkpoint signed before the rotation still verifies;
//! without the old key listed, it is INVALID_ARGUMENT naming its key id.

use audit_proto::checkpoint::verify_checkpoint;
use audit_proto::{
    ChainStatus, Checkpoint, GetCheckpointRequest, GetPublicKeysRequest, PublicKey,
    VerifyAuditChainRequest,
};
use audit_server::checkpoint::CheckpointSigner;
use audit_tests::{
    ACME, ALL_SCOPES, Backend, TestApp, assert_invalid_field, input, on_both_backends, verify_chain,
};

/// The key the harness signs with before the rotation.
const OLD_SEED: [u8; 32] = [7; 32];
const NEW_SEED: [u8; 32] = [42; 32];

async fn checkpoint(app: &TestApp) -> Checkpoint {
    app.client_for(ACME, ALL_SCOPES)
        .stub()
        .get_checkpoint(GetCheckpointRequest::default())
        .await
        .expect("get checkpoint")
        .into_inner()
}

async fn public_keys(app: &TestApp) -> Vec<PublicKey> {
    app.client_for(ACME, "audit:read")
        .stub()
        .get_public_keys(GetPublicKeysRequest {})
        .await
        .expect("get public keys")
        .into_inner()
        .keys
}

async fn verify_against(
    app: &TestApp,
    checkpoint: &Checkpoint,
) -> Result<audit_proto::ChainVerdict, tonic::Status> {
    let request = VerifyAuditChainRequest {
        checkpoint: Some(checkpoint.clone()),
        ..Default::default()
    };
    verify_chain(app, ACME, request).await
}

on_both_backends!(a_checkpoint_signed_before_a_key_rotation_still_verifies);
async fn a_checkpoint_signed_before_a_key_rotation_still_verifies(backend: Backend) {
    let old_key = CheckpointSigner::from_seed(OLD_SEED);
    let new_key = CheckpointSigner::from_seed(NEW_SEED);
    let mut app = TestApp::spawn_with(backend, |settings| {
        settings.signing_key = old_key.clone();
    })
    .await;
    app.seed(ACME, vec![input("user.login"), input("user.read")])
        .await;
    let before = checkpoint(&app).await;
    assert_eq!(before.key_id, old_key.key_id());

    // Rotated, the old key not listed: its checkpoints cannot be checked.
    app.restart_with(|settings| settings.signing_key = new_key.clone())
        .await;
    let keys = public_keys(&app).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].current);
    let refused = verify_against(&app, &before).await;
    let status = assert_invalid_field(refused, "checkpoint.key_id");
    assert!(status.message().contains(old_key.key_id()), "{status:?}");

    // Rotated with the old public key listed as previous.
    let previous = old_key.public_key();
    app.restart_with(|settings| {
        settings.signing_key = new_key.clone().with_previous([previous]);
    })
    .await;
    let keys = public_keys(&app).await;
    let listed: Vec<(&str, bool)> = keys
        .iter()
        .map(|key| (key.key_id.as_str(), key.current))
        .collect();
    assert_eq!(
        listed,
        [(new_key.key_id(), true), (old_key.key_id(), false)]
    );
    assert_eq!(keys[1].public_key, previous.to_vec());
    verify_checkpoint(&before, &previous).expect("the old signature verifies offline");

    app.seed(ACME, vec![input("user.logout")]).await;
    let verdict = verify_against(&app, &before).await.expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");

    // New checkpoints are signed with the new key, and verify too.
    let after = checkpoint(&app).await;
    assert_eq!(
        (after.key_id.as_str(), after.sequence),
        (new_key.key_id(), 3)
    );
    let verdict = verify_against(&app, &after).await.expect("verify");
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");

    // A forged checkpoint naming the old key is still refused.
    let mut forged = before.clone();
    forged.sequence = 1;
    assert_invalid_field(verify_against(&app, &forged).await, "checkpoint.signature");
}
