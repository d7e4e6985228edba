//! Store tests against real databases: always a SQLite file in a temporary
//! directory, and also Postgres when `AUDIT_TEST_DATABASE_URL` points at a
//! server (each test then gets a fresh database there).

mod api_keys;
mod append;
mod filters;
mod get_delete;
mod list;
mod plans;
mod stats;

use super::AuditStore;
use crate::domain::{
    Actor, ActorType, AuditLogEntry, AuditLogFilter, Micros, Outcome, RequestInfo, Target,
    TenantScope,
};
use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
use uuid::Uuid;

/// A migrated store and whatever keeps its database alive.
pub(super) struct TestDb {
    pub store: AuditStore,
    _dir: Option<TempDir>,
}

/// Returns a fresh migrated SQLite store, plus a Postgres one when
/// `AUDIT_TEST_DATABASE_URL` is set.
pub(super) async fn test_dbs() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    if let Ok(url) = std::env::var("AUDIT_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        dbs.push(postgres(&url).await);
    }
    dbs
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: connect creates it.
    let url = format!("sqlite://{}/nested/audit.db", dir.path().display());
    let store = AuditStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    TestDb {
        store,
        _dir: Some(dir),
    }
}

async fn postgres(admin_url: &str) -> TestDb {
    let name = format!("audit_test_{}", Uuid::now_v7().simple());
    let admin = Database::connect(admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let store = AuditStore::connect(&with_database(admin_url, &name))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    TestDb { store, _dir: None }
}

/// Replaces the database name of a `postgres://…/name?params` URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, params) = match url.split_once('?') {
        Some((base, params)) => (base, Some(params)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |scheme| scheme + 3);
    let server = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match params {
        Some(params) => format!("{server}/{name}?{params}"),
        None => format!("{server}/{name}"),
    }
}

/// 2026-11-22T00:00:00Z in microseconds.
pub(super) const T0: Micros = 1_795_305_600_000_000;

/// Returns a complete entry of `tenant` with a fresh UUIDv7.
pub(super) fn entry(tenant: &str, action: &str, occurred_at: Micros) -> AuditLogEntry {
    AuditLogEntry {
        id: Uuid::now_v7(),
        tenant_id: tenant.to_owned(),
        occurred_at,
        received_at: occurred_at + 5,
        action: action.to_owned(),
        actor: Actor {
            id: "u-1".into(),
            kind: ActorType::User,
            name: "Ada".into(),
            email: "ada@example.com".into(),
        },
        target: Target {
            kind: "document".into(),
            id: "doc-1".into(),
            name: "Plan".into(),
        },
        result: Outcome::Success,
        client_ip: Some("10.1.2.3".parse().unwrap()),
        user_agent: "curl/8".into(),
        request: RequestInfo {
            method: "POST".into(),
            path: "/v1/docs".into(),
            status_code: 201,
        },
        metadata: serde_json::json!({"k": "v", "n": 1}),
        request_id: "req-1".into(),
        idempotency_key: None,
        fingerprint: None,
        chain: None,
    }
}

/// Returns the entry without its chain link, to compare a stored entry
/// with the one that was appended.
pub(super) fn unchained(mut entry: AuditLogEntry) -> AuditLogEntry {
    entry.chain = None;
    entry
}

/// A filter on one tenant that matches everything in it.
pub(super) fn tenant(tenant_id: &str) -> AuditLogFilter {
    AuditLogFilter::everything(TenantScope::One(tenant_id.to_owned()))
}

#[test]
fn database_name_is_replaced() {
    assert_eq!(
        with_database("postgres://u@h:1/postgres", "x"),
        "postgres://u@h:1/x"
    );
    assert_eq!(
        with_database("postgres://u@h:1/db?sslmode=disable", "x"),
        "postgres://u@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
}
