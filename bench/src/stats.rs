//! Stats: GetAuditStats across every tenant (admin token) over the whole
//! set and over its last 30 days, against the same six aggregate SELECTs
//! the server runs (total, by action, by target type, by result, top 10
//! actors, daily histogram), run directly in one read-only snapshot.

use crate::client::{self, Tokens};
use crate::dataset::{DAY_MICROS, END_MICROS};
use anyhow::{Context, Result, bail};
use audit_proto::{AuditLogFilter, GetAuditStatsRequest};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::time::{Duration, Instant};

/// Runs per side; the median is reported.
const RUNS: usize = 3;

#[derive(Debug, Clone)]
pub struct StatsResult {
    pub window: &'static str,
    pub total: i64,
    pub service: Duration,
    pub direct: Duration,
}

/// The bucket start of a day histogram, as the server writes it (integer
/// constants, no bind parameters).
const DAY_BUCKET: &str =
    r#""occurred_at" - (("occurred_at" % 86400000000) + 86400000000) % 86400000000"#;

fn statements(condition: &str) -> Vec<String> {
    let by = |column: &str| {
        format!(
            r#"SELECT "audit_logs"."{column}", COUNT(*) AS "n" FROM "audit_logs"{condition} GROUP BY "audit_logs"."{column}" ORDER BY COUNT(*) DESC, "audit_logs"."{column}" ASC LIMIT 1000"#
        )
    };
    vec![
        format!(r#"SELECT COUNT(*) AS "n" FROM "audit_logs"{condition}"#),
        by("action"),
        by("target_type"),
        by("result"),
        format!(
            r#"SELECT "audit_logs"."actor_id", MAX("actor_email") AS "actor_email", MAX("actor_name") AS "actor_name", COUNT(*) AS "n" FROM "audit_logs"{condition} GROUP BY "audit_logs"."actor_id" ORDER BY COUNT(*) DESC, "audit_logs"."actor_id" ASC LIMIT 10"#
        ),
        format!(
            r#"SELECT {DAY_BUCKET} AS "bucket", COUNT(*) AS "n" FROM "audit_logs"{condition} GROUP BY {DAY_BUCKET} ORDER BY {DAY_BUCKET} ASC"#
        ),
    ]
}

/// One stats call: its filter, and the same window as SQL bounds.
struct StatsCase {
    window: &'static str,
    filter: AuditLogFilter,
    range: Option<(i64, i64)>,
}

pub async fn measure(
    endpoint: &str,
    tokens: &Tokens,
    conn: &mut PgConnection,
) -> Result<Vec<StatsResult>> {
    let mut client = client::connect(endpoint).await?;
    let window_start = END_MICROS - 30 * DAY_MICROS;
    let cases = [
        StatsCase {
            window: "whole set, all tenants",
            filter: AuditLogFilter::default(),
            range: None,
        },
        StatsCase {
            window: "last 30 days, all tenants",
            filter: AuditLogFilter {
                start_time: Some(prost_types::Timestamp {
                    seconds: window_start / 1_000_000,
                    nanos: 0,
                }),
                end_time: Some(prost_types::Timestamp {
                    seconds: END_MICROS / 1_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            },
            range: Some((window_start, END_MICROS)),
        },
    ];
    let mut results = Vec::new();
    for StatsCase {
        window,
        filter,
        range,
    } in cases
    {
        let condition = if range.is_some() {
            r#" WHERE "audit_logs"."occurred_at" >= $1 AND "audit_logs"."occurred_at" < $2"#
        } else {
            ""
        };
        let sql = statements(condition);
        let mut service_runs = Vec::new();
        let mut direct_runs = Vec::new();
        let mut total = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let request = GetAuditStatsRequest {
                filter: Some(filter.clone()),
                ..Default::default()
            };
            let reply = client
                .get_audit_stats(client::request(request, tokens.admin()))
                .await
                .context("GetAuditStats failed")?;
            service_runs.push(started.elapsed());
            total = reply.get_ref().total;

            let started = Instant::now();
            let direct_total = run_direct(conn, &sql, range).await?;
            direct_runs.push(started.elapsed());
            if direct_total != total {
                bail!("{window}: the service counted {total}, the direct SQL {direct_total}");
            }
        }
        service_runs.sort_unstable();
        direct_runs.sort_unstable();
        results.push(StatsResult {
            window,
            total,
            service: service_runs[RUNS / 2],
            direct: direct_runs[RUNS / 2],
        });
    }
    Ok(results)
}

/// Runs the six statements in one repeatable-read, read-only transaction,
/// as the server does; returns the total.
async fn run_direct(
    conn: &mut PgConnection,
    statements: &[String],
    range: Option<(i64, i64)>,
) -> Result<i64> {
    let mut txn = conn.begin().await?;
    sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *txn)
        .await?;
    let mut total = 0;
    for (index, statement) in statements.iter().enumerate() {
        let mut query = sqlx::query(AssertSqlSafe(statement.as_str()));
        if let Some((start, end)) = range {
            query = query.bind(start).bind(end);
        }
        let rows = query
            .fetch_all(&mut *txn)
            .await
            .context("direct stats query failed")?;
        if index == 0 {
            let row = rows.first().context("COUNT(*) returned no row")?;
            total = sqlx::Row::try_get::<i64, _>(row, 0)?;
        }
    }
    txn.commit().await?;
    Ok(total)
}
