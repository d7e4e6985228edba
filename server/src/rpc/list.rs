//! ListAuditLogs: streams matching entries page by page straight from the
//! database (keyset pagination, never the whole result in memory), with a
//! resumable token on every message. With `follow`, hands over to
//! `rpc::follow` once the request is validated.

use super::AuditRpc;
use super::follow::{self, FollowPlan};
use crate::auth::{Scope, caller};
use crate::domain::{AuditLogFilter, Cursor, ListOrder};
use crate::error::AuditError;
use crate::metrics::Metrics;
use crate::store::AuditStore;
use crate::wire::{EncodedPage, ListReply};
use audit_proto as pb;
use audit_validation::list::{ListPlan, decode_list_request};
use audit_validation::page_token::{PageTokenKey, QueryBinding};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::{Request, Status};
use tracing::Instrument;

pub type ListStream = Pin<Box<dyn Stream<Item = Result<ListReply, Status>> + Send + 'static>>;

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

    Pager::new(rpc.store.clone(), rpc.page_tokens.clone(), plan, deadline)
        .start()
        .await
}

/// The state of one List between its messages. The stream is polled by
/// the task that serves the call, so the first page is read and sent with
/// no hand-off between tasks (a page of a short List costs its round trips
/// and little else); later pages are read ahead on a task of their own.
struct Pager {
    source: PageSource,
    position: Position,
    keys: PageTokenKey,
    binding: QueryBinding,
    include_total_count: bool,
    deadline: Option<Instant>,
    read_ahead: Option<ReadAhead>,
    finished: bool,
    span: tracing::Span,
}

impl Pager {
    fn new(
        store: AuditStore,
        keys: PageTokenKey,
        plan: ListPlan,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            source: PageSource {
                store,
                filter: Arc::new(plan.filter),
                order: plan.order,
                page_size: plan.page_size,
            },
            position: Position {
                after: plan.after,
                remaining: plan.limit,
            },
            keys,
            binding: plan.binding,
            include_total_count: plan.include_total_count,
            deadline,
            read_ahead: None,
            finished: false,
            span: tracing::Span::current(),
        }
    }

    /// Reads the first page, then answers the call with it and the stream
    /// of the rest. Why wait: tonic sends the response headers as soon as
    /// the handler returns, so returning before the page would cost a write
    /// and a wake-up of the client on every call; this way the headers and
    /// the first page leave together. A first page that fails fails the
    /// call with its status, as a validation error does.
    async fn start(mut self) -> Result<ListStream, AuditError> {
        let span = self.span.clone();
        let first = self.next_message().instrument(span).await?;
        let first = futures_util::stream::once(std::future::ready(Ok(first)));
        Ok(Box::pin(first.chain(self.into_stream())))
    }

    /// The messages until the result, the limit or the deadline runs out,
    /// then the error if one ended it. A client that leaves drops the
    /// stream, and with it the read in progress, which cancels its query.
    fn into_stream(self) -> ListStream {
        Box::pin(futures_util::stream::unfold(self, |mut pager| async move {
            if pager.finished {
                return None;
            }
            let span = pager.span.clone();
            let outcome = pager.next_message().instrument(span.clone()).await;
            match outcome {
                Ok(message) => Some((Ok(message), pager)),
                Err(error) => {
                    pager.finished = true;
                    let status = Status::from(error);
                    span.record("grpc.code", status.code() as i32);
                    Some((Err(status), pager))
                }
            }
        }))
    }

    /// Reads the next page and makes it a message. The first page is read
    /// here; after it, a task reads the rest ahead (see [`ReadAhead`]).
    async fn next_message(&mut self) -> Result<ListReply, AuditError> {
        let mut total_count = None;
        if self.include_total_count {
            self.include_total_count = false;
            let count = self.source.store.count(&self.source.filter);
            total_count = Some(bounded(self.deadline, count).await??);
        }
        let page = match self.read_ahead.as_mut() {
            Some(read_ahead) => bounded(self.deadline, read_ahead.next()).await??,
            None => bounded(self.deadline, self.source.read(self.position)).await??,
        };
        self.finished = self.position.advance(&page);
        if self.finished {
            self.span.record("grpc.code", tonic::Code::Ok as i32);
        } else if self.read_ahead.is_none() {
            self.read_ahead = Some(ReadAhead::start(self.source.clone(), self.position));
        }
        let order = self.source.order;
        let next_page_token = match (page.more, self.position.after) {
            (true, Some(cursor)) => self.keys.issue(&self.binding, order, cursor),
            _ => String::new(),
        };
        Ok(ListReply::new(page.entries, &next_page_token, total_count))
    }
}

