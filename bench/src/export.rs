//! Export: every entry of the largest tenant, newest first, streamed
//! through ListAuditLogs (pages of 1000, the maximum) against
//! `COPY (SELECT … same order) TO STDOUT (FORMAT binary)` of the same rows.

use crate::client::{self, Tokens};
use crate::counting_codec::CountingCodec;
use crate::dataset::DataSet;
use crate::ingest::Rate;
use crate::pages::TENANT;
use crate::rows::COLUMNS;
use anyhow::{Context, Result, bail};
use audit_proto::{ListAuditLogsRequest, ListAuditLogsResponse};
use futures_util::StreamExt;
use sqlx::PgConnection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tonic::codegen::http::uri::PathAndQuery;

/// The method the generated client calls for ListAuditLogs.
const LIST_PATH: &str = "/audit.v1.AuditService/ListAuditLogs";

/// Runs per side; the median run is reported.
const RUNS: usize = 3;

#[derive(Debug, Clone, Copy)]
pub struct ExportResult {
    pub service: Rate,
    pub copy: Rate,
    pub service_bytes: u64,
    pub copy_bytes: u64,
}

pub async fn measure(
    endpoint: &str,
    tokens: &Tokens,
    conn: &mut PgConnection,
) -> Result<ExportResult> {
    let mut grpc = tonic::client::Grpc::new(client::channel(endpoint).await?)
        .max_decoding_message_size(client::MAX_MESSAGE_BYTES);
    let statement = format!(
        "COPY (SELECT {COLUMNS} FROM audit_logs WHERE tenant_id = '{}' \
         ORDER BY occurred_at DESC, id DESC) TO STDOUT (FORMAT binary)",
        DataSet::tenant_name(TENANT)
    );
    let mut service_runs = Vec::new();
    let mut copy_runs = Vec::new();
    let (mut service_bytes, mut copy_bytes) = (0, 0);
    for _ in 0..RUNS {
        let started = Instant::now();
        let request = ListAuditLogsRequest {
            page_size: 1000,
            ..Default::default()
        };
        // The generated client's call, with a codec that also counts the
        // bytes it decodes.
        let decoded_bytes = Arc::new(AtomicU64::new(0));
        grpc.ready().await.context("the server is not ready")?;
        let mut stream = grpc
            .server_streaming(
                client::request(request, tokens.tenant(TENANT)),
                PathAndQuery::from_static(LIST_PATH),
                CountingCodec::<ListAuditLogsRequest, ListAuditLogsResponse>::new(Arc::clone(
                    &decoded_bytes,
                )),
            )
            .await
            .context("ListAuditLogs failed")?
            .into_inner();
        let mut rows = 0u64;
        while let Some(message) = stream.next().await {
            let message = message.context("ListAuditLogs export stream failed")?;
            rows += message.audit_logs.len() as u64;
        }
        service_runs.push(Rate {
            events: rows,
            elapsed: started.elapsed(),
        });
        service_bytes = decoded_bytes.load(Ordering::Relaxed);

        let started = Instant::now();
        let mut copy = conn
            .copy_out_raw(&statement)
            .await
            .context("COPY TO STDOUT failed to start")?;
        let mut bytes = 0u64;
        while let Some(chunk) = copy.next().await {
            bytes += chunk.context("COPY TO STDOUT failed")?.len() as u64;
        }
        let elapsed = started.elapsed();
        drop(copy);
        let copied_rows = count_rows(conn).await?;
        copy_runs.push(Rate {
            events: copied_rows,
            elapsed,
        });
        copy_bytes = bytes;
        if copied_rows != rows {
            bail!("the export streamed {rows} entries, COPY {copied_rows}");
        }
    }
    Ok(ExportResult {
        service: median(service_runs),
        copy: median(copy_runs),
        service_bytes,
        copy_bytes,
    })
}

async fn count_rows(conn: &mut PgConnection) -> Result<u64> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE tenant_id = $1")
        .bind(DataSet::tenant_name(TENANT))
        .fetch_one(conn)
        .await?;
    Ok(count as u64)
}

/// The run of median duration.
pub fn median(mut runs: Vec<Rate>) -> Rate {
    runs.sort_by_key(|run| run.elapsed);
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}
