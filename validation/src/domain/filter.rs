//! The validated form of `AuditLogFilter`, the list order, the keyset
//! cursor and a follow stream's position.

use super::{ActorType, IpRange, Micros, Outcome};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Which tenants a query may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantScope {
    /// One tenant: every caller's own, or the one an admin named.
    One(String),
    /// Every tenant: the admin's view when the filter names none.
    All,
}

/// How `action` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    Exact(String),
    /// `user.*` becomes `Prefix("user.")`: every action starting with it.
    Prefix(String),
}

impl ActionMatch {
    /// Returns the first dotted segment when the match is confined to one
    /// namespace (`user.` or `user.mfa.` → `user`), so an index on the
    /// namespace column can serve it.
    pub fn namespace(&self) -> Option<&str> {
        let text = match self {
            ActionMatch::Exact(action) => action.as_str(),
            ActionMatch::Prefix(prefix) => prefix.as_str(),
        };
        text.split_once('.').map(|(namespace, _)| namespace)
    }
}

/// Every condition of a List or Stats request, combined with AND.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLogFilter {
    pub scope: TenantScope,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub actor_type: Option<ActorType>,
    pub action: Option<ActionMatch>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub result: Option<Outcome>,
    pub client_ip: Option<IpRange>,
    /// Inclusive.
    pub start_time: Option<Micros>,
    /// Exclusive.
    pub end_time: Option<Micros>,
}

impl AuditLogFilter {
    /// Returns a filter that matches every entry in the scope.
    pub fn everything(scope: TenantScope) -> Self {
        Self {
            scope,
            actor_id: None,
            actor_email: None,
            actor_type: None,
            action: None,
            target_type: None,
            target_id: None,
            result: None,
            client_ip: None,
            start_time: None,
            end_time: None,
        }
    }
}

/// The order of a List: by `(occurred_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    NewestFirst,
    OldestFirst,
}

/// Where a follow stream stands: per tenant, the last sequence it has read
/// past (delivered, or skipped as not matching the filter).
pub type FollowPosition = BTreeMap<String, i64>;

/// A position in a listing: the last entry already delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: Micros,
    pub id: Uuid,
}
