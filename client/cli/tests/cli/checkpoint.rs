//! The auditor's workflow: `audit checkpoint` saves a signed checkpoint,
//! a later `audit export` is checked against it with `audit verify
//! --checkpoint`, the key given or fetched; a forged checkpoint, an unknown
//! key, a truncated export and a server-written checkpoint file.

use crate::support::{Audit, fixture};
use audit_tests::{ACME, AuditLogInputExt, Backend, TestApp, input, on_both_backends};
use std::path::{Path, PathBuf};

/// Saves a checkpoint of the caller's chain to `dir/NAME`.
async fn save_checkpoint(audit: &Audit, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    audit
        .run(&["checkpoint", "--output", path.to_str().unwrap()])
        .await
        .ok();
    path
}

async fn export(audit: &Audit, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    audit
        .run(&["export", "--output", path.to_str().unwrap()])
        .await
        .ok();
    path
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn verify(audit: &Audit, file: &Path, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["verify", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    audit.run(&args).await
}

on_both_backends!(a_later_export_passes_through_an_earlier_checkpoint);
async fn a_later_export_passes_through_an_earlier_checkpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let saved = save_checkpoint(&audit, dir.path(), "checkpoint.json").await;
    let json = read_json(&saved);
    assert_eq!(json["tenant_id"], ACME);
    assert_eq!(json["sequence"], 4);
    assert_eq!(json["algorithm"], "ed25519");
    let public_key = json["public_key"].as_str().unwrap().to_owned();
    assert_eq!(public_key.len(), 64);

    app.seed(
        ACME,
        vec![input("user.logout").by("u1", audit_proto::ActorType::User)],
    )
    .await;
    let trail = export(&audit, dir.path(), "trail.ndjson").await;
    let checkpoint = saved.to_str().unwrap();

    // The key fetched from the service.
    let verdict = verify(&audit, &trail, &["--checkpoint", checkpoint])
        .await
        .ok();
    assert!(
        verdict.starts_with("intact: 1..5, 5 entries, head "),
        "{verdict}"
    );
    assert!(
        verdict.contains("passes through the checkpoint at sequence 4"),
        "{verdict}"
    );
    assert!(
        verdict.contains("from GetPublicKeys at http://"),
        "{verdict}"
    );
    assert_eq!(verdict.lines().count(), 1, "{verdict}");

    // The key given, as hex and as a file, with no server to ask.
    drop(app);
    let offline = Audit::at("http://127.0.0.1:9", "no-token");
    let verdict = verify(
        &offline,
        &trail,
        &["--checkpoint", checkpoint, "--public-key", &public_key],
    )
    .await
    .ok();
    assert!(verdict.contains("from --public-key"), "{verdict}");
    let key_file = dir.path().join("key.hex");
    std::fs::write(&key_file, format!("{public_key}\n")).unwrap();
    let args = [
        "--checkpoint",
        checkpoint,
        "--public-key",
        key_file.to_str().unwrap(),
    ];
    verify(&offline, &trail, &args).await.ok();

    // Without a key and without a server: unavailable, not a verdict.
    let run = verify(&offline, &trail, &["--checkpoint", checkpoint]).await;
    assert_eq!(run.code, 5, "{run:?}");
    let run = verify(
        &offline,
        &trail,
        &["--checkpoint", checkpoint, "--public-key", "nope"],
    )
    .await;
    assert_eq!(
        run.failed(2),
        "error: --public-key \"nope\" is neither 64 hex digits nor a file"
    );
}

#[tokio::test]
async fn a_forged_checkpoint_or_an_unknown_key_is_rejected() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let saved = save_checkpoint(&audit, dir.path(), "checkpoint.json").await;
    let trail = export(&audit, dir.path(), "trail.ndjson").await;

    // A head hash changed after signing: the signature no longer holds.
    let mut forged = read_json(&saved);
    forged["head_hash"] = serde_json::Value::String("ab".repeat(32));
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let run = verify(
        &audit,
        &trail,
        &["--checkpoint", forged_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stdout
            .starts_with("checkpoint rejected: signature does not verify"),
        "{run:?}"
    );

    // A key that did not sign it.
    let other_key = "cd".repeat(32);
    let args = [
        "--checkpoint",
        saved.to_str().unwrap(),
        "--public-key",
        &other_key,
    ];
    let run = verify(&audit, &trail, &args).await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stdout
            .starts_with("checkpoint rejected: unknown key_id"),
        "{run:?}"
    );

    // A key id the service does not list.
    let mut unlisted = read_json(&saved);
    unlisted["key_id"] = serde_json::Value::String("0123456789abcdef".into());
    let unlisted_path = dir.path().join("unlisted.json");
    std::fs::write(&unlisted_path, unlisted.to_string()).unwrap();
    let run = verify(
        &audit,
        &trail,
        &["--checkpoint", unlisted_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stdout
            .starts_with("checkpoint rejected: its key 0123456789abcdef is not among the keys"),
        "{run:?}"
    );
}

#[tokio::test]
async fn an_export_that_ends_before_the_checkpoint_is_truncated() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let old = export(&audit, dir.path(), "old.ndjson").await;
    app.seed(
        ACME,
        vec![input("user.logout").by("u1", audit_proto::ActorType::User)],
    )
    .await;
    let saved = save_checkpoint(&audit, dir.path(), "checkpoint.json").await;

    let run = verify(&audit, &old, &["--checkpoint", saved.to_str().unwrap()]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with(
            "broken at sequence 5: CHECKPOINT_MISMATCH (the entries end at sequence 4"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("truncated"), "{run:?}");

    // The last line cut off the full export: the same verdict.
    let full = export(&audit, dir.path(), "full.ndjson").await;
    let text = std::fs::read_to_string(&full).unwrap();
    let cut = dir.path().join("cut.ndjson");
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.contains("\"sequence\":5,"))
        .collect();
    std::fs::write(&cut, kept.join("\n")).unwrap();
    let run = verify(&audit, &cut, &["--checkpoint", saved.to_str().unwrap()]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("CHECKPOINT_MISMATCH"), "{run:?}");
}

#[tokio::test]
async fn a_checkpoint_file_the_server_wrote_is_accepted() {
    let checkpoints = tempfile::tempdir().unwrap();
    let dir = checkpoints.path().to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, move |settings| {
        settings.checkpoint_dir = Some(dir);
    })
    .await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    // Taking one through the API also writes it to the directory.
    save_checkpoint(&audit, checkpoints.path(), "ignored.json").await;
    let written = checkpoints.path().join(ACME).join("4.json");
    assert!(written.exists(), "{}", written.display());
    let trail = export(&audit, checkpoints.path(), "trail.ndjson").await;
    let verdict = verify(&audit, &trail, &["--checkpoint", written.to_str().unwrap()])
        .await
        .ok();
    assert!(
        verdict.contains("passes through the checkpoint at sequence 4"),
        "{verdict}"
    );
}
