//! Request validation of the audit-log service: turns `audit.v1` requests
//! into validated domain types, or into the field violations a client sees.
//!
//! Everything a request goes through before the store sees it lives here,
//! apart from the database and the runtime, so the fuzz targets in `fuzz/`
//! drive exactly the server's validation and build in little time.
//!
//! # Layout
//! - [`domain`]: validated entries, filters, cursors, stats and the chain.
//! - [`error`]: [`ValidationError`] and [`FieldViolation`].
//! - [`violations`]: gathers every field violation of one request.
//! - [`entry`]: `AuditLogInput` → [`domain::AuditLogEntry`], and back.
//! - [`batch`]: a whole AppendAuditLogs batch.
//! - [`filter`]: `AuditLogFilter` → [`domain::AuditLogFilter`], scoped to
//!   the tenants the caller may read.
//! - [`list`]: a ListAuditLogs request → [`list::ListPlan`] (paging, order,
//!   page token).
//! - [`page_token`]: authenticated page and follow tokens.
//! - [`timestamp`], [`json`]: Timestamp and Struct conversions.

#![forbid(unsafe_code)]

pub mod batch;
pub mod domain;
pub mod entry;
pub mod error;
pub mod filter;
pub mod json;
pub mod list;
pub mod page_token;
pub mod timestamp;
pub mod violations;

pub use error::{FieldViolation, ValidationError};
