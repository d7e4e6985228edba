//! `audit append` and `audit import`: recording events, and an export read
//! back into another tenant.

use crate::support::{Audit, fixture};
use audit_tests::{ACME, Backend, GLOBEX, TestApp, on_both_backends};
use serde_json::Value;

#[tokio::test]
async fn append_records_every_flag_and_prints_the_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let audit = Audit::for_app(&app);
    let stdout = audit
        .run(&[
            "append",
            "--action",
            "api_key.created",
            "--actor-id",
            "u_42",
            "--actor-type",
            "user",
            "--actor-email",
            "ada@acme.test",
            "--target-type",
            "api_key",
            "--target-id",
            "key_7",
            "--result",
            "success",
            "--client-ip",
            "203.0.113.9",
            "--occurred-at",
            "2024-06-01T10:30:00Z",
            "--metadata",
            r#"{"scopes": ["audit:read"]}"#,
            "--idempotency-key",
            "create-key_7",
        ])
        .await
        .ok();
    let id = stdout.trim();
    let entry: Value = serde_json::from_str(&audit.run(&["get", id]).await.ok()).unwrap();
    assert_eq!(entry["action"], "api_key.created");
    assert_eq!(entry["actor"]["id"], "u_42");
    assert_eq!(entry["actor"]["type"], "ACTOR_TYPE_USER");
    assert_eq!(entry["actor"]["email"], "ada@acme.test");
    assert_eq!(entry["target"]["type"], "api_key");
    assert_eq!(entry["target"]["id"], "key_7");
    assert_eq!(entry["result"], "RESULT_SUCCESS");
    assert_eq!(entry["client_ip"], "203.0.113.9");
    assert_eq!(entry["occurred_at"], "2024-06-01T10:30:00Z");
    assert_eq!(
        entry["metadata"],
        serde_json::json!({"scopes": ["audit:read"]})
    );

    // The same key and content is the same event: the same id comes back.
    let again = audit
        .run(&[
            "append",
            "--action",
            "api_key.created",
            "--actor-id",
            "u_42",
            "--actor-type",
            "user",
            "--actor-email",
            "ada@acme.test",
            "--target-type",
            "api_key",
            "--target-id",
            "key_7",
            "--result",
            "success",
            "--client-ip",
            "203.0.113.9",
            "--occurred-at",
            "2024-06-01T10:30:00Z",
            "--metadata",
            r#"{"scopes": ["audit:read"]}"#,
            "--idempotency-key",
            "create-key_7",
        ])
        .await
        .ok();
    assert_eq!(again.trim(), id);
}

/// Drops what the service assigns, so entries of two tenants compare.
fn without_server_fields(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|line| {
            let mut entry: Value = serde_json::from_str(line).expect("a JSON line");
            let object = entry.as_object_mut().expect("an object");
            for field in [
                "id",
                "tenant_id",
                "received_at",
                "sequence",
                "content_digest",
                "hash",
            ] {
                object.remove(field);
            }
            entry
        })
        .collect()
}

on_both_backends!(an_export_imports_into_another_tenant_once_however_often_it_runs);
async fn an_export_imports_into_another_tenant_once_however_often_it_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, fixture()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.ndjson");
    let file = file.to_str().unwrap();
    let acme = Audit::for_app(&app);
    let globex = Audit::as_tenant(&app, GLOBEX);

    acme.run(&["export", "--output", file]).await.ok();
    let run = globex.run(&["import", file, "--batch-size", "3"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("imported 4 events"), "{run:?}");
    // An interrupted import is run again whole: nothing is stored twice.
    globex.run(&["import", file]).await.ok();

    let original = acme.run(&["list"]).await.ok();
    let imported = globex.run(&["list"]).await.ok();
    assert_eq!(imported.lines().count(), 4, "{imported}");
    let imported_entries = without_server_fields(&imported);
    let mut original_entries = without_server_fields(&original);
    // Events without a key of their own got one derived from their line.
    for (entry, copy) in original_entries.iter_mut().zip(&imported_entries) {
        if entry["idempotency_key"] == "" {
            let derived = copy["idempotency_key"].as_str().unwrap();
            assert!(derived.starts_with("import-"), "{copy}");
            entry["idempotency_key"] = copy["idempotency_key"].clone();
        }
    }
    assert_eq!(imported_entries, original_entries);
}

#[tokio::test]
async fn import_names_the_line_that_is_wrong() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::for_app(&app);

    let not_json = dir.path().join("not-json.ndjson");
    std::fs::write(&not_json, "{\"action\":\"a\"}\n\nnot json\n").unwrap();
    let error = audit
        .run(&["import", not_json.to_str().unwrap()])
        .await
        .failed(1);
    assert!(error.contains("not-json.ndjson:3: not JSON"), "{error}");

    let refused = dir.path().join("refused.ndjson");
    std::fs::write(
        &refused,
        "{\"action\":\"ok.one\"}\n{\"action\":\"has space\"}\n",
    )
    .unwrap();
    let error = audit
        .run(&["import", refused.to_str().unwrap()])
        .await
        .failed(1);
    assert!(error.contains("refused.ndjson:2: action: "), "{error}");
}
