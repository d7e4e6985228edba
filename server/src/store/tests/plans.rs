//! SQLite query plans: filtered pages come off an index in order (no sort
//! step), and an admin lookup by id probes the primary key per tenant.

use super::{T0, entry, tenant};
use crate::domain::{ActionMatch, AuditLogFilter, Cursor, IpRange, ListOrder};
use crate::store::get::any_tenant_query;
use crate::store::list::page_query;
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use uuid::Uuid;

async fn plan(store: &crate::store::AuditStore, statement: Statement) -> String {
    let explain = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {}", statement.sql),
        statement.values.map(|values| values.0).unwrap_or_default(),
    );
    let rows = store.db.query_all_raw(explain).await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(3).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn filtered_pages_need_no_sort() {
    let db = super::test_dbs().await.remove(0);
    let store = &db.store;
    store
        .append(
            "t1",
            (0..50).map(|i| entry("t1", "user.login", T0 + i)).collect(),
        )
        .await
        .unwrap();
    let cursor = Cursor {
        occurred_at: T0 + 10,
        id: Uuid::now_v7(),
    };
    let filters = [
        ("time", tenant("t1")),
        (
            "actor_id",
            AuditLogFilter {
                actor_id: Some("u-1".into()),
                ..tenant("t1")
            },
        ),
        (
            "actor_email",
            AuditLogFilter {
                actor_email: Some("a@b".into()),
                ..tenant("t1")
            },
        ),
        (
            "action",
            AuditLogFilter {
                action: Some(ActionMatch::Exact("user.login".into())),
                ..tenant("t1")
            },
        ),
        (
            "action_namespace",
            AuditLogFilter {
                action: Some(ActionMatch::Prefix("user.".into())),
                ..tenant("t1")
            },
        ),
        // Type and id: the id's index, the type a filter.
        (
            "target_id",
            AuditLogFilter {
                target_type: Some("doc".into()),
                target_id: Some("1".into()),
                ..tenant("t1")
            },
        ),
        (
            "target_type",
            AuditLogFilter {
                target_type: Some("doc".into()),
                ..tenant("t1")
            },
        ),
        (
            "client_network",
            AuditLogFilter {
                client_ip: IpRange::parse("10.0.0.0/24"),
                ..tenant("t1")
            },
        ),
        // Below the namespace: the namespace index, the rest a filter.
        (
            "action_namespace",
            AuditLogFilter {
                action: Some(ActionMatch::Prefix("user.log".into())),
                ..tenant("t1")
            },
        ),
        (
            "result",
            AuditLogFilter {
                result: Some(crate::domain::Outcome::Success),
                ..tenant("t1")
            },
        ),
    ];
    for (index, filter) in filters {
        for order in [ListOrder::NewestFirst, ListOrder::OldestFirst] {
            for after in [None, Some(&cursor)] {
                let statement = page_query(&filter, order, after, 10).build(DbBackend::Sqlite);
                let plan = plan(store, statement).await;
                assert!(!plan.contains("TEMP B-TREE"), "{index} {order:?}: {plan}");
                assert!(
                    plan.contains(&format!("audit_logs_{index}_idx")),
                    "{index} {order:?}: {plan}"
                );
            }
        }
    }
}

#[tokio::test]
async fn admin_lookup_probes_the_primary_key() {
    let db = super::test_dbs().await.remove(0);
    let store = &db.store;
    let statement = DbBackend::Sqlite.build(&any_tenant_query(Uuid::now_v7()));
    let plan = plan(store, statement).await;
    assert!(plan.contains("SCAN audit_tenants"), "{plan}");
    assert!(
        plan.contains(
            "SEARCH audit_logs USING INDEX sqlite_autoindex_audit_logs_1 (tenant_id=? AND id=?)"
        ),
        "{plan}"
    );
}
