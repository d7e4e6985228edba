//! ListAuditLogs with `follow`: the matching history in commit order, then
//! new entries as they commit, until the client cancels.
//!
//! The database is the only source. A follower keeps, per tenant, the last
//! sequence it has read past; each round it reads the chain heads and then
//! `(last, head]` in bounded pages, tenants taking turns. A wake-up (this
//! process's commit, another process's NOTIFY, or the poll timer) only
//! starts a round. So memory per follower is at most the channel's two
//! pages plus the page in hand, a slow follower simply reads older pages
//! (catch-up), and nothing can be skipped or repeated: every message's token
//! is the position right after it.
//!
//! A follow stream never ends OK (except at `limit`): its last item is a
//! status, RESOURCE_EXHAUSTED when the follower cannot keep up, UNAVAILABLE
//! at shutdown or on a database failure, both with a ResumeToken for the
//! position after the last message handed to the stream. That status is
//! queued behind the messages already in the channel, so the client reads
//! them all before it, and the producer needs no room in the channel to end.

use super::list::ListStream;
use crate::domain::{AuditLogEntry, AuditLogFilter};
use crate::error::{AuditError, FollowEnd};
use crate::follow::{FollowHub, FollowPosition, FollowSettings, StreamSlot};
use crate::metrics::{FollowStreamGuard, Metrics};
use crate::store::{AuditStore, StoreError};
use crate::wire::{EncodedPage, ListReply};
use audit_validation::page_token::{PageTokenKey, QueryBinding};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

type Sender = mpsc::Sender<Result<ListReply, Status>>;

/// A validated follow request.
pub(super) struct FollowPlan {
    pub filter: AuditLogFilter,
    pub page_size: u64,
    pub limit: Option<u64>,
    pub position: FollowPosition,
    pub binding: QueryBinding,
}

/// Admits the stream against its tenant's cap and starts its producer.
pub(super) fn start(
    store: AuditStore,
    keys: PageTokenKey,
    hub: &FollowHub,
    plan: FollowPlan,
    deadline: Option<Instant>,
    metrics: Option<&Metrics>,
) -> Result<ListStream, AuditError> {
    let slot = hub.admit(&plan.filter.scope)?;
    let (sender, receiver) = mpsc::channel(2);
    let (end_sender, end) = oneshot::channel::<Option<Status>>();
    let follower = Follower {
        wake: store.chain_notifier().subscribe(&plan.filter.scope),
        store,
        keys,
        settings: *hub.settings(),
        stopping: hub.stopping(),
        deadline,
        sender,
        behind: None,
        _slot: slot,
        gauge: metrics.map(Metrics::follow_stream_opened),
        plan,
    };
    let producer = async move {
        let outcome = follower.run().await;
        // The client may be gone already; then nobody needs the status.
        let _ = end_sender.send(outcome);
    };
    tokio::spawn(producer.instrument(tracing::Span::current()));
    let last = futures_util::stream::once(async move {
        match end.await {
            Ok(status) => status,
            // Only a panic in the producer gets here: still never a clean end.
            Err(_) => Some(Status::internal("the follow stream stopped unexpectedly")),
        }
    })
    .filter_map(|status| std::future::ready(status.map(Err)));
    Ok(Box::pin(ReceiverStream::new(receiver).chain(last)))
}

/// When the follower's lag first exceeded the bound, and how large it was.
#[derive(Clone, Copy)]
struct Behind {
    since: Instant,
    lag: u64,
}

struct Follower {
    store: AuditStore,
    keys: PageTokenKey,
    settings: FollowSettings,
    plan: FollowPlan,
    wake: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    deadline: Option<Instant>,
    sender: Sender,
    behind: Option<Behind>,
    /// Counts this stream against its tenant's cap while it runs.
    _slot: StreamSlot,
    /// Counts this stream in the metrics while it runs, and carries its lag.
    gauge: Option<FollowStreamGuard>,
}

