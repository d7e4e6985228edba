//! Get by id in one tenant or any; delete with its deletion record.

use super::{T0, entry, tenant, test_dbs, unchained};
use crate::domain::{AuditLogEntry, TenantScope};
use crate::store::StoreError;
use uuid::Uuid;

fn one(tenant_id: &str) -> TenantScope {
    TenantScope::One(tenant_id.to_owned())
}

#[tokio::test]
async fn get_sees_only_the_scope() {
    for db in test_dbs().await {
        let store = &db.store;
        let a = entry("t1", "x", T0);
        let b = entry("t2", "x", T0);
        store.append("t1", vec![a.clone()]).await.unwrap();
        store.append("t2", vec![b.clone()]).await.unwrap();

        let get = |scope: TenantScope, id| async move {
            store.get(&scope, id).await.unwrap().map(unchained)
        };
        assert_eq!(get(one("t1"), a.id).await, Some(a.clone()));
        assert_eq!(store.get(&one("t2"), a.id).await.unwrap(), None);
        assert_eq!(get(TenantScope::All, a.id).await, Some(a));
        assert_eq!(get(TenantScope::All, b.id).await, Some(b));
        assert_eq!(
            store.get(&TenantScope::All, Uuid::now_v7()).await.unwrap(),
            None
        );
    }
}

fn deletion_record(deleted: &AuditLogEntry) -> AuditLogEntry {
    let mut record = entry(&deleted.tenant_id, "audit_log.deleted", T0 + 10);
    record.target.kind = "audit_log".into();
    record.target.id = deleted.id.to_string();
    record.metadata = serde_json::json!({"reason": "gdpr"});
    record
}

#[tokio::test]
async fn delete_removes_the_entry_and_records_it_in_one_go() {
    for db in test_dbs().await {
        let store = &db.store;
        let victim = entry("t1", "user.login", T0);
        let bystander = entry("t1", "user.login", T0);
        store
            .append("t1", vec![victim.clone(), bystander.clone()])
            .await
            .unwrap();

        // Another tenant cannot delete it.
        let error = store
            .delete(&one("t2"), victim.id, deletion_record)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound(ref id) if *id == victim.id.to_string()));

        let (deleted, record) = store
            .delete(&one("t1"), victim.id, deletion_record)
            .await
            .unwrap();
        assert_eq!(unchained(deleted), victim);
        assert_eq!(record.action, "audit_log.deleted");
        assert_eq!(record.target.id, victim.id.to_string());
        assert_eq!(store.get(&one("t1"), victim.id).await.unwrap(), None);
        assert_eq!(
            store.get(&one("t1"), record.id).await.unwrap(),
            Some(record.clone())
        );
        assert_eq!(
            store
                .get(&one("t1"), bystander.id)
                .await
                .unwrap()
                .map(unchained),
            Some(bystander)
        );
        assert_eq!(store.count(&tenant("t1")).await.unwrap(), 2);

        let again = store
            .delete(&one("t1"), victim.id, deletion_record)
            .await
            .unwrap_err();
        assert!(matches!(again, StoreError::NotFound(_)));
    }
}

#[tokio::test]
async fn an_admin_deletes_in_any_tenant_and_the_record_stays_there() {
    for db in test_dbs().await {
        let store = &db.store;
        let victim = entry("t9", "x", T0);
        store.append("t9", vec![victim.clone()]).await.unwrap();
        // A builder that names the wrong tenant is overruled.
        let (_, record) = store
            .delete(&TenantScope::All, victim.id, |deleted| {
                let mut record = deletion_record(deleted);
                record.tenant_id = "admin".into();
                record
            })
            .await
            .unwrap();
        assert_eq!(record.tenant_id, "t9");
        assert_eq!(
            store.get(&one("t9"), record.id).await.unwrap(),
            Some(record)
        );
        assert_eq!(store.count(&tenant("t9")).await.unwrap(), 1);
        assert_eq!(store.count(&tenant("admin")).await.unwrap(), 0);
    }
}
