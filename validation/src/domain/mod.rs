//! Audit-domain types shared by the RPC layer and the store: validated
//! entries, filters, cursors, stats and the hash chain. No tonic and no SQL
//! here; the `audit.v1` messages are plain structs and are used as such.

mod chain;
mod entry;
mod filter;
mod ip;
mod message;
mod stats;
mod time;

pub use chain::{
    BreakKind, ChainLink, ChainProgress, ChainStatus, ChainVerdict, DELETED_ACTION,
    DELETED_DIGEST_KEY, DELETED_SEQUENCE_KEY,
};
pub use entry::{Actor, AuditLogEntry, RequestInfo, Target, no_request, no_target};
pub use filter::{ActionMatch, AuditLogFilter, Cursor, FollowPosition, ListOrder, TenantScope};
pub use ip::{IpRange, ip_from_key, ip_to_key};
pub use message::{entry_to_message, json_to_struct};
pub use stats::{ActorCount, AuditStatsReport, Granularity, HistogramBucket};
pub use time::{Micros, from_micros, now_micros};

pub use audit_proto::{ActorType, Result as Outcome};
