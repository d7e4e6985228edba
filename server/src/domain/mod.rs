//! Audit-domain types shared by the RPC layer and the store: validated
//! entries, filters, cursors and stats. No tonic and no SQL here.

mod entry;
mod filter;
mod ip;
mod stats;
mod time;

pub use entry::{Actor, AuditLogEntry, RequestInfo, Target};
pub use filter::{ActionMatch, AuditLogFilter, Cursor, ListOrder, TenantScope};
pub use ip::{IpRange, ip_from_key, ip_to_key};
pub use stats::{ActorCount, AuditStatsReport, Granularity, HistogramBucket};
pub use time::{Micros, now_micros};

pub use audit_proto::{ActorType, Result as Outcome};
