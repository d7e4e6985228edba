//! End-to-end tests of `audit.v1.AuditService`: one module per RPC group,
//! all built into one binary so they share one throwaway Postgres.

mod append;
mod audit_layer;
mod auth;
mod checkpoints;
mod client_conversions;
mod client_errors;
mod client_paging;
mod client_queries;
mod client_retry;
mod delete;
mod describe_filters;
mod filter_shapes;
mod get;
mod grpcurl;
mod health;
mod idempotency;
mod integrity;
mod legal_hold;
mod list_filters;
mod list_paging;
mod message_size;
mod query_plans;
mod recorder;
mod shutdown;
mod stats;
mod validation;
