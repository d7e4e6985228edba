//! `audit get`, `delete`, `describe` and `stats`.

use crate::support::{Audit, assert_golden, fixture, normalise, received_at};
use audit_proto::ActorType;
use audit_tests::{ACME, AuditLogInputExt, Backend, TestApp, input, on_both_backends, utc};

#[tokio::test]
async fn get_prints_one_entry_as_indented_json_or_in_a_format() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ids = app.seed(ACME, fixture()).await;
    let received_at = received_at(&app, &ids[0]).await;
    let audit = Audit::for_app(&app);

    let pretty = audit.run(&["get", &ids[0]]).await.ok();
    assert_golden("get.json", &normalise(&pretty, &ids, &received_at));

    let table = audit.run(&["get", &ids[1], "--format", "table"]).await.ok();
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains("document:d1"), "{table}");
    let line = audit
        .run(&["get", &ids[1], "--format", "ndjson"])
        .await
        .ok();
    assert_eq!(line.lines().count(), 1);
    assert!(line.contains(&format!(r#""id":"{}""#, ids[1])), "{line}");
}

on_both_backends!(delete_removes_the_entry_and_reports_the_record);
async fn delete_removes_the_entry_and_reports_the_record(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, fixture()).await;
    let audit = Audit::for_app(&app);

    let stdout = audit
        .run(&["delete", &ids[2], "--reason", "test cleanup"])
        .await
        .ok();
    assert!(
        stdout.starts_with(&format!("deleted {} (recorded as ", ids[2])),
        "{stdout}"
    );
    let error = audit.run(&["get", &ids[2]]).await.failed(4);
    assert!(error.contains("not found"), "{error}");

    let missing_reason = audit.run(&["delete", &ids[1]]).await;
    assert_eq!(missing_reason.code, 2, "{missing_reason:?}");
}

#[tokio::test]
async fn describe_lists_fields_with_flags_orders_actions_and_targets() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed(ACME, fixture()).await;
    let stdout = Audit::for_app(&app).run(&["describe"]).await.ok();
    assert_golden("describe.txt", &stdout);
}

on_both_backends!(stats_reports_totals_top_lists_and_a_histogram_of_bars);
async fn stats_reports_totals_top_lists_and_a_histogram_of_bars(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // 8, 4 and 1 entries on three days: bars of 50, 25 and 6¼ columns when
    // stdout is not a terminal.
    let mut batch = Vec::new();
    for (day, count) in [("2024-03-04", 8), ("2024-03-05", 4), ("2024-03-07", 1)] {
        for n in 0..count {
            let actor = if n % 2 == 0 { "u1" } else { "u2" };
            batch.push(
                input(if n < 3 { "user.login" } else { "document.read" })
                    .by(actor, ActorType::User)
                    .email(&format!("{actor}@acme.test"))
                    .on("document", "d1")
                    .at(utc(&format!("{day}T12:00:00Z"))),
            );
        }
    }
    app.seed(ACME, batch).await;
    let stdout = Audit::for_app(&app)
        .run(&["stats", "--by", "day", "--top", "5"])
        .await
        .ok();
    assert_golden("stats.txt", &stdout);

    let hourly = Audit::for_app(&app)
        .run(&[
            "stats",
            "--by",
            "hour",
            "--action",
            "user.*",
            "--since",
            "2024-03-05",
        ])
        .await
        .ok();
    assert!(hourly.starts_with("Total: 4\n"), "{hourly}");
    assert!(hourly.contains("2024-03-05 12:00"), "{hourly}");
}

#[tokio::test]
async fn stats_of_nothing_says_none() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let stdout = Audit::for_app(&app).run(&["stats"]).await.ok();
    assert!(stdout.starts_with("Total: 0\n"), "{stdout}");
    assert!(stdout.contains("By day\n  (none)\n"), "{stdout}");
}
