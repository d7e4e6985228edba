//! One generated event in the two shapes the benchmark sends it: an
//! `AuditLogInput` for the service, and a row of `audit_logs` columns for
//! the ceiling (binary COPY, or a plain INSERT's bind values).

use crate::copy_binary::CopyWriter;
use crate::dataset::{DataSet, Event};
use audit_proto::{Actor, AuditLogInput, RequestInfo, Target};
use sha2::{Digest, Sha256};

/// The columns the service writes, in its INSERT's order (the generated
/// `client_network` is computed by Postgres).
pub const COLUMNS: &str = "tenant_id, id, occurred_at, received_at, action, action_namespace, \
    actor_id, actor_type, actor_name, actor_email, target_type, target_id, target_name, result, \
    client_ip, user_agent, request_method, request_path, request_status_code, metadata, \
    request_id, idempotency_key, idempotency_fingerprint, sequence, content_digest, hash";
pub const COLUMN_COUNT: i16 = 26;

/// Returns the request entry of `event`.
pub fn to_input(event: &Event) -> AuditLogInput {
    let [a, b, c, d] = event.client_ip;
    AuditLogInput {
        occurred_at: Some(prost_types::Timestamp {
            seconds: event.occurred_at.div_euclid(1_000_000),
            nanos: (event.occurred_at.rem_euclid(1_000_000) * 1000) as i32,
        }),
        action: event.action.to_owned(),
        actor: Some(Actor {
            id: event.actor_id.clone(),
            r#type: event.actor_type,
            name: event.actor_name.clone(),
            email: event.actor_email.clone(),
        }),
        target: Some(Target {
            r#type: event.target_type.to_owned(),
            id: event.target_id.clone(),
            name: event.target_name.clone(),
        }),
        result: event.result,
        client_ip: format!("{a}.{b}.{c}.{d}"),
        user_agent: event.user_agent.to_owned(),
        request: Some(RequestInfo {
            method: event.method.to_owned(),
            path: event.path.clone(),
            status_code: event.status_code,
        }),
        metadata: audit_server::domain::json_to_struct(event.metadata.clone()),
        request_id: event.request_id.clone(),
        idempotency_key: String::new(),
    }
}

/// The 16-byte key the server stores for an IPv4 address (mapped into
/// IPv6), so the ceiling's rows and indexes match the service's.
pub fn ipv4_key(address: [u8; 4]) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[10] = 0xff;
    key[11] = 0xff;
    key[12..].copy_from_slice(&address);
    key
}

/// The `client_network` value of a /24: the key's first 15 bytes.
pub fn network_key(address: [u8; 4]) -> Vec<u8> {
    ipv4_key(address)[..15].to_vec()
}

/// The ceiling's chain columns: real SHA-256 values of the right size, but
/// over the id rather than the canonical form, since the ceiling measures
/// what Postgres takes in, not the service's hashing.
pub fn ceiling_link(id: &uuid::Uuid) -> ([u8; 32], [u8; 32]) {
    let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
    let hash: [u8; 32] = Sha256::digest(digest).into();
    (digest, hash)
}

/// Appends `event` as one COPY tuple of [`COLUMNS`].
pub fn write_copy_row(writer: &mut CopyWriter, event: &Event, sequence: i64, received_at: i64) {
    let id = uuid::Uuid::now_v7();
    let (digest, hash) = ceiling_link(&id);
    writer.start_tuple(COLUMN_COUNT);
    writer.text(&DataSet::tenant_name(event.tenant));
    writer.uuid(&id);
    writer.int8(event.occurred_at);
    writer.int8(received_at);
    writer.text(event.action);
    writer.text(namespace(event.action));
    writer.text(&event.actor_id);
    writer.int2(event.actor_type as i16);
    writer.text(&event.actor_name);
    writer.text(&event.actor_email);
    writer.text(event.target_type);
    writer.text(&event.target_id);
    writer.text(&event.target_name);
    writer.int2(event.result as i16);
    writer.bytes(&ipv4_key(event.client_ip));
    writer.text(event.user_agent);
    writer.text(event.method);
    writer.text(&event.path);
    writer.int4(event.status_code);
    writer.jsonb(&event.metadata.to_string());
    writer.text(&event.request_id);
    writer.null();
    writer.null();
    writer.int8(sequence);
    writer.bytes(&digest);
    writer.bytes(&hash);
}

/// The first dotted segment of an action, as the server stores it.
pub fn namespace(action: &str) -> &str {
    action.split_once('.').map_or("", |(first, _)| first)
}
