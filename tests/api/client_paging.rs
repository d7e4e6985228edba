//! Reading a List query: the entry stream follows the server's messages,
//! `pages()` shows them with the total count, a page token resumes in a new
//! query, `limit` caps the whole read, and a deadline bounds each call.

use audit_client::{AuditClient, AuditLog, Page};
use audit_tests::{
    ACME, ALL_SCOPES, AuditLogInputExt, Backend, TestApp, input, on_both_backends, utc,
};
use futures_util::{StreamExt, TryStreamExt};
use std::time::Duration;
use tonic::Code;

/// Seeds `count` entries a second apart and returns their ids newest first.
async fn seed_seconds(app: &TestApp, count: usize) -> Vec<String> {
    let batch = (0..count)
        .map(|n| {
            input("user.login")
                .at(utc(&format!("2024-06-01T10:{:02}:{:02}Z", n / 60, n % 60)))
                .labelled(&format!("s{n}"))
        })
        .collect();
    let mut ids = app.seed(ACME, batch).await;
    ids.reverse();
    ids
}

fn reader(app: &TestApp) -> AuditClient {
    app.client_for(ACME, ALL_SCOPES)
}

fn ids(entries: &[AuditLog]) -> Vec<String> {
    entries.iter().map(|entry| entry.id.clone()).collect()
}

fn sizes(pages: &[Page]) -> Vec<usize> {
    pages.iter().map(|page| page.entries.len()).collect()
}

on_both_backends!(stream_yields_every_entry_once_in_order_across_messages);
async fn stream_yields_every_entry_once_in_order_across_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let newest_first = seed_seconds(&app, 23).await;
    let client = reader(&app);

    let streamed: Vec<AuditLog> = client
        .list()
        .page_size(4)
        .stream()
        .try_collect()
        .await
        .expect("stream");
    let pages: Vec<Page> = client
        .list()
        .page_size(4)
        .pages()
        .try_collect()
        .await
        .expect("pages");
    let oldest_first = client
        .list()
        .oldest_first()
        .page_size(4)
        .collect()
        .await
        .expect("collect");

    assert_eq!(ids(&streamed), newest_first);
    assert_eq!(sizes(&pages), [4, 4, 4, 4, 4, 3], "six messages of four");
    let flattened: Vec<String> = pages.iter().flat_map(|page| ids(&page.entries)).collect();
    assert_eq!(flattened, newest_first);
    let mut expected_oldest = newest_first.clone();
    expected_oldest.reverse();
    assert_eq!(ids(&oldest_first), expected_oldest);
}

on_both_backends!(pages_carry_the_total_count_and_resumable_tokens);
async fn pages_carry_the_total_count_and_resumable_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_seconds(&app, 12).await;
    app.seed(ACME, vec![input("document.read")]).await;

    let pages: Vec<Page> = reader(&app)
        .list()
        .action("user.*")
        .page_size(5)
        .include_total_count()
        .pages()
        .try_collect()
        .await
        .expect("pages");

    assert_eq!(sizes(&pages), [5, 5, 2]);
    let totals: Vec<Option<i64>> = pages.iter().map(|page| page.total_count).collect();
    assert_eq!(
        totals,
        [Some(12), None, None],
        "the count is on the first page"
    );
    assert!(!pages[0].next_page_token.is_empty());
    assert!(!pages[1].next_page_token.is_empty());
    assert_eq!(pages[2].next_page_token, "", "the last page has no token");
}

on_both_backends!(page_token_resumes_a_query_later);
async fn page_token_resumes_a_query_later(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let newest_first = seed_seconds(&app, 17).await;
    let client = reader(&app);

    let mut pages = client.list().action("user.login").page_size(5).pages();
    let first = pages.next().await.expect("a page").expect("first page");
    let second = pages.next().await.expect("a page").expect("second page");
    drop(pages);
    let rest = client
        .list()
        .action("user.login")
        .page_size(5)
        .page_token(second.next_page_token.clone())
        .collect()
        .await
        .expect("resumed");

    let mut read = ids(&first.entries);
    read.extend(ids(&second.entries));
    read.extend(ids(&rest));
    assert_eq!(read, newest_first, "each entry once, in order");

    let other_filter = client
        .list()
        .action("user.*")
        .page_token(second.next_page_token)
        .collect()
        .await;
    let error = other_filter.expect_err("a token is bound to its filter");
    let fields: Vec<&str> = error
        .field_violations()
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(fields, ["page_token"], "{error}");
}

on_both_backends!(limit_caps_the_whole_read);
async fn limit_caps_the_whole_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let newest_first = seed_seconds(&app, 20).await;

    let pages: Vec<Page> = reader(&app)
        .list()
        .page_size(3)
        .limit(7)
        .pages()
        .try_collect()
        .await
        .expect("pages");

    assert_eq!(sizes(&pages), [3, 3, 1]);
    let read: Vec<String> = pages.iter().flat_map(|page| ids(&page.entries)).collect();
    assert_eq!(read, newest_first[..7]);
}

on_both_backends!(a_deadline_bounds_each_call_and_the_stream_continues_past_it);
async fn a_deadline_bounds_each_call_and_the_stream_continues_past_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // 600 entries of ~8 KB in pages of 20: well over the ~3 MB the server
    // sends ahead (the client's 2 MiB HTTP/2 window and the server's
    // buffers), so a slow reader keeps the call open past its deadline.
    let bulky: Vec<_> = (0..600)
        .map(|n| {
            let mut entry = input("document.read")
                .labelled(&format!("r{n}"))
                .metadata(serde_json::json!({"context": "y".repeat(4000)}));
            entry.user_agent = "x".repeat(4000);
            entry
        })
        .collect();
    app.seed(ACME, bulky).await;
    let expected = ids(&app.list(ACME, Default::default()).await.expect("list"));
    let deadline = Duration::from_millis(250);
    let client = reader(&app).with_deadline(Some(deadline));
    let pause = Duration::from_millis(50);

    // The premise: one slow call cannot deliver everything before its
    // deadline (it fails, or ends early with a token still to follow).
    let mut request = tonic::Request::new(audit_client::ListAuditLogsRequest {
        page_size: 20,
        ..Default::default()
    });
    request.set_timeout(deadline);
    let mut raw = client
        .stub()
        .list_audit_logs(request)
        .await
        .expect("list")
        .into_inner();
    let mut raw_read = 0;
    let raw_outcome = async {
        while let Some(message) = raw.message().await? {
            raw_read += message.audit_logs.len();
            tokio::time::sleep(pause).await;
        }
        Ok::<(), tonic::Status>(())
    }
    .await;
    assert!(
        raw_outcome.is_err() || raw_read < expected.len(),
        "a single call outlived its deadline: {raw_outcome:?}, {raw_read} read"
    );
    if let Err(status) = raw_outcome {
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    }

    // The same slow read through the client goes on with fresh calls.
    let mut pages = client.list().page_size(20).pages();
    let mut read = Vec::new();
    while let Some(page) = pages.try_next().await.expect("continued past the deadline") {
        read.extend(ids(&page.entries));
        tokio::time::sleep(pause).await;
    }
    assert_eq!(read.len(), expected.len(), "no entry lost or repeated");
    assert_eq!(read, expected);
}
