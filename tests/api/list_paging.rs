//! ListAuditLogs order and paging: messages of `page_size`, resumable tokens,
//! `limit`, the total count, and tokens bound to their query.

use audit_proto::{AuditLog, AuditLogFilter, AuditLogInput, ListAuditLogsRequest, SortOrder};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, assert_invalid_field, input, micros,
    on_both_backends, utc,
};
use futures_util::StreamExt;

/// Seeds ACME with `distinct` entries an hour apart from 08:00 and `tied`
/// entries sharing 10:30:00.5 (ties broken by id), and returns every id in
/// the expected newest-first order.
async fn seed_with_ties(app: &TestApp, distinct: usize, tied: usize) -> Vec<String> {
    let mut batch: Vec<AuditLogInput> = (0..distinct)
        .map(|n| {
            input("user.login")
                .at(utc(&format!("2024-06-01T{:02}:00:00Z", 8 + n)))
                .labelled(&format!("d{n}"))
        })
        .collect();
    batch.extend((0..tied).map(|n| {
        input("user.tied")
            .at(utc("2024-06-01T10:30:00.5Z"))
            .labelled(&format!("t{n}"))
    }));
    let ids = app.seed(ACME, batch.clone()).await;
    newest_first(&ids, &batch)
}

/// Sorts ids by `(occurred_at, id)` descending: the contract's order.
fn newest_first(ids: &[String], batch: &[AuditLogInput]) -> Vec<String> {
    let mut keyed: Vec<(i64, String)> = ids
        .iter()
        .zip(batch)
        .map(|(id, entry)| {
            (
                micros(entry.occurred_at.as_ref().expect("fixture times are set")),
                id.clone(),
            )
        })
        .collect();
    // Hyphenated lowercase UUIDs sort like their bytes.
    keyed.sort();
    keyed.reverse();
    keyed.into_iter().map(|(_, id)| id).collect()
}

fn ids(entries: &[AuditLog]) -> Vec<String> {
    entries.iter().map(|entry| entry.id.clone()).collect()
}

fn reversed(ids: &[String]) -> Vec<String> {
    ids.iter().rev().cloned().collect()
}

fn request(order: SortOrder, page_size: i32) -> ListAuditLogsRequest {
    ListAuditLogsRequest {
        order: order as i32,
        page_size,
        ..Default::default()
    }
}

on_both_backends!(default_order_is_newest_first_and_oldest_first_reverses_it);
async fn default_order_is_newest_first_and_oldest_first_reverses_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expected = seed_with_ties(&app, 5, 4).await;

    let default = app
        .list(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");
    let newest = app
        .list(ACME, request(SortOrder::NewestFirst, 0))
        .await
        .expect("list");
    let oldest = app
        .list(ACME, request(SortOrder::OldestFirst, 0))
        .await
        .expect("list");

    assert_eq!(ids(&default), expected);
    assert_eq!(ids(&newest), expected);
    assert_eq!(ids(&oldest), reversed(&expected));
}

on_both_backends!(stream_delivers_every_entry_once_across_small_pages);
async fn stream_delivers_every_entry_once_across_small_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expected = seed_with_ties(&app, 6, 25).await;

    for (order, expected) in [
        (SortOrder::NewestFirst, expected.clone()),
        (SortOrder::OldestFirst, reversed(&expected)),
    ] {
        let pages = app.list_pages(ACME, request(order, 4)).await.expect("list");

        let sizes: Vec<usize> = pages.iter().map(|page| page.audit_logs.len()).collect();
        assert_eq!(
            sizes,
            [4, 4, 4, 4, 4, 4, 4, 3],
            "{order:?}: 31 entries in messages of 4"
        );
        let (last, earlier) = pages.split_last().expect("at least one message");
        assert!(
            earlier.iter().all(|page| !page.next_page_token.is_empty()),
            "{order:?}: every message but the last can be resumed"
        );
        assert_eq!(
            last.next_page_token, "",
            "{order:?}: the last message has an empty token"
        );
        let streamed: Vec<String> = pages
            .iter()
            .flat_map(|page| ids(&page.audit_logs))
            .collect();
        assert_eq!(
            streamed, expected,
            "{order:?}: no duplicate, no gap, ties ordered by id"
        );
    }
}

on_both_backends!(page_token_resumes_in_a_new_request);
async fn page_token_resumes_in_a_new_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expected = seed_with_ties(&app, 4, 17).await;
    let client = app.client_for(ACME, "audit:read");

    for (order, expected) in [
        (SortOrder::NewestFirst, expected.clone()),
        (SortOrder::OldestFirst, reversed(&expected)),
    ] {
        let mut collected = Vec::new();
        let mut page_token = String::new();
        let mut requests = 0;
        for _ in 0..expected.len() {
            requests += 1;
            // Read one message, then drop the stream: the client resumes later.
            let mut pages = client
                .list_with(ListAuditLogsRequest {
                    page_token: page_token.clone(),
                    ..request(order, 3)
                })
                .pages();
            let page = pages
                .next()
                .await
                .expect("a message")
                .expect("first message");
            collected.extend(ids(&page.entries));
            page_token = page.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        assert_eq!(
            collected, expected,
            "{order:?}: resumed pages cover everything once"
        );
        assert_eq!(requests, 7, "{order:?}: 21 entries, 3 per request");
    }
}

on_both_backends!(page_size_zero_means_100);
async fn page_size_zero_means_100(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, (0..150).map(|_| input("user.login")).collect())
        .await;

    let pages = app
        .list_pages(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");

    let sizes: Vec<usize> = pages.iter().map(|page| page.audit_logs.len()).collect();
    assert_eq!(sizes, [100, 50]);
}

