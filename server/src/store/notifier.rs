//! [`ChainNotifier`]: wakes followers when a tenant's chain moves.
//!
//! Every writer that commits chained entries (append, delete, legal hold)
//! calls [`ChainNotifier::chain_moved`] once per committed transaction. That
//! wakes this process's followers at once through a per-tenant
//! `tokio::sync::watch`, and, on Postgres, queues the tenant for the relay:
//! one task sends the queued tenants in ONE `pg_notify` (never one per row,
//! never inside the writer's transaction, so commits do not queue on the
//! notification lock and appends do not wait for it), and another LISTENs
//! and wakes this process's followers for other processes' commits.
//!
//! A wake-up carries no data: followers always read from the database, so a
//! lost or duplicated notification only delays or repeats a read, and the
//! followers' slow poll covers anything lost.

use super::AuditStore;
use crate::domain::TenantScope;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The Postgres channel commits are announced on.
pub const CHAIN_CHANNEL: &str = "audit_appended";
/// Postgres refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD_BYTES: usize = 7000;
/// How long the listener waits before reconnecting after an error.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// The least time between two announcements. A `pg_notify` is a
/// transaction of its own that commits (Postgres gives it a transaction id
/// for the notification queue) and takes the queue's global lock: sent after
/// every append, one-entry appends would pay a second commit each. Gathering
/// the commits of this window into one announcement costs other processes'
/// followers at most this much delay.
const ANNOUNCE_INTERVAL: Duration = Duration::from_millis(20);

/// Shared by every clone of one [`AuditStore`]: one per process.
#[derive(Clone)]
pub struct ChainNotifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Names this process in its notifications, so it skips its own.
    origin: String,
    /// One counter per tenant someone follows.
    tenants: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Bumped for every tenant: what a cross-tenant follower waits on.
    any: watch::Sender<u64>,
    /// Tenants whose move is not yet announced to other processes; only
    /// filled while a relay runs.
    outbox: Mutex<Option<BTreeSet<String>>>,
    outbox_ready: Notify,
}

impl Default for ChainNotifier {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                origin: Uuid::now_v7().simple().to_string(),
                tenants: Mutex::new(HashMap::new()),
                any: watch::channel(0).0,
                outbox: Mutex::new(None),
                outbox_ready: Notify::new(),
            }),
        }
    }
}

impl std::fmt::Debug for ChainNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainNotifier")
            .field("origin", &self.inner.origin)
            .finish()
    }
}

