//! GetAuditStats: totals that agree with List, breakdowns, top actors, and
//! histograms at every granularity.

use audit_proto::{
    ActorType, AuditLogFilter, AuditStats, CountBy, GetAuditStatsRequest, Granularity,
    ListAuditLogsRequest, Result as Outcome,
};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, input, micros, on_both_backends, utc,
};
use std::collections::BTreeMap;

/// Seeds ACME with entries at known times (2024-01-01 is a Monday) and a
/// GLOBEX entry that must never be counted for ACME.
async fn seed_calendar(app: &TestApp) {
    let entries = vec![
        input("user.login")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .named("Alice")
            .outcome(Outcome::Success)
            .client_ip("10.0.0.1")
            .at(utc("2023-12-31T12:00:00Z")),
        input("user.login")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .named("Alice")
            .outcome(Outcome::Success)
            .client_ip("10.0.0.1")
            .at(utc("2024-01-01T00:10:00Z")),
        input("user.login")
            .by("u2", ActorType::User)
            .email("bob@acme.test")
            .outcome(Outcome::Failure)
            .client_ip("10.0.0.2")
            .at(utc("2024-01-01T00:50:00Z")),
        input("document.read")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .named("Alice")
            .on("document", "d1")
            .outcome(Outcome::Success)
            .client_ip("192.168.1.1")
            .at(utc("2024-01-01T01:05:00Z")),
        input("document.read")
            .by("k1", ActorType::ApiKey)
            .on("document", "d2")
            .outcome(Outcome::Success)
            .at(utc("2024-01-02T10:00:00Z")),
        input("document.delete")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .named("Alice")
            .on("document", "d1")
            .outcome(Outcome::Denied)
            .at(utc("2024-01-08T00:00:00Z")),
        input("user.logout")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .named("Alice")
            .outcome(Outcome::Success)
            .at(utc("2024-01-31T23:59:59Z")),
        input("invoice.paid")
            .by("svc", ActorType::Service)
            .on("invoice", "i1")
            .outcome(Outcome::Success)
            .at(utc("2024-02-01T00:00:00Z")),
    ];
    app.seed(ACME, entries).await;
    app.seed(
        GLOBEX,
        vec![
            input("user.login")
                .by("u1", ActorType::User)
                .at(utc("2024-01-01T00:10:00Z")),
        ],
    )
    .await;
}

async fn stats(app: &TestApp, filter: AuditLogFilter, bucket: Granularity) -> AuditStats {
    let request = GetAuditStatsRequest {
        filter: Some(filter),
        bucket: bucket as i32,
        top: 0,
    };
    app.stats(ACME, request).await.expect("stats")
}

fn counts(pairs: &[CountBy]) -> BTreeMap<&str, i64> {
    pairs
        .iter()
        .map(|pair| (pair.key.as_str(), pair.count))
        .collect()
}

#[track_caller]
fn assert_most_frequent_first(pairs: &[CountBy], what: &str) {
    let ordered = pairs.windows(2).all(|pair| pair[0].count >= pair[1].count);
    assert!(ordered, "{what} is most frequent first: {pairs:?}");
}

/// Returns the histogram as `(bucket start, count)` in RFC 3339.
fn histogram(stats: &AuditStats) -> Vec<(String, i64)> {
    stats
        .histogram
        .iter()
        .map(|bucket| {
            let start = bucket.start.as_ref().expect("buckets have a start");
            let time = chrono::DateTime::from_timestamp_micros(micros(start))
                .expect("bucket start is a valid time");
            (time.format("%Y-%m-%dT%H:%M:%SZ").to_string(), bucket.count)
        })
        .collect()
}

fn owned(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected
        .iter()
        .map(|(start, count)| ((*start).to_owned(), *count))
        .collect()
}

