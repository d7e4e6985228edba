//! Idempotency keys: a retry is safe, a conflicting reuse is refused.

use audit_proto::{ActorType, ListAuditLogsRequest};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, assert_code, assert_invalid_field, input,
    on_both_backends,
};
use tonic::Code;

fn login(key: &str) -> audit_proto::AuditLogInput {
    input("user.login")
        .by("u1", ActorType::User)
        .idempotency_key(key)
}

async fn stored_count(app: &TestApp, tenant: &str) -> usize {
    app.list(tenant, ListAuditLogsRequest::default())
        .await
        .expect("list")
        .len()
}

on_both_backends!(retry_with_same_key_and_content_returns_the_original_id);
async fn retry_with_same_key_and_content_returns_the_original_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.seed(ACME, vec![login("login-1")]).await;

    // The retry again omits occurred_at: the defaulted time must not make it
    // look like other content.
    let retry = app.seed(ACME, vec![login("login-1")]).await;

    assert_eq!(retry, first);
    assert_eq!(
        stored_count(&app, ACME).await,
        1,
        "the retry stored nothing"
    );
}

on_both_backends!(retry_mixed_with_new_entries_stores_only_the_new_ones);
async fn retry_mixed_with_new_entries_stores_only_the_new_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.seed(ACME, vec![login("login-1")]).await;

    let ids = app
        .seed(
            ACME,
            vec![input("user.logout"), login("login-1"), login("login-2")],
        )
        .await;

    assert_eq!(ids.len(), 3);
    assert_eq!(
        ids[1], first[0],
        "the retried entry keeps its id, in its input position"
    );
    assert!(!first.contains(&ids[0]) && !first.contains(&ids[2]));
    assert_eq!(stored_count(&app, ACME).await, 3);
}

on_both_backends!(same_key_with_other_content_is_already_exists_naming_the_key);
async fn same_key_with_other_content_is_already_exists_naming_the_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, vec![login("login-1")]).await;

    let other_content = login("login-1").by("u2", ActorType::User);
    let status = assert_code(
        app.append(ACME, vec![other_content]).await,
        Code::AlreadyExists,
    );

    assert!(
        status.message().contains("login-1"),
        "the message names the key: {}",
        status.message()
    );
    assert_eq!(stored_count(&app, ACME).await, 1);
}

on_both_backends!(conflicting_key_in_a_batch_stores_none_of_the_batch);
async fn conflicting_key_in_a_batch_stores_none_of_the_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, vec![login("login-1")]).await;

    let batch = vec![
        input("user.logout"),
        login("login-1").by("u2", ActorType::User),
    ];
    assert_code(app.append(ACME, batch).await, Code::AlreadyExists);

    assert_eq!(stored_count(&app, ACME).await, 1, "the batch is atomic");
}

on_both_backends!(same_key_twice_in_one_batch_is_invalid_argument);
async fn same_key_twice_in_one_batch_is_invalid_argument(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let batch = vec![login("login-1"), login("login-1")];
    assert_invalid_field(app.append(ACME, batch).await, "entries[1].idempotency_key");

    assert_eq!(stored_count(&app, ACME).await, 0);
}

on_both_backends!(idempotency_keys_of_tenants_are_independent);
async fn idempotency_keys_of_tenants_are_independent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.seed(ACME, vec![login("login-1")]).await;

    let globex = app.seed(GLOBEX, vec![login("login-1")]).await;

    assert_ne!(
        globex, acme,
        "another tenant's key never returns this tenant's id"
    );
    assert_eq!(
        app.get(GLOBEX, &globex[0])
            .await
            .expect("own entry")
            .tenant_id,
        GLOBEX
    );
    assert_eq!(stored_count(&app, GLOBEX).await, 1);
}
