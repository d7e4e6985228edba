//! What List sends for each entry is what Get sends for it, field for
//! field. On Postgres the two are written by different code: Get decodes
//! the row into the domain entry and prost encodes that, while List writes
//! the page's protobuf straight from the rows' column bytes.

use audit_proto::{ActorType, AuditLog, AuditLogFilter, ListAuditLogsRequest, Result as Outcome};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, TestApp, assert_code, input, on_both_backends, utc,
};
use prost::Message;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tonic::Code;

/// Entries that between them set every field, each kind of metadata value,
/// and the empty and missing forms the encoding skips.
fn varied_entries() -> Vec<audit_proto::AuditLogInput> {
    vec![
        input("user.login"),
        input("user.login")
            .by("u-1", ActorType::User)
            .named("Ada Lovelace")
            .email("ada@example.com")
            .on("document", "d-1")
            .outcome(Outcome::Success)
            .client_ip("203.0.113.7")
            .request("POST", "/v1/login", 200)
            .idempotency_key("login-1")
            .labelled("req-1")
            .at(utc("2024-03-01T10:00:00.123456Z")),
        input("api_key.created")
            .by("k-9", ActorType::ApiKey)
            .outcome(Outcome::Failure)
            .client_ip("2001:db8::42")
            .request("", "", 403)
            .metadata(json!({
                "zeta": 1,
                "a": "first",
                "bb": [1, 2.5, -3, true, false, null, "x", {"nested": {"deep": []}}],
                "": "empty key",
                "quote\"and\\slash": "line\nbreak\ttab \u{e9} \u{1F600}",
                "big": 1e300,
                "tiny": -0.000001,
                "whole": 9007199254740993_u64,
                "empty": {},
                "blank": "",
                "zero": 0,
            })),
        input("project.member.removed")
            .by("svc", ActorType::Service)
            .client_ip("::ffff:198.51.100.9")
            .metadata(json!({"ids": ["a", "b"], "count": 2}))
            .at(utc("1969-12-31T23:59:59.5Z")),
        input("nodot").on("", "only-id").outcome(Outcome::Denied),
    ]
}

on_both_backends!(list_sends_each_entry_as_get_does);
async fn list_sends_each_entry_as_get_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, varied_entries()).await;

    // Pages of two: entries, tokens and the last page's empty token.
    let request = ListAuditLogsRequest {
        page_size: 2,
        ..Default::default()
    };
    let pages = app.list_pages(ACME, request).await.expect("list");
    let listed: Vec<AuditLog> = pages
        .iter()
        .flat_map(|page| page.audit_logs.clone())
        .collect();

    assert_eq!(listed.len(), ids.len());
    assert_eq!(pages.len(), 3, "five entries in pages of two");
    assert!(
        pages[..2]
            .iter()
            .all(|page| !page.next_page_token.is_empty())
    );
    assert_eq!(pages[2].next_page_token, "");
    for entry in &listed {
        let got = app.get(ACME, &entry.id).await.expect("get");
        assert_eq!(entry, &got, "List and Get differ for {}", entry.action);
        assert_eq!(entry.encode_to_vec(), got.encode_to_vec());
    }
    let with_metadata = listed
        .iter()
        .find(|entry| entry.action == "api_key.created")
        .and_then(|entry| entry.metadata.as_ref())
        .expect("the api_key.created entry has metadata");
    assert_eq!(with_metadata.fields.len(), 11, "{with_metadata:?}");
}

on_both_backends!(total_count_of_nothing_is_sent_as_zero);
async fn total_count_of_nothing_is_sent_as_zero(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, vec![input("user.login")]).await;
    let request = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: "nothing.matches".into(),
            ..Default::default()
        }),
        include_total_count: true,
        ..Default::default()
    };

    let pages = app.list_pages(ACME, request).await.expect("list");

    assert_eq!(pages.len(), 1, "one message even when nothing matches");
    assert_eq!(
        (pages[0].audit_logs.len(), pages[0].total_count),
        (0, Some(0))
    );
    assert_eq!(pages[0].next_page_token, "");
}

#[tokio::test]
async fn a_row_postgres_never_stores_is_internal_without_its_sql() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let ids = app
        .seed(ACME, vec![input("user.login").client_ip("203.0.113.7")])
        .await;
    app.store()
        .connection()
        .execute_unprepared(&format!(
            "UPDATE audit_logs SET client_ip = '\\x0102' WHERE id = '{}'",
            ids[0]
        ))
        .await
        .expect("corrupt the stored address");

    let status = assert_code(app.list(ACME, Default::default()).await, Code::Internal);
    let get = assert_code(app.get(ACME, &ids[0]).await, Code::Internal);
    assert_eq!(get.message(), status.message(), "List and Get say the same");

    assert!(
        !status.message().contains("SELECT") && !status.message().contains("audit_logs"),
        "no SQL in {:?}",
        status.message()
    );
}
