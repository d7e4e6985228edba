//! The committed vectors (`proto/testdata/integrity-vectors.json`) and the
//! number format, byte for byte.

use super::*;
use crate::{Actor, RequestInfo, Target};
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Timestamp, Value};
use serde_json::Value as Json;

const VECTORS: &str = include_str!("../testdata/integrity-vectors.json");

fn text(json: &Json, key: &str) -> String {
    json[key].as_str().unwrap().to_owned()
}

fn int(json: &Json, key: &str) -> i64 {
    json[key].as_i64().unwrap()
}

fn timestamp(micros: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    })
}

fn value(json: &Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(flag) => Kind::BoolValue(*flag),
        Json::Number(number) => Kind::NumberValue(number.as_f64().unwrap()),
        Json::String(text) => Kind::StringValue(text.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(value).collect(),
        }),
        Json::Object(_) => Kind::StructValue(object(json)),
    };
    Value { kind: Some(kind) }
}

fn object(json: &Json) -> Struct {
    Struct {
        fields: json
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, item)| (key.clone(), value(item)))
            .collect(),
    }
}

/// Builds the `AuditLog` a vector describes.
fn entry(json: &Json) -> AuditLog {
    let actor = &json["actor"];
    let target = &json["target"];
    let request = &json["request"];
    AuditLog {
        id: text(json, "id"),
        tenant_id: text(json, "tenant_id"),
        occurred_at: timestamp(int(json, "occurred_at_us")),
        received_at: timestamp(int(json, "received_at_us")),
        action: text(json, "action"),
        actor: (!actor.is_null()).then(|| Actor {
            id: text(actor, "id"),
            r#type: int(actor, "type") as i32,
            name: text(actor, "name"),
            email: text(actor, "email"),
        }),
        target: (!target.is_null()).then(|| Target {
            r#type: text(target, "type"),
            id: text(target, "id"),
            name: text(target, "name"),
        }),
        result: int(json, "result") as i32,
        client_ip: text(json, "client_ip"),
        user_agent: text(json, "user_agent"),
        request: (!request.is_null()).then(|| RequestInfo {
            method: text(request, "method"),
            path: text(request, "path"),
            status_code: int(request, "status_code") as i32,
        }),
        metadata: (!json["metadata"].is_null()).then(|| object(&json["metadata"])),
        request_id: text(json, "request_id"),
        idempotency_key: text(json, "idempotency_key"),
        sequence: int(json, "sequence"),
        content_digest: Vec::new(),
        hash: Vec::new(),
    }
}

#[test]
fn committed_vectors_are_reproduced_byte_for_byte() {
    let vectors: Json = serde_json::from_str(VECTORS).unwrap();
    assert_eq!(text(&vectors, "genesis_hash"), to_hex(&GENESIS_HASH));
    let mut previous = GENESIS_HASH;
    let mut actual = Vec::new();
    for vector in vectors["entries"].as_array().unwrap() {
        let entry = entry(vector);
        let bytes = canonical_bytes(&entry).unwrap();
        let digest = content_digest(&entry).unwrap();
        let hash = chain_hash(&digest, &previous);
        previous = hash;
        actual.push(serde_json::json!({
            "canonical_bytes": to_hex(&bytes),
            "content_digest": to_hex(&digest),
            "hash": to_hex(&hash),
        }));
    }
    let expected: Vec<Json> = vectors["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vector| vector["expected"].clone())
        .collect();
    assert_eq!(
        actual,
        expected,
        "actual vectors:\n{}",
        serde_json::to_string_pretty(&actual).unwrap()
    );
}

#[test]
fn numbers_are_integers_below_two_to_the_53_and_shortest_decimals_otherwise() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "0"),
        (3.0, "3"),
        (-42.0, "-42"),
        (9_007_199_254_740_991.0, "9007199254740991"),
        (9_007_199_254_740_992.0, "9007199254740992"),
        (1e21, "1000000000000000000000"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1.5e-7, "0.00000015"),
        (123.456, "123.456"),
        (1.0 / 3.0, "0.3333333333333333"),
    ];
    for (number, text) in cases {
        assert_eq!(canonical_number(*number).unwrap(), *text, "{number:e}");
    }
    assert_eq!(
        canonical_number(f64::NAN),
        Err(CanonicalError::NonFiniteNumber)
    );
    assert_eq!(
        canonical_number(f64::INFINITY),
        Err(CanonicalError::NonFiniteNumber)
    );
}

#[test]
fn strings_escape_quotes_backslashes_and_control_characters_only() {
    let fields = object(&serde_json::json!({"b": "\"\\\u{8}\u{c}\n\r\t\u{1}\u{7f}é😀", "a": 1}));
    assert_eq!(
        canonical_json(&fields).unwrap(),
        "{\"a\":1,\"b\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\u{7f}é😀\"}"
    );
}

#[test]
fn malformed_ids_are_refused() {
    for id in [
        "",
        "not-a-uuid",
        "019a0000000070008000000000000001",
        "019a0000-0000-7000-8000-00000000000g",
    ] {
        let entry = AuditLog {
            id: id.to_owned(),
            ..AuditLog::default()
        };
        assert!(
            matches!(canonical_bytes(&entry), Err(CanonicalError::InvalidId(_))),
            "{id}"
        );
    }
}
