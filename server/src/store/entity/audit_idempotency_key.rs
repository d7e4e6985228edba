//! The `audit_idempotency_keys` table: per tenant, each idempotency key an
//! append stored, the id it resolved to and the fingerprint of its input.
//! Its own table because its uniqueness is per tenant and key, which a
//! unique index on `audit_logs` could not enforce once that table is
//! partitioned by id on Postgres.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idempotency_key: String,
    /// The entry stored under the key.
    pub id: Uuid,
    /// SHA-256 of the input as first sent.
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub fingerprint: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
