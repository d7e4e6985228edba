//! Follow mode's shared state: its settings, the per-tenant count of open
//! follow streams, and the signal that ends them at shutdown.
//!
//! The stream itself lives in `rpc::follow`; the reads in `store::follow`;
//! the wake-ups in `store::notifier`.

use crate::domain::TenantScope;
use crate::error::AuditError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub use crate::domain::FollowPosition;

/// How follow streams behave; see the README's "Follow mode".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSettings {
    /// Most follow streams open at once per tenant (admin streams across
    /// every tenant count under one key of their own).
    pub max_streams_per_tenant: usize,
    /// A follower further behind than this many entries is "behind".
    pub max_lag: u64,
    /// A follower behind for this long without its lag shrinking is ended
    /// with RESOURCE_EXHAUSTED and a resume token.
    pub lag_timeout: Duration,
    /// How often a follower re-reads the chain heads without a wake-up: the
    /// safety net under lost notifications.
    pub poll_interval: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self {
            max_streams_per_tenant: 16,
            max_lag: 10_000,
            lag_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Shared by every follow stream of one server.
#[derive(Clone, Debug)]
pub struct FollowHub {
    settings: FollowSettings,
    open: Arc<Mutex<HashMap<String, usize>>>,
    stopping: watch::Sender<bool>,
}

impl FollowHub {
    pub fn new(settings: FollowSettings) -> Self {
        Self {
            settings,
            open: Arc::new(Mutex::new(HashMap::new())),
            stopping: watch::channel(false).0,
        }
    }

    pub fn settings(&self) -> &FollowSettings {
        &self.settings
    }

    /// Counts a new follow stream against its tenant's cap; the stream is
    /// counted until the returned guard drops.
    pub fn admit(&self, scope: &TenantScope) -> Result<StreamSlot, AuditError> {
        let key = match scope {
            TenantScope::One(tenant) => tenant.clone(),
            // No tenant id is empty, so this key is the admins' own.
            TenantScope::All => String::new(),
        };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= self.settings.max_streams_per_tenant {
            let whose = if key.is_empty() {
                "across all tenants".to_owned()
            } else {
                format!("for tenant {key}")
            };
            return Err(AuditError::ResourceExhausted(format!(
                "too many follow streams {whose}: at most {} may be open at once \
                 (--max-follow-streams-per-tenant); close one and retry",
                self.settings.max_streams_per_tenant
            )));
        }
        *count += 1;
        Ok(StreamSlot {
            open: self.open.clone(),
            key,
        })
    }

    /// Returns how many follow streams are open per tenant ("" for admin
    /// streams across all tenants): the reading for an open-streams gauge.
    pub fn open_streams(&self) -> HashMap<String, usize> {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Tells every follow stream to end (UNAVAILABLE with a resume token).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Returns a receiver whose value turns true at shutdown.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}

/// One open follow stream, counted against its tenant's cap until dropped.
#[derive(Debug)]
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_open_streams_per_tenant() {
        let hub = FollowHub::new(FollowSettings {
            max_streams_per_tenant: 1,
            ..FollowSettings::default()
        });
        let acme = TenantScope::One("acme".into());
        let first = hub.admit(&acme).unwrap();
        assert!(matches!(
            hub.admit(&acme),
            Err(AuditError::ResourceExhausted(_))
        ));
        let _globex = hub.admit(&TenantScope::One("globex".into())).unwrap();
        let _all = hub.admit(&TenantScope::All).unwrap();
        assert_eq!(hub.open_streams().get("acme"), Some(&1));
        drop(first);
        assert_eq!(hub.open_streams().get("acme"), None);
        let _again = hub.admit(&acme).unwrap();
    }
}
