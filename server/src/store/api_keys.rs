//! Persisting API keys. The auth module generates and hashes them; the store
//! only keeps the records.

use super::entity::api_key::{self, Column};
use super::{AuditStore, StoreError};
use crate::domain::Micros;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

/// One stored API key.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    pub secret_hash: Vec<u8>,
    pub created_at: Micros,
    pub revoked_at: Option<Micros>,
}

impl From<api_key::Model> for ApiKeyRecord {
    fn from(row: api_key::Model) -> Self {
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            scopes: row.scopes,
            secret_hash: row.secret_hash,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

impl From<&ApiKeyRecord> for api_key::Model {
    fn from(key: &ApiKeyRecord) -> Self {
        Self {
            id: key.id.clone(),
            tenant_id: key.tenant_id.clone(),
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            secret_hash: key.secret_hash.clone(),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

impl AuditStore {
    /// Stores a new key; an existing id is an error.
    pub async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        api_key::Entity::insert(api_key::Model::from(key).into_active_model())
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Returns the key with this id, revoked or not.
    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(api_key::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(Into::into))
    }

    /// Returns every key, newest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = api_key::Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Marks the key revoked at `at` unless it already is (the first
    /// revocation time stands). Returns false when there is no such key.
    pub async fn revoke_api_key(&self, id: &str, at: Micros) -> Result<bool, StoreError> {
        let updated = api_key::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::val(at))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        if updated.rows_affected > 0 {
            return Ok(true);
        }
        Ok(api_key::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .is_some())
    }
}
