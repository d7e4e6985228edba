//! Each filter condition, alone and combined, against the same data set.

use super::{T0, entry, tenant, test_dbs};
use crate::domain::{
    ActionMatch, ActorType, AuditLogEntry, AuditLogFilter, IpRange, ListOrder, Outcome, TenantScope,
};
use crate::store::AuditStore;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Stores a varied set in tenant t1 (and one entry in t2) and returns t1's.
async fn seed(store: &AuditStore) -> Vec<AuditLogEntry> {
    let mut entries = Vec::new();
    let actions = [
        "user.login",
        "user.logout",
        "User.login",
        "user",
        "users.create",
        "usb.plug",
        "document.read",
        "user.mfa.enabled",
        ".hidden",
    ];
    let ips = [
        "10.1.2.3",
        "10.1.255.1",
        "10.2.0.1",
        "2001:db8::1",
        "2001:db9::1",
    ];
    for (i, action) in actions.iter().enumerate() {
        for j in 0..3 {
            let n = i * 3 + j;
            let mut e = entry("t1", action, T0 + n as i64 * 60_000_000);
            e.actor.id = format!("u-{}", n % 4);
            e.actor.email = format!("u{}@example.com", n % 3);
            e.actor.kind = if n % 2 == 0 {
                ActorType::User
            } else {
                ActorType::ApiKey
            };
            e.target.kind = if n % 5 == 0 {
                String::new()
            } else {
                "document".into()
            };
            e.target.id = format!("doc-{}", n % 2);
            e.result = if n % 3 == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            e.client_ip = if n % 6 == 5 {
                None
            } else {
                Some(ips[n % 5].parse().unwrap())
            };
            entries.push(e);
        }
    }
    store.append("t1", entries.clone()).await.unwrap();
    store
        .append("t2", vec![entry("t2", "user.login", T0)])
        .await
        .unwrap();
    entries
}

/// Checks that list and count agree with `keep` applied in Rust.
async fn check(
    store: &AuditStore,
    entries: &[AuditLogEntry],
    filter: AuditLogFilter,
    keep: impl Fn(&AuditLogEntry) -> bool,
) {
    let expected: BTreeSet<Uuid> = entries.iter().filter(|e| keep(e)).map(|e| e.id).collect();
    let listed = store
        .list_page(&filter, ListOrder::NewestFirst, None, 1000)
        .await
        .unwrap();
    let listed: BTreeSet<Uuid> = listed.iter().map(|e| e.id).collect();
    assert_eq!(listed, expected, "{} {filter:?}", store.backend_name());
    assert_eq!(
        store.count(&filter).await.unwrap(),
        expected.len() as i64,
        "{filter:?}"
    );
}

#[tokio::test]
async fn each_condition_selects_what_it_says() {
    for db in test_dbs().await {
        let store = &db.store;
        let entries = seed(store).await;
        let base = || tenant("t1");

        check(store, &entries, base(), |_| true).await;
        check(
            store,
            &entries,
            AuditLogFilter {
                actor_id: Some("u-1".into()),
                ..base()
            },
            |e| e.actor.id == "u-1",
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                actor_email: Some("u2@example.com".into()),
                ..base()
            },
            |e| e.actor.email == "u2@example.com",
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                actor_type: Some(ActorType::ApiKey),
                ..base()
            },
            |e| e.actor.kind == ActorType::ApiKey,
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                target_type: Some("document".into()),
                ..base()
            },
            |e| e.target.kind == "document",
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                target_type: Some(String::new()),
                ..base()
            },
            |e| e.target.kind.is_empty(),
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                target_id: Some("doc-1".into()),
                ..base()
            },
            |e| e.target.id == "doc-1",
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                result: Some(Outcome::Failure),
                ..base()
            },
            |e| e.result == Outcome::Failure,
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                start_time: Some(T0 + 600_000_000),
                ..base()
            },
            |e| e.occurred_at >= T0 + 600_000_000,
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                end_time: Some(T0 + 600_000_000),
                ..base()
            },
            |e| e.occurred_at < T0 + 600_000_000,
        )
        .await;
        check(
            store,
            &entries,
            AuditLogFilter {
                actor_id: Some("u-2".into()),
                result: Some(Outcome::Success),
                start_time: Some(T0 + 1),
                ..base()
            },
            |e| e.actor.id == "u-2" && e.result == Outcome::Success && e.occurred_at > T0,
        )
        .await;
    }
}

