//! Follow mode: ListAuditLogs with `follow` streams the matching history in
//! commit order, then new entries as they commit; tokens resume exactly;
//! replicas on one Postgres see each other's commits; a follower that cannot
//! keep up, or a server that stops, ends the stream with a ResumeToken.

use audit_client::{AuditClient, Error};
use audit_proto::{
    AuditLog, AuditLogFilter, AuditLogInput, ListAuditLogsRequest, ListAuditLogsResponse, SortOrder,
};
use audit_tests::{
    ACME, ALL_SCOPES, AuditLogInputExt, Backend, GLOBEX, TestApp, assert_code,
    assert_invalid_field, input, labels, on_both_backends, utc,
};
use futures_util::TryStreamExt;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::codec::Streaming;

/// How long a test waits for an entry that should arrive at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn follow_request(page_token: &str) -> ListAuditLogsRequest {
    ListAuditLogsRequest {
        follow: true,
        page_token: page_token.to_owned(),
        ..Default::default()
    }
}

/// Opens a follow stream through the generated stub, to see every message
/// and the final status exactly as the server sent them.
async fn open(
    client: &AuditClient,
    request: ListAuditLogsRequest,
) -> Streaming<ListAuditLogsResponse> {
    client
        .stub()
        .list_audit_logs(request)
        .await
        .expect("the follow stream opens")
        .into_inner()
}

/// What a follower has read so far.
#[derive(Default)]
struct Received {
    entries: Vec<AuditLog>,
    /// The token of the last message read.
    token: String,
}

impl Received {
    /// Reads messages until `count` entries in all have arrived.
    async fn read_until(&mut self, stream: &mut Streaming<ListAuditLogsResponse>, count: usize) {
        let wanted = async {
            while self.entries.len() < count {
                let message = stream
                    .message()
                    .await
                    .expect("the follow stream keeps going")
                    .expect("a follow stream does not end by itself");
                assert!(!message.next_page_token.is_empty(), "every message resumes");
                self.token = message.next_page_token;
                self.entries.extend(message.audit_logs);
            }
        };
        tokio::time::timeout(PATIENCE, wanted)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {count} entries arrived within {PATIENCE:?}",
                    self.entries.len()
                )
            });
    }

    /// Reads messages until the stream ends and returns its final status.
    async fn read_to_end(
        &mut self,
        stream: &mut Streaming<ListAuditLogsResponse>,
    ) -> tonic::Status {
        let end = async {
            loop {
                match stream.message().await {
                    Ok(Some(message)) => {
                        self.token = message.next_page_token;
                        self.entries.extend(message.audit_logs);
                    }
                    Ok(None) => panic!("a follow stream never ends OK without a limit"),
                    Err(status) => return status,
                }
            }
        };
        tokio::time::timeout(PATIENCE * 3, end)
            .await
            .expect("the follow stream ended")
    }

    fn ids(&self) -> Vec<String> {
        self.entries.iter().map(|entry| entry.id.clone()).collect()
    }
}

/// Returns the ResumeToken in a status's details.
fn resume_token(status: &tonic::Status) -> String {
    Error::from(status.clone())
        .resume_token()
        .unwrap_or_else(|| {
            panic!(
                "no ResumeToken in {:?}: {}",
                status.code(),
                status.message()
            )
        })
}

/// Asserts that each tenant's entries arrived in strictly increasing
/// sequence order.
fn assert_sequence_order(entries: &[AuditLog]) {
    let mut last = std::collections::HashMap::new();
    for entry in entries {
        let previous = last
            .insert(entry.tenant_id.clone(), entry.sequence)
            .unwrap_or(0);
        assert!(
            entry.sequence > previous,
            "{} sequence {} arrived after {previous}",
            entry.tenant_id,
            entry.sequence
        );
    }
}