on_both_backends!(total_agrees_with_list_under_the_same_filter);
async fn total_agrees_with_list_under_the_same_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_calendar(&app).await;
    let filters = [
        AuditLogFilter::default(),
        AuditLogFilter {
            action: "user.*".into(),
            ..Default::default()
        },
        AuditLogFilter {
            action: "document.read".into(),
            ..Default::default()
        },
        AuditLogFilter {
            result: Outcome::Success as i32,
            ..Default::default()
        },
        AuditLogFilter {
            actor_type: ActorType::User as i32,
            actor_id: "u1".into(),
            ..Default::default()
        },
        AuditLogFilter {
            client_ip: "10.0.0.0/8".into(),
            ..Default::default()
        },
        AuditLogFilter {
            target_type: "document".into(),
            target_id: "d1".into(),
            ..Default::default()
        },
        AuditLogFilter {
            start_time: Some(utc("2024-01-01T00:00:00Z")),
            end_time: Some(utc("2024-01-08T00:00:00Z")),
            ..Default::default()
        },
        AuditLogFilter {
            actor_email: "nobody@acme.test".into(),
            ..Default::default()
        },
    ];
    let mut totals = Vec::new();
    for filter in filters {
        let listed = app
            .list(
                ACME,
                ListAuditLogsRequest {
                    filter: Some(filter.clone()),
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        let counted = stats(&app, filter.clone(), Granularity::Day).await;
        assert_eq!(counted.total, listed.len() as i64, "total under {filter:?}");
        let histogram_sum: i64 = counted.histogram.iter().map(|bucket| bucket.count).sum();
        assert_eq!(
            histogram_sum, counted.total,
            "histogram covers every entry under {filter:?}"
        );
        totals.push(counted.total);
    }
    assert_eq!(
        totals,
        [8, 4, 2, 6, 5, 3, 2, 4, 0],
        "the expected counts of the fixture"
    );
}

on_both_backends!(breakdowns_count_by_action_result_target_type_and_actor);
async fn breakdowns_count_by_action_result_target_type_and_actor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_calendar(&app).await;

    let report = stats(&app, AuditLogFilter::default(), Granularity::Day).await;

    assert_eq!(report.total, 8);
    let by_action = BTreeMap::from([
        ("user.login", 3),
        ("document.read", 2),
        ("document.delete", 1),
        ("user.logout", 1),
        ("invoice.paid", 1),
    ]);
    assert_eq!(counts(&report.by_action), by_action);
    assert_eq!(report.by_action[0].key, "user.login");
    assert_most_frequent_first(&report.by_action, "by_action");
    let by_result = BTreeMap::from([
        ("RESULT_SUCCESS", 6),
        ("RESULT_FAILURE", 1),
        ("RESULT_DENIED", 1),
    ]);
    assert_eq!(counts(&report.by_result), by_result);
    let by_target_type = BTreeMap::from([("", 4), ("document", 3), ("invoice", 1)]);
    assert_eq!(
        counts(&report.by_target_type),
        by_target_type,
        "entries without a target count under \"\""
    );
    assert_most_frequent_first(&report.by_target_type, "by_target_type");

    let top: Vec<(&str, &str, &str, i64)> = report
        .top_actors
        .iter()
        .map(|actor| {
            (
                actor.actor_id.as_str(),
                actor.actor_email.as_str(),
                actor.actor_name.as_str(),
                actor.count,
            )
        })
        .collect();
    assert_eq!(
        top[0],
        ("u1", "alice@acme.test", "Alice", 5),
        "the most active actor first"
    );
    let mut rest = top[1..]
        .iter()
        .map(|actor| (actor.0, actor.3))
        .collect::<Vec<_>>();
    rest.sort();
    assert_eq!(rest, [("k1", 1), ("svc", 1), ("u2", 1)]);
}

on_both_backends!(top_limits_the_ranked_actors);
async fn top_limits_the_ranked_actors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_calendar(&app).await;

    let request = GetAuditStatsRequest {
        top: 1,
        ..Default::default()
    };
    let report = app.stats(ACME, request).await.expect("stats");

    let top: Vec<(&str, i64)> = report
        .top_actors
        .iter()
        .map(|actor| (actor.actor_id.as_str(), actor.count))
        .collect();
    assert_eq!(top, [("u1", 5)]);
}

