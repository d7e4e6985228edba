//! Aggregates under a filter: totals, counts by key, top actors and a time
//! histogram, all read from one snapshot.

use super::conditions::filter_condition;
use super::entity::audit_log::{self, Column};
use super::list::count_matching;
use super::rows::outcome_from_column;
use super::{AuditStore, StoreError};
use crate::domain::{
    ActorCount, AuditLogFilter, AuditStatsReport, Granularity, HistogramBucket, Micros,
};
use chrono::{DateTime, Datelike};
use sea_orm::sea_query::{Condition, Expr, Func};
use sea_orm::{
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryGetableMany,
};

/// Most keys returned per "by" breakdown (the contract's limit).
const MAX_KEYS: u64 = 1000;

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;
const MICROS_PER_WEEK: i64 = 7 * MICROS_PER_DAY;
/// 1970-01-01 was a Thursday: shifting by three days puts Monday at the start
/// of every 7-day period counted from the epoch.
const WEEK_SHIFT: i64 = 3 * MICROS_PER_DAY;

impl AuditStore {
    /// Counts the entries matching `filter`: in total, by action, by target
    /// type and by result (most frequent first, ties by key), the `top`
    /// actors, and per `bucket` of `occurred_at` (non-empty buckets in time
    /// order). One read-only snapshot, so the parts add up.
    pub async fn stats(
        &self,
        filter: &AuditLogFilter,
        bucket: Granularity,
        top: u64,
    ) -> Result<AuditStatsReport, StoreError> {
        let condition = filter_condition(filter);
        let txn = self.begin_snapshot().await?;

        let total = count_matching(&txn, condition.clone()).await?;
        let by_action = counts_by::<String>(&txn, &condition, Column::Action).await?;
        let by_target_type = counts_by::<String>(&txn, &condition, Column::TargetType).await?;
        let by_result = counts_by::<i16>(&txn, &condition, Column::Result)
            .await?
            .into_iter()
            .map(|(value, count)| (outcome_from_column(value), count))
            .collect();
        let top_actors = top_actors(&txn, &condition, top).await?;
        let histogram = histogram(&txn, &condition, bucket).await?;
        txn.commit().await?;

        Ok(AuditStatsReport {
            total,
            by_action,
            by_target_type,
            by_result,
            top_actors,
            histogram,
        })
    }
}

fn count_star() -> Expr {
    Expr::cust("COUNT(*)")
}

/// `column, COUNT(*)` grouped by the column, most frequent first, ties by
/// key, at most `MAX_KEYS`.
async fn counts_by<T>(
    txn: &DatabaseTransaction,
    condition: &Condition,
    column: Column,
) -> Result<Vec<(T, i64)>, DbErr>
where
    (T, i64): TryGetableMany,
{
    audit_log::Entity::find()
        .select_only()
        .column(column)
        .column_as(count_star(), "n")
        .filter(condition.clone())
        .group_by(column)
        .order_by_desc(count_star())
        .order_by_asc(column)
        .limit(MAX_KEYS)
        .into_tuple()
        .all(txn)
        .await
}

/// The `top` actors by id, most frequent first. An actor's email or name may
/// change between events; the greatest value stands for the actor.
async fn top_actors(
    txn: &DatabaseTransaction,
    condition: &Condition,
    top: u64,
) -> Result<Vec<ActorCount>, DbErr> {
    if top == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String, i64)> = audit_log::Entity::find()
        .select_only()
        .column(Column::ActorId)
        .expr_as(Func::max(Expr::col(Column::ActorEmail)), "actor_email")
        .expr_as(Func::max(Expr::col(Column::ActorName)), "actor_name")
        .column_as(count_star(), "n")
        .filter(condition.clone())
        .group_by(Column::ActorId)
        .order_by_desc(count_star())
        .order_by_asc(Column::ActorId)
        .limit(top)
        .into_tuple()
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(actor_id, actor_email, actor_name, count)| ActorCount {
            actor_id,
            actor_email,
            actor_name,
            count,
        })
        .collect())
}

