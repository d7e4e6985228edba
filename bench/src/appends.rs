//! Single appends: one entry per call, `clients` calls in flight, through
//! AppendAuditLogs and as direct single-row INSERTs that take the same
//! per-tenant chain-head row lock the server takes (`SELECT … FOR UPDATE`
//! on the head, insert, move the head, commit). Commits are synchronous on
//! both sides (the cluster's default).

use crate::client::{self, Tokens};
use crate::dataset::{DataSet, Event, TENANTS};
use crate::ingest::{CeilingSequences, Rate};
use crate::rows::{COLUMNS, ceiling_link, ipv4_key, namespace, to_input};
use anyhow::{Context, Result, anyhow, bail};
use audit_proto::AppendAuditLogsRequest;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Which tenants the calls go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Call i goes to tenant i mod 64: concurrent calls rarely share a lock.
    AllTenants,
    /// Every call to the largest tenant: calls queue on its head lock.
    OneTenant,
}

impl Spread {
    fn tenant(self, call: u64) -> usize {
        match self {
            Spread::AllTenants => (call % TENANTS as u64) as usize,
            Spread::OneTenant => 0,
        }
    }
}

/// The events of `calls` single appends, generated before timing.
pub fn events(set: &DataSet, stream: u64, calls: u64, spread: Spread) -> Vec<Event> {
    (0..calls)
        .map(|call| set.event(stream, spread.tenant(call), call))
        .collect()
}

/// Rounds each side's calls are split into, taken in turns (service,
/// direct, service, ...). This machine is shared, and its speed changes
/// over seconds: one side after the other, each saw a different stretch of
/// it (two 1M runs of one build gave spread ratios of 0.68 and 0.86). In
/// turns, a slow stretch falls on both sides.
const ROUNDS: usize = 4;

/// Both sides' rates for `events`: each round sends its share of them
/// through the service, then the same share as direct INSERTs.
pub async fn in_turns(
    endpoint: &str,
    tokens: &Tokens,
    database_url: &str,
    events: &[Event],
    clients: usize,
) -> Result<(Rate, Rate)> {
    let (mut service, mut direct) = (Rate::default(), Rate::default());
    for round in events.chunks(events.len().div_ceil(ROUNDS).max(1)) {
        service.accumulate(through_service(endpoint, tokens, round, clients).await?);
        direct.accumulate(through_direct_inserts(database_url, round, clients).await?);
    }
    Ok((service, direct))
}

async fn through_service(
    endpoint: &str,
    tokens: &Tokens,
    events: &[Event],
    clients: usize,
) -> Result<Rate> {
    let requests: Vec<(usize, AppendAuditLogsRequest)> = events
        .iter()
        .map(|event| {
            let entries = vec![to_input(event)];
            (event.tenant, AppendAuditLogsRequest { entries })
        })
        .collect();
    let queue = Arc::new(Mutex::new(requests.into_iter()));
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(client::connect(endpoint).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for mut connection in connections {
        let (queue, tokens) = (queue.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.next();
                let Some((tenant, message)) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                let reply = connection
                    .append_audit_logs(client::request(message, tokens.tenant(tenant)))
                    .await
                    .context("AppendAuditLogs failed")?;
                if reply.get_ref().ids.len() != 1 {
                    bail!("a single append returned {} ids", reply.get_ref().ids.len());
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(Rate {
        events: events.len() as u64,
        elapsed: started.elapsed(),
    })
}

/// Gives `ceiling_tenants` one head row per tenant at the sequence the
/// ceiling's batch loads reached, so direct inserts continue each chain.
pub async fn seed_ceiling_heads(
    conn: &mut PgConnection,
    sequences: &CeilingSequences,
) -> Result<()> {
    for tenant in 0..TENANTS {
        sqlx::query(
            "INSERT INTO ceiling_tenants (tenant_id, created_at, head_sequence, head_hash) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE \
             SET head_sequence = EXCLUDED.head_sequence, head_hash = EXCLUDED.head_hash",
        )
        .bind(DataSet::tenant_name(tenant))
        .bind(audit_server::domain::now_micros())
        .bind(sequences.head(tenant))
        .bind(vec![0u8; 32])
        .execute(&mut *conn)
        .await
        .context("cannot seed ceiling_tenants")?;
    }
    Ok(())
}

/// The same events as direct single-row INSERTs, each in its own
/// transaction under the tenant's head lock.
async fn through_direct_inserts(
    database_url: &str,
    events: &[Event],
    clients: usize,
) -> Result<Rate> {
    let insert = format!(
        "INSERT INTO ceiling_logs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19, $20::jsonb, $21, NULL, NULL, $22, $23, $24)"
    );
    // Owned events, handed out by value to 'static tasks.
    let owned: Vec<Event> = events.to_vec();
    let queue = Arc::new(Mutex::new(owned.into_iter()));
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(crate::db::connect(database_url).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for mut connection in connections {
        let (queue, insert) = (queue.clone(), insert.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.next();
                let Some(event) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                insert_one(&mut connection, &insert, &event).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(Rate {
        events: events.len() as u64,
        elapsed: started.elapsed(),
    })
}

async fn insert_one(conn: &mut PgConnection, insert: &str, event: &Event) -> Result<()> {
    let tenant = DataSet::tenant_name(event.tenant);
    let mut txn = conn.begin().await?;
    let head = sqlx::query(
        "SELECT head_sequence, head_hash FROM ceiling_tenants WHERE tenant_id = $1 FOR UPDATE",
    )
    .bind(&tenant)
    .fetch_one(&mut *txn)
    .await
    .context("cannot lock the ceiling head")?;
    let sequence: i64 = head.try_get::<i64, _>(0)? + 1;
    let previous: Vec<u8> = head.try_get::<Option<Vec<u8>>, _>(1)?.unwrap_or_default();
    let id = uuid::Uuid::now_v7();
    let (digest, _) = ceiling_link(&id);
    let hash: [u8; 32] = Sha256::new()
        .chain_update(digest)
        .chain_update(previous)
        .finalize()
        .into();
    let now = audit_server::domain::now_micros();
    sqlx::query(AssertSqlSafe(insert))
        .bind(&tenant)
        .bind(id)
        .bind(event.occurred_at)
        .bind(now)
        .bind(event.action)
        .bind(namespace(event.action))
        .bind(&event.actor_id)
        .bind(event.actor_type as i16)
        .bind(&event.actor_name)
        .bind(&event.actor_email)
        .bind(event.target_type)
        .bind(&event.target_id)
        .bind(&event.target_name)
        .bind(event.result as i16)
        .bind(ipv4_key(event.client_ip).to_vec())
        .bind(event.user_agent)
        .bind(event.method)
        .bind(&event.path)
        .bind(event.status_code)
        .bind(event.metadata.to_string())
        .bind(&event.request_id)
        .bind(sequence)
        .bind(digest.to_vec())
        .bind(hash.to_vec())
        .execute(&mut *txn)
        .await
        .context("direct INSERT failed")?;
    sqlx::query(
        "UPDATE ceiling_tenants SET head_sequence = $2, head_hash = $3 WHERE tenant_id = $1",
    )
    .bind(&tenant)
    .bind(sequence)
    .bind(hash.to_vec())
    .execute(&mut *txn)
    .await?;
    txn.commit().await?;
    Ok(())
}
