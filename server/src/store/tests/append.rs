//! Appending: round trip, idempotent retries, conflicts, atomicity, races.

use super::{T0, entry, tenant, test_dbs, unchained};
use crate::domain::{ActorType, Outcome, TenantScope};
use crate::store::{AuditStore, StoreError};

#[tokio::test]
async fn append_stores_every_field_and_returns_ids_in_order() {
    for db in test_dbs().await {
        let store = &db.store;
        let mut first = entry("t1", "user.login", T0);
        first.client_ip = Some("2001:db8::7".parse().unwrap());
        first.idempotency_key = Some("k-1".into());
        first.fingerprint = Some(vec![1, 2, 3]);
        let mut second = entry("t1", "logout", T0 + 1);
        second.client_ip = None;
        second.metadata = serde_json::Value::Null;
        second.target = Default::default();
        second.actor.kind = ActorType::Service;
        second.result = Outcome::Denied;
        let third = entry("t1", "user.login", T0 + 2);
        let input = vec![first, second, third];

        let ids = store.append("t1", input.clone()).await.unwrap();
        assert_eq!(ids, input.iter().map(|e| e.id).collect::<Vec<_>>());
        for (position, expected) in input.iter().enumerate() {
            let stored = store
                .get(&TenantScope::One("t1".into()), expected.id)
                .await
                .unwrap()
                .unwrap();
            let link = stored.chain.clone().expect("a stored entry is chained");
            assert_eq!(
                link.sequence,
                position as i64 + 1,
                "input order is chain order"
            );
            assert_eq!(&unchained(stored), expected, "{}", store.backend_name());
        }
        assert_eq!(store.count(&tenant("t1")).await.unwrap(), 3);
        assert!(store.append("t1", Vec::new()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn retry_with_same_key_and_fingerprint_reuses_the_stored_id() {
    for db in test_dbs().await {
        let store = &db.store;
        let mut original = entry("t1", "user.login", T0);
        original.idempotency_key = Some("k".into());
        original.fingerprint = Some(vec![9; 32]);
        let stored_id = store.append("t1", vec![original.clone()]).await.unwrap()[0];

        let mut retry = entry("t1", "user.login", T0 + 100);
        retry.idempotency_key = Some("k".into());
        retry.fingerprint = Some(vec![9; 32]);
        let fresh = entry("t1", "other", T0);
        let ids = store
            .append("t1", vec![fresh.clone(), retry])
            .await
            .unwrap();
        assert_eq!(ids, vec![fresh.id, stored_id]);
        assert_eq!(store.count(&tenant("t1")).await.unwrap(), 2);

        // The same key in another tenant is another key.
        let mut elsewhere = entry("t2", "user.login", T0);
        elsewhere.idempotency_key = Some("k".into());
        elsewhere.fingerprint = Some(vec![0]);
        assert_eq!(
            store.append("t2", vec![elsewhere.clone()]).await.unwrap(),
            vec![elsewhere.id]
        );
    }
}

#[tokio::test]
async fn a_key_repeated_within_one_batch_is_stored_once() {
    for db in test_dbs().await {
        let store = &db.store;
        let mut a = entry("t1", "x", T0);
        a.idempotency_key = Some("dup".into());
        a.fingerprint = Some(vec![1]);
        let mut b = entry("t1", "x", T0);
        b.idempotency_key = Some("dup".into());
        b.fingerprint = Some(vec![1]);
        let ids = store.append("t1", vec![a.clone(), b]).await.unwrap();
        assert_eq!(ids, vec![a.id, a.id]);
        assert_eq!(store.count(&tenant("t1")).await.unwrap(), 1);

        let mut c = entry("t1", "x", T0);
        c.idempotency_key = Some("dup2".into());
        c.fingerprint = Some(vec![1]);
        let mut d = c.clone();
        d.id = uuid::Uuid::now_v7();
        d.fingerprint = Some(vec![2]);
        let error = store.append("t1", vec![c, d]).await.unwrap_err();
        assert!(matches!(error, StoreError::IdempotencyConflict { ref key } if key == "dup2"));
    }
}

#[tokio::test]
async fn a_key_with_other_content_conflicts_and_stores_nothing() {
    for db in test_dbs().await {
        let store = &db.store;
        let mut original = entry("t1", "user.login", T0);
        original.idempotency_key = Some("k".into());
        original.fingerprint = Some(vec![1]);
        store.append("t1", vec![original]).await.unwrap();

        let innocent = entry("t1", "innocent", T0);
        let mut changed = entry("t1", "user.login", T0);
        changed.idempotency_key = Some("k".into());
        changed.fingerprint = Some(vec![2]);
        let error = store
            .append("t1", vec![innocent.clone(), changed])
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::IdempotencyConflict { ref key } if key == "k"),
            "{error:?}"
        );
        // All or nothing: the innocent entry of the failed batch is absent.
        assert_eq!(
            store.get(&TenantScope::All, innocent.id).await.unwrap(),
            None
        );
        assert_eq!(store.count(&tenant("t1")).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_of_one_key_resolve_to_one_id() {
    for db in test_dbs().await {
        let store: &AuditStore = &db.store;
        // The tenant exists already, so the appends do not queue on its
        // first row in audit_tenants and really race on the key.
        store
            .append("race", vec![entry("race", "warm.up", T0)])
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut attempt = entry("race", "user.login", T0);
                attempt.idempotency_key = Some("same".into());
                attempt.fingerprint = Some(vec![7]);
                store.append("race", vec![attempt]).await
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap()[0]);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{} {ids:?}", store.backend_name());
        assert_eq!(store.count(&tenant("race")).await.unwrap(), 2);
    }
}

#[tokio::test]
async fn a_large_batch_is_one_transaction() {
    for db in test_dbs().await {
        let store = &db.store;
        let batch: Vec<_> = (0..1000)
            .map(|i| entry("big", "bulk.insert", T0 + i))
            .collect();
        let ids = store.append("big", batch.clone()).await.unwrap();
        assert_eq!(ids.len(), 1000);
        assert_eq!(ids[999], batch[999].id);
        assert_eq!(store.count(&tenant("big")).await.unwrap(), 1000);
    }
}

#[tokio::test]
async fn a_mismatched_tenant_is_refused() {
    for db in test_dbs().await {
        let error = db
            .store
            .append("t1", vec![entry("t2", "x", T0)])
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Internal(_)));
    }
}

#[tokio::test]
async fn migrate_twice_and_ping() {
    for db in test_dbs().await {
        db.store.migrate().await.unwrap();
        db.store.ping().await.unwrap();
        assert!(["sqlite", "postgres"].contains(&db.store.backend_name()));
    }
}