/// A poisoned lock only means a panic elsewhere; the maps stay usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ChainNotifier {
    /// Announces that `tenant_id`'s chain moved (a transaction committed).
    pub fn chain_moved(&self, tenant_id: &str) {
        self.wake(tenant_id);
        if let Some(outbox) = lock(&self.inner.outbox).as_mut() {
            outbox.insert(tenant_id.to_owned());
            self.inner.outbox_ready.notify_one();
        }
    }

    /// Returns a receiver that changes whenever a tenant of `scope` moves.
    pub fn subscribe(&self, scope: &TenantScope) -> watch::Receiver<u64> {
        match scope {
            TenantScope::All => self.inner.any.subscribe(),
            TenantScope::One(tenant_id) => {
                let mut tenants = lock(&self.inner.tenants);
                // Forget tenants nobody follows any more, so the map stays
                // as small as the set of followed tenants.
                tenants.retain(|_, sender| sender.receiver_count() > 0);
                tenants
                    .entry(tenant_id.clone())
                    .or_insert_with(|| watch::channel(0).0)
                    .subscribe()
            }
        }
    }

    /// Wakes this process's followers of `tenant_id`.
    fn wake(&self, tenant_id: &str) {
        if let Some(sender) = lock(&self.inner.tenants).get(tenant_id) {
            sender.send_modify(|version| *version = version.wrapping_add(1));
        }
        self.inner
            .any
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Wakes every follower: after the listener lost its connection, any
    /// tenant may have moved unannounced.
    fn wake_all(&self) {
        for sender in lock(&self.inner.tenants).values() {
            sender.send_modify(|version| *version = version.wrapping_add(1));
        }
        self.inner
            .any
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Takes the tenants waiting to be announced.
    fn take_outbox(&self) -> BTreeSet<String> {
        lock(&self.inner.outbox)
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Returns the payloads announcing `tenants`: origin, then one tenant
    /// per line, each under Postgres' payload limit.
    fn payloads(&self, tenants: BTreeSet<String>) -> Vec<String> {
        let mut payloads = Vec::new();
        let mut current = self.inner.origin.clone();
        for tenant in tenants {
            if current.len() + 1 + tenant.len() > MAX_PAYLOAD_BYTES {
                payloads.push(std::mem::replace(&mut current, self.inner.origin.clone()));
            }
            current.push('\n');
            current.push_str(&tenant);
        }
        payloads.push(current);
        payloads
    }

    /// Wakes the followers of the tenants another process announced.
    fn receive(&self, payload: &str) {
        let mut lines = payload.split('\n');
        if lines.next() == Some(self.inner.origin.as_str()) {
            return;
        }
        for tenant in lines.filter(|tenant| !tenant.is_empty()) {
            self.wake(tenant);
        }
    }
}

impl AuditStore {
    /// Returns the notifier followers subscribe to.
    pub fn chain_notifier(&self) -> &ChainNotifier {
        &self.notifier
    }

    /// On Postgres, starts the tasks that announce this process's commits
    /// to other processes and receive theirs; the caller aborts them on
    /// shutdown. Nothing to do on SQLite, which one process owns.
    pub fn start_chain_relay(&self) -> Vec<JoinHandle<()>> {
        if self.backend != DbBackend::Postgres {
            return Vec::new();
        }
        *lock(&self.notifier.inner.outbox) = Some(BTreeSet::new());
        vec![
            tokio::spawn(announce(self.clone())),
            tokio::spawn(listen(self.clone())),
        ]
    }
}

/// Sends queued tenants as they come: one statement per wake-up, however
/// many commits and tenants it covers, and at most one per
/// [`ANNOUNCE_INTERVAL`].
async fn announce(store: AuditStore) {
    let notifier = store.notifier.clone();
    loop {
        notifier.inner.outbox_ready.notified().await;
        let tenants = notifier.take_outbox();
        if tenants.is_empty() {
            continue;
        }
        for payload in notifier.payloads(tenants) {
            let statement = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHAIN_CHANNEL.into(), payload.into()],
            );
            if let Err(error) = store.db.execute_raw(statement).await {
                // Other processes' followers find the entries at their next
                // poll instead.
                tracing::warn!(%error, "could not announce committed entries");
            }
        }
        // The first commit after a quiet spell goes out at once; the ones
        // during this pause wait for the next announcement (notify_one
        // keeps the wake-up).
        tokio::time::sleep(ANNOUNCE_INTERVAL).await;
    }
}

/// LISTENs on a dedicated connection of the pool and wakes followers for
/// other processes' commits; reconnects forever.
async fn listen(store: AuditStore) {
    let notifier = store.notifier.clone();
    loop {
        let pool = store.db.get_postgres_connection_pool();
        let mut listener = match PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot open the LISTEN connection; retrying");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHAIN_CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; retrying");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        // Commits announced while no listener was up were missed.
        notifier.wake_all();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => notifier.receive(notification.payload()),
                Ok(None) => {
                    // The connection dropped; try_recv reconnects and
                    // LISTENs again on its next call.
                    tracing::warn!("LISTEN connection lost; reconnecting");
                    notifier.wake_all();
                }
                Err(error) => {
                    tracing::warn!(%error, "LISTEN connection failed; reconnecting");
                    tokio::time::sleep(RECONNECT_DELAY).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_postgres_limit_and_name_their_origin() {
        let notifier = ChainNotifier::default();
        let tenants: BTreeSet<String> = (0..2000).map(|i| format!("tenant-{i:05}")).collect();
        let payloads = notifier.payloads(tenants.clone());
        assert!(payloads.len() > 1);
        let mut seen = BTreeSet::new();
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD_BYTES);
            let mut lines = payload.split('\n');
            assert_eq!(lines.next(), Some(notifier.inner.origin.as_str()));
            seen.extend(lines.map(str::to_owned));
        }
        assert_eq!(seen, tenants);
    }

    #[tokio::test]
    async fn a_move_wakes_that_tenant_and_cross_tenant_followers_only() {
        let notifier = ChainNotifier::default();
        let mut acme = notifier.subscribe(&TenantScope::One("acme".into()));
        let globex = notifier.subscribe(&TenantScope::One("globex".into()));
        let mut all = notifier.subscribe(&TenantScope::All);
        notifier.chain_moved("acme");
        assert!(acme.has_changed().unwrap());
        assert!(!globex.has_changed().unwrap());
        assert!(all.has_changed().unwrap());
        acme.borrow_and_update();
        all.borrow_and_update();
        // Its own announcement coming back is ignored; another origin's is not.
        notifier.receive(&format!("{}\nglobex", notifier.inner.origin));
        assert!(!globex.has_changed().unwrap());
        notifier.receive("another-process\nglobex");
        assert!(globex.has_changed().unwrap());
        assert!(!acme.has_changed().unwrap());
    }
}