/// Asserts that `received` holds each of `expected` exactly once.
fn assert_exactly(received: &[String], expected: &[String]) {
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!(unique.len(), received.len(), "an entry arrived twice");
    let wanted: HashSet<&String> = expected.iter().collect();
    assert_eq!(
        unique, wanted,
        "the entries delivered differ from those stored"
    );
}

fn labelled(prefix: &str, count: usize) -> Vec<AuditLogInput> {
    (0..count)
        .map(|i| input("user.login").labelled(&format!("{prefix}{i}")))
        .collect()
}

on_both_backends!(
    history_then_live_entries_in_commit_order,
    a_token_resumes_after_a_disconnect_without_gap_or_duplicate,
    an_admin_follows_every_tenant_in_each_tenants_order,
    a_follower_that_cannot_keep_up_ends_with_a_resume_token,
    the_client_stream_resumes_by_itself_after_falling_behind,
    follow_streams_are_capped_per_tenant,
    shutdown_ends_follow_streams_with_a_resume_token_and_completes_unary_calls,
    follow_requests_are_validated,
);

async fn history_then_live_entries_in_commit_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Committed second, occurred long before the first: commit order wins.
    app.seed(ACME, vec![input("user.login").labelled("h1")])
        .await;
    app.seed(
        ACME,
        vec![
            input("user.logout")
                .labelled("h2")
                .at(utc("2001-01-01T00:00:00Z")),
            input("document.read").labelled("h3"),
        ],
    )
    .await;
    app.seed(GLOBEX, vec![input("user.login").labelled("other tenant")])
        .await;

    let client = app.client_for(ACME, ALL_SCOPES);
    let mut everything = client.list().follow().page_size(2).stream();
    let mut logins = client.list().action("user.*").follow().stream();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next(&mut everything).await);
    }
    assert_eq!(labels(&seen), ["h1", "h2", "h3"]);
    assert_eq!(
        labels(&[next(&mut logins).await, next(&mut logins).await]),
        ["h1", "h2"]
    );

    // Live: a backdated entry is delivered, in commit order, to the
    // followers whose filter it matches.
    app.seed(ACME, vec![input("user.login").labelled("l1")])
        .await;
    app.seed(
        ACME,
        vec![
            input("user.mfa")
                .labelled("l2")
                .at(utc("2000-01-01T00:00:00Z")),
        ],
    )
    .await;
    app.seed(ACME, vec![input("document.write").labelled("l3")])
        .await;
    app.seed(GLOBEX, vec![input("user.login").labelled("other tenant")])
        .await;
    for _ in 0..3 {
        seen.push(next(&mut everything).await);
    }
    assert_eq!(labels(&seen), ["h1", "h2", "h3", "l1", "l2", "l3"]);
    assert_sequence_order(&seen);
    assert_eq!(
        labels(&[next(&mut logins).await, next(&mut logins).await]),
        ["l1", "l2"]
    );
}

/// The next entry of a client follow stream, which must come promptly.
async fn next(stream: &mut audit_client::AuditLogStream) -> AuditLog {
    tokio::time::timeout(PATIENCE, stream.try_next())
        .await
        .expect("an entry arrived in time")
        .expect("the follow stream keeps going")
        .expect("a follow stream does not end")
}

async fn a_token_resumes_after_a_disconnect_without_gap_or_duplicate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut stored = app.seed(ACME, labelled("a", 5)).await;
    let client = app.client_for(ACME, ALL_SCOPES);

    let mut first = Received::default();
    let mut stream = open(
        &client,
        ListAuditLogsRequest {
            page_size: 2,
            ..follow_request("")
        },
    )
    .await;
    first.read_until(&mut stream, 4).await;
    drop(stream);
    // Committed while nobody follows.
    stored.extend(app.seed(ACME, labelled("b", 3)).await);

    let mut second = Received::default();
    let mut stream = open(&client, follow_request(&first.token)).await;
    second
        .read_until(&mut stream, stored.len() - first.entries.len())
        .await;
    stored.extend(app.seed(ACME, labelled("c", 2)).await);
    second
        .read_until(&mut stream, stored.len() - first.entries.len())
        .await;

    let mut all = first.ids();
    all.extend(second.ids());
    assert_eq!(all.len(), stored.len(), "exactly every entry, once");
    assert_exactly(&all, &stored);
    let mut entries = first.entries;
    entries.extend(second.entries);
    assert_sequence_order(&entries);
}

