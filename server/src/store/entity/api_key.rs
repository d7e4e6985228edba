//! The `api_keys` table: hashed API keys, looked up by id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    #[sea_orm(nullable)]
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