/// Non-empty buckets in time order. Hours, days and weeks are fixed widths
/// computed in SQL; months vary, so they are days rolled up here.
async fn histogram(
    txn: &DatabaseTransaction,
    condition: &Condition,
    granularity: Granularity,
) -> Result<Vec<HistogramBucket>, DbErr> {
    let (width, shift) = match granularity {
        Granularity::Hour => (MICROS_PER_HOUR, 0),
        Granularity::Day | Granularity::Month => (MICROS_PER_DAY, 0),
        Granularity::Week => (MICROS_PER_WEEK, WEEK_SHIFT),
    };
    let bucket = bucket_start_sql(width, shift);
    let rows: Vec<(i64, i64)> = audit_log::Entity::find()
        .select_only()
        .column_as(bucket.clone(), "bucket")
        .column_as(count_star(), "n")
        .filter(condition.clone())
        .group_by(bucket.clone())
        .order_by_asc(bucket)
        .into_tuple()
        .all(txn)
        .await?;
    let buckets = rows
        .into_iter()
        .map(|(start, count)| HistogramBucket { start, count });
    Ok(match granularity {
        Granularity::Month => roll_up_months(buckets),
        _ => buckets.collect(),
    })
}

/// The start of the bucket holding `occurred_at`:
/// `t - floor_mod(t + shift, width)`. SQL's `%` truncates toward zero on
/// both backends, so `(x % w + w) % w` is the floored remainder, correct for
/// times before 1970 as well. Integer constants only (no bind parameters),
/// so Postgres sees the same expression in SELECT and GROUP BY.
fn bucket_start_sql(width: i64, shift: i64) -> Expr {
    let shifted = if shift == 0 {
        "\"occurred_at\"".to_owned()
    } else {
        format!("(\"occurred_at\" + {shift})")
    };
    Expr::cust(format!(
        "\"occurred_at\" - (({shifted} % {width}) + {width}) % {width}"
    ))
}

/// Merges day buckets (in time order) into UTC calendar months.
fn roll_up_months(days: impl Iterator<Item = HistogramBucket>) -> Vec<HistogramBucket> {
    let mut months: Vec<HistogramBucket> = Vec::new();
    for day in days {
        let start = month_start(day.start);
        match months.last_mut() {
            Some(last) if last.start == start => last.count += day.count,
            _ => months.push(HistogramBucket {
                start,
                count: day.count,
            }),
        }
    }
    months
}

/// Returns the first instant of the UTC month holding `micros`; `micros`
/// itself when it is out of chrono's range.
fn month_start(micros: Micros) -> Micros {
    DateTime::from_timestamp_micros(micros)
        .and_then(|time| time.date_naive().with_day(1))
        .and_then(|first| first.and_hms_opt(0, 0, 0))
        .map_or(micros, |midnight| midnight.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> Micros {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        assert_eq!(
            month_start(micros("2026-11-22T04:05:06Z")),
            micros("2026-11-01T00:00:00Z")
        );
        assert_eq!(
            month_start(micros("1969-12-31T23:59:59Z")),
            micros("1969-12-01T00:00:00Z")
        );
    }

    #[test]
    fn days_roll_up_into_months_in_order() {
        let days = [
            ("2026-01-30T00:00:00Z", 1),
            ("2026-01-31T00:00:00Z", 2),
            ("2026-02-01T00:00:00Z", 4),
            ("2026-03-05T00:00:00Z", 8),
        ]
        .map(|(start, count)| HistogramBucket {
            start: micros(start),
            count,
        });
        let months = roll_up_months(days.into_iter());
        assert_eq!(
            months,
            vec![
                HistogramBucket {
                    start: micros("2026-01-01T00:00:00Z"),
                    count: 3
                },
                HistogramBucket {
                    start: micros("2026-02-01T00:00:00Z"),
                    count: 4
                },
                HistogramBucket {
                    start: micros("2026-03-01T00:00:00Z"),
                    count: 8
                },
            ]
        );
    }
}
