//! The `audit_checkpoints` table: every signed checkpoint the server took of
//! a tenant's chain head, on demand or periodically.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// Microseconds since the epoch; part of the key because the same head
    /// may be checkpointed more than once.
    #[sea_orm(primary_key, auto_increment = false)]
    pub time: i64,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub head_hash: Vec<u8>,
    pub key_id: String,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub signature: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
