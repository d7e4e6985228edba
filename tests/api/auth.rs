//! The auth matrix: bearer tokens (JWT or API key), scopes, tenants, admins.

use audit_client::AuditClient;
use audit_proto::{AuditLogFilter, GetAuditStatsRequest, ListAuditLogsRequest};
use audit_server::auth::{JwtSecret, issue_token};
use audit_tests::{
    ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, assert_code, input, on_both_backends,
};
use std::time::Duration;
use tonic::Code;

/// Calls every RPC once and returns each outcome's code, named.
async fn every_rpc(client: &AuditClient, existing_id: &str) -> Vec<(&'static str, Code)> {
    fn code<T>(result: Result<T, audit_client::Error>) -> Code {
        result.map_or_else(|error| error.code(), |_| Code::Ok)
    }
    vec![
        (
            "append",
            code(client.append(vec![input("user.login")]).await),
        ),
        (
            "list",
            code(
                client
                    .list_with(ListAuditLogsRequest::default())
                    .collect()
                    .await,
            ),
        ),
        ("get", code(client.get(existing_id).await)),
        (
            "stats",
            code(
                client
                    .stats_with(GetAuditStatsRequest::default())
                    .send()
                    .await,
            ),
        ),
        ("describe", code(client.describe_filters().await)),
        ("delete", code(client.delete(existing_id, "cleanup").await)),
    ]
}

#[track_caller]
fn assert_all(codes: Vec<(&'static str, Code)>, expected: Code, who: &str) {
    for (rpc, code) in codes {
        assert_eq!(code, expected, "{rpc} as {who}");
    }
}

on_both_backends!(calls_without_a_valid_token_are_unauthenticated);
async fn calls_without_a_valid_token_are_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, vec![input("user.login")]).await;
    let foreign_secret = JwtSecret::new("another-secret-that-is-long-enough-too");
    let forged = issue_token(
        &foreign_secret,
        "mallory",
        ACME,
        ALL_SCOPES,
        Duration::from_secs(3600),
    )
    .expect("token");
    let genuine = app.token("alice", ACME, ALL_SCOPES);
    let (body, signature) = genuine.rsplit_once('.').expect("a JWT has three parts");
    let tampered = format!("{body}.{}", signature.chars().rev().collect::<String>());

    assert_all(
        every_rpc(&app.anonymous(), &ids[0]).await,
        Code::Unauthenticated,
        "no token",
    );
    assert_all(
        every_rpc(&app.with_token("not-a-jwt"), &ids[0]).await,
        Code::Unauthenticated,
        "garbled token",
    );
    assert_all(
        every_rpc(&app.with_token(forged), &ids[0]).await,
        Code::Unauthenticated,
        "other signer",
    );
    assert_all(
        every_rpc(&app.with_token(tampered), &ids[0]).await,
        Code::Unauthenticated,
        "tampered signature",
    );
    assert_eq!(
        app.get(ACME, &ids[0])
            .await
            .expect("nothing was deleted")
            .id,
        ids[0]
    );
}

on_both_backends!(wrong_authorization_scheme_is_unauthenticated);
async fn wrong_authorization_scheme_is_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("alice", ACME, ALL_SCOPES);
    let mut request = tonic::Request::new(audit_proto::DescribeFiltersRequest {});
    request.metadata_mut().insert(
        "authorization",
        format!("Basic {token}").parse().expect("ascii header"),
    );

    let result = app.anonymous().stub().describe_filters(request).await;

    assert_code(result, Code::Unauthenticated);
}

on_both_backends!(expired_token_is_unauthenticated);
async fn expired_token_is_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_with_ttl("alice", ACME, ALL_SCOPES, Duration::from_secs(1));
    let client = app.with_token(token);
    client
        .describe_filters()
        .await
        .expect("a fresh token works");

    // exp is whole seconds after issue; the server tolerates 5 s of clock
    // skew (LEEWAY_SECS in server/src/auth/jwt.rs), so 7.5 s is past both.
    tokio::time::sleep(Duration::from_millis(7500)).await;

    let status = assert_code(client.describe_filters().await, Code::Unauthenticated);
    assert!(
        status.message().contains("expired"),
        "the message says why: {}",
        status.message()
    );
}

on_both_backends!(missing_scope_is_permission_denied);
async fn missing_scope_is_permission_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.seed(ACME, vec![input("user.login")]).await;
    let reader = app.client_for(ACME, "audit:read");
    let appender = app.client_for(ACME, "audit:append");
    let writer = app.client_for(ACME, "audit:write");

    let status = assert_code(
        reader.append(vec![input("user.login")]).await,
        Code::PermissionDenied,
    );
    assert!(
        status.message().contains("audit:append"),
        "names the missing scope: {}",
        status.message()
    );
    assert_code(
        reader.delete(&ids[0], "cleanup").await,
        Code::PermissionDenied,
    );
    assert_code(
        appender
            .list_with(ListAuditLogsRequest::default())
            .collect()
            .await,
        Code::PermissionDenied,
    );
    assert_code(appender.get(&ids[0]).await, Code::PermissionDenied);
    assert_code(
        appender
            .stats_with(GetAuditStatsRequest::default())
            .send()
            .await,
        Code::PermissionDenied,
    );
    assert_code(appender.describe_filters().await, Code::PermissionDenied);
    assert_code(
        appender.delete(&ids[0], "cleanup").await,
        Code::PermissionDenied,
    );
    assert_code(writer.get(&ids[0]).await, Code::PermissionDenied);

    // Each scope does grant its own calls.
    reader.get(&ids[0]).await.expect("read may get");
    appender
        .append(vec![input("user.logout")])
        .await
        .expect("append may append");
    writer
        .delete(&ids[0], "cleanup")
        .await
        .expect("write may delete");
}