on_both_backends!(page_size_1000_is_accepted);
async fn page_size_1000_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, (0..1000).map(|_| input("user.login")).collect())
        .await;

    let pages = app
        .list_pages(ACME, request(SortOrder::NewestFirst, 1000))
        .await
        .expect("list");

    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].audit_logs.len(), 1000);
    assert_eq!(pages[0].next_page_token, "");
}

on_both_backends!(limit_caps_the_whole_stream);
async fn limit_caps_the_whole_stream(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expected = seed_with_ties(&app, 4, 6).await;

    let limited = ListAuditLogsRequest {
        limit: 7,
        ..request(SortOrder::NewestFirst, 3)
    };
    let pages = app.list_pages(ACME, limited.clone()).await.expect("list");
    let streamed: Vec<String> = pages
        .iter()
        .flat_map(|page| ids(&page.audit_logs))
        .collect();
    assert_eq!(streamed, expected[..7], "the newest 7");
    assert!(pages.iter().all(|page| page.audit_logs.len() <= 3));

    let beyond = ListAuditLogsRequest {
        limit: 50,
        ..limited
    };
    assert_eq!(
        app.list(ACME, beyond).await.expect("list").len(),
        expected.len()
    );
}

on_both_backends!(total_count_is_on_the_first_message_only);
async fn total_count_is_on_the_first_message_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_with_ties(&app, 5, 5).await;
    let tied = AuditLogFilter {
        action: "user.tied".into(),
        ..Default::default()
    };

    let counted = ListAuditLogsRequest {
        filter: Some(tied.clone()),
        include_total_count: true,
        limit: 4,
        ..request(SortOrder::NewestFirst, 2)
    };
    let pages = app.list_pages(ACME, counted.clone()).await.expect("list");
    let totals: Vec<Option<i64>> = pages.iter().map(|page| page.total_count).collect();
    assert_eq!(
        totals,
        [Some(5), None],
        "the count of every match, not of the limited stream"
    );

    let uncounted = ListAuditLogsRequest {
        include_total_count: false,
        ..counted
    };
    let pages = app.list_pages(ACME, uncounted).await.expect("list");
    assert!(pages.iter().all(|page| page.total_count.is_none()));

    let empty = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: "nothing.here".into(),
            ..Default::default()
        }),
        include_total_count: true,
        ..Default::default()
    };
    let pages = app.list_pages(ACME, empty).await.expect("list");
    assert_eq!(
        pages.first().map(|page| page.total_count),
        Some(Some(0)),
        "an empty result still reports 0"
    );
}

on_both_backends!(empty_result_ends_with_an_empty_token);
async fn empty_result_ends_with_an_empty_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(GLOBEX, vec![input("user.login")]).await;

    let pages = app
        .list_pages(ACME, ListAuditLogsRequest::default())
        .await
        .expect("list");

    let entries: usize = pages.iter().map(|page| page.audit_logs.len()).sum();
    assert_eq!(entries, 0, "another tenant's entries are not listed");
    assert!(pages.iter().all(|page| page.next_page_token.is_empty()));
}

/// Returns the token of the first message of a 2-per-message listing.
async fn first_token(app: &TestApp, tenant: &str, request: ListAuditLogsRequest) -> String {
    let pages = app.list_pages(tenant, request).await.expect("list");
    let token = pages[0].next_page_token.clone();
    assert!(
        !token.is_empty(),
        "the first message of several can be resumed"
    );
    token
}

on_both_backends!(page_token_is_bound_to_its_filter_order_and_tenant);
async fn page_token_is_bound_to_its_filter_order_and_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_with_ties(&app, 5, 5).await;
    app.seed(GLOBEX, (0..5).map(|_| input("user.tied")).collect())
        .await;
    let tied = AuditLogFilter {
        action: "user.tied".into(),
        ..Default::default()
    };
    let original = ListAuditLogsRequest {
        filter: Some(tied.clone()),
        ..request(SortOrder::NewestFirst, 2)
    };
    let token = first_token(&app, ACME, original.clone()).await;

    let same = ListAuditLogsRequest {
        page_token: token.clone(),
        ..original.clone()
    };
    assert_eq!(
        app.list(ACME, same.clone())
            .await
            .expect("same query resumes")
            .len(),
        3
    );

    let other_filter = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: "user.*".into(),
            ..Default::default()
        }),
        ..same.clone()
    };
    assert_invalid_field(app.list(ACME, other_filter).await, "page_token");
    let other_order = ListAuditLogsRequest {
        order: SortOrder::OldestFirst as i32,
        ..same.clone()
    };
    assert_invalid_field(app.list(ACME, other_order).await, "page_token");
    assert_invalid_field(app.list(GLOBEX, same.clone()).await, "page_token");

    // page_size and limit are not part of the query: changing them is fine.
    let bigger_pages = ListAuditLogsRequest {
        page_size: 10,
        limit: 2,
        ..same
    };
    assert_eq!(
        app.list(ACME, bigger_pages).await.expect("resumes").len(),
        2
    );
}

on_both_backends!(malformed_or_tampered_page_token_is_rejected);
async fn malformed_or_tampered_page_token_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_with_ties(&app, 5, 0).await;
    let token = first_token(&app, ACME, request(SortOrder::NewestFirst, 2)).await;

    let mut tampered = token.into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("tokens are ASCII");

    for bad in ["garbage", "!!!", tampered.as_str()] {
        let resumed = ListAuditLogsRequest {
            page_token: bad.into(),
            ..request(SortOrder::NewestFirst, 2)
        };
        assert_invalid_field(app.list(ACME, resumed).await, "page_token");
    }
}
