//! Page latency: the first page and a page after 90% of the result, under
//! several filters on the largest tenant, through ListAuditLogs (page_size
//! 100, limit 100: one page, then the stream ends) and as the same keyset
//! SELECT the server issues, run directly and prepared, its rows read into
//! owned values (`direct_row`) as the service's client reads its entries.

use crate::client::{self, Tokens};
use crate::dataset::{DAY_MICROS, DataSet, END_MICROS, network_address};
use crate::direct_row::DirectRow;
use crate::rows::network_key;
use anyhow::{Context, Result, bail};
use audit_proto::audit_service_client::AuditServiceClient;
use audit_proto::{AuditLogFilter, ListAuditLogsRequest, ListAuditLogsResponse, Result as Outcome};
use futures_util::StreamExt;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row};
use std::time::{Duration, Instant};
use tonic::Streaming;
use tonic::transport::Channel;

/// The tenant every page test reads: the largest.
pub const TENANT: usize = 0;
pub const PAGE_SIZE: i32 = 100;

/// Every column of the entity, in its order: what the server SELECTs.
const SELECT_COLUMNS: &str = r#""audit_logs"."tenant_id", "audit_logs"."id", "audit_logs"."occurred_at", "audit_logs"."received_at", "audit_logs"."action", "audit_logs"."action_namespace", "audit_logs"."actor_id", "audit_logs"."actor_type", "audit_logs"."actor_name", "audit_logs"."actor_email", "audit_logs"."target_type", "audit_logs"."target_id", "audit_logs"."target_name", "audit_logs"."result", "audit_logs"."client_ip", "audit_logs"."user_agent", "audit_logs"."request_method", "audit_logs"."request_path", "audit_logs"."request_status_code", "audit_logs"."metadata", "audit_logs"."request_id", "audit_logs"."idempotency_key", "audit_logs"."idempotency_fingerprint", "audit_logs"."sequence", "audit_logs"."content_digest", "audit_logs"."hash""#;

/// A bind value of a filter's SQL.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int2(i16),
    /// sea-query binds Rust `i32` literals (substr's arguments) as int4.
    Int4(i32),
    Int8(i64),
    Bytes(Vec<u8>),
}

/// One filter combination: as the service gets it, and the WHERE clause
/// (after the tenant, `$1`) the server's conditions produce for it.
#[derive(Debug, Clone)]
pub struct FilterCase {
    pub name: &'static str,
    pub filter: AuditLogFilter,
    pub conditions: &'static str,
    pub binds: Vec<Bind>,
}

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

/// The filter combinations, each picking values the data set makes common
/// (skewed draws make index 0 the busiest actor, target and network).
pub fn cases() -> Vec<FilterCase> {
    let quarter_start = END_MICROS - 90 * DAY_MICROS;
    vec![
        FilterCase {
            name: "none",
            filter: AuditLogFilter::default(),
            conditions: "",
            binds: vec![],
        },
        FilterCase {
            name: "actor",
            filter: AuditLogFilter {
                actor_id: "u-0000".into(),
                ..Default::default()
            },
            conditions: r#" AND "audit_logs"."actor_id" = $2"#,
            binds: vec![Bind::Text("u-0000".into())],
        },
        FilterCase {
            name: "action prefix user.*",
            filter: AuditLogFilter {
                action: "user.*".into(),
                ..Default::default()
            },
            conditions: r#" AND "audit_logs"."action_namespace" = $2"#,
            binds: vec![Bind::Text("user".into())],
        },
        FilterCase {
            name: "action prefix project.member.*",
            filter: AuditLogFilter {
                action: "project.member.*".into(),
                ..Default::default()
            },
            conditions: r#" AND "audit_logs"."action_namespace" = $2 AND COALESCE(substr("action", $3, $4) = $5, FALSE)"#,
            binds: vec![
                Bind::Text("project".into()),
                Bind::Int4(1),
                Bind::Int4(15),
                Bind::Text("project.member.".into()),
            ],
        },
        FilterCase {
            name: "target",
            filter: AuditLogFilter {
                target_type: "project".into(),
                target_id: "project-000".into(),
                ..Default::default()
            },
            conditions: r#" AND "audit_logs"."target_type" = $2 AND "audit_logs"."target_id" = $3"#,
            binds: vec![
                Bind::Text("project".into()),
                Bind::Text("project-000".into()),
            ],
        },
        FilterCase {
            name: "result + 90-day range",
            filter: AuditLogFilter {
                result: Outcome::Failure as i32,
                start_time: Some(timestamp(quarter_start)),
                end_time: Some(timestamp(END_MICROS)),
                ..Default::default()
            },
            conditions: r#" AND "audit_logs"."result" = $2 AND "audit_logs"."occurred_at" >= $3 AND "audit_logs"."occurred_at" < $4"#,
            binds: vec![
                Bind::Int2(Outcome::Failure as i16),
                Bind::Int8(quarter_start),
                Bind::Int8(END_MICROS),
            ],
        },
        FilterCase {
            name: "IP CIDR /24",
            filter: AuditLogFilter {
                client_ip: "10.0.0.0/24".into(),
                ..Default::default()
            },
            conditions: r#" AND "client_network" = $2"#,
            binds: vec![Bind::Bytes(network_key(network_address(0, 0)))],
        },
    ]
}