on_both_backends!(another_tenants_entry_by_id_is_not_found);
async fn another_tenants_entry_by_id_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let globex_ids = app.seed(GLOBEX, vec![input("user.login")]).await;

    assert_code(app.get(ACME, &globex_ids[0]).await, Code::NotFound);
    assert_code(
        app.delete(ACME, &globex_ids[0], "not mine").await,
        Code::NotFound,
    );

    assert_eq!(
        app.get(GLOBEX, &globex_ids[0])
            .await
            .expect("still there")
            .id,
        globex_ids[0]
    );
}

on_both_backends!(naming_another_tenant_in_a_filter_is_permission_denied);
async fn naming_another_tenant_in_a_filter_is_permission_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(GLOBEX, vec![input("user.login")]).await;
    let globex = AuditLogFilter {
        tenant_id: GLOBEX.into(),
        ..Default::default()
    };

    let list = ListAuditLogsRequest {
        filter: Some(globex.clone()),
        ..Default::default()
    };
    assert_code(app.list(ACME, list).await, Code::PermissionDenied);
    let stats = GetAuditStatsRequest {
        filter: Some(globex),
        ..Default::default()
    };
    assert_code(app.stats(ACME, stats).await, Code::PermissionDenied);
}

on_both_backends!(api_key_authenticates_as_its_tenant_with_its_scopes);
async fn api_key_authenticates_as_its_tenant_with_its_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.api_key(ACME, "audit:append audit:read").await;
    let exporter = app.with_token(key.key.clone());

    let ids = exporter
        .append(vec![input("user.login")])
        .await
        .expect("the key may append");

    let entry = exporter.get(&ids[0]).await.expect("the key may read");
    assert_eq!(entry.tenant_id, ACME, "the key's tenant is applied");
    assert_code(
        exporter.delete(&ids[0], "cleanup").await,
        Code::PermissionDenied,
    );
    assert_code(app.get(GLOBEX, &ids[0]).await, Code::NotFound);
}

on_both_backends!(revoked_api_key_is_refused_at_once);
async fn revoked_api_key_is_refused_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.api_key(ACME, "audit:read").await;
    let exporter = app.with_token(key.key.clone());
    exporter
        .describe_filters()
        .await
        .expect("the key works before revocation");

    app.revoke_api_key(&key.id).await;

    assert_code(exporter.describe_filters().await, Code::Unauthenticated);
    let unknown = format!("{}x", key.key);
    assert_code(
        app.with_token(unknown).describe_filters().await,
        Code::Unauthenticated,
    );
}

on_both_backends!(admin_lists_every_tenant_or_the_one_named);
async fn admin_lists_every_tenant_or_the_one_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, vec![input("user.login"), input("user.logout")])
        .await;
    app.seed(GLOBEX, vec![input("invoice.paid")]).await;
    let admin = app.admin();
    let tenants_of = |entries: Vec<audit_proto::AuditLog>| {
        let mut tenants: Vec<String> = entries.into_iter().map(|entry| entry.tenant_id).collect();
        tenants.sort();
        tenants
    };

    let everything = admin
        .list_with(ListAuditLogsRequest::default())
        .collect()
        .await
        .expect("admin list");
    assert_eq!(tenants_of(everything), [ACME, ACME, GLOBEX]);

    let only_globex = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            tenant_id: GLOBEX.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        tenants_of(
            admin
                .list_with(only_globex)
                .collect()
                .await
                .expect("admin list")
        ),
        [GLOBEX]
    );

    let stats = admin
        .stats_with(GetAuditStatsRequest::default())
        .send()
        .await
        .expect("admin stats");
    assert_eq!(stats.total, 3, "admin stats span every tenant");
}

on_both_backends!(admin_gets_and_deletes_any_tenants_entry);
async fn admin_gets_and_deletes_any_tenants_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme_ids = app.seed(ACME, vec![input("user.login")]).await;
    let globex_ids = app.seed(GLOBEX, vec![input("user.login")]).await;
    let admin = app.admin();

    assert_eq!(
        admin.get(&acme_ids[0]).await.expect("admin get").tenant_id,
        ACME
    );
    assert_eq!(
        admin
            .get(&globex_ids[0])
            .await
            .expect("admin get")
            .tenant_id,
        GLOBEX
    );
    admin
        .delete(&globex_ids[0], "admin cleanup")
        .await
        .expect("admin delete");

    assert_code(app.get(GLOBEX, &globex_ids[0]).await, Code::NotFound);
}
