//! The query builders: every filter setter of `list()` and `stats()` reaches
//! the server and narrows what comes back; order, `by` and `top` too.

use audit_client::{
    ActorType, AuditClient, AuditEvent, AuditLogFilter, Granularity, ListQuery, Outcome, StatsQuery,
};
use audit_tests::{
    ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, assert_code, labels, on_both_backends,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::Code;

/// 2024-05-01T12:00:00Z.
const NOON: u64 = 1_714_564_800;

/// `n` minutes past noon on 2024-05-01, as a `SystemTime`.
fn minute(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOON + 60 * n)
}

/// `n` minutes past noon on 2024-05-01, as a `chrono::DateTime<Utc>`.
fn chrono_minute(n: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(NOON as i64 + 60 * n, 0).expect("in range")
}

/// Seeds ACME with a trail one minute apart (`e1` oldest), built with
/// [`AuditEvent`], and one look-alike in GLOBEX.
async fn seed_trail(app: &TestApp) {
    let user = |action: &str, id: &str, email: &str| {
        AuditEvent::new(action)
            .actor(ActorType::User, id)
            .actor_email(email)
    };
    let trail = [
        user("user.login", "u1", "alice@acme.test")
            .result(Outcome::Success)
            .client_ip("10.0.0.1"),
        user("user.logout", "u1", "alice@acme.test")
            .result(Outcome::Success)
            .client_ip("10.0.0.2"),
        user("user.mfa.enabled", "u2", "bob@acme.test")
            .target("user", "u2")
            .result(Outcome::Success)
            .client_ip("10.1.0.5"),
        AuditEvent::new("document.read")
            .actor(ActorType::ApiKey, "k1")
            .target("document", "d1")
            .result(Outcome::Success)
            .client_ip("192.168.1.10"),
        AuditEvent::new("document.delete")
            .actor(ActorType::ApiKey, "k1")
            .target("document", "d1")
            .result(Outcome::Denied)
            .client_ip("2001:db8::1"),
        AuditEvent::new("document.read")
            .actor(ActorType::Service, "svc")
            .target("document", "d2")
            .result(Outcome::Failure)
            .client_ip("2001:db8:1::7"),
        user("userx.login", "u2", "bob@acme.test").result(Outcome::Error),
    ];
    let events: Vec<AuditEvent> = trail
        .into_iter()
        .zip(1..)
        .map(|(event, n)| event.occurred_at(minute(n)).request_id(format!("e{n}")))
        .collect();
    app.seed(ACME, events.into_iter().map(Into::into).collect())
        .await;
    let look_alike = user("user.login", "u1", "alice@acme.test")
        .client_ip("10.0.0.1")
        .occurred_at(minute(1))
        .request_id("globex-1");
    app.seed(GLOBEX, vec![look_alike.into()]).await;
}

fn acme(app: &TestApp) -> AuditClient {
    app.client_for(ACME, ALL_SCOPES)
}

/// Lists oldest first and returns the labels.
async fn listed(query: ListQuery) -> Vec<String> {
    let request = format!("{:?}", query.request());
    let entries = query
        .oldest_first()
        .collect()
        .await
        .unwrap_or_else(|error| panic!("list {request} failed: {error}"));
    labels(&entries)
}

/// Returns the stats total.
async fn counted(query: StatsQuery) -> i64 {
    let request = format!("{:?}", query.request());
    query
        .send()
        .await
        .unwrap_or_else(|error| panic!("stats {request} failed: {error}"))
        .total
}

/// Each case: a name, the setters applied to a list and to a stats query,
/// and the labels they must match.
type Case = (
    &'static str,
    fn(ListQuery) -> ListQuery,
    fn(StatsQuery) -> StatsQuery,
    &'static [&'static str],
);