/// Why a round stopped short of waiting for the next wake-up.
enum Stop {
    /// The client went away: nothing to send.
    ClientGone,
    /// `limit` entries were delivered: a clean end.
    LimitReached,
    /// End with this status.
    Fail(AuditError),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Fail(AuditError::from(error))
    }
}

impl Follower {
    /// Runs rounds until the stream ends; returns its final status (None
    /// for a clean end or a client that left).
    async fn run(mut self) -> Option<Status> {
        let stop = loop {
            // Marked seen before the heads are read: a commit after this
            // point wakes the wait below.
            self.wake.borrow_and_update();
            if let Err(stop) = self.round().await {
                break stop;
            }
            if let Err(stop) = self.wait().await {
                break stop;
            }
        };
        let status = match stop {
            Stop::ClientGone => {
                tracing::debug!("follower went away");
                return None;
            }
            Stop::LimitReached => {
                tracing::Span::current().record("grpc.code", tonic::Code::Ok as i32);
                return None;
            }
            Stop::Fail(error) => Status::from(self.resumable(error)),
        };
        tracing::Span::current().record("grpc.code", status.code() as i32);
        Some(status)
    }

    /// Gives a terminal error the resume token of the current position, so
    /// no error leaves the client without a way to continue.
    fn resumable(&self, error: AuditError) -> AuditError {
        let resume_token = self.token(&self.plan.position);
        match error {
            AuditError::Unavailable(cause) => {
                tracing::warn!(%cause, "follow stream: audit store unavailable");
                AuditError::FollowEnded {
                    reason: FollowEnd::StoreFailed,
                    message: "the audit store is unavailable; resume with the ResumeToken"
                        .to_owned(),
                    resume_token,
                }
            }
            AuditError::FollowEnded {
                reason, message, ..
            } => AuditError::FollowEnded {
                reason,
                message,
                resume_token,
            },
            other => other,
        }
    }

    /// Delivers everything between the position and the current heads.
    async fn round(&mut self) -> Result<(), Stop> {
        let heads = self.heads().await?;
        self.check_lag(&heads)?;
        let mut pending: Vec<(String, i64)> = heads
            .into_iter()
            .filter(|(tenant, head)| *head > self.read_past(tenant))
            .collect();
        // Tenants take turns a page at a time, so one busy tenant cannot
        // hold back an admin's view of the others.
        while !pending.is_empty() {
            let mut still_pending = Vec::with_capacity(pending.len());
            for (tenant, head) in pending {
                if self.next_page(&tenant, head).await? {
                    still_pending.push((tenant, head));
                }
            }
            pending = still_pending;
        }
        Ok(())
    }

    /// Reads and sends one page of `tenant` up to `head`; returns whether
    /// more remains below the head.
    async fn next_page(&mut self, tenant: &str, head: i64) -> Result<bool, Stop> {
        let after = self.read_past(tenant);
        let wanted = self
            .plan
            .limit
            .map_or(self.plan.page_size, |left| left.min(self.plan.page_size));
        let page = self
            .store
            .follow_page(&self.plan.filter, tenant, after, head, wanted);
        let entries = self.bounded(page).await??;
        let full = entries.len() as u64 == wanted;
        // A short page read everything matching up to the head; a full one
        // stops at its last entry.
        let read_past = match entries.last().and_then(sequence_of) {
            Some(last) if full => last,
            _ => head,
        };
        let mut position = self.plan.position.clone();
        position.insert(tenant.to_owned(), read_past);
        if !entries.is_empty() {
            let delivered = entries.len() as u64;
            let mut page = EncodedPage::default();
            for entry in entries {
                page.push_entry(entry);
            }
            let message = ListReply::new(page, &self.token(&position), None);
            self.send(message).await?;
            if let Some(left) = self.plan.limit.as_mut() {
                *left -= delivered;
            }
        }
        self.plan.position = position;
        if self.plan.limit == Some(0) {
            return Err(Stop::LimitReached);
        }
        Ok(full && read_past < head)
    }

