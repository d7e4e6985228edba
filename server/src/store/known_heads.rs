//! The chain heads this server last wrote, per tenant, so that the next
//! append to a tenant can link its entries without reading the head first.
//!
//! Why: on Postgres an append transaction was BEGIN, the head lock
//! (`SELECT … FOR UPDATE`), the INSERT and COMMIT: four round trips, for a
//! one-entry append nearly all of its cost. A tenant's appends in this
//! server take turns (group commit), and most of them find the head where
//! this server's previous append left it; they can store their rows in one
//! statement that moves each head only if it is still that one (see
//! `insert` and the `audit_all_or_none` migration). When it is not
//! (another replica appended, a delete or legal hold linked an entry, the
//! server restarted), the statement changes nothing and the append takes
//! the locked way, which tells this cache the head it found.
//!
//! A head here is a hint, never trusted: the statement checks it against
//! the row under the row's lock.

use super::chain::ChainHead;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Most tenants remembered; past it the cache starts over (a head costs
/// about a hundred bytes, and a forgotten one only costs one locked append).
const MOST_TENANTS: usize = 10_000;

/// Chain heads as this server last wrote them; shared by every clone.
#[derive(Clone, Default)]
pub(crate) struct KnownHeads(Arc<Mutex<HashMap<String, ChainHead>>>);

impl KnownHeads {
    fn map(&self) -> MutexGuard<'_, HashMap<String, ChainHead>> {
        // Entries are only inserted or removed whole: a panic elsewhere
        // cannot leave the map half-changed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The heads of all of `tenant_ids`, or None if any is unknown.
    pub(crate) fn of(&self, tenant_ids: &[&str]) -> Option<HashMap<String, ChainHead>> {
        let map = self.map();
        tenant_ids
            .iter()
            .map(|tenant_id| {
                let head = map.get(*tenant_id)?;
                Some((head.tenant_id.clone(), head.clone()))
            })
            .collect()
    }

    /// Records heads as they stand after a committed write.
    pub(crate) fn remember<'a>(&self, heads: impl IntoIterator<Item = &'a ChainHead>) {
        let mut map = self.map();
        for head in heads {
            if map.len() >= MOST_TENANTS && !map.contains_key(&head.tenant_id) {
                map.clear();
            }
            map.insert(head.tenant_id.clone(), head.clone());
        }
    }

    /// Drops the heads of `tenant_ids`: they moved elsewhere, or a write's
    /// outcome is unknown.
    pub(crate) fn forget(&self, tenant_ids: &[&str]) {
        let mut map = self.map();
        for tenant_id in tenant_ids {
            map.remove(*tenant_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(tenant_id: &str, sequence: i64) -> ChainHead {
        ChainHead {
            tenant_id: tenant_id.to_owned(),
            sequence,
            hash: [sequence as u8; 32],
        }
    }

    #[test]
    fn heads_are_known_only_when_every_tenant_is() {
        let known = KnownHeads::default();
        known.remember(&[head("acme", 3), head("globex", 7)]);
        let both = known.of(&["acme", "globex"]).expect("both known");
        assert_eq!(both["acme"], head("acme", 3));
        assert_eq!(both["globex"], head("globex", 7));
        assert!(known.of(&["acme", "initech"]).is_none());

        known.remember(&[head("acme", 4)]);
        assert_eq!(known.of(&["acme"]).expect("known")["acme"], head("acme", 4));
        known.forget(&["acme"]);
        assert!(known.of(&["acme"]).is_none());
        assert!(known.of(&["globex"]).is_some());
    }

    #[test]
    fn a_full_cache_starts_over_rather_than_grow() {
        let known = KnownHeads::default();
        let heads: Vec<ChainHead> = (0..MOST_TENANTS)
            .map(|n| head(&format!("t{n}"), 1))
            .collect();
        known.remember(&heads);
        known.remember(&[head("one-more", 1)]);
        assert!(known.of(&["one-more"]).is_some());
        assert!(known.of(&["t0"]).is_none());
        assert!(known.0.lock().expect("not poisoned").len() <= MOST_TENANTS);
    }
}
