//! Batch ingest: the same events through AppendAuditLogs and through binary
//! COPY into `ceiling_logs`, one transaction per batch on both sides, from
//! the same number of concurrent clients.
//!
//! Events are generated and encoded (protobuf messages, COPY payloads)
//! before the clock starts, a chunk at a time: on 2 shared cores the
//! generator would otherwise take CPU from the server and from Postgres,
//! unevenly on the two sides. Only sending is timed.

use crate::client::{self, Tokens};
use crate::copy_binary::CopyWriter;
use crate::dataset::{DataSet, SplitMix64, TENANTS};
use crate::rows::{COLUMNS, to_input, write_copy_row};
use anyhow::{Context, Result, anyhow, bail};
use audit_proto::AppendAuditLogsRequest;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Batches generated ahead of each timed stretch.
const CHUNK_BATCHES: usize = 200;

/// `events` of one tenant's stream, starting at event `first`.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    pub tenant: usize,
    pub first: u64,
    pub len: u64,
}

/// Events per second over a timed stretch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate {
    pub events: u64,
    pub elapsed: Duration,
}

impl Rate {
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn accumulate(&mut self, other: Rate) {
        self.events += other.events;
        self.elapsed += other.elapsed;
    }
}

/// The next sequence of each tenant in `ceiling_logs` (its unique
/// `(tenant_id, sequence)` index is as in `audit_logs`).
pub struct CeilingSequences(Vec<AtomicI64>);

impl Default for CeilingSequences {
    fn default() -> Self {
        Self((0..TENANTS).map(|_| AtomicI64::new(0)).collect())
    }
}

impl CeilingSequences {
    /// Reserves `count` sequences of `tenant` and returns the first.
    pub fn reserve(&self, tenant: usize, count: u64) -> i64 {
        self.0[tenant].fetch_add(count as i64, Ordering::Relaxed) + 1
    }

    pub fn head(&self, tenant: usize) -> i64 {
        self.0[tenant].load(Ordering::Relaxed)
    }
}

/// Cuts each tenant's `counts[t]` events into batches of `batch_size` and
/// shuffles them (seeded), so concurrent clients mostly work on different
/// tenants, as independent producers would.
pub fn plan(counts: &[u64], batch_size: u64, seed: u64) -> Vec<Batch> {
    let mut batches = Vec::new();
    for (tenant, count) in counts.iter().enumerate() {
        let mut first = 0;
        while first < *count {
            let len = batch_size.min(count - first);
            batches.push(Batch { tenant, first, len });
            first += len;
        }
    }
    let mut rng = SplitMix64::new(seed ^ batch_size);
    for i in (1..batches.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        batches.swap(i, j);
    }
    batches
}

/// The main ingest's event stream (the sweep and single appends use others).
const MAIN_STREAM: u64 = 0;

/// The main ingest: `batches` of the data set through AppendAuditLogs and
/// by COPY in turns, a chunk of batches at a time (service first), so that
/// a slow stretch of the shared machine, or Postgres' background work
/// after one side's writes, falls on both sides, and both tables grow
/// alike. Returns the service's rate and COPY's, each over its own timed
/// stretches.
pub async fn in_turns(
    endpoint: &str,
    tokens: &Tokens,
    database_url: &str,
    set: &DataSet,
    batches: &[Batch],
    clients: usize,
    sequences: &CeilingSequences,
) -> Result<(Rate, Rate)> {
    let (mut service, mut copy) = (Rate::default(), Rate::default());
    for round in batches.chunks(CHUNK_BATCHES) {
        let rate = through_service(endpoint, tokens, set, MAIN_STREAM, round, clients).await?;
        service.accumulate(rate);
        let rate = through_copy(database_url, set, MAIN_STREAM, round, clients, sequences).await?;
        copy.accumulate(rate);
    }
    Ok((service, copy))
}