fn bind_all<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    binds: &'q [Bind],
) -> Query<'q, Postgres, PgArguments> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Int4(value) => query.bind(*value),
            Bind::Int8(value) => query.bind(*value),
            Bind::Int2(value) => query.bind(*value),
            Bind::Bytes(bytes) => query.bind(bytes.as_slice()),
        };
    }
    query
}

/// Latencies of one (filter, position) on both sides.
#[derive(Debug, Clone)]
pub struct PageResult {
    pub filter: &'static str,
    pub deep: bool,
    pub matching: i64,
    pub service: Percentiles,
    pub direct: Percentiles,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            let index = ((samples.len() as f64 * q).ceil() as usize).saturating_sub(1);
            samples.get(index).copied().unwrap_or_default()
        };
        Self {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Where a page starts: at the top, or after a keyset position.
struct Position {
    token: String,
    cursor: Option<(i64, uuid::Uuid)>,
}

/// Measures every filter at both positions, `samples` calls per side and
/// row, alternating sides so both see the same cache. The rows take turns
/// too, one call each per round: the machine is shared, and when each row
/// ran its calls in one block, a row's p99 hung on what the machine did in
/// those few seconds (its 1% is ten calls, 25 ms); in turns, a slow stretch
/// falls on every row a call or two.
pub async fn measure(
    endpoint: &str,
    tokens: &Tokens,
    conn: &mut PgConnection,
    samples: usize,
) -> Result<Vec<PageResult>> {
    let mut client = client::connect(endpoint).await?;
    let tenant = DataSet::tenant_name(TENANT);
    let mut rows = Vec::new();
    for case in cases() {
        let count_sql = format!(
            r#"SELECT COUNT(*) FROM "audit_logs" WHERE "audit_logs"."tenant_id" = $1{}"#,
            case.conditions
        );
        let matching: i64 = bind_all(
            sqlx::query(AssertSqlSafe(count_sql)).bind(&tenant),
            &case.binds,
        )
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot count {}", case.name))?
        .try_get(0)?;
        let skip = matching * 9 / 10;
        let first = Position {
            token: String::new(),
            cursor: None,
        };
        let deep = deep_position(&mut client, tokens, conn, &case, &tenant, skip).await?;
        for position in [first, deep] {
            rows.push(PageRow {
                sql: page_sql(&case, position.cursor.is_some()),
                case: case.clone(),
                matching,
                position,
                service: Vec::with_capacity(samples),
                direct: Vec::with_capacity(samples),
            });
        }
    }
    // Finding the deep positions streams thousands of rows through the
    // same statements as the pages: reset, so pg_stat_statements holds the
    // measured calls (and warm-ups) only.
    crate::db::reset_statements(conn).await?;
    let warmup = 10;
    for round in 0..samples + warmup {
        for row in &mut rows {
            let (service, direct) =
                sample_once(&mut client, tokens, conn, row, &tenant, round == 0).await?;
            if round >= warmup {
                row.service.push(service);
                row.direct.push(direct);
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| PageResult {
            filter: row.case.name,
            deep: row.position.cursor.is_some(),
            matching: row.matching,
            service: Percentiles::of(row.service),
            direct: Percentiles::of(row.direct),
        })
        .collect())
}

/// One row of the page table while it is measured.
struct PageRow {
    case: FilterCase,
    matching: i64,
    position: Position,
    /// The direct side's SELECT.
    sql: String,
    service: Vec<Duration>,
    direct: Vec<Duration>,
}

fn page_sql(case: &FilterCase, after: bool) -> String {
    let n = case.binds.len() + 2;
    let keyset = if after {
        format!(r#" AND ("occurred_at", "id") < (${n}, ${})"#, n + 1)
    } else {
        String::new()
    };
    let limit = if after { n + 2 } else { n };
    format!(
        r#"SELECT {SELECT_COLUMNS} FROM "audit_logs" WHERE "audit_logs"."tenant_id" = $1{}{keyset} ORDER BY "audit_logs"."occurred_at" DESC, "audit_logs"."id" DESC LIMIT ${limit}"#,
        case.conditions
    )
}

/// Finds the position after `skip` matching entries: directly with OFFSET
/// (once, untimed), and as the service's page token by streaming that far.
async fn deep_position(
    client: &mut AuditServiceClient<Channel>,
    tokens: &Tokens,
    conn: &mut PgConnection,
    case: &FilterCase,
    tenant: &str,
    skip: i64,
) -> Result<Position> {
    let sql = format!(
        r#"SELECT "occurred_at", "id" FROM "audit_logs" WHERE "audit_logs"."tenant_id" = $1{} ORDER BY "occurred_at" DESC, "id" DESC OFFSET {} LIMIT 1"#,
        case.conditions,
        (skip - 1).max(0)
    );
    let row = bind_all(sqlx::query(AssertSqlSafe(sql)).bind(tenant), &case.binds)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot find the deep position of {}", case.name))?;
    let cursor = (row.try_get::<i64, _>(0)?, row.try_get::<uuid::Uuid, _>(1)?);
    let request = ListAuditLogsRequest {
        filter: Some(case.filter.clone()),
        page_size: 1000,
        limit: i32::try_from(skip.max(1))?,
        ..Default::default()
    };
    let mut stream = client
        .list_audit_logs(client::request(request, tokens.tenant(TENANT)))
        .await
        .context("ListAuditLogs failed")?
        .into_inner();
    let mut token = String::new();
    let mut last_id = String::new();
    while let Some(message) = stream.next().await {
        let message = message.context("ListAuditLogs stream failed")?;
        if let Some(last) = message.audit_logs.last() {
            last_id = last.id.clone();
        }
        token = message.next_page_token;
    }
    if last_id != cursor.1.to_string() {
        bail!(
            "{}: the service's entry {skip} is {last_id}, the direct one {}",
            case.name,
            cursor.1
        );
    }
    Ok(Position {
        token,
        cursor: Some(cursor),
    })
}

/// One call through the service, then the same page directly; returns
/// both times. On the first round, checks that both pages start at the
/// same entry.
async fn sample_once(
    client: &mut AuditServiceClient<Channel>,
    tokens: &Tokens,
    conn: &mut PgConnection,
    row: &PageRow,
    tenant: &str,
    check: bool,
) -> Result<(Duration, Duration)> {
    let case = &row.case;
    let started = Instant::now();
    let (first_id, mut stream) = service_page(client, tokens, case, &row.position).await?;
    let service_time = started.elapsed();
    // The end of the stream (limit reached) is read untimed: the page
    // is what the caller waits for.
    while let Some(message) = stream.next().await {
        message.context("ListAuditLogs stream failed")?;
    }

    let started = Instant::now();
    let mut query = bind_all(
        sqlx::query(AssertSqlSafe(row.sql.as_str())).bind(tenant),
        &case.binds,
    );
    if let Some((occurred_at, id)) = row.position.cursor {
        query = query.bind(occurred_at).bind(id);
    }
    // The server asks for one row more than the page, to know whether
    // another page follows.
    let rows = query
        .bind(i64::from(PAGE_SIZE) + 1)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("direct page of {} failed", case.name))?;
    let entries = rows
        .iter()
        .map(DirectRow::read)
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("cannot read the direct page of {}", case.name))?;
    let direct_time = started.elapsed();
    drop(entries);
    if check {
        let direct_first = match rows.first() {
            Some(row) => row.try_get::<uuid::Uuid, _>(1)?.to_string(),
            None => String::new(),
        };
        if direct_first != first_id {
            bail!(
                "{}: the service's page starts at {first_id:?}, the direct one at {direct_first:?}",
                case.name
            );
        }
    }
    Ok((service_time, direct_time))
}

/// Reads one page through the service; returns its first entry's id and
/// the rest of the stream.
async fn service_page(
    client: &mut AuditServiceClient<Channel>,
    tokens: &Tokens,
    case: &FilterCase,
    position: &Position,
) -> Result<(String, Streaming<ListAuditLogsResponse>)> {
    let request = ListAuditLogsRequest {
        filter: Some(case.filter.clone()),
        page_size: PAGE_SIZE,
        limit: PAGE_SIZE,
        page_token: position.token.clone(),
        ..Default::default()
    };
    let mut stream = client
        .list_audit_logs(client::request(request, tokens.tenant(TENANT)))
        .await
        .context("ListAuditLogs failed")?
        .into_inner();
    let page = stream
        .next()
        .await
        .context("ListAuditLogs sent no page")?
        .context("ListAuditLogs page failed")?;
    let first_id = page
        .audit_logs
        .first()
        .map(|entry| entry.id.clone())
        .unwrap_or_default();
    Ok((first_id, stream))
}