async fn an_admin_follows_every_tenant_in_each_tenants_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut stored = app.seed(ACME, labelled("acme", 3)).await;
    stored.extend(app.seed(GLOBEX, labelled("globex", 2)).await);
    let admin = app.admin();

    let mut received = Received::default();
    let mut stream = open(&admin, follow_request("")).await;
    received.read_until(&mut stream, 5).await;
    stored.extend(app.seed(GLOBEX, labelled("globex-live", 2)).await);
    stored.extend(app.seed("initech", labelled("new-tenant", 1)).await);
    stored.extend(app.seed(ACME, labelled("acme-live", 1)).await);
    received.read_until(&mut stream, 9).await;
    drop(stream);
    assert_sequence_order(&received.entries);

    // The token holds a position per tenant.
    stored.extend(app.seed(ACME, labelled("acme-later", 2)).await);
    stored.extend(app.seed(GLOBEX, labelled("globex-later", 1)).await);
    let mut stream = open(&admin, follow_request(&received.token)).await;
    received.read_until(&mut stream, 12).await;
    assert_exactly(&received.ids(), &stored);
    assert_sequence_order(&received.entries);

    // A tenant's user never sees another tenant, follow or not.
    let mut own = Received::default();
    let mut stream = open(&app.client_for(GLOBEX, ALL_SCOPES), follow_request("")).await;
    own.read_until(&mut stream, 5).await;
    assert!(own.entries.iter().all(|entry| entry.tenant_id == GLOBEX));
}

/// Entries large enough that a few thousand overflow every transport
/// buffer between the server and a client that does not read.
fn bulky(prefix: &str, count: usize) -> Vec<AuditLogInput> {
    let padding = "x".repeat(1024);
    (0..count)
        .map(|i| {
            input("document.read")
                .labelled(&format!("{prefix}{i}"))
                .metadata(serde_json::json!({ "padding": padding }))
        })
        .collect()
}

const BULK_ENTRIES: usize = 5000;

async fn seed_bulk(app: &TestApp) -> Vec<String> {
    let mut stored = Vec::new();
    for batch in 0..BULK_ENTRIES / 500 {
        stored.extend(app.seed(ACME, bulky(&format!("bulk{batch}-"), 500)).await);
    }
    stored
}

async fn impatient_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.follow.max_lag = 100;
        settings.follow.lag_timeout = Duration::from_millis(300);
        settings.follow.poll_interval = Duration::from_millis(100);
    })
    .await
}