#[tokio::test]
async fn actions_match_exactly_or_by_case_sensitive_prefix() {
    for db in test_dbs().await {
        let store = &db.store;
        let entries = seed(store).await;
        let action = |m: ActionMatch| AuditLogFilter {
            action: Some(m),
            ..tenant("t1")
        };

        check(
            store,
            &entries,
            action(ActionMatch::Exact("user.login".into())),
            |e| e.action == "user.login",
        )
        .await;
        check(
            store,
            &entries,
            action(ActionMatch::Exact("user".into())),
            |e| e.action == "user",
        )
        .await;
        // `user.*`: the namespace, not `User.login`, `user` or `users.create`.
        check(
            store,
            &entries,
            action(ActionMatch::Prefix("user.".into())),
            |e| e.action.starts_with("user."),
        )
        .await;
        check(
            store,
            &entries,
            action(ActionMatch::Prefix("user.mfa.".into())),
            |e| e.action == "user.mfa.enabled",
        )
        .await;
        // `us*`: a prefix without a dot crosses namespaces.
        check(
            store,
            &entries,
            action(ActionMatch::Prefix("us".into())),
            |e| e.action.starts_with("us"),
        )
        .await;
        check(
            store,
            &entries,
            action(ActionMatch::Prefix("U".into())),
            |e| e.action.starts_with('U'),
        )
        .await;
        check(
            store,
            &entries,
            action(ActionMatch::Prefix("user".into())),
            |e| e.action.starts_with("user"),
        )
        .await;
        check(
            store,
            &entries,
            action(ActionMatch::Prefix(String::new())),
            |_| true,
        )
        .await;
        // An empty namespace: `.hidden` but not the dotless `user`.
        check(
            store,
            &entries,
            action(ActionMatch::Prefix(".".into())),
            |e| e.action.starts_with('.'),
        )
        .await;
        check(
            store,
            &entries,
            action(ActionMatch::Prefix("x%".into())),
            |_| false,
        )
        .await;
    }
}

#[tokio::test]
async fn client_ip_matches_an_address_or_a_block() {
    for db in test_dbs().await {
        let store = &db.store;
        let entries = seed(store).await;
        for text in [
            "10.1.2.3",
            "10.1.0.0/16",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "2001:db8::/32",
            "2001:db8::1",
            "::/0",
            "192.0.2.1",
        ] {
            let range = IpRange::parse(text).unwrap();
            check(
                store,
                &entries,
                AuditLogFilter {
                    client_ip: Some(range),
                    ..tenant("t1")
                },
                |e| {
                    e.client_ip.is_some_and(|ip| {
                        let key = crate::domain::ip_to_key(ip);
                        range.first <= key && key <= range.last
                    })
                },
            )
            .await;
        }
    }
}

#[tokio::test]
async fn scope_separates_tenants() {
    for db in test_dbs().await {
        let store = &db.store;
        seed(store).await;
        assert_eq!(store.count(&tenant("t2")).await.unwrap(), 1);
        assert_eq!(store.count(&tenant("nobody")).await.unwrap(), 0);
        let all = AuditLogFilter {
            action: Some(ActionMatch::Exact("user.login".into())),
            ..AuditLogFilter::everything(TenantScope::All)
        };
        assert_eq!(store.count(&all).await.unwrap(), 4);
    }
}

#[tokio::test]
async fn distinct_actions_and_target_types_are_sorted_and_non_empty() {
    for db in test_dbs().await {
        let store = &db.store;
        let entries = seed(store).await;
        let mut actions: Vec<String> = entries.iter().map(|e| e.action.clone()).collect();
        actions.sort();
        actions.dedup();
        assert_eq!(store.distinct_actions("t1").await.unwrap(), actions);
        assert_eq!(
            store.distinct_target_types("t1").await.unwrap(),
            vec!["document".to_owned()]
        );
        assert!(store.distinct_actions("nobody").await.unwrap().is_empty());
    }
}