/// Runs one database step unless the deadline has passed or passes first;
/// dropping the step's future cancels its query and frees its connection.
/// Checked before the step too: a page read ahead is ready at once, and a
/// slow reader must not take messages past its deadline.
async fn bounded<T>(
    deadline: Option<Instant>,
    step: impl Future<Output = T>,
) -> Result<T, AuditError> {
    let Some(deadline) = deadline else {
        return Ok(step.await);
    };
    if Instant::now() >= deadline {
        return Err(AuditError::DeadlineExceeded);
    }
    tokio::time::timeout_at(deadline, step)
        .await
        .map_err(|_| AuditError::DeadlineExceeded)
}

/// What a List reads: its filter, order and page size.
#[derive(Clone)]
struct PageSource {
    store: AuditStore,
    filter: Arc<AuditLogFilter>,
    order: ListOrder,
    page_size: u64,
}

impl PageSource {
    /// Reads the page after `position`: the page size, or what is left of
    /// the limit, and whether another page follows (so the last message
    /// carries an empty token, not a dead end).
    async fn read(&self, position: Position) -> Result<Page, AuditError> {
        let wanted = position
            .remaining
            .map_or(self.page_size, |left| left.min(self.page_size));
        let (entries, more) = self
            .store
            .list_page_encoded(&self.filter, self.order, position.after, wanted)
            .await?;
        Ok(Page { entries, more })
    }
}

/// Where a List stands: after which entry, and how much of its limit is
/// left.
#[derive(Debug, Clone, Copy)]
struct Position {
    after: Option<Cursor>,
    remaining: Option<u64>,
}

impl Position {
    /// Moves past `page`; true when it was the last page.
    fn advance(&mut self, page: &Page) -> bool {
        self.after = page.entries.last_cursor().or(self.after);
        self.remaining = self.remaining.map(|left| left - page.entries.len() as u64);
        !page.more || self.remaining == Some(0)
    }
}

/// One page's entries, and whether more follow.
struct Page {
    entries: EncodedPage,
    more: bool,
}

/// How many pages the read-ahead task may hold that the stream has not
/// taken yet (besides the one it is reading).
const PAGES_AHEAD: usize = 2;

/// The pages after the first, read in order on a task of their own while
/// the stream encodes and sends the earlier ones, so the database and the
/// server's encoding run side by side rather than in turn (an export is as
/// fast as the slower of the two, not their sum). At most [`PAGES_AHEAD`]
/// pages wait: a slow reader holds back the database, not server memory.
/// Dropping it (the client left, the deadline passed) aborts the task,
/// which drops the read in progress and so cancels its query.
struct ReadAhead {
    pages: mpsc::Receiver<Result<Page, AuditError>>,
    task: JoinHandle<()>,
}

impl ReadAhead {
    /// Starts reading `source` after `position`.
    fn start(source: PageSource, mut position: Position) -> Self {
        let (sender, pages) = mpsc::channel(PAGES_AHEAD);
        let read_pages = async move {
            loop {
                let page = source.read(position).await;
                let last = match &page {
                    Ok(page) => position.advance(page),
                    Err(_) => true,
                };
                if sender.send(page).await.is_err() || last {
                    return;
                }
            }
        };
        Self {
            pages,
            task: tokio::spawn(read_pages.in_current_span()),
        }
    }

    async fn next(&mut self) -> Result<Page, AuditError> {
        self.pages
            .recv()
            .await
            .unwrap_or_else(|| Err(AuditError::Internal("the page reader stopped".into())))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
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