    /// Hands a message to the stream. While the client does not take it,
    /// keeps measuring the lag, so a follower that stopped reading is ended
    /// rather than held forever.
    async fn send(&mut self, message: ListReply) -> Result<(), Stop> {
        loop {
            let sender = self.sender.clone();
            let permit = self
                .bounded(tokio::time::timeout(
                    self.settings.poll_interval,
                    sender.reserve_owned(),
                ))
                .await?;
            match permit {
                Ok(Ok(permit)) => {
                    permit.send(Ok(message));
                    return Ok(());
                }
                Ok(Err(_closed)) => return Err(Stop::ClientGone),
                Err(_still_full) => {
                    let heads = self.heads().await?;
                    self.check_lag(&heads)?;
                }
            }
        }
    }

    /// Sleeps until a commit in scope, the poll interval, or the end.
    async fn wait(&self) -> Result<(), Stop> {
        let poll = tokio::time::sleep(self.settings.poll_interval);
        let mut wake = self.wake.clone();
        self.bounded(async move {
            tokio::select! {
                _ = wake.changed() => {}
                _ = poll => {}
            }
        })
        .await
    }

    /// Runs one step unless the client leaves, the server stops or the
    /// deadline passes first (dropping a query future cancels it).
    async fn bounded<T>(&self, step: impl Future<Output = T>) -> Result<T, Stop> {
        let expiry = async {
            match self.deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let mut stopping = self.stopping.clone();
        let stopped = async move {
            // An error means the hub is gone, i.e. the server is stopping.
            let _ = stopping.wait_for(|stopping| *stopping).await;
        };
        tokio::select! {
            output = step => Ok(output),
            _ = self.sender.closed() => Err(Stop::ClientGone),
            _ = stopped => Err(Stop::Fail(AuditError::FollowEnded {
                reason: FollowEnd::ShuttingDown,
                message: "the server is shutting down; resume with the ResumeToken on another \
                          replica or after the restart"
                    .to_owned(),
                resume_token: String::new(),
            })),
            _ = expiry => Err(Stop::Fail(AuditError::DeadlineExceeded)),
        }
    }

    async fn heads(&self) -> Result<Vec<(String, i64)>, Stop> {
        Ok(self
            .bounded(self.store.chain_heads(&self.plan.filter.scope))
            .await??)
    }

    /// Ends the stream when the follower has been more than `max_lag`
    /// entries behind for `lag_timeout` without its lag shrinking: it is not
    /// catching up, and the client is better told than silently stalled.
    fn check_lag(&mut self, heads: &[(String, i64)]) -> Result<(), Stop> {
        let lag: u64 = heads
            .iter()
            .map(|(tenant, head)| head.saturating_sub(self.read_past(tenant)).max(0) as u64)
            .sum();
        if let Some(gauge) = &self.gauge {
            gauge.report_lag(lag);
        }
        if lag <= self.settings.max_lag {
            self.behind = None;
            return Ok(());
        }
        let now = Instant::now();
        let Some(behind) = self.behind else {
            self.behind = Some(Behind { since: now, lag });
            return Ok(());
        };
        if now.duration_since(behind.since) < self.settings.lag_timeout {
            return Ok(());
        }
        if lag < behind.lag {
            // Catching up: judge the next window afresh.
            self.behind = Some(Behind { since: now, lag });
            return Ok(());
        }
        tracing::info!(lag, "follower cannot keep up; ending its stream");
        Err(Stop::Fail(AuditError::FollowEnded {
            reason: FollowEnd::FellBehind,
            message: format!(
                "the follower fell {lag} entries behind and did not catch up within {:?}; \
                 resume with the ResumeToken",
                self.settings.lag_timeout
            ),
            resume_token: String::new(),
        }))
    }

    /// The last sequence of `tenant` read past; 0 for a tenant not yet seen.
    fn read_past(&self, tenant: &str) -> i64 {
        self.plan.position.get(tenant).copied().unwrap_or(0)
    }

    fn token(&self, position: &FollowPosition) -> String {
        self.keys.issue_follow(&self.plan.binding, position)
    }
}

fn sequence_of(entry: &AuditLogEntry) -> Option<i64> {
    entry.chain.as_ref().map(|link| link.sequence)
}
