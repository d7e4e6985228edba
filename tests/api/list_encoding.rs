//! The bytes List sends for an entry are the bytes prost writes for what
//! Get returns for it. On Postgres the two are written by different code:
//! Get decodes the row into the domain entry and prost encodes that, while
//! List writes the page's protobuf straight from the rows' column bytes.

use audit_proto::{
    ActorType, AuditLogFilter, AuditLogInput, ListAuditLogsRequest, ListAuditLogsResponse,
    Result as Outcome, Target,
};
use audit_tests::raw_list::list_raw;
use audit_tests::{
    ACME, ALL_SCOPES, AuditLogInputExt, Backend, TestApp, assert_code, input, on_both_backends, utc,
};
use prost::Message;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tonic::Code;

/// Entries that between them set every field, each kind of metadata value,
/// and the empty and missing forms the encoding skips.
fn varied_entries() -> Vec<AuditLogInput> {
    let named_target = AuditLogInput {
        target: Some(Target {
            r#type: String::new(),
            id: String::new(),
            name: "only a name".into(),
        }),
        user_agent: "curl/8.5.0".into(),
        ..input("document.renamed")
    };
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
        named_target,
        input("nodot").on("", "only-id").outcome(Outcome::Denied),
    ]
}

/// Asserts each raw List message is, byte for byte, prost's encoding of
/// the message made of what Get returns for its entries.
async fn assert_list_bytes_are_gets(app: &TestApp, raw_pages: &[Vec<u8>]) {
    for raw in raw_pages {
        let page = ListAuditLogsResponse::decode(raw.as_slice()).expect("a List message");
        let mut from_get = Vec::new();
        for entry in &page.audit_logs {
            from_get.push(app.get(ACME, &entry.id).await.expect("get"));
        }
        let expected = ListAuditLogsResponse {
            audit_logs: from_get,
            ..page.clone()
        };
        assert_eq!(page, expected, "List and Get read an entry differently");
        assert_eq!(
            raw,
            &expected.encode_to_vec(),
            "the same message, other bytes"
        );
    }
}

fn token(app: &TestApp) -> String {
    app.token("auditor", ACME, ALL_SCOPES)
}

on_both_backends!(list_sends_each_entry_as_get_does);
async fn list_sends_each_entry_as_get_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let entries = varied_entries();
    let count = entries.len();
    app.seed(ACME, entries).await;
    let request = ListAuditLogsRequest {
        page_size: 2,
        include_total_count: true,
        ..Default::default()
    };

    let raw = list_raw(&app.endpoint(), &token(&app), request)
        .await
        .expect("list");

    assert_eq!(
        raw.len(),
        count.div_ceil(2),
        "{count} entries in pages of two"
    );
    assert_list_bytes_are_gets(&app, &raw).await;
    let last = ListAuditLogsResponse::decode(raw[raw.len() - 1].as_slice()).expect("decode");
    assert_eq!(
        last.next_page_token, "",
        "the last message says it is the last"
    );
}

// Rows another writer (an older version, a migration, an operator) could
// leave: unknown enum numbers, a negative status, a request with only a
// method, no chain link beside stored digests, metadata that is not an
// object. List must read each as Get does.
#[tokio::test]
async fn rows_written_outside_the_api_read_alike_in_list_and_get() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let ids = app
        .seed(
            ACME,
            (0..6).map(|n| input(&format!("edge.row{n}"))).collect(),
        )
        .await;
    let edits = [
        "actor_type = 99, result = 42",
        "request_status_code = -5",
        "request_method = 'PATCH'",
        "sequence = NULL",
        "metadata = 'null'::jsonb, target_name = 'only a name'",
        "metadata = '[1, {\"a\": 2}]'::jsonb, user_agent = 'agent'",
    ];
    let db = app.store().connection();
    for (id, edit) in ids.iter().zip(edits) {
        db.execute_unprepared(&format!("UPDATE audit_logs SET {edit} WHERE id = '{id}'"))
            .await
            .unwrap_or_else(|error| panic!("{edit}: {error}"));
    }
    db.execute_unprepared(&format!(
        "UPDATE audit_logs SET metadata = '3'::jsonb WHERE id = '{}'",
        ids[0]
    ))
    .await
    .expect("a number as metadata");

    let raw = list_raw(&app.endpoint(), &token(&app), Default::default())
        .await
        .expect("list");

    assert_list_bytes_are_gets(&app, &raw).await;
    let page = ListAuditLogsResponse::decode(raw[0].as_slice()).expect("decode");
    assert_eq!(page.audit_logs.len(), 6);
    let unknown = page
        .audit_logs
        .iter()
        .find(|entry| entry.action == "edge.row0")
        .expect("edge.row0 listed");
    let actor_type = unknown.actor.as_ref().map(|actor| actor.r#type);
    assert_eq!(
        (actor_type, unknown.result, unknown.metadata.is_none()),
        (Some(0), 0, true),
        "unknown numbers read as UNSPECIFIED, a non-object as no metadata"
    );
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

// The bad row is the first of a page whose query still sends rows: the
// read stops there, its query is cancelled and its connection drained, and
// the read pool (8 connections) serves the calls after it.
#[tokio::test]
async fn a_row_postgres_never_stores_fails_its_list_and_frees_the_connection() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let ids = app
        .seed(
            ACME,
            (0..150)
                .map(|n| {
                    input("user.login")
                        .client_ip("203.0.113.7")
                        .labelled(&n.to_string())
                })
                .collect(),
        )
        .await;
    let newest = &ids[ids.len() - 1];
    let db = app.store().connection();
    db.execute_unprepared(&format!(
        "UPDATE audit_logs SET client_ip = '\\x0102' WHERE id = '{newest}'"
    ))
    .await
    .expect("corrupt the stored address");

    for _ in 0..12 {
        assert_code(app.list(ACME, Default::default()).await, Code::Internal);
    }
    assert_code(app.get(ACME, newest).await, Code::Internal);

    db.execute_unprepared(&format!(
        "UPDATE audit_logs SET client_ip = NULL WHERE id = '{newest}'"
    ))
    .await
    .expect("mend the row");
    let listed = app.list(ACME, Default::default()).await.expect("list");
    assert_eq!(listed.len(), 150);
}
