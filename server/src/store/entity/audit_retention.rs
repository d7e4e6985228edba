//! The `audit_retention` table: one row per tenant that ever had a
//! retention policy or a purge. No row: no policy and nothing purged.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_retention")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Days entries are kept; 0 when the policy was cleared.
    pub retention_days: i32,
    /// The id of the admin who last set or cleared the policy.
    pub set_by: String,
    /// Microseconds since the epoch when the policy was last changed.
    pub set_at: Option<i64>,
    /// The last purged sequence; 0 when nothing was purged.
    pub pruned_sequence: i64,
    /// The hash of the link at `pruned_sequence`.
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub pruned_hash: Option<Vec<u8>>,
    /// Microseconds since the epoch when the pruned point was signed.
    pub pruned_at: Option<i64>,
    pub pruned_key_id: Option<String>,
    /// Ed25519 signature of the pruned checkpoint's canonical bytes.
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub pruned_signature: Option<Vec<u8>>,
    /// The last sequence an `audit_log.purged` entry accounts for: a purge
    /// interrupted before its record is recorded by the next run.
    pub recorded_through: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
