//! The `audit_logs` table: one row per stored entry.
//!
//! Times are integer microseconds (they sort on every backend), enums are
//! their proto numbers, the client address is its 16-byte key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    /// First in the primary key and in every index: a later change
    /// distributes the table by tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub occurred_at: i64,
    pub received_at: i64,
    pub action: String,
    /// The first dotted segment of `action`, "" when it has no dot: lets an
    /// index serve `user.*` filters in time order.
    pub action_namespace: String,
    pub actor_id: String,
    pub actor_type: i16,
    pub actor_name: String,
    pub actor_email: String,
    pub target_type: String,
    pub target_id: String,
    pub target_name: String,
    pub result: i16,
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub client_ip: Option<Vec<u8>>,
    pub user_agent: String,
    pub request_method: String,
    pub request_path: String,
    pub request_status_code: i32,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
    pub request_id: String,
    #[sea_orm(nullable)]
    pub idempotency_key: Option<String>,
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub idempotency_fingerprint: Option<Vec<u8>>,
    /// The entry's place in the tenant's hash chain. NULL only for a row the
    /// chain does not account for, which verification reports.
    #[sea_orm(nullable)]
    pub sequence: Option<i64>,
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub content_digest: Option<Vec<u8>>,
    #[sea_orm(column_type = "VarBinary(StringLen::None)", nullable)]
    pub hash: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
