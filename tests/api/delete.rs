//! DeleteAuditLog: the entry goes, and an `audit_log.deleted` record of who
//! deleted it and why takes its place in the same tenant.

use audit_proto::{ActorType, AuditLogFilter, ListAuditLogsRequest, Result as Outcome};
use audit_tests::{
    ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, assert_code, input, on_both_backends,
};
use prost_types::value::Kind;
use tonic::Code;

on_both_backends!(deleted_entry_is_gone);
async fn deleted_entry_is_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app
        .seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;

    let deleted = app
        .delete(ACME, &ids[0], "gdpr request")
        .await
        .expect("delete");

    assert_eq!(deleted.id, ids[0]);
    assert!(!deleted.deletion_record_id.is_empty() && deleted.deletion_record_id != ids[0]);
    assert_code(app.get(ACME, &ids[0]).await, Code::NotFound);
    let remaining = app
        .list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");
    let remaining: Vec<&str> = remaining.iter().map(|entry| entry.id.as_str()).collect();
    assert!(
        !remaining.contains(&ids[0].as_str()),
        "the deleted entry is not listed"
    );
    assert!(
        remaining.contains(&ids[1].as_str()),
        "the other entry stays"
    );
    assert!(
        remaining.contains(&deleted.deletion_record_id.as_str()),
        "the deletion record is listed"
    );
}

on_both_backends!(deleting_twice_is_not_found);
async fn deleting_twice_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, vec![input("user.login")]).await;
    app.delete(ACME, &ids[0], "duplicate")
        .await
        .expect("first delete");

    assert_code(app.delete(ACME, &ids[0], "duplicate").await, Code::NotFound);
    assert_code(
        app.delete(ACME, &uuid::Uuid::now_v7().to_string(), "unknown")
            .await,
        Code::NotFound,
    );
}

on_both_backends!(deletion_is_recorded_with_the_caller_as_actor_and_the_reason);
async fn deletion_is_recorded_with_the_caller_as_actor_and_the_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, vec![input("document.read")]).await;
    let operator = app.client_as("dpo@acme.test", ACME, ALL_SCOPES);

    let deleted = operator
        .delete(&ids[0], "retention expired")
        .await
        .expect("delete");

    let record = app
        .get(ACME, &deleted.deletion_record_id)
        .await
        .expect("the deletion record");
    assert_deletion_record(&record, ACME, "dpo@acme.test", &ids[0], "retention expired");
    let actor = record.actor.as_ref().expect("actor");
    assert_eq!(
        actor.r#type,
        ActorType::User as i32,
        "a JWT caller is recorded as a user"
    );
}

on_both_backends!(admin_deletion_is_recorded_in_the_deleted_entrys_tenant);
async fn admin_deletion_is_recorded_in_the_deleted_entrys_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(GLOBEX, vec![input("user.login")]).await;

    let deleted = app
        .admin()
        .delete(&ids[0], "legal hold lifted")
        .await
        .expect("admin delete");

    // GLOBEX's own reader sees who removed part of its trail.
    let records = app
        .list(
            GLOBEX,
            ListAuditLogsRequest {
                filter: Some(AuditLogFilter {
                    action: "audit_log.deleted".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(
        records.len(),
        1,
        "one deletion record in the deleted entry's tenant"
    );
    assert_eq!(records[0].id, deleted.deletion_record_id);
    assert_deletion_record(&records[0], GLOBEX, "auditor", &ids[0], "legal hold lifted");
    let admin_tenant = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            tenant_id: audit_tests::ADMIN_TENANT.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let admin_tenant_view = app
        .admin()
        .list_with(admin_tenant)
        .collect()
        .await
        .expect("list");
    assert!(
        admin_tenant_view.is_empty(),
        "nothing is recorded in the admin's tenant"
    );
}

#[track_caller]
fn assert_deletion_record(
    record: &audit_proto::AuditLog,
    tenant: &str,
    subject: &str,
    deleted_id: &str,
    reason: &str,
) {
    assert_eq!(record.action, "audit_log.deleted");
    assert_eq!(record.tenant_id, tenant);
    assert_eq!(
        record.actor.as_ref().map(|actor| actor.id.as_str()),
        Some(subject),
        "the caller is the actor"
    );
    let target = record
        .target
        .as_ref()
        .expect("the deletion record has a target");
    assert_eq!(
        (target.r#type.as_str(), target.id.as_str()),
        ("audit_log", deleted_id)
    );
    assert_eq!(record.result, Outcome::Success as i32);
    let metadata = record
        .metadata
        .as_ref()
        .expect("the deletion record has metadata");
    let recorded_reason = metadata
        .fields
        .get("reason")
        .and_then(|value| value.kind.clone());
    assert_eq!(recorded_reason, Some(Kind::StringValue(reason.to_owned())));
}
