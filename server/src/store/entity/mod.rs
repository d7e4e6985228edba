//! SeaORM entities of the store's tables. The tables themselves are created
//! by `super::migration`; these describe rows for queries and inserts.

pub mod api_key;
pub mod audit_checkpoint;
pub mod audit_idempotency_key;
pub mod audit_legal_hold;
pub mod audit_log;
pub mod audit_retention;
pub mod audit_tenant;
pub mod audit_tombstone;
