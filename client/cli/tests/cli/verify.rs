//! `audit verify FILE`: an export from a real server verifies offline; an
//! edited or removed line, or a tail cut off before a known head, does not;
//! a deletion through the API still verifies.

use crate::support::{Audit, fixture};
use audit_tests::{ACME, AuditLogInputExt, Backend, TestApp, input, on_both_backends};
use std::path::{Path, PathBuf};

/// Exports the caller's whole trail to `dir/NAME` and returns its path.
async fn export(audit: &Audit, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    audit
        .run(&["export", "--output", path.to_str().unwrap()])
        .await
        .ok();
    path
}

async fn verify(audit: &Audit, path: &Path, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["verify", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    audit.run(&args).await
}

/// The head hash of an intact verdict line.
fn head_of(verdict: &str) -> String {
    let head = verdict
        .split("head ")
        .nth(1)
        .unwrap_or_else(|| panic!("no head in {verdict:?}"));
    head.trim()[..64].to_owned()
}

/// Rewrites the file keeping only the lines `keep` accepts, each as `edit`
/// makes it.
fn rewrite(path: &Path, to: &Path, edit: impl Fn(&str) -> Option<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text.lines().filter_map(edit).collect();
    std::fs::write(to, lines.join("\n") + "\n").unwrap();
}

on_both_backends!(an_export_verifies_and_an_edited_or_removed_line_does_not);
async fn an_export_verifies_and_an_edited_or_removed_line_does_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let path = export(&audit, dir.path(), "trail.ndjson").await;

    let verdict = verify(&audit, &path, &[]).await.ok();
    assert!(
        verdict.starts_with("intact: 1..4, 4 entries, head "),
        "{verdict}"
    );
    assert_eq!(verdict.lines().count(), 1, "{verdict}");

    // One field of one line: the read by u2 (sequence 2) now names u3.
    let edited = dir.path().join("edited.ndjson");
    rewrite(&path, &edited, |line| {
        Some(line.replace("\"id\":\"u2\"", "\"id\":\"u3\""))
    });
    assert_ne!(
        std::fs::read_to_string(&edited).unwrap(),
        std::fs::read_to_string(&path).unwrap()
    );
    let run = verify(&audit, &edited, &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("broken at sequence 2: HASH_MISMATCH"),
        "{run:?}"
    );

    let removed = dir.path().join("removed.ndjson");
    rewrite(&path, &removed, |line| {
        (!line.contains("\"sequence\":3,")).then(|| line.to_owned())
    });
    let run = verify(&audit, &removed, &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with("broken at sequence 3: GAP"),
        "{run:?}"
    );
}

#[tokio::test]
async fn an_old_export_does_not_reach_a_later_head() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let old = export(&audit, dir.path(), "old.ndjson").await;
    let old_head = head_of(&verify(&audit, &old, &[]).await.ok());

    app.seed(
        ACME,
        vec![input("user.logout").by("u1", audit_proto::ActorType::User)],
    )
    .await;
    // The head as the service reports it: the newest entry's hash.
    let newest = audit
        .run(&["list", "--format", "ndjson", "--limit", "1"])
        .await
        .ok();
    let newest: serde_json::Value = serde_json::from_str(newest.trim()).unwrap();
    let new_head = newest["hash"].as_str().unwrap().to_owned();
    assert_ne!(new_head, old_head);

    let run = verify(&audit, &old, &["--head", &new_head]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("broken at sequence 4: HASH_MISMATCH"),
        "{run:?}"
    );
    assert!(run.stdout.contains("never reaches the head"), "{run:?}");

    let new = export(&audit, dir.path(), "new.ndjson").await;
    let verdict = verify(&audit, &new, &["--head", &new_head]).await.ok();
    assert!(verdict.starts_with("intact: 1..5, 5 entries"), "{verdict}");
    // The new export extends the old head too.
    verify(&audit, &new, &["--head", &old_head]).await.ok();
    verify(&audit, &old, &["--head", &old_head]).await.ok();
}

#[tokio::test]
async fn an_export_after_a_deletion_still_verifies() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ids = app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    audit
        .run(&["delete", &ids[1], "--reason", "wrong tenant"])
        .await
        .ok();
    let dir = tempfile::tempdir().unwrap();
    let path = export(&audit, dir.path(), "trail.ndjson").await;
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);

    let verdict = verify(&audit, &path, &[]).await.ok();
    assert!(
        verdict.starts_with("intact: 1..5, 5 entries (1 deleted), head "),
        "{verdict}"
    );

    // Without its deletion record, the deleted entry is a gap.
    let cut = dir.path().join("cut.ndjson");
    rewrite(&path, &cut, |line| {
        (!line.contains("audit_log.deleted")).then(|| line.to_owned())
    });
    let run = verify(&audit, &cut, &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with("broken at sequence 2: GAP"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_later_range_verifies_from_its_anchor_without_a_server() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);
    let dir = tempfile::tempdir().unwrap();
    let path = export(&audit, dir.path(), "trail.ndjson").await;
    let text = std::fs::read_to_string(&path).unwrap();
    let second: serde_json::Value = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|entry| entry["sequence"] == 2)
        .unwrap();
    let anchor = second["hash"].as_str().unwrap().to_owned();
    let later = dir.path().join("later.ndjson");
    rewrite(&path, &later, |line| {
        (line.contains("\"sequence\":3,") || line.contains("\"sequence\":4,"))
            .then(|| line.to_owned())
    });
    drop(app);

    // Offline: nothing listens at this endpoint.
    let offline = Audit::at("http://127.0.0.1:9", "no-token");
    let verdict = verify(&offline, &later, &[]).await.ok();
    assert!(verdict.starts_with("intact: 3..4, 2 entries"), "{verdict}");
    assert!(verdict.contains("taken on trust"), "{verdict}");
    let verdict = verify(&offline, &later, &["--anchor", &anchor]).await.ok();
    assert!(!verdict.contains("taken on trust"), "{verdict}");
    let run = verify(&offline, &later, &["--anchor", &"ab".repeat(32)]).await;
    assert_eq!(run.code, 1, "{run:?}");

    assert_eq!(verify(&offline, &later, &["--anchor", "xyz"]).await.code, 2);
    let missing = verify(&offline, &dir.path().join("missing.ndjson"), &[]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
}
