//! `audit list`: every format against its golden file, streaming order,
//! filters and `--limit`.

use crate::support::{Audit, assert_golden, fixture, normalise, received_at};
use audit_tests::AuditLogInputExt;
use audit_tests::{ACME, Backend, TestApp, input, on_both_backends, utc};

async fn seeded() -> (TestApp, Vec<String>, String) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ids = app.seed(ACME, fixture()).await;
    let received_at = received_at(&app, &ids[0]).await;
    (app, ids, received_at)
}

#[tokio::test]
async fn every_format_matches_its_golden_file() {
    let (app, ids, received_at) = seeded().await;
    let audit = Audit::for_app(&app);
    for (format, golden) in [
        ("table", "list.table"),
        ("json", "list.json"),
        ("ndjson", "list.ndjson"),
        ("csv", "list.csv"),
    ] {
        let stdout = audit.run(&["list", "--format", format]).await.ok();
        assert_golden(golden, &normalise(&stdout, &ids, &received_at));
    }
}

#[tokio::test]
async fn output_to_a_pipe_defaults_to_ndjson() {
    let (app, _ids, _) = seeded().await;
    let audit = Audit::for_app(&app);
    let piped = audit.run(&["list"]).await.ok();
    let ndjson = audit.run(&["list", "--format", "ndjson"]).await.ok();
    assert_eq!(piped, ndjson);
}

#[tokio::test]
async fn an_empty_listing_is_a_header_or_an_empty_array() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let audit = Audit::for_app(&app);
    assert_eq!(audit.run(&["list", "--format", "json"]).await.ok(), "[]\n");
    assert_eq!(audit.run(&["list", "--format", "ndjson"]).await.ok(), "");
    let table = audit.run(&["list", "--format", "table"]).await.ok();
    assert_eq!(table.lines().count(), 1, "{table}");
    assert!(table.starts_with("TIME"));
}

/// Returns the `action` of each NDJSON line.
fn actions(ndjson: &str) -> Vec<String> {
    ndjson
        .lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            entry["action"].as_str().expect("an action").to_owned()
        })
        .collect()
}

on_both_backends!(filters_order_and_limit_shape_the_listing);
async fn filters_order_and_limit_shape_the_listing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);

    let newest = audit.run(&["list"]).await.ok();
    assert_eq!(
        actions(&newest),
        [
            "system.backup",
            "api_key.created",
            "document.read",
            "user.login"
        ]
    );
    let oldest = audit
        .run(&["list", "--oldest-first", "--limit", "2"])
        .await
        .ok();
    assert_eq!(actions(&oldest), ["user.login", "document.read"]);

    let filtered = [
        (vec!["--action", "user.*"], vec!["user.login"]),
        (vec!["--actor-type", "api_key"], vec!["api_key.created"]),
        (
            vec!["--actor-email", "bob@acme.test"],
            vec!["document.read"],
        ),
        (vec!["--result", "denied"], vec!["api_key.created"]),
        (
            vec!["--client-ip", "10.0.0.0/8"],
            vec!["document.read", "user.login"],
        ),
        (
            vec!["--target-type", "document", "--target-id", "d1"],
            vec!["document.read"],
        ),
        (
            vec!["--since", "2024-01-01T10:00:00Z", "--until", "2024-01-03"],
            vec!["api_key.created", "document.read"],
        ),
    ];
    for (flags, expected) in filtered {
        let mut args = vec!["list"];
        args.extend(&flags);
        assert_eq!(actions(&audit.run(&args).await.ok()), expected, "{flags:?}");
    }
}

#[tokio::test]
async fn relative_times_count_back_from_now() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let now = chrono::Utc::now();
    let at = |age: chrono::TimeDelta| utc(&(now - age).to_rfc3339());
    app.seed(
        ACME,
        vec![
            input("recent").at(at(chrono::TimeDelta::hours(1))),
            input("old").at(at(chrono::TimeDelta::days(3))),
        ],
    )
    .await;
    let audit = Audit::for_app(&app);
    assert_eq!(
        actions(&audit.run(&["list", "--since", "24h"]).await.ok()),
        ["recent"]
    );
    assert_eq!(
        actions(&audit.run(&["list", "--until", "2d"]).await.ok()),
        ["old"]
    );
}

#[tokio::test]
async fn a_listing_of_many_pages_streams_every_entry_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let batch = (0..45)
        .map(|n| input("bulk.event").labelled(&format!("n{n}")))
        .collect();
    app.seed(ACME, batch).await;
    let stdout = Audit::for_app(&app)
        .run(&["list", "--page-size", "10", "--format", "csv"])
        .await
        .ok();
    let mut labels: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|row| row.split(',').nth(18).expect("a request_id cell"))
        .collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), 45);
}
