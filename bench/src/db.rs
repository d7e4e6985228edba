//! Direct connections for the ceilings: plain sqlx, no ORM, no pool, the
//! same socket the server uses. Also the ceiling tables and the
//! pg_stat_statements read-outs that go into the notes.

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

/// The role of the direct (ceiling) connections; the server connects as
/// `postgres`.
pub const CEILING_ROLE: &str = "ceiling";

pub async fn connect(url: &str) -> Result<PgConnection> {
    PgConnection::connect(url)
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// Creates the bench database on the cluster.
pub async fn create_database(admin_url: &str, name: &str) -> Result<()> {
    let mut admin = connect(admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .context("cannot create the bench database")?;
    // The ceilings connect as their own role, so pg_stat_statements (which
    // keys statements by user) tells the server's statements from theirs.
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; \
         CREATE ROLE {CEILING_ROLE} SUPERUSER LOGIN"
    )))
    .execute(&mut admin)
    .await
    .context("cannot create pg_stat_statements and the ceiling role")?;
    admin.close().await?;
    Ok(())
}

/// Creates `ceiling_logs` and `ceiling_tenants` like the tables the
/// server's migrations made (columns, defaults, generated columns, every
/// index and constraint), once the server has migrated the database. Where
/// `audit_logs` is partitioned, `ceiling_logs` is too, with a partition of
/// the same bound for each of its partitions: the issue asks for an
/// identical table, and routing rows to partitions has a cost of its own.
pub async fn create_ceiling_tables(conn: &mut PgConnection) -> Result<()> {
    let partitions: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_logs'::regclass ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .context("cannot list the partitions of audit_logs")?;
    let partitioned = if partitions.is_empty() {
        ""
    } else {
        " PARTITION BY RANGE (id)"
    };
    let mut script = format!(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
         CREATE TABLE ceiling_logs (LIKE audit_logs INCLUDING ALL){partitioned};
         CREATE TABLE ceiling_tenants (LIKE audit_tenants INCLUDING ALL);"
    );
    for (name, bound) in &partitions {
        let suffix = name.strip_prefix("audit_logs").unwrap_or(name);
        script.push_str(&format!(
            "\nCREATE TABLE ceiling_logs{suffix} PARTITION OF ceiling_logs {bound};"
        ));
    }
    sqlx::raw_sql(AssertSqlSafe(script))
        .execute(conn)
        .await
        .context("cannot create the ceiling tables")?;
    Ok(())
}

/// Returns how many partitions a table has (0: not partitioned).
pub async fn partition_count(conn: &mut PgConnection, table: &str) -> Result<i64> {
    let row = sqlx::query(
        "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
         WHERE p.relname = $1",
    )
    .bind(table)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// Returns how many indexes a table has, to show in the report that the
/// ceiling has as many as the service's table.
pub async fn index_count(conn: &mut PgConnection, table: &str) -> Result<i64> {
    let row = sqlx::query("SELECT count(*) FROM pg_indexes WHERE tablename = $1")
        .bind(table)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get(0)?)
}

pub async fn vacuum_analyze(conn: &mut PgConnection) -> Result<()> {
    sqlx::raw_sql("VACUUM (ANALYZE) audit_logs, ceiling_logs, audit_tenants, ceiling_tenants")
        .execute(conn)
        .await
        .context("cannot vacuum")?;
    Ok(())
}

pub async fn reset_statements(conn: &mut PgConnection) -> Result<()> {
    sqlx::raw_sql("SELECT pg_stat_statements_reset()")
        .execute(conn)
        .await
        .context("cannot reset pg_stat_statements")?;
    Ok(())
}

/// One pg_stat_statements row: who ran what, how often, how long in
/// Postgres.
#[derive(Debug, Clone)]
pub struct StatementStat {
    pub role: String,
    pub query: String,
    pub calls: i64,
    pub mean_ms: f64,
    pub total_ms: f64,
}

/// Returns the `limit` statements with the most execution time since the
/// last reset (the bench's own read-outs excluded).
pub async fn top_statements(conn: &mut PgConnection, limit: i64) -> Result<Vec<StatementStat>> {
    let rows = sqlx::query(
        "SELECT r.rolname::text, s.query, s.calls, s.mean_exec_time, s.total_exec_time \
         FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
         WHERE s.query NOT ILIKE '%pg_stat_statements%' \
         ORDER BY s.total_exec_time DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
    .context("cannot read pg_stat_statements")?;
    rows.iter()
        .map(|row| {
            Ok(StatementStat {
                role: row.try_get(0)?,
                query: row.try_get(1)?,
                calls: row.try_get(2)?,
                mean_ms: row.try_get(3)?,
                total_ms: row.try_get(4)?,
            })
        })
        .collect()
}

/// Statement calls and execution time of one role since the last reset.
#[derive(Debug, Clone, Default)]
pub struct RoleTotals {
    pub role: String,
    pub calls: i64,
    pub total_ms: f64,
}

/// Returns the calls and execution time of each role since the last reset.
pub async fn role_totals(conn: &mut PgConnection) -> Result<Vec<RoleTotals>> {
    let rows = sqlx::query(
        "SELECT r.rolname::text, sum(s.calls)::int8, sum(s.total_exec_time)::float8 \
         FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
         WHERE s.query NOT ILIKE '%pg_stat_statements%' GROUP BY r.rolname ORDER BY 1",
    )
    .fetch_all(conn)
    .await
    .context("cannot read pg_stat_statements")?;
    rows.iter()
        .map(|row| {
            Ok(RoleTotals {
                role: row.try_get(0)?,
                calls: row.try_get(1)?,
                total_ms: row.try_get(2)?,
            })
        })
        .collect()
}
