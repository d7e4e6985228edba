//! Stats: totals agree with count; breakdowns ordered; histograms per
//! granularity, with weeks on Monday and months rolled up from days.

use super::{entry, tenant, test_dbs};
use crate::domain::{
    ActionMatch, ActorCount, AuditLogEntry, AuditLogFilter, Granularity, HistogramBucket, Micros,
    Outcome, TenantScope,
};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use std::collections::BTreeMap;

fn at(text: &str) -> Micros {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

/// The bucket start of `micros`, computed with the calendar (independently of
/// the store's integer arithmetic).
fn expected_start(micros: Micros, granularity: Granularity) -> Micros {
    let time: DateTime<Utc> = DateTime::from_timestamp_micros(micros).unwrap();
    let date = time.date_naive();
    let start = match granularity {
        Granularity::Hour => date.and_hms_opt(time.hour(), 0, 0).unwrap(),
        Granularity::Day => date.and_hms_opt(0, 0, 0).unwrap(),
        Granularity::Week => (date
            - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())))
        .and_hms_opt(0, 0, 0)
        .unwrap(),
        Granularity::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    };
    start.and_utc().timestamp_micros()
}

fn expected_histogram(entries: &[AuditLogEntry], granularity: Granularity) -> Vec<HistogramBucket> {
    let mut buckets = BTreeMap::new();
    for e in entries {
        *buckets
            .entry(expected_start(e.occurred_at, granularity))
            .or_insert(0) += 1;
    }
    buckets
        .into_iter()
        .map(|(start, count)| HistogramBucket { start, count })
        .collect()
}

async fn seed(store: &crate::store::AuditStore) -> Vec<AuditLogEntry> {
    let rows = [
        (
            "1969-12-31T23:00:00Z",
            "user.login",
            "a",
            Outcome::Success,
            "document",
        ),
        (
            "2026-01-31T23:30:00Z",
            "user.login",
            "a",
            Outcome::Success,
            "document",
        ),
        (
            "2026-02-01T00:10:00Z",
            "user.login",
            "b",
            Outcome::Failure,
            "",
        ),
        (
            "2026-02-02T01:00:00Z",
            "user.logout",
            "a",
            Outcome::Success,
            "document",
        ),
        (
            "2026-02-02T01:59:59Z",
            "doc.read",
            "c",
            Outcome::Denied,
            "folder",
        ),
        (
            "2026-02-02T02:00:00Z",
            "doc.read",
            "b",
            Outcome::Success,
            "document",
        ),
        (
            "2026-03-15T12:00:00Z",
            "doc.write",
            "b",
            Outcome::Success,
            "",
        ),
        (
            "2026-12-31T23:59:59.999999Z",
            "user.login",
            "c",
            Outcome::Error,
            "document",
        ),
    ];
    let entries: Vec<AuditLogEntry> = rows
        .iter()
        .map(|(time, action, actor, result, target_type)| {
            let mut e = entry("t1", action, at(time));
            e.actor.id = (*actor).into();
            e.actor.email = format!("{actor}@example.com");
            e.actor.name = actor.to_uppercase();
            e.result = *result;
            e.target.kind = (*target_type).into();
            e
        })
        .collect();
    store.append("t1", entries.clone()).await.unwrap();
    store
        .append(
            "t2",
            vec![entry("t2", "user.login", at("2026-02-01T00:00:00Z"))],
        )
        .await
        .unwrap();
    entries
}

