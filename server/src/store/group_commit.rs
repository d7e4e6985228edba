//! Group commit per tenant: appends to one tenant that arrive while an
//! earlier one is being written are written together, in one transaction,
//! right after it.
//!
//! Why: a tenant's appends take turns on its chain-head lock anyway. Without
//! grouping, each waiting append holds a pooled connection and a Postgres
//! backend idle on the lock, then pays its own INSERT, COMMIT and WAL flush.
//! Grouped, the appends queued behind a transaction share the next one: one
//! lock, one INSERT, one flush. Each call still gets its own ids (or its own
//! error), only after the transaction holding its entries committed, and a
//! tenant's sequences follow arrival order.
//!
//! One writer task per tenant with work queued; it ends when the queue is
//! empty. Appends to different tenants never wait for each other here. The
//! writer is detached from the calls, so a client that leaves after sending
//! cannot cut a transaction short: its entries are stored or not, as a
//! timeout always left it (idempotency keys make a retry safe).

use super::{AuditStore, StoreError};
use crate::domain::AuditLogEntry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Most entries one grouped transaction takes (four full requests). A
/// request is never split: the first one queued is taken whatever its size.
const MAX_GROUP_ENTRIES: usize = 4000;

/// The queues of appends waiting for their tenant's writer; shared by every
/// clone of one store.
#[derive(Clone, Default)]
pub(crate) struct TenantWriters {
    queues: Arc<Mutex<HashMap<String, VecDeque<Pending>>>>,
}

/// One append call waiting for its transaction.
struct Pending {
    entries: Vec<AuditLogEntry>,
    reply: oneshot::Sender<Result<Vec<Uuid>, StoreError>>,
}

/// A poisoned lock only means a panic elsewhere; the queues stay usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TenantWriters {
    /// Queues an append; true when no writer runs for the tenant, so the
    /// caller must start one.
    fn enqueue(&self, tenant_id: &str, pending: Pending) -> bool {
        let mut queues = lock(&self.queues);
        match queues.get_mut(tenant_id) {
            Some(queue) => {
                queue.push_back(pending);
                false
            }
            None => {
                queues.insert(tenant_id.to_owned(), VecDeque::from([pending]));
                true
            }
        }
    }

    /// Takes the next group of the tenant's queue. An empty group means the
    /// queue was empty and is now gone: the writer must stop (the next
    /// append starts a new one). Both happen under the one lock, so no
    /// append is queued for a writer that already stopped.
    fn take_group(&self, tenant_id: &str) -> Vec<Pending> {
        let mut queues = lock(&self.queues);
        let Some(queue) = queues.get_mut(tenant_id) else {
            return Vec::new();
        };
        let mut group = Vec::new();
        let mut entries = 0;
        while let Some(next) = queue.front() {
            if !group.is_empty() && entries + next.entries.len() > MAX_GROUP_ENTRIES {
                break;
            }
            entries += next.entries.len();
            group.extend(queue.pop_front());
        }
        if group.is_empty() {
            queues.remove(tenant_id);
        }
        group
    }

    /// Takes every append still queued for the tenant.
    fn take_all(&self, tenant_id: &str) -> Vec<Pending> {
        lock(&self.queues)
            .get_mut(tenant_id)
            .map(|queue| queue.drain(..).collect())
            .unwrap_or_default()
    }
}

impl AuditStore {
    /// Appends `entries` in the tenant's next grouped transaction and
    /// returns their ids in input order.
    pub(crate) async fn append_grouped(
        &self,
        tenant_id: &str,
        entries: Vec<AuditLogEntry>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.writers.enqueue(tenant_id, Pending { entries, reply }) {
            tokio::spawn(self.clone().write_tenant(tenant_id.to_owned()));
        }
        answer.await.map_err(|_| {
            StoreError::Internal("the tenant's writer stopped before answering".to_owned())
        })?
    }

    /// The writer: commits groups until the tenant's queue is empty.
    async fn write_tenant(self, tenant_id: String) {
        let mut watch = WriterWatch {
            writers: self.writers.clone(),
            tenant_id: tenant_id.clone(),
            done: false,
        };
        loop {
            let group = self.writers.take_group(&tenant_id);
            if group.is_empty() {
                watch.done = true;
                return;
            }
            self.commit_group(&tenant_id, group).await;
        }
    }

    /// Writes one group and answers each of its calls.
    async fn commit_group(&self, tenant_id: &str, mut group: Vec<Pending>) {
        if group.len() == 1 {
            let Some(pending) = group.pop() else { return };
            let outcome = self.append_batch(tenant_id, pending.entries).await;
            self.answer(tenant_id, pending.reply, outcome);
            return;
        }
        let sizes: Vec<usize> = group.iter().map(|pending| pending.entries.len()).collect();
        let together: Vec<AuditLogEntry> = group
            .iter()
            .flat_map(|pending| pending.entries.iter().cloned())
            .collect();
        match self.append_batch(tenant_id, together).await {
            Ok(ids) => {
                let mut ids = ids.into_iter();
                for (pending, size) in group.into_iter().zip(sizes) {
                    let own: Vec<Uuid> = ids.by_ref().take(size).collect();
                    let _ = pending.reply.send(Ok(own));
                }
            }
            Err(StoreError::Unavailable(cause)) => {
                for pending in group {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::Unavailable(cause.clone())));
                }
                self.fail_queued(tenant_id, &cause);
            }
            // One call's entries failed the group (an idempotency conflict,
            // say): each call alone, so the others are not failed with it.
            Err(_) => {
                for pending in group {
                    let outcome = self.append_batch(tenant_id, pending.entries).await;
                    self.answer(tenant_id, pending.reply, outcome);
                }
            }
        }
    }

    /// Sends a call its outcome. When the database is unavailable, the calls
    /// queued meanwhile fail at once too rather than wait for a writer that
    /// would try each group in turn.
    fn answer(
        &self,
        tenant_id: &str,
        reply: oneshot::Sender<Result<Vec<Uuid>, StoreError>>,
        outcome: Result<Vec<Uuid>, StoreError>,
    ) {
        if let Err(StoreError::Unavailable(cause)) = &outcome {
            self.fail_queued(tenant_id, cause);
        }
        let _ = reply.send(outcome);
    }

    fn fail_queued(&self, tenant_id: &str, cause: &str) {
        for pending in self.writers.take_all(tenant_id) {
            let _ = pending
                .reply
                .send(Err(StoreError::Unavailable(cause.to_owned())));
        }
    }
}

/// Clears a tenant's queue if its writer ends before emptying it (a panic,
/// or the runtime shutting down): otherwise the queue would outlive its
/// writer, and every later append to the tenant would wait for a writer
/// nobody starts.
struct WriterWatch {
    writers: TenantWriters,
    tenant_id: String,
    done: bool,
}

impl Drop for WriterWatch {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let orphans = lock(&self.writers.queues).remove(&self.tenant_id);
        for pending in orphans.into_iter().flatten() {
            let _ = pending.reply.send(Err(StoreError::Internal(
                "the tenant's writer stopped before writing this append".to_owned(),
            )));
        }
    }
}