const CASES: &[Case] = &[
    (
        "actor_id",
        |q| q.actor_id("u1"),
        |q| q.actor_id("u1"),
        &["e1", "e2"],
    ),
    (
        "actor_email",
        |q| q.actor_email("bob@acme.test"),
        |q| q.actor_email("bob@acme.test"),
        &["e3", "e7"],
    ),
    (
        "actor_type",
        |q| q.actor_type(ActorType::ApiKey),
        |q| q.actor_type(ActorType::ApiKey),
        &["e4", "e5"],
    ),
    (
        "action prefix",
        |q| q.action("user.*"),
        |q| q.action("user.*"),
        &["e1", "e2", "e3"],
    ),
    (
        "action exact",
        |q| q.action("document.read"),
        |q| q.action("document.read"),
        &["e4", "e6"],
    ),
    (
        "target_type",
        |q| q.target_type("document"),
        |q| q.target_type("document"),
        &["e4", "e5", "e6"],
    ),
    (
        "target_id",
        |q| q.target_id("d1"),
        |q| q.target_id("d1"),
        &["e4", "e5"],
    ),
    (
        "result",
        |q| q.result(Outcome::Denied),
        |q| q.result(Outcome::Denied),
        &["e5"],
    ),
    (
        "client_ip cidr v4",
        |q| q.client_ip("10.0.0.0/8"),
        |q| q.client_ip("10.0.0.0/8"),
        &["e1", "e2", "e3"],
    ),
    (
        "client_ip cidr v6",
        |q| q.client_ip("2001:db8::/32"),
        |q| q.client_ip("2001:db8::/32"),
        &["e5", "e6"],
    ),
    (
        "client_ip address",
        |q| q.client_ip("10.0.0.2"),
        |q| q.client_ip("10.0.0.2"),
        &["e2"],
    ),
    (
        "since SystemTime (inclusive)",
        |q| q.since(minute(5)),
        |q| q.since(minute(5)),
        &["e5", "e6", "e7"],
    ),
    (
        "until chrono (exclusive)",
        |q| q.until(chrono_minute(3)),
        |q| q.until(chrono_minute(3)),
        &["e1", "e2"],
    ),
    (
        "since chrono, until SystemTime",
        |q| q.since(chrono_minute(2)).until(minute(4)),
        |q| q.since(chrono_minute(2)).until(minute(4)),
        &["e2", "e3"],
    ),
    (
        "own tenant",
        |q| q.tenant(ACME),
        |q| q.tenant(ACME),
        &["e1", "e2", "e3", "e4", "e5", "e6", "e7"],
    ),
    (
        "combined",
        |q| {
            q.action("document.*")
                .actor_id("k1")
                .result(Outcome::Success)
        },
        |q| {
            q.action("document.*")
                .actor_id("k1")
                .result(Outcome::Success)
        },
        &["e4"],
    ),
    (
        "whole filter",
        |q| {
            q.filter(AuditLogFilter {
                actor_id: "u2".into(),
                ..Default::default()
            })
        },
        |q| {
            q.filter(AuditLogFilter {
                actor_id: "u2".into(),
                ..Default::default()
            })
        },
        &["e3", "e7"],
    ),
];

on_both_backends!(every_filter_setter_narrows_list_and_stats);
async fn every_filter_setter_narrows_list_and_stats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;
    let client = acme(&app);

    for (name, list_setters, stats_setters, expected) in CASES {
        assert_eq!(
            listed(list_setters(client.list())).await,
            *expected,
            "list {name}"
        );
        assert_eq!(
            counted(stats_setters(client.stats())).await,
            expected.len() as i64,
            "stats {name}"
        );
    }
}

on_both_backends!(tenant_setter_is_checked_and_lets_an_admin_look_into_a_tenant);
async fn tenant_setter_is_checked_and_lets_an_admin_look_into_a_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    assert_code(
        acme(&app).list().tenant(GLOBEX).collect().await,
        Code::PermissionDenied,
    );
    assert_code(
        acme(&app).stats().tenant(GLOBEX).send().await,
        Code::PermissionDenied,
    );
    assert_eq!(
        listed(app.admin().list().tenant(GLOBEX)).await,
        ["globex-1"]
    );
    assert_eq!(counted(app.admin().stats().tenant(GLOBEX)).await, 1);
}

