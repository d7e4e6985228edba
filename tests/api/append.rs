//! AppendAuditLogs: ids in input order, stored content, defaults, atomicity.

use audit_proto::{ActorType, ListAuditLogsRequest, Result as Outcome};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, TestApp, assert_invalid_field, input, labels, micros,
    on_both_backends, utc,
};
use serde_json::json;

on_both_backends!(append_returns_one_id_per_entry_in_input_order);
async fn append_returns_one_id_per_entry_in_input_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let actions = ["user.login", "document.read", "user.logout"];

    let ids = app
        .seed(ACME, actions.iter().map(|action| input(action)).collect())
        .await;

    assert_eq!(ids.len(), actions.len());
    for (id, action) in ids.iter().zip(actions) {
        let uuid = uuid::Uuid::parse_str(id).expect("ids are UUIDs");
        assert_eq!(uuid.get_version_num(), 7, "ids are UUIDv7: {id}");
        assert_eq!(
            app.get(ACME, id).await.expect("stored entry").action,
            action
        );
    }
}

on_both_backends!(stored_entry_returns_every_field_as_sent);
async fn stored_entry_returns_every_field_as_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut sent = input("document.shared")
        .by("u1", ActorType::User)
        .named("Alice")
        .email("alice@acme.test")
        .on("document", "d1")
        .outcome(Outcome::Denied)
        .client_ip("2001:db8::7")
        .at(utc("2024-03-05T10:20:30.123456Z"))
        .request("POST", "/documents/d1/share", 403)
        .metadata(json!({"shared_with": "bob", "attempt": 2, "tags": ["a", "b"]}))
        .idempotency_key("share-d1-1")
        .labelled("req-42");
    sent.user_agent = "curl/8.5".into();
    sent.target.as_mut().expect("target set").name = "Q3 plan".into();

    let ids = app.seed(ACME, vec![sent.clone()]).await;
    let stored = app.get(ACME, &ids[0]).await.expect("stored entry");

    assert_eq!(stored.id, ids[0]);
    assert_eq!(stored.tenant_id, ACME);
    assert_eq!(stored.occurred_at, sent.occurred_at);
    assert!(stored.received_at.is_some(), "received_at is set");
    assert_eq!(stored.action, sent.action);
    assert_eq!(stored.actor, sent.actor);
    assert_eq!(stored.target, sent.target);
    assert_eq!(stored.result, Outcome::Denied as i32);
    assert_eq!(stored.client_ip, "2001:db8::7");
    assert_eq!(stored.user_agent, "curl/8.5");
    assert_eq!(stored.request, sent.request);
    assert_eq!(stored.metadata, sent.metadata);
    assert_eq!(stored.request_id, "req-42");
    assert_eq!(stored.idempotency_key, "share-d1-1");
}

on_both_backends!(entry_without_target_has_no_target);
async fn entry_without_target_has_no_target(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let ids = app
        .seed(ACME, vec![input("user.login").by("u1", ActorType::User)])
        .await;

    let stored = app.get(ACME, &ids[0]).await.expect("stored entry");
    assert_eq!(stored.target, None);
    assert_eq!(stored.client_ip, "");
}

on_both_backends!(occurred_at_defaults_to_the_time_of_receipt);
async fn occurred_at_defaults_to_the_time_of_receipt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = chrono::Utc::now().timestamp_micros();

    let ids = app.seed(ACME, vec![input("user.login")]).await;

    let after = chrono::Utc::now().timestamp_micros();
    let stored = app.get(ACME, &ids[0]).await.expect("stored entry");
    let occurred = micros(stored.occurred_at.as_ref().expect("occurred_at is set"));
    let received = micros(stored.received_at.as_ref().expect("received_at is set"));
    assert!(
        (before..=after).contains(&occurred),
        "{before} <= {occurred} <= {after}"
    );
    assert_eq!(
        occurred, received,
        "a defaulted occurred_at is the receipt time"
    );
}

on_both_backends!(batch_with_one_bad_entry_stores_nothing);
async fn batch_with_one_bad_entry_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let batch = vec![
        input("user.login").labelled("good-1"),
        input("").labelled("bad"),
        input("user.logout").labelled("good-2"),
    ];

    assert_invalid_field(app.append(ACME, batch).await, "entries[1].action");

    let stored = app
        .list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");
    assert_eq!(
        labels(&stored),
        Vec::<String>::new(),
        "nothing of the batch was stored"
    );
}
