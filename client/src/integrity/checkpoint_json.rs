//! A signed checkpoint as the JSON file the server writes to its checkpoint
//! directory and `audit checkpoint` saves: binary fields in lowercase hex,
//! `time_micros` (what is signed) beside `time` in RFC 3339 for people, and
//! the public key of the signer for reference. An auditor never trusts that
//! key: the signature is checked with a key obtained separately.

use super::{ChainPoint, parse_hash, parse_hex};
use crate::Error;
use audit_proto::Checkpoint;
use audit_proto::checkpoint::ED25519;
use audit_proto::integrity::to_hex;
use serde_json::{Map, Value, json};

/// Returns the JSON form of `checkpoint`; `public_key`, when known, is the
/// key that signed it.
pub fn checkpoint_to_json(checkpoint: &Checkpoint, public_key: Option<&[u8; 32]>) -> Value {
    let time = checkpoint.time.unwrap_or_default();
    let micros = time.seconds * 1_000_000 + i64::from(time.nanos) / 1_000;
    json!({
        "tenant_id": checkpoint.tenant_id,
        "sequence": checkpoint.sequence,
        "head_hash": to_hex(&checkpoint.head_hash),
        "time_micros": micros,
        "time": crate::timestamp_to_rfc3339(&time),
        "key_id": checkpoint.key_id,
        "algorithm": ED25519,
        "public_key": public_key.map(|key| to_hex(key)),
        "signature": to_hex(&checkpoint.signature),
    })
}

/// Reads a checkpoint from its JSON form; the `time` and `public_key`
/// fields are not read (`time_micros` is what is signed).
pub fn checkpoint_from_json(json: &Value) -> Result<Checkpoint, Error> {
    let fields = json
        .as_object()
        .ok_or_else(|| Error::invalid_value("checkpoint", "must be a JSON object"))?;
    if let Some(algorithm) = fields.get("algorithm").and_then(Value::as_str)
        && algorithm != ED25519
    {
        return Err(Error::invalid_value(
            "algorithm",
            format!("{algorithm:?} is not {ED25519:?}"),
        ));
    }
    let micros = integer(fields, "time_micros")?;
    Ok(Checkpoint {
        tenant_id: text(fields, "tenant_id")?.to_owned(),
        sequence: integer(fields, "sequence")?,
        head_hash: parse_hash(text(fields, "head_hash")?)
            .ok_or_else(|| Error::invalid_value("head_hash", "must be 64 hex digits"))?
            .to_vec(),
        time: Some(prost_types::Timestamp {
            seconds: micros.div_euclid(1_000_000),
            // Below 1,000,000 × 1,000: always fits.
            nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or_default(),
        }),
        key_id: text(fields, "key_id")?.to_owned(),
        signature: parse_hex(text(fields, "signature")?)
            .ok_or_else(|| Error::invalid_value("signature", "must be hex"))?,
    })
}

/// The link a checkpoint vouches for; None when its head hash is not 32
/// bytes.
pub fn chain_point(checkpoint: &Checkpoint) -> Option<ChainPoint> {
    Some(ChainPoint {
        tenant_id: checkpoint.tenant_id.clone(),
        sequence: checkpoint.sequence,
        hash: super::to_hash(&checkpoint.head_hash)?,
    })
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, Error> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_value(name, "is missing or not a string"))
}

fn integer(fields: &Map<String, Value>, name: &str) -> Result<i64, Error> {
    fields
        .get(name)
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::invalid_value(name, "is missing or not an integer"))
}