on_both_backends!(order_setters_sort_by_occurred_at);
async fn order_setters_sort_by_occurred_at(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;
    let client = acme(&app);
    let oldest = ["e1", "e2", "e3", "e4", "e5", "e6", "e7"];
    let newest: Vec<&str> = oldest.iter().rev().copied().collect();

    let default = labels(&client.list().collect().await.expect("list"));
    let newest_first = labels(&client.list().newest_first().all().await.expect("list"));
    let oldest_first = labels(&client.list().oldest_first().all().await.expect("list"));

    assert_eq!(default, newest, "newest first by default");
    assert_eq!(newest_first, newest);
    assert_eq!(oldest_first, oldest);
}

on_both_backends!(stats_by_and_top_shape_the_answer);
async fn stats_by_and_top_shape_the_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;
    let client = acme(&app);

    let hourly = client
        .stats()
        .by(Granularity::Hour)
        .top(1)
        .send()
        .await
        .expect("stats");

    assert_eq!(hourly.bucket, Granularity::Hour as i32);
    assert_eq!(hourly.histogram.len(), 1, "all seven in the noon hour");
    assert_eq!(hourly.histogram[0].count, 7);
    assert_eq!(
        hourly.histogram[0].start,
        Some(audit_client::IntoTimestamp::into_timestamp(minute(0)))
    );
    assert_eq!(hourly.top_actors.len(), 1, "top(1) ranks one actor");
    let monthly = client
        .stats()
        .by(Granularity::Month)
        .top(10)
        .send()
        .await
        .expect("stats");
    assert_eq!(monthly.bucket, Granularity::Month as i32);
    assert_eq!(monthly.top_actors.len(), 4, "u1, u2, k1 and svc");
}

on_both_backends!(get_and_delete_take_ids_as_text_or_uuid);
async fn get_and_delete_take_ids_as_text_or_uuid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = acme(&app);
    let ids = client
        .append([
            AuditEvent::new("user.login"),
            AuditEvent::new("user.logout"),
        ])
        .await
        .expect("append events");
    let uuid = audit_client::parse_entry_id(&ids[0]).expect("ids are UUIDs");

    assert_eq!(client.get(uuid).await.expect("get by Uuid").id, ids[0]);
    assert_eq!(
        client.get(&ids[1]).await.expect("get by &String").id,
        ids[1]
    );
    let deleted = client
        .delete(uuid, "created by a test")
        .await
        .expect("delete by Uuid");
    assert_eq!(deleted.id, ids[0]);
    assert_code(client.get(uuid).await, Code::NotFound);
    let deletion_record = client
        .get(deleted.deletion_record_id.as_str())
        .await
        .expect("the deletion record");
    assert_eq!(deletion_record.action, "audit_log.deleted");
}

on_both_backends!(describe_filters_lists_what_the_tenant_holds);
async fn describe_filters_lists_what_the_tenant_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let described = acme(&app).describe_filters().await.expect("describe");

    assert!(described.actions.contains(&"user.mfa.enabled".to_owned()));
    assert!(described.target_types.contains(&"document".to_owned()));
    let names: Vec<&str> = described
        .fields
        .iter()
        .map(|field| field.name.as_str())
        .collect();
    for setter_field in [
        "actor_id",
        "actor_email",
        "actor_type",
        "action",
        "target_type",
        "target_id",
        "result",
        "client_ip",
        "start_time",
        "end_time",
        "tenant_id",
    ] {
        assert!(
            names.contains(&setter_field),
            "the client has a setter for every described field; {setter_field} missing from {names:?}"
        );
    }
}
