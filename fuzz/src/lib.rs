//! What the fuzz targets in `fuzz_targets/` check, beyond "does not panic":
//! the invariants the store relies on for anything validation lets through.
//!
//! # Layout
//! - [`stored`]: limits every stored text and time obeys.
//! - [`tokens`]: the page token cases and their round trips.
//! - [`list`]: a ListAuditLogs request through validation.
//! - [`append`]: an AppendAuditLogs batch through validation.

pub mod append;
pub mod list;
pub mod stored;
pub mod tokens;
