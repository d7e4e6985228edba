//! End-to-end tests of `audit.v1.AuditService`: one module per RPC group,
//! all built into one binary so they share one throwaway Postgres.

mod append;
mod auth;
mod delete;
mod describe_filters;
mod get;
mod grpcurl;
mod health;
mod idempotency;
mod list_filters;
mod list_paging;
mod message_size;
mod shutdown;
mod stats;
mod validation;