#[tokio::test]
async fn breakdowns_are_ordered_and_add_up() {
    for db in test_dbs().await {
        let store = &db.store;
        seed(store).await;
        let report = store
            .stats(&tenant("t1"), Granularity::Day, 2)
            .await
            .unwrap();
        assert_eq!(report.total, 8);
        assert_eq!(report.total, store.count(&tenant("t1")).await.unwrap());
        assert_eq!(
            report.by_action,
            vec![
                ("user.login".to_owned(), 4),
                ("doc.read".to_owned(), 2),
                ("doc.write".to_owned(), 1),
                ("user.logout".to_owned(), 1)
            ]
        );
        assert_eq!(
            report.by_target_type,
            vec![
                ("document".to_owned(), 5),
                (String::new(), 2),
                ("folder".to_owned(), 1)
            ]
        );
        assert_eq!(
            report.by_result,
            vec![
                (Outcome::Success, 5),
                (Outcome::Failure, 1),
                (Outcome::Denied, 1),
                (Outcome::Error, 1)
            ]
        );
        // a: 3, b: 3, c: 2 → the top two, ties by actor id.
        assert_eq!(
            report.top_actors,
            vec![
                ActorCount {
                    actor_id: "a".into(),
                    actor_email: "a@example.com".into(),
                    actor_name: "A".into(),
                    count: 3
                },
                ActorCount {
                    actor_id: "b".into(),
                    actor_email: "b@example.com".into(),
                    actor_name: "B".into(),
                    count: 3
                },
            ]
        );
        assert_eq!(
            report.histogram.iter().map(|b| b.count).sum::<i64>(),
            report.total
        );
    }
}

#[tokio::test]
async fn histograms_bucket_by_hour_day_week_and_month() {
    for db in test_dbs().await {
        let store = &db.store;
        let entries = seed(store).await;
        for granularity in [
            Granularity::Hour,
            Granularity::Day,
            Granularity::Week,
            Granularity::Month,
        ] {
            let report = store.stats(&tenant("t1"), granularity, 10).await.unwrap();
            assert_eq!(
                report.histogram,
                expected_histogram(&entries, granularity),
                "{} {granularity:?}",
                store.backend_name()
            );
        }
        // Spot checks of the calendar itself.
        let week = store
            .stats(&tenant("t1"), Granularity::Week, 10)
            .await
            .unwrap();
        assert!(
            week.histogram
                .iter()
                .any(|b| b.start == at("2026-01-26T00:00:00Z") && b.count == 2)
        );
        assert!(
            week.histogram
                .iter()
                .any(|b| b.start == at("1969-12-29T00:00:00Z") && b.count == 1)
        );
        let month = store
            .stats(&tenant("t1"), Granularity::Month, 10)
            .await
            .unwrap();
        assert_eq!(
            month.histogram,
            vec![
                HistogramBucket {
                    start: at("1969-12-01T00:00:00Z"),
                    count: 1
                },
                HistogramBucket {
                    start: at("2026-01-01T00:00:00Z"),
                    count: 1
                },
                HistogramBucket {
                    start: at("2026-02-01T00:00:00Z"),
                    count: 4
                },
                HistogramBucket {
                    start: at("2026-03-01T00:00:00Z"),
                    count: 1
                },
                HistogramBucket {
                    start: at("2026-12-01T00:00:00Z"),
                    count: 1
                },
            ]
        );
    }
}

#[tokio::test]
async fn stats_follow_the_filter() {
    for db in test_dbs().await {
        let store = &db.store;
        seed(store).await;
        let filters = [
            AuditLogFilter {
                action: Some(ActionMatch::Prefix("user.".into())),
                ..tenant("t1")
            },
            AuditLogFilter {
                start_time: Some(at("2026-02-01T00:00:00Z")),
                end_time: Some(at("2026-02-03T00:00:00Z")),
                ..tenant("t1")
            },
            AuditLogFilter::everything(TenantScope::All),
            tenant("nobody"),
        ];
        for filter in filters {
            let report = store.stats(&filter, Granularity::Hour, 100).await.unwrap();
            let count = store.count(&filter).await.unwrap();
            assert_eq!(report.total, count, "{filter:?}");
            assert_eq!(report.by_action.iter().map(|(_, n)| n).sum::<i64>(), count);
            assert_eq!(report.by_result.iter().map(|(_, n)| n).sum::<i64>(), count);
            assert_eq!(
                report.top_actors.iter().map(|a| a.count).sum::<i64>(),
                count
            );
            assert_eq!(report.histogram.iter().map(|b| b.count).sum::<i64>(), count);
        }
        let empty = store
            .stats(&tenant("nobody"), Granularity::Month, 10)
            .await
            .unwrap();
        assert_eq!(empty, Default::default());
    }
}
