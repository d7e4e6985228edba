//! The `audit_tombstones` table: what stays of a deleted entry, so that its
//! link in the hash chain still verifies.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_tombstones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// The deleted entry's id.
    pub entry_id: Uuid,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub content_digest: Vec<u8>,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub hash: Vec<u8>,
    /// Microseconds since the epoch.
    pub deleted_at: i64,
    /// The sequence of the `audit_log.deleted` entry that records the
    /// deletion, whose metadata must name this sequence and digest.
    pub deletion_sequence: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
