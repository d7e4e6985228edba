//! Keyset paging: every entry exactly once, in order, in both directions,
//! across many equal timestamps.

use super::{T0, entry, tenant, test_dbs, unchained};
use crate::domain::{AuditLogFilter, Cursor, ListOrder, TenantScope};
use crate::store::AuditStore;
use uuid::Uuid;

/// Pages through the whole filter `page` entries at a time.
async fn walk(
    store: &AuditStore,
    filter: &AuditLogFilter,
    order: ListOrder,
    page: u64,
) -> Vec<Uuid> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let entries = store.list_page(filter, order, after, page).await.unwrap();
        assert!(entries.len() as u64 <= page);
        let Some(last) = entries.last() else { break };
        after = Some(Cursor {
            occurred_at: last.occurred_at,
            id: last.id,
        });
        seen.extend(entries.iter().map(|e| e.id));
    }
    seen
}

#[tokio::test]
async fn pages_cover_everything_once_in_both_orders() {
    for db in test_dbs().await {
        let store = &db.store;
        // 5 timestamps x 40 entries, appended in an order unrelated to time
        // and in several batches, so ties by id matter.
        let mut all = Vec::new();
        for round in 0..40 {
            let batch: Vec<_> = (0..5)
                .map(|slot| entry("t1", "a.b", T0 + ((slot * 3 + round) % 5) * 1000))
                .collect();
            store.append("t1", batch.clone()).await.unwrap();
            all.extend(batch);
        }
        // Another tenant's entries at the same times stay out.
        store
            .append("t2", vec![entry("t2", "a.b", T0)])
            .await
            .unwrap();

        let mut expected: Vec<_> = all.iter().map(|e| (e.occurred_at, e.id)).collect();
        expected.sort();
        let oldest_first: Vec<Uuid> = expected.iter().map(|(_, id)| *id).collect();
        let newest_first: Vec<Uuid> = oldest_first.iter().rev().copied().collect();

        for page in [1, 7, 40, 1000] {
            assert_eq!(
                walk(store, &tenant("t1"), ListOrder::OldestFirst, page).await,
                oldest_first
            );
            assert_eq!(
                walk(store, &tenant("t1"), ListOrder::NewestFirst, page).await,
                newest_first
            );
        }

        // Resuming from a cursor in the middle of a run of equal timestamps.
        let (t, id) = expected[57];
        let cursor = Cursor { occurred_at: t, id };
        let rest = store
            .list_page(&tenant("t1"), ListOrder::OldestFirst, Some(cursor), 3)
            .await
            .unwrap();
        assert_eq!(
            rest.iter().map(|e| e.id).collect::<Vec<_>>(),
            oldest_first[58..61]
        );
        let rest = store
            .list_page(&tenant("t1"), ListOrder::NewestFirst, Some(cursor), 3)
            .await
            .unwrap();
        assert_eq!(
            rest.iter().map(|e| e.id).collect::<Vec<_>>(),
            [oldest_first[56], oldest_first[55], oldest_first[54]]
        );

        // Every tenant (admin): the other tenant's entry appears too.
        let everything = AuditLogFilter::everything(TenantScope::All);
        assert_eq!(
            walk(store, &everything, ListOrder::NewestFirst, 33)
                .await
                .len(),
            201
        );
        assert_eq!(store.count(&everything).await.unwrap(), 201);
    }
}

#[tokio::test]
async fn times_before_1970_sort_before_later_ones() {
    for db in test_dbs().await {
        let store = &db.store;
        let early = entry("t1", "x", -1_000_000);
        let late = entry("t1", "x", 1_000_000);
        store
            .append("t1", vec![late.clone(), early.clone()])
            .await
            .unwrap();
        let page = store
            .list_page(&tenant("t1"), ListOrder::OldestFirst, None, 10)
            .await
            .unwrap();
        let page: Vec<_> = page.into_iter().map(unchained).collect();
        assert_eq!(page, vec![early, late]);
    }
}
