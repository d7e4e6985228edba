//! Legal hold: an admin holds a tenant, its entries cannot be deleted until
//! the hold is cleared, and every change of the hold is a chained entry in
//! that tenant.

use audit_proto::verify_audit_chain_response::Message;
use audit_proto::{
    AuditLogFilter, ChainStatus, ChainVerdict, ClearLegalHoldRequest, GetLegalHoldRequest,
    LegalHold, ListAuditLogsRequest, SetLegalHoldRequest, VerifyAuditChainRequest,
};
use audit_tests::{
    ACME, ALL_SCOPES, Backend, TestApp, assert_code, assert_invalid_field, input, on_both_backends,
};
use futures_util::TryStreamExt;
use prost_types::value::Kind;
use tonic::Code;

async fn set_hold(app: &TestApp, tenant: &str, reason: &str) -> Result<LegalHold, tonic::Status> {
    let request = SetLegalHoldRequest {
        tenant_id: tenant.to_owned(),
        reason: reason.to_owned(),
    };
    Ok(app
        .admin()
        .stub()
        .set_legal_hold(request)
        .await?
        .into_inner())
}

async fn clear_hold(app: &TestApp, tenant: &str, reason: &str) -> Result<LegalHold, tonic::Status> {
    let request = ClearLegalHoldRequest {
        tenant_id: tenant.to_owned(),
        reason: reason.to_owned(),
    };
    Ok(app
        .admin()
        .stub()
        .clear_legal_hold(request)
        .await?
        .into_inner())
}

async fn get_hold(app: &TestApp, tenant: &str) -> LegalHold {
    let request = GetLegalHoldRequest {
        tenant_id: tenant.to_owned(),
    };
    app.admin()
        .stub()
        .get_legal_hold(request)
        .await
        .expect("get legal hold")
        .into_inner()
}

async fn verdict(app: &TestApp, tenant: &str) -> ChainVerdict {
    let messages: Vec<_> = app
        .client_for(tenant, ALL_SCOPES)
        .stub()
        .verify_audit_chain(VerifyAuditChainRequest::default())
        .await
        .expect("verify")
        .into_inner()
        .try_collect()
        .await
        .expect("verify stream");
    match messages.last().and_then(|last| last.message.clone()) {
        Some(Message::Verdict(verdict)) => verdict,
        other => panic!("the stream must end with a verdict, got {other:?}"),
    }
}

fn reason_of(entry: &audit_proto::AuditLog) -> Option<String> {
    let metadata = entry.metadata.as_ref()?;
    match metadata.fields.get("reason")?.kind.as_ref()? {
        Kind::StringValue(reason) => Some(reason.clone()),
        _ => None,
    }
}

on_both_backends!(a_hold_is_reported_with_its_reason_time_and_setter);
async fn a_hold_is_reported_with_its_reason_time_and_setter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = get_hold(&app, ACME).await;
    assert!(!before.active, "{before:?}");

    // ACME has no entries yet: the hold must still be recordable.
    let set = set_hold(&app, ACME, "case 42").await.expect("set");
    let got = get_hold(&app, ACME).await;

    assert_eq!(set, got);
    assert_eq!(
        (got.tenant_id.as_str(), got.active, got.reason.as_str()),
        (ACME, true, "case 42")
    );
    assert_eq!(got.set_by, "auditor");
    assert!(got.since.is_some_and(|since| since.seconds > 0), "{got:?}");
}

on_both_backends!(delete_is_refused_while_the_tenant_is_on_hold);
async fn delete_is_refused_while_the_tenant_is_on_hold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, vec![input("document.read")]).await;
    set_hold(&app, ACME, "litigation").await.expect("set");

    let refused = assert_code(
        app.delete(ACME, &ids[0], "cleanup").await,
        Code::FailedPrecondition,
    );
    assert!(
        refused.message().contains("acme is on legal hold"),
        "{refused:?}"
    );
    app.get(ACME, &ids[0])
        .await
        .expect("the entry is still there");

    let cleared = clear_hold(&app, ACME, "settled").await.expect("clear");
    assert!(!cleared.active, "{cleared:?}");
    assert!(!get_hold(&app, ACME).await.active);
    app.delete(ACME, &ids[0], "cleanup")
        .await
        .expect("delete after the hold is cleared");
}

on_both_backends!(hold_changes_are_chained_entries_and_the_chain_verifies);
async fn hold_changes_are_chained_entries_and_the_chain_verifies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, vec![input("user.login")]).await;
    set_hold(&app, ACME, "case 7").await.expect("set");
    clear_hold(&app, ACME, "case 7 closed")
        .await
        .expect("clear");

    let filter = AuditLogFilter {
        action: "legal_hold.*".into(),
        ..Default::default()
    };
    let request = ListAuditLogsRequest {
        filter: Some(filter),
        order: audit_proto::SortOrder::OldestFirst as i32,
        ..Default::default()
    };
    let entries = app.list(ACME, request).await.expect("list");
    let recorded: Vec<_> = entries
        .iter()
        .map(|entry| (entry.action.as_str(), entry.sequence, reason_of(entry)))
        .collect();
    assert_eq!(
        recorded,
        vec![
            ("legal_hold.set", 2, Some("case 7".to_owned())),
            ("legal_hold.cleared", 3, Some("case 7 closed".to_owned())),
        ]
    );
    for entry in &entries {
        let actor = entry.actor.as_ref().expect("actor");
        let target = entry.target.as_ref().expect("target");
        assert_eq!(actor.id, "auditor");
        assert_eq!(
            (target.r#type.as_str(), target.id.as_str()),
            ("tenant", ACME)
        );
    }
    let verdict = verdict(&app, ACME).await;
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
    assert_eq!(verdict.head_sequence, 3, "{verdict:?}");
}

on_both_backends!(only_admins_touch_legal_holds);
async fn only_admins_touch_legal_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.client_for(ACME, ALL_SCOPES).stub();
    let set = SetLegalHoldRequest {
        tenant_id: ACME.into(),
        reason: "mine".into(),
    };
    let clear = ClearLegalHoldRequest {
        tenant_id: ACME.into(),
        reason: "mine".into(),
    };
    let get = GetLegalHoldRequest {
        tenant_id: ACME.into(),
    };
    assert_code(
        user.clone().set_legal_hold(set).await,
        Code::PermissionDenied,
    );
    assert_code(
        user.clone().clear_legal_hold(clear).await,
        Code::PermissionDenied,
    );
    assert_code(
        user.clone().get_legal_hold(get).await,
        Code::PermissionDenied,
    );

    assert_invalid_field(set_hold(&app, "", "no tenant").await, "tenant_id");
    assert_invalid_field(set_hold(&app, ACME, "").await, "reason");
    assert_code(
        clear_hold(&app, ACME, "never held").await,
        Code::FailedPrecondition,
    );
}

on_both_backends!(a_deletion_record_cannot_be_deleted);
async fn a_deletion_record_cannot_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, vec![input("user.login")]).await;
    let deleted = app.delete(ACME, &ids[0], "gdpr").await.expect("delete");

    assert_code(
        app.delete(ACME, &deleted.deletion_record_id, "hide it")
            .await,
        Code::FailedPrecondition,
    );
    app.get(ACME, &deleted.deletion_record_id)
        .await
        .expect("the deletion record stays");
    let verdict = verdict(&app, ACME).await;
    assert_eq!(verdict.status(), ChainStatus::Intact, "{verdict:?}");
}