async fn a_follower_that_cannot_keep_up_ends_with_a_resume_token(backend: Backend) {
    let app = impatient_app(backend).await;
    let client = app.client_for(ACME, ALL_SCOPES);
    app.seed(ACME, vec![input("user.login")]).await;
    let mut stream = open(&client, follow_request("")).await;
    let mut before = Received::default();
    before.read_until(&mut stream, 1).await;

    // The follower stops reading while the tenant's chain races ahead.
    let mut stored = vec![before.ids()[0].clone()];
    stored.extend(seed_bulk(&app).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let status = before.read_to_end(&mut stream).await;
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    assert!(
        before.entries.len() < stored.len(),
        "the server stopped producing for the stalled follower instead of buffering all \
         {} entries (it had sent {})",
        stored.len(),
        before.entries.len()
    );

    let mut after = Received::default();
    let mut stream = open(&client, follow_request(&resume_token(&status))).await;
    after
        .read_until(&mut stream, stored.len() - before.entries.len())
        .await;
    let mut all = before.ids();
    all.extend(after.ids());
    assert_exactly(&all, &stored);
}

async fn the_client_stream_resumes_by_itself_after_falling_behind(backend: Backend) {
    let app = impatient_app(backend).await;
    let client = app.client_for(ACME, ALL_SCOPES);
    let first = app.seed(ACME, vec![input("user.login")]).await;
    let mut stream = client.list().follow().stream();
    assert_eq!(next(&mut stream).await.id, first[0]);

    let mut stored = first;
    stored.extend(seed_bulk(&app).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut received = vec![stored[0].clone()];
    let rest = async {
        while received.len() < stored.len() {
            received.push(next(&mut stream).await.id);
        }
    };
    tokio::time::timeout(PATIENCE * 3, rest)
        .await
        .expect("the client read every entry");
    assert_exactly(&received, &stored);
}

async fn follow_streams_are_capped_per_tenant(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.follow.max_streams_per_tenant = 2;
    })
    .await;
    let client = app.client_for(ACME, ALL_SCOPES);
    let first = open(&client, follow_request("")).await;
    let _second = open(&client, follow_request("")).await;
    let third = client.stub().list_audit_logs(follow_request("")).await;
    let status = assert_code(third, Code::ResourceExhausted);
    assert!(
        status.message().contains("follow streams"),
        "the message says which limit: {}",
        status.message()
    );
    // Other tenants have their own cap; plain listings have none.
    let _globex = open(&app.client_for(GLOBEX, ALL_SCOPES), follow_request("")).await;
    client
        .list()
        .collect()
        .await
        .expect("a plain List is not capped");

    // Closing a stream frees its slot.
    drop(first);
    let reopened = async {
        loop {
            match client.stub().list_audit_logs(follow_request("")).await {
                Ok(stream) => return stream,
                Err(status) => assert_eq!(status.code(), Code::ResourceExhausted),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, reopened)
        .await
        .expect("a slot frees once a follower leaves");
}

async fn shutdown_ends_follow_streams_with_a_resume_token_and_completes_unary_calls(
    backend: Backend,
) {
    let grace = Duration::from_secs(3);
    let mut app = TestApp::spawn_with(backend, |settings| settings.shutdown_grace = grace).await;
    let client = app.client_for(ACME, ALL_SCOPES);
    let mut stored = app.seed(ACME, labelled("before", 3)).await;
    let mut stream = open(&client, follow_request("")).await;
    let mut before = Received::default();
    before.read_until(&mut stream, 3).await;

    // An append is in flight when the server is told to stop: it waits on
    // the tenant's write lock, which the test holds until after the signal.
    let writer_lock = hold_write_lock(&app, ACME).await;
    let appending = {
        let client = client.clone();
        tokio::spawn(async move { client.append(labelled("in-flight", 100)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    let stop = app.stop_server();
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer_lock
            .rollback()
            .await
            .expect("the test's lock is released");
    };
    let ((), ()) = tokio::join!(stop, release);
    let stopped_in = stopping.elapsed();
    assert!(
        stopped_in < grace + Duration::from_secs(1),
        "the server stopped within grace + 1 s (took {stopped_in:?})"
    );

    let appended = appending.await.expect("the append task ran");
    let appended = appended.expect("the in-flight append completed");
    stored.extend(appended);
    let status = before.read_to_end(&mut stream).await;
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    let token = resume_token(&status);

    app.start_server().await;
    let mut after = Received::default();
    let mut stream = open(&client, follow_request(&token)).await;
    after
        .read_until(&mut stream, stored.len() - before.entries.len())
        .await;
    let mut all = before.ids();
    all.extend(after.ids());
    assert_exactly(&all, &stored);
}

/// Takes the lock an append of `tenant` needs (its chain-head row on
/// Postgres, the database's write lock on SQLite) until the returned
/// transaction ends.
async fn hold_write_lock(app: &TestApp, tenant: &str) -> DatabaseTransaction {
    let db = app.store().connection();
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db
        .begin_with_options(options)
        .await
        .expect("the test's transaction begins");
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT 1 FROM audit_tenants WHERE tenant_id = '{tenant}' FOR UPDATE"
        ))
        .await
        .expect("the test locks the chain head");
    }
    txn
}

async fn follow_requests_are_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.seed(ACME, labelled("e", 3)).await;
    let client = app.client_for(ACME, ALL_SCOPES);

    let ordered = ListAuditLogsRequest {
        order: SortOrder::OldestFirst as i32,
        ..follow_request("")
    };
    assert_invalid_field(client.stub().list_audit_logs(ordered).await, "order");

    let mut followed = Received::default();
    let mut stream = open(
        &client,
        ListAuditLogsRequest {
            page_size: 1,
            ..follow_request("")
        },
    )
    .await;
    followed.read_until(&mut stream, 1).await;
    let follow_token = followed.token.clone();
    let plain = ListAuditLogsRequest {
        page_token: follow_token.clone(),
        ..Default::default()
    };
    assert_invalid_field(client.stub().list_audit_logs(plain).await, "page_token");

    let pages = app
        .list_pages(
            ACME,
            ListAuditLogsRequest {
                page_size: 1,
                ..Default::default()
            },
        )
        .await
        .expect("a plain List");
    let list_token = &pages[0].next_page_token;
    assert_invalid_field(
        client
            .stub()
            .list_audit_logs(follow_request(list_token))
            .await,
        "page_token",
    );

    // `limit` is the one clean end of a follow stream.
    let limited = ListAuditLogsRequest {
        limit: 2,
        ..follow_request("")
    };
    let messages: Vec<ListAuditLogsResponse> =
        tokio::time::timeout(PATIENCE, open(&client, limited).await.try_collect())
            .await
            .expect("a limited follow ends by itself")
            .expect("and ends OK");
    let delivered: usize = messages
        .iter()
        .map(|message| message.audit_logs.len())
        .sum();
    assert_eq!(delivered, 2);

    // A follow token is bound to its filter and tenant.
    let filtered = ListAuditLogsRequest {
        filter: Some(AuditLogFilter {
            action: "user.*".to_owned(),
            ..Default::default()
        }),
        ..follow_request(&follow_token)
    };
    assert_invalid_field(client.stub().list_audit_logs(filtered).await, "page_token");
    let globex = app.client_for(GLOBEX, ALL_SCOPES);
    assert_invalid_field(
        globex
            .stub()
            .list_audit_logs(follow_request(&follow_token))
            .await,
        "page_token",
    );
}

#[tokio::test]
async fn a_follower_on_one_replica_receives_entries_appended_through_another() {
    // A poll far longer than the test's patience: only the NOTIFY relay can
    // deliver in time.
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.follow.poll_interval = Duration::from_secs(600);
    })
    .await;
    let replica = app.spawn_replica().await;
    let mut stored = app.seed(ACME, labelled("history", 2)).await;

    let mut received = Received::default();
    let mut stream = open(&replica.client_for(ACME, ALL_SCOPES), follow_request("")).await;
    received.read_until(&mut stream, 2).await;
    for round in 0..3 {
        stored.extend(app.seed(ACME, labelled(&format!("live{round}-"), 2)).await);
        received.read_until(&mut stream, stored.len()).await;
    }
    assert_exactly(&received.ids(), &stored);
    assert_sequence_order(&received.entries);

    // And the other way round, for an admin across tenants.
    let mut across = Received::default();
    let mut stream = open(&app.admin(), follow_request("")).await;
    across.read_until(&mut stream, stored.len()).await;
    stored.extend(replica.seed(GLOBEX, labelled("via-replica", 2)).await);
    across.read_until(&mut stream, stored.len()).await;
    assert_exactly(&across.ids(), &stored);
}
