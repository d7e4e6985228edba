//! End-to-end tests of `audit.v1.AuditService`: one module per RPC group,
//! all built into one binary so they share one throwaway Postgres.

mod append;
mod audit_layer;
mod auth;
mod chain_backfill;
mod checkpoints;
mod client_conversions;
mod client_errors;
mod client_paging;
mod client_queries;
mod client_retry;
mod delete;
mod describe_filters;
mod failure_deadline;
mod failure_kill;
mod failure_list_disconnect;
mod failure_postgres_outage;
mod filter_shapes;
mod follow;
mod get;
mod grpcurl;
mod health;
mod idempotency;
mod integrity;
mod key_rotation;
mod legal_hold;
mod list_filters;
mod list_paging;
mod message_size;
mod metrics;
mod query_plans;
mod recorder;
mod retention;
mod shutdown;
mod stats;
mod validation;
