//! The audit-log service: stores and serves who did what, to what, when,
//! from where and with what result, over gRPC.
//!
//! # Layout
//! - [`config`]: command-line flags with environment fallbacks.
//! - [`telemetry`]: the tracing subscriber, with OpenTelemetry when configured.
//! - [`app`]: [`app::Application`] binds, serves and shuts down.
//! - [`auth`]: bearer tokens (JWT or API key) become a [`auth::Caller`].
//! - [`checkpoint`]: the signing key and signed checkpoints of chain heads.
//! - [`retention`]: retention policies and the purge of expired entries.
//! - [`partitions`]: upkeep of the monthly partitions of the audit log.
//! - [`rpc`]: one file per RPC: decode and validate, call the store, encode.
//! - [`domain`]: validated entries, filters, cursors and stats (from
//!   `audit-validation`, which also holds request validation and page tokens).
//! - [`store`]: everything SQL (SeaORM on Postgres or SQLite).
//! - `wire`: List pages written as protobuf straight from Postgres rows.
//! - [`metrics`]: Prometheus metrics and their `/metrics` listener.
//! - [`error`]: the service's error type, mapped once to `tonic::Status`.
//! - [`follow`]: follow mode's settings, stream caps and shutdown signal.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod follow;
pub mod metrics;
pub mod partitions;
pub mod retention;
pub mod rpc;
mod rpc_trace;
pub mod store;
pub mod telemetry;
mod wire;

/// The domain types live with request validation, which needs no database.
pub use audit_validation::domain;
