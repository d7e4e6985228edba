//! ListAuditLogs: streams matching entries page by page straight from the
//! database (keyset pagination, never the whole result in memory), with a
//! resumable token on every message. With `follow`, hands over to
//! `rpc::follow` once the request is validated.

use super::AuditRpc;
use super::follow::{self, FollowPlan};
use crate::auth::{Scope, caller};
use crate::domain::{AuditLogEntry, AuditLogFilter, Cursor, ListOrder};
use crate::error::AuditError;
use crate::metrics::Metrics;
use crate::store::{AuditStore, StoreError};
use audit_proto as pb;
use audit_validation::entry::encode_entry;
use audit_validation::list::{ListPlan, decode_list_request};
use audit_validation::page_token::PageTokenKey;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status};
use tracing::Instrument;

pub type ListStream =
    Pin<Box<dyn Stream<Item = Result<pb::ListAuditLogsResponse, Status>> + Send + 'static>>;

/// How long a failing stream waits for the client to take its final status.
const FINAL_STATUS_WAIT: Duration = Duration::from_secs(10);

pub async fn list(
    rpc: &AuditRpc,
    request: Request<pb::ListAuditLogsRequest>,
) -> Result<ListStream, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Read)?;
    let deadline = grpc_deadline(request.metadata());
    let metrics = request.extensions().get::<Metrics>().cloned();
    let plan = decode_list_request(request.get_ref(), &caller.tenant_access(), &rpc.page_tokens)?;
    if let Some(position) = plan.follow {
        let follow_plan = FollowPlan {
            filter: plan.filter,
            page_size: plan.page_size,
            limit: plan.limit,
            position,
            binding: plan.binding,
        };
        return follow::start(
            rpc.store.clone(),
            rpc.page_tokens.clone(),
            &rpc.follow,
            follow_plan,
            deadline,
            metrics.as_ref(),
        );
    }

    // A small channel: the producer runs at most a page or two ahead of the
    // client, so a slow reader holds back the database, not server memory.
    let (sender, receiver) = mpsc::channel(2);
    let producer = stream_pages(
        rpc.store.clone(),
        rpc.page_tokens.clone(),
        plan,
        deadline,
        sender,
    );
    tokio::spawn(producer.instrument(tracing::Span::current()));
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

/// Reads pages and sends them until the result, the limit, the deadline or
/// the client runs out.
async fn stream_pages(
    store: AuditStore,
    keys: PageTokenKey,
    plan: ListPlan,
    deadline: Option<Instant>,
    sender: mpsc::Sender<Result<pb::ListAuditLogsResponse, Status>>,
) {
    let mut total_count = None;
    if plan.include_total_count {
        match bounded(&sender, deadline, store.count(&plan.filter)).await {
            Some(Ok(count)) => total_count = Some(count),
            Some(Err(error)) => return fail(&sender, error.into()).await,
            None => return,
        }
    }
    let mut after = plan.after;
    let mut remaining = plan.limit;
    let filter = Arc::new(plan.filter);
    let mut wanted = page_wanted(remaining, plan.page_size);
    let mut next_page = Prefetch::start(&store, &filter, plan.order, after, wanted);
    loop {
        let mut entries = match bounded(&sender, deadline, next_page.entries()).await {
            Some(Ok(entries)) => entries,
            Some(Err(error)) => return fail(&sender, error).await,
            None => return,
        };
        let more = entries.len() as u64 > wanted;
        entries.truncate(wanted as usize);
        after = entries
            .last()
            .map(|last| Cursor {
                occurred_at: last.occurred_at,
                id: last.id,
            })
            .or(after);
        remaining = remaining.map(|left| left - entries.len() as u64);
        let last_page = !more || remaining == Some(0);
        if !last_page {
            // The next page is read while this one is encoded and sent, so
            // the database and the server's encoding run side by side
            // rather than in turn (an export is as fast as the slower of
            // the two, not their sum). At most one page is read ahead.
            wanted = page_wanted(remaining, plan.page_size);
            next_page = Prefetch::start(&store, &filter, plan.order, after, wanted);
        }
        let next_page_token = match (more, after) {
            (true, Some(cursor)) => keys.issue(&plan.binding, plan.order, cursor),
            _ => String::new(),
        };
        let message = pb::ListAuditLogsResponse {
            audit_logs: entries.into_iter().map(encode_entry).collect(),
            next_page_token,
            total_count: total_count.take(),
        };
        if sender.send(Ok(message)).await.is_err() {
            tracing::debug!("list client went away");
            return;
        }
        if last_page {
            tracing::Span::current().record("grpc.code", tonic::Code::Ok as i32);
            return;
        }
    }
}

/// Entries to read for the next page: the page size, or what is left of the
/// limit. One row more is read than wanted, to say whether another page
/// follows, so the last message carries an empty token, not a dead end.
fn page_wanted(remaining: Option<u64>, page_size: u64) -> u64 {
    remaining.map_or(page_size, |left| left.min(page_size))
}

/// A page being read on a task of its own. Dropping it (the client left,
/// the deadline passed) aborts the task, which drops the read and so
/// cancels its query on the database.
struct Prefetch {
    task: Option<JoinHandle<Result<Vec<AuditLogEntry>, StoreError>>>,
}

impl Prefetch {
    fn start(
        store: &AuditStore,
        filter: &Arc<AuditLogFilter>,
        order: ListOrder,
        after: Option<Cursor>,
        wanted: u64,
    ) -> Self {
        let (store, filter) = (store.clone(), filter.clone());
        let read = async move { store.list_page(&filter, order, after, wanted + 1).await };
        Self {
            task: Some(tokio::spawn(read.in_current_span())),
        }
    }

    async fn entries(&mut self) -> Result<Vec<AuditLogEntry>, AuditError> {
        let task = self
            .task
            .as_mut()
            .ok_or_else(|| AuditError::Internal("a prefetched page was read twice".into()))?;
        let outcome = task.await;
        self.task = None;
        match outcome {
            Ok(read) => Ok(read?),
            Err(error) => Err(AuditError::Internal(format!("page read failed: {error}"))),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Runs one database step unless the client leaves or the deadline passes
/// first; dropping the query future cancels it and frees its connection.
async fn bounded<T>(
    sender: &mpsc::Sender<Result<pb::ListAuditLogsResponse, Status>>,
    deadline: Option<Instant>,
    step: impl Future<Output = T>,
) -> Option<T> {
    let expiry = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        output = step => Some(output),
        _ = sender.closed() => {
            tracing::debug!("list client went away during a query");
            None
        }
        _ = expiry => {
            fail(sender, AuditError::DeadlineExceeded).await;
            None
        }
    }
}

/// Ends the stream with an error. The status must reach the client even
/// when pages fill the channel: a stream that just stopped would read as a
/// complete result. Waiting is bounded, as a client that reads nothing for
/// that long is gone.
async fn fail(sender: &mpsc::Sender<Result<pb::ListAuditLogsResponse, Status>>, error: AuditError) {
    let status = Status::from(error);
    tracing::Span::current().record("grpc.code", status.code() as i32);
    if tokio::time::timeout(FINAL_STATUS_WAIT, sender.send(Err(status)))
        .await
        .is_err()
    {
        tracing::debug!("list client stopped reading; dropping the stream");
    }
}

/// Reads the client's `grpc-timeout` header (e.g. `500m`, `3S`): tonic
/// enforces it until the stream starts, the producer after that.
fn grpc_deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Instant> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    Instant::now().checked_add(timeout)
}
