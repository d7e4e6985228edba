//! The `audit_tenants` table: one row per tenant that has entries, so an
//! admin lookup by id can probe each tenant's `(tenant_id, id)` primary key,
//! and the head of the tenant's hash chain, whose row lock serialises appends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Microseconds since the epoch of the tenant's first append.
    pub created_at: i64,
    /// The sequence of the tenant's last chained entry; 0 before the first.
    pub head_sequence: i64,
    /// The hash of that entry; NULL before the first.
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub head_hash: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
