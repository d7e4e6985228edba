//! The end-to-end test harness: starts the real audit server on a loopback
//! port against a fresh Postgres or SQLite database, and talks to it through
//! the real [`audit_client::AuditClient`]. No mocks.
//!
//! # Layout
//! - [`backend`]: which database a test runs on, and a fresh one per test.
//! - [`postgres`]: the throwaway Postgres cluster shared by a test process.
//! - [`app`]: [`TestApp`], the running server plus one helper per RPC.
//! - [`entries`]: builders for entries, filters and timestamps.
//! - [`assertions`]: checks on the status codes and field violations a user
//!   sees.
//! - [`grpcurl`]: finds the grpcurl binary for the command-line tests.
//! - [`raw_list`]: ListAuditLogs as the bytes the server sent.
//! - [`relay`]: a TCP relay whose connections a test can cut mid-call.
//! - [`scrape`]: reads `/metrics` and its samples.
//! - [`lossy_relay`]: a relay that loses one reply after the server sent it.
//! - [`server_process`]: the server binary as a child process, to SIGKILL.
//! - [`database_activity`]: the server's pool usage and its Postgres
//!   sessions, to see abandoned calls let go of the database.
//!
//! Every contract test is written once as `async fn name(backend: Backend)`
//! and run on both backends by [`on_both_backends!`].

pub mod app;
pub mod assertions;
pub mod backend;
pub mod chain;
pub mod database_activity;
pub mod entries;
pub mod grpcurl;
pub mod lossy_relay;
pub mod migrations;
pub mod plans;
pub mod postgres;
pub mod raw_list;
pub mod relay;
pub mod scrape;
pub mod server_process;

pub use app::{ACME, ADMIN_TENANT, ALL_SCOPES, GLOBEX, TestApp};
pub use assertions::{assert_code, assert_invalid_field, violated_fields};
pub use backend::Backend;
pub use chain::{assert_chain_intact, tamper, verify_chain, verify_chain_as};
pub use entries::{AuditLogInputExt, input, json_struct, labels, micros, utc};
pub use lossy_relay::LossyRelay;
pub use relay::TcpRelay;
pub use scrape::{Scrape, http_get};

/// Generates a `#[tokio::test]` per backend for each test body
/// `async fn name(backend: Backend)`: `name::postgres` and `name::sqlite`,
/// so `cargo test sqlite` or `cargo test name` pick them out.
///
/// ```text
/// on_both_backends!(get_of_unknown_id_is_not_found);
/// async fn get_of_unknown_id_is_not_found(backend: Backend) { /* … */ }
/// ```
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn postgres() {
                super::$test($crate::Backend::Postgres).await
            }

            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::Backend::Sqlite).await
            }
        }
    )+};
}
