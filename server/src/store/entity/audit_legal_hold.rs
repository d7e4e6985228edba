//! The `audit_legal_holds` table: one row per tenant on legal hold. No row,
//! no hold; the history of holds is in the tenant's chain.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_legal_holds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub reason: String,
    /// Microseconds since the epoch when the hold was set.
    pub since: i64,
    /// The id of the admin who set it.
    pub set_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