on_both_backends!(stats_are_confined_to_the_filter);
async fn stats_are_confined_to_the_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_calendar(&app).await;

    let filter = AuditLogFilter {
        action: "document.*".into(),
        ..Default::default()
    };
    let report = stats(&app, filter, Granularity::Month).await;

    assert_eq!(report.total, 3);
    assert_eq!(
        counts(&report.by_action),
        BTreeMap::from([("document.read", 2), ("document.delete", 1)])
    );
    assert_eq!(
        counts(&report.by_target_type),
        BTreeMap::from([("document", 3)])
    );
    assert_eq!(
        counts(&report.by_result),
        BTreeMap::from([("RESULT_SUCCESS", 2), ("RESULT_DENIED", 1)])
    );
    assert_eq!(histogram(&report), owned(&[("2024-01-01T00:00:00Z", 3)]));
}

on_both_backends!(histogram_buckets_by_hour_day_week_and_month);
async fn histogram_buckets_by_hour_day_week_and_month(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_calendar(&app).await;
    let expectations: [(Granularity, &[(&str, i64)]); 4] = [
        (
            Granularity::Hour,
            &[
                ("2023-12-31T12:00:00Z", 1),
                ("2024-01-01T00:00:00Z", 2),
                ("2024-01-01T01:00:00Z", 1),
                ("2024-01-02T10:00:00Z", 1),
                ("2024-01-08T00:00:00Z", 1),
                ("2024-01-31T23:00:00Z", 1),
                ("2024-02-01T00:00:00Z", 1),
            ],
        ),
        (
            Granularity::Day,
            &[
                ("2023-12-31T00:00:00Z", 1),
                ("2024-01-01T00:00:00Z", 3),
                ("2024-01-02T00:00:00Z", 1),
                ("2024-01-08T00:00:00Z", 1),
                ("2024-01-31T00:00:00Z", 1),
                ("2024-02-01T00:00:00Z", 1),
            ],
        ),
        (
            // Weeks start on Monday: Sunday 2023-12-31 belongs to the week of
            // 2023-12-25, Thursday 2024-02-01 to the week of 2024-01-29.
            Granularity::Week,
            &[
                ("2023-12-25T00:00:00Z", 1),
                ("2024-01-01T00:00:00Z", 4),
                ("2024-01-08T00:00:00Z", 1),
                ("2024-01-29T00:00:00Z", 2),
            ],
        ),
        (
            Granularity::Month,
            &[
                ("2023-12-01T00:00:00Z", 1),
                ("2024-01-01T00:00:00Z", 6),
                ("2024-02-01T00:00:00Z", 1),
            ],
        ),
    ];
    for (granularity, expected) in expectations {
        let report = stats(&app, AuditLogFilter::default(), granularity).await;
        assert_eq!(
            report.bucket, granularity as i32,
            "the reply names its bucket width"
        );
        assert_eq!(
            histogram(&report),
            owned(expected),
            "{granularity:?} buckets"
        );
    }
}

on_both_backends!(unspecified_bucket_means_day);
async fn unspecified_bucket_means_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_calendar(&app).await;

    let unspecified = stats(&app, AuditLogFilter::default(), Granularity::Unspecified).await;
    let day = stats(&app, AuditLogFilter::default(), Granularity::Day).await;

    assert_eq!(unspecified.bucket, Granularity::Day as i32);
    assert_eq!(histogram(&unspecified), histogram(&day));
}

on_both_backends!(stats_of_an_empty_tenant_are_zero);
async fn stats_of_an_empty_tenant_are_zero(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let report = stats(&app, AuditLogFilter::default(), Granularity::Day).await;

    assert_eq!(report.total, 0);
    assert!(
        report.by_action.is_empty() && report.by_result.is_empty() && report.top_actors.is_empty()
    );
    assert!(
        report.histogram.is_empty(),
        "only non-empty buckets are reported"
    );
}
