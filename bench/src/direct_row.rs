//! A page row as a program that runs the keyset SQL itself reads it: every
//! column into an owned value, metadata parsed as JSON. The service's client
//! gets the same row decoded from protobuf, so the ceiling decodes too;
//! timing `fetch_all` alone would compare decoded entries with bytes nobody
//! has looked at yet.

use anyhow::Result;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

/// The columns of `audit_logs`, in SELECT order.
#[allow(dead_code)] // Read only to be built, as a caller's struct would be.
#[derive(Debug)]
pub struct DirectRow {
    tenant_id: String,
    id: uuid::Uuid,
    occurred_at: i64,
    received_at: i64,
    action: String,
    action_namespace: String,
    actor_id: String,
    actor_type: i16,
    actor_name: String,
    actor_email: String,
    target_type: String,
    target_id: String,
    target_name: String,
    result: i16,
    client_ip: Option<Vec<u8>>,
    user_agent: String,
    request_method: String,
    request_path: String,
    request_status_code: i32,
    metadata: Option<Json<serde_json::Value>>,
    request_id: String,
    idempotency_key: Option<String>,
    idempotency_fingerprint: Option<Vec<u8>>,
    sequence: Option<i64>,
    content_digest: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
}

impl DirectRow {
    pub fn read(row: &PgRow) -> Result<Self> {
        Ok(Self {
            tenant_id: row.try_get(0)?,
            id: row.try_get(1)?,
            occurred_at: row.try_get(2)?,
            received_at: row.try_get(3)?,
            action: row.try_get(4)?,
            action_namespace: row.try_get(5)?,
            actor_id: row.try_get(6)?,
            actor_type: row.try_get(7)?,
            actor_name: row.try_get(8)?,
            actor_email: row.try_get(9)?,
            target_type: row.try_get(10)?,
            target_id: row.try_get(11)?,
            target_name: row.try_get(12)?,
            result: row.try_get(13)?,
            client_ip: row.try_get(14)?,
            user_agent: row.try_get(15)?,
            request_method: row.try_get(16)?,
            request_path: row.try_get(17)?,
            request_status_code: row.try_get(18)?,
            metadata: row.try_get(19)?,
            request_id: row.try_get(20)?,
            idempotency_key: row.try_get(21)?,
            idempotency_fingerprint: row.try_get(22)?,
            sequence: row.try_get(23)?,
            content_digest: row.try_get(24)?,
            hash: row.try_get(25)?,
        })
    }
}
