//! The List stream behind [`ListQuery::pages`](crate::ListQuery::pages):
//! reads the server's messages and, when a call breaks off, opens a new one
//! with the last message's `next_page_token`.

use crate::list::{Page, PageStream};
use crate::{AuditClient, Error, ListAuditLogsRequest, ListAuditLogsResponse};
use futures_util::StreamExt;
use tonic::Code;
use tonic::codec::Streaming;

/// Returns the pages of `request`, resuming across calls as needed.
pub(crate) fn page_stream(client: AuditClient, request: ListAuditLogsRequest) -> PageStream {
    let cursor = ListCursor::new(client, request);
    futures_util::stream::unfold(cursor, |mut cursor| async move {
        let page = cursor.next_page().await?;
        Some((page, cursor))
    })
    .boxed()
}

/// Where a List query stands: the call in progress, if any, and what the
/// next call must ask for to continue exactly after the last entry read.
struct ListCursor {
    client: AuditClient,
    /// The request for the next call: its token, limit and count flag move
    /// on with every page delivered.
    next_request: ListAuditLogsRequest,
    call: Option<Streaming<ListAuditLogsResponse>>,
    /// Pages delivered by the call in progress.
    pages_in_call: u32,
    /// Calls in a row that failed before delivering anything.
    failed_calls: u32,
    /// Set once a page arrives with an empty token or the limit is reached:
    /// nothing is left to ask for.
    exhausted: bool,
    finished: bool,
}

impl ListCursor {
    fn new(client: AuditClient, request: ListAuditLogsRequest) -> Self {
        Self {
            client,
            next_request: request,
            call: None,
            pages_in_call: 0,
            failed_calls: 0,
            exhausted: false,
            finished: false,
        }
    }

    /// Returns the next page, `None` at the end, or the error that ended
    /// the stream (after which it returns `None`).
    async fn next_page(&mut self) -> Option<Result<Page, Error>> {
        while !self.finished {
            let received = match self.call.as_mut() {
                Some(call) => call.message().await.map_err(Error::from),
                None => match self.open_call().await {
                    Ok(()) => continue,
                    Err(error) => Err(error),
                },
            };
            match received {
                Ok(Some(message)) => return Some(Ok(self.deliver(message))),
                Ok(None) => self.after_clean_end(),
                Err(error) => {
                    self.call = None;
                    if let Err(error) = self.before_resuming(error).await {
                        self.finished = true;
                        return Some(Err(error));
                    }
                }
            }
        }
        None
    }

    async fn open_call(&mut self) -> Result<(), Error> {
        let request = if self.next_request.follow {
            // A follow stream runs until dropped: no deadline fits it.
            tonic::Request::new(self.next_request.clone())
        } else {
            self.client.request(self.next_request.clone())
        };
        let call = self.client.stub().list_audit_logs(request).await?;
        self.call = Some(call.into_inner());
        self.pages_in_call = 0;
        Ok(())
    }

    /// Records a page as delivered and moves the next request past it.
    fn deliver(&mut self, message: ListAuditLogsResponse) -> Page {
        self.pages_in_call += 1;
        self.failed_calls = 0;
        // Counting once is enough; a resumed call need not count again.
        self.next_request.include_total_count = false;
        self.next_request.page_token = message.next_page_token.clone();
        if self.next_request.limit > 0 {
            let delivered = i32::try_from(message.audit_logs.len()).unwrap_or(i32::MAX);
            self.next_request.limit = (self.next_request.limit - delivered).max(0);
            if self.next_request.limit == 0 {
                self.exhausted = true;
            }
        }
        if message.next_page_token.is_empty() {
            self.exhausted = true;
        }
        Page {
            entries: message.audit_logs,
            next_page_token: message.next_page_token,
            total_count: message.total_count,
        }
    }

    /// Handles a call that ended without an error. The contract ends a
    /// listing with an empty token, so a call that stopped while its last
    /// page still held one was cut short (e.g. by its deadline) and is
    /// continued; one that delivered nothing is not, so this cannot loop.
    fn after_clean_end(&mut self) {
        self.call = None;
        if self.exhausted || self.pages_in_call == 0 {
            self.finished = true;
            return;
        }
        tracing::debug!("list call ended before its last page, continuing from its token");
        self.pages_in_call = 0;
    }

    /// Decides whether a failed call is resumed: waits the backoff and
    /// returns `Ok` to go on, or returns the error that ends the stream.
    async fn before_resuming(&mut self, error: Error) -> Result<(), Error> {
        let made_progress = self.pages_in_call > 0;
        self.pages_in_call = 0;
        if self.exhausted {
            // Everything was delivered; a broken connection after the last
            // page loses nothing, but a real failure is still reported.
            return if error.is_retryable() || is_broken_call(&error) {
                self.finished = true;
                Ok(())
            } else {
                Err(error)
            };
        }
        // A deadline bounds one call, not the whole listing: a call that
        // delivered pages before it ran out is continued by a fresh one.
        if made_progress && error.code() == Code::DeadlineExceeded {
            return Ok(());
        }
        // A follow stream the server ended says where to go on from: after
        // the last entry it handed over, which may be past the last page
        // delivered (entries that did not match the filter).
        let resume_token = self
            .next_request
            .follow
            .then(|| error.resume_token())
            .flatten();
        let resumed_by_server = resume_token.is_some();
        if let Some(token) = resume_token {
            self.next_request.page_token = token;
        }
        // Reading again from the last token is always safe, so a call whose
        // connection broke is resumed even though a unary call would not be.
        let resumable = error.is_retryable() || is_broken_call(&error) || resumed_by_server;
        self.failed_calls += 1;
        let policy = self.client.retry_policy();
        if !resumable || self.failed_calls >= policy.max_attempts.max(1) {
            return Err(error);
        }
        let delay = policy.backoff(self.failed_calls - 1);
        tracing::debug!(%error, ?delay, "list stream broke off, resuming from its last page");
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// Returns true when a stream ended because the connection under it broke:
/// tonic made the status locally from a transport error (it carries the
/// error as its source; a status the server sent carries none), as UNKNOWN
/// for a reset or truncated body, CANCELLED for a dropped connection.
pub(crate) fn is_broken_call(error: &Error) -> bool {
    error.status().is_some_and(|status| {
        std::error::Error::source(status).is_some()
            && matches!(
                status.code(),
                Code::Unknown | Code::Unavailable | Code::Cancelled
            )
    })
}
