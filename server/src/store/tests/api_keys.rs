//! API key records: insert, find, list newest first, revoke once.

use super::{T0, test_dbs};
use crate::store::ApiKeyRecord;

fn key(id: &str, created_at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        tenant_id: "t1".into(),
        name: format!("key {id}"),
        scopes: "audit:append audit:read".into(),
        secret_hash: vec![0xab; 32],
        created_at,
        revoked_at: None,
    }
}

#[tokio::test]
async fn api_key_lifecycle() {
    for db in test_dbs().await {
        let store = &db.store;
        let older = key("ak_1", T0);
        let newer = key("ak_2", T0 + 1);
        store.insert_api_key(&older).await.unwrap();
        store.insert_api_key(&newer).await.unwrap();
        assert!(store.insert_api_key(&older).await.is_err(), "duplicate id");

        assert_eq!(
            store.find_api_key("ak_1").await.unwrap(),
            Some(older.clone())
        );
        assert_eq!(store.find_api_key("nope").await.unwrap(), None);
        assert_eq!(
            store.list_api_keys().await.unwrap(),
            vec![newer.clone(), older.clone()]
        );

        assert!(store.revoke_api_key("ak_1", T0 + 50).await.unwrap());
        // A second revocation keeps the first time.
        assert!(store.revoke_api_key("ak_1", T0 + 99).await.unwrap());
        assert!(!store.revoke_api_key("nope", T0).await.unwrap());
        let revoked = store.find_api_key("ak_1").await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(T0 + 50));
        assert_eq!(
            store
                .find_api_key("ak_2")
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            None
        );
    }
}
