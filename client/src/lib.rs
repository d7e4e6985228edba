//! A typed Rust client for the audit-log service (`audit.v1.AuditService`).
//!
//! [`AuditClient`] wraps the generated tonic stub: it sends the caller's
//! bearer token (a JWT or an API key) and a deadline with every call, retries
//! calls that are safe to repeat while the server is unavailable, and speaks
//! in the types a Rust backend holds — `SystemTime` or `chrono` times,
//! `serde_json` metadata, `Uuid` ids. Queries are builders; List results are
//! a stream that follows the server's page tokens, across reconnects.
//!
//! ```no_run
//! use audit_client::{ActorType, AuditClient, AuditEvent, Outcome};
//! use serde_json::json;
//! use std::time::SystemTime;
//!
//! # async fn example() -> Result<(), audit_client::Error> {
//! // AUDIT_ENDPOINT (default http://127.0.0.1:50051) and AUDIT_TOKEN.
//! let client = AuditClient::from_env().await?;
//!
//! let ids = client
//!     .append([AuditEvent::new("api_key.created")
//!         .actor(ActorType::User, "u_42")
//!         .target("api_key", "key_7")
//!         .result(Outcome::Success)
//!         .metadata(json!({"scopes": ["audit:read"]}))
//!         .occurred_at(SystemTime::now())
//!         .idempotency_key("api_key.created/key_7")])
//!     .await?;
//!
//! let created = client.list().action("api_key.*").actor_id("u_42").collect().await?;
//! let stats = client.stats().action("api_key.*").send().await?;
//! println!("stored {ids:?}; {} of {} listed", created.len(), stats.total);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`client`](AuditClient) and [`builder`](ClientBuilder): connecting, the
//!   caller's identity, deadlines, TLS, `from_env`; one method per RPC.
//! - [`ListQuery`] and the resuming page stream; [`StatsQuery`]; the filter
//!   setters both share.
//! - [`Error`] and [`RetryPolicy`]: what failed and whether to try again.
//! - [`AuditEvent`]: an event to record, with a serde form for NDJSON.
//! - Conversions: [`IntoTimestamp`] and friends, JSON ⇄ `Struct`
//!   ([`json_to_struct`]), entries as JSON ([`audit_log_to_json`] and back,
//!   [`audit_log_from_json`]), enum
//!   names ([`parse_actor_type`]), and [`AuditLogExt`] on stored entries.
//! - [`BearerToken`]: the interceptor that adds the `authorization` header
//!   and, with the `otel` feature, the caller's W3C `traceparent`.
//! - [`recorder`]: [`Recorder`], batching events in the background.
//! - [`integrity`]: the offline chain verifier, for an export checked
//!   without trusting the server.
//! - [`layer`]: [`AuditLayer`], a tower layer that records the calls of any
//!   service.

#![warn(missing_docs)]

mod bearer;
mod builder;
mod client;
mod convert;
mod entry;
mod entry_from_json;
mod entry_json;
mod error;
mod event;
mod filter;
pub mod integrity;
mod json;
pub mod layer;
mod list;
mod names;
mod pages;
pub mod recorder;
mod retry;
mod stats;
#[cfg(feature = "otel")]
mod trace_context;

/// The generated contract crate, for anything not re-exported here.
pub use audit_proto as proto;
/// How an action ended (the contract's `Result` enum, renamed so it does not
/// shadow `std::result::Result`).
pub use audit_proto::Result as Outcome;
pub use audit_proto::{
    Actor, ActorCount, ActorType, AuditLog, AuditLogFilter, AuditLogInput, AuditStats, CountBy,
    DeleteAuditLogResponse, FilterField, FilterMetadata, FilterOperator, GetAuditStatsRequest,
    Granularity, HistogramBucket, ListAuditLogsRequest, ListAuditLogsResponse, RequestInfo,
    SortOrder, Target,
};
/// The protobuf well-known types (`Timestamp`, `Struct`) the contract uses.
pub use prost_types;

pub use bearer::BearerToken;
pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_ENDPOINT};
pub use client::{AuditClient, AuditServiceStub};
#[cfg(feature = "chrono")]
pub use convert::timestamp_to_datetime;
pub use convert::{
    IntoTimestamp, parse_entry_id, parse_rfc3339, timestamp_to_rfc3339, timestamp_to_system_time,
};
pub use entry::AuditLogExt;
pub use entry_from_json::audit_log_from_json;
pub use entry_json::{audit_event_from_json, audit_log_to_json};
pub use error::{Error, FieldViolation, RESUME_TOKEN_TYPE_URL};
pub use event::AuditEvent;
pub use json::{
    json_to_struct, json_to_value, map_to_struct, struct_to_json, struct_to_map, value_to_json,
};
pub use layer::AuditLayer;
pub use list::{AuditLogStream, ListQuery, Page, PageStream};
pub use names::{parse_actor_type, parse_granularity, parse_outcome};
pub use recorder::{OverflowPolicy, Recorder, RecorderBuilder, RecorderStats};
pub use retry::RetryPolicy;
pub use stats::StatsQuery;