/// Sends `batches` of event stream `stream` through AppendAuditLogs from
/// `clients` connections.
pub async fn through_service(
    endpoint: &str,
    tokens: &Tokens,
    set: &DataSet,
    stream: u64,
    batches: &[Batch],
    clients: usize,
) -> Result<Rate> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(client::connect(endpoint).await?);
    }
    let mut total = Rate::default();
    for chunk in batches.chunks(CHUNK_BATCHES) {
        let requests: Vec<(usize, AppendAuditLogsRequest)> = chunk
            .iter()
            .map(|batch| {
                let entries = (batch.first..batch.first + batch.len)
                    .map(|n| to_input(&set.event(stream, batch.tenant, n)))
                    .collect();
                (batch.tenant, AppendAuditLogsRequest { entries })
            })
            .collect();
        // Handed out by value: a clone per call would be timed work.
        let queue = Arc::new(Mutex::new(requests.into_iter()));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(clients);
        for connection in &connections {
            let mut connection = connection.clone();
            let (queue, tokens) = (queue.clone(), tokens.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.next();
                    let Some((tenant, message)) = next else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    let sent = message.entries.len();
                    let reply = connection
                        .append_audit_logs(client::request(message, tokens.tenant(tenant)))
                        .await
                        .context("AppendAuditLogs failed")?;
                    if reply.get_ref().ids.len() != sent {
                        bail!(
                            "AppendAuditLogs stored {} of {sent}",
                            reply.get_ref().ids.len()
                        );
                    }
                }
            }));
        }
        for task in tasks {
            task.await??;
        }
        total.accumulate(Rate {
            events: chunk.iter().map(|batch| batch.len).sum(),
            elapsed: started.elapsed(),
        });
    }
    Ok(total)
}

/// Loads the same batches with one binary COPY each into `ceiling_logs`
/// from `clients` connections.
pub async fn through_copy(
    database_url: &str,
    set: &DataSet,
    stream: u64,
    batches: &[Batch],
    clients: usize,
    sequences: &CeilingSequences,
) -> Result<Rate> {
    let statement = format!("COPY ceiling_logs ({COLUMNS}) FROM STDIN (FORMAT binary)");
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(Some(crate::db::connect(database_url).await?));
    }
    let mut total = Rate::default();
    for chunk in batches.chunks(CHUNK_BATCHES) {
        let payloads: Arc<Vec<Vec<u8>>> = Arc::new(
            chunk
                .iter()
                .map(|batch| {
                    let received_at = audit_server::domain::now_micros();
                    let first_sequence = sequences.reserve(batch.tenant, batch.len);
                    let mut writer = CopyWriter::with_capacity(batch.len as usize * 700);
                    for (offset, n) in (batch.first..batch.first + batch.len).enumerate() {
                        let event = set.event(stream, batch.tenant, n);
                        write_copy_row(
                            &mut writer,
                            &event,
                            first_sequence + offset as i64,
                            received_at,
                        );
                    }
                    writer.finish()
                })
                .collect(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(clients);
        for slot in connections.iter_mut() {
            let mut connection = slot.take().context("a COPY connection was lost")?;
            let (payloads, next, statement) = (payloads.clone(), next.clone(), statement.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(payload) = payloads.get(index) else {
                        return Ok::<_, anyhow::Error>(connection);
                    };
                    let mut copy = connection
                        .copy_in_raw(&statement)
                        .await
                        .context("COPY FROM STDIN failed to start")?;
                    copy.send(payload.as_slice()).await?;
                    copy.finish().await.context("COPY FROM STDIN failed")?;
                }
            }));
        }
        for (slot, task) in connections.iter_mut().zip(tasks) {
            *slot = Some(task.await??);
        }
        total.accumulate(Rate {
            events: chunk.iter().map(|batch| batch.len).sum(),
            elapsed: started.elapsed(),
        });
    }
    Ok(total)
}

/// One point of the batch-size sweep.
#[derive(Debug, Clone, Copy)]
pub struct SweepPoint {
    pub batch_size: u64,
    pub events: u64,
    pub service: Rate,
    pub copy: Rate,
}

/// Events sent at each batch size of the sweep: small batches are slow, so
/// they get smaller samples (each at most a tenth of the main run).
pub fn sweep_sample(batch_size: u64, events: u64) -> u64 {
    let wanted = match batch_size {
        1 => 4_000,
        10 => 20_000,
        100 => 50_000,
        _ => 100_000,
    };
    wanted.min(events / 10).max(batch_size * TENANTS as u64)
}

/// The sweep's batches: `events / batch_size` batches of exactly
/// `batch_size`, each of a tenant drawn with the data set's skew.
pub fn sweep_plan(set: &DataSet, batch_size: u64, events: u64, seed: u64) -> Vec<Batch> {
    let total = set.total().max(1);
    let mut rng = SplitMix64::new(seed ^ 0x5EED ^ batch_size);
    let mut next_event = vec![0u64; TENANTS];
    (0..events / batch_size)
        .map(|_| {
            let mut pick = rng.below(total);
            let tenant = set
                .tenant_events
                .iter()
                .position(|count| {
                    if pick < *count {
                        return true;
                    }
                    pick -= count;
                    false
                })
                .unwrap_or(0);
            let first = next_event[tenant];
            next_event[tenant] += batch_size;
            Batch {
                tenant,
                first,
                len: batch_size,
            }
        })
        .collect()
}
