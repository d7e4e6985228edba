//! `serde_json::Value` ⇄ `google.protobuf.Struct`, the form entry metadata
//! travels in.

use crate::Error;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};

/// Integers up to 2^53 survive a trip through a protobuf number (an f64)
/// exactly; they come back as JSON integers, not `42.0`.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Converts a JSON object to a protobuf `Struct`; any other JSON value is
/// refused, because entry metadata is always an object.
///
/// ```
/// use audit_client::{json_to_struct, struct_to_json};
/// use serde_json::json;
///
/// let metadata = json!({"reason": "expired", "attempts": 3, "tags": ["a", null]});
/// assert_eq!(struct_to_json(&json_to_struct(metadata.clone())?), metadata);
/// assert!(json_to_struct(json!([1, 2])).is_err());
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn json_to_struct(json: serde_json::Value) -> Result<Struct, Error> {
    match json {
        serde_json::Value::Object(object) => Ok(map_to_struct(object)),
        other => Err(Error::invalid_value(
            "metadata",
            format!("must be a JSON object, got {}", json_kind(&other)),
        )),
    }
}

/// Converts a JSON object's fields to a protobuf `Struct`.
pub fn map_to_struct(object: serde_json::Map<String, serde_json::Value>) -> Struct {
    Struct {
        fields: object
            .into_iter()
            .map(|(key, value)| (key, json_to_value(value)))
            .collect(),
    }
}

/// Converts a protobuf `Struct` to a JSON object.
pub fn struct_to_json(fields: &Struct) -> serde_json::Value {
    serde_json::Value::Object(struct_to_map(fields))
}

/// Converts a protobuf `Struct` to the fields of a JSON object.
pub fn struct_to_map(fields: &Struct) -> serde_json::Map<String, serde_json::Value> {
    fields
        .fields
        .iter()
        .map(|(key, value)| (key.clone(), value_to_json(value)))
        .collect()
}

/// Converts any JSON value to a protobuf `Value`.
pub fn json_to_value(json: serde_json::Value) -> Value {
    use serde_json::Value as Json;
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(flag) => Kind::BoolValue(flag),
        // Protobuf numbers are doubles: larger integers lose precision here,
        // as they would in any JSON parser.
        Json::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        Json::String(text) => Kind::StringValue(text),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        Json::Object(object) => Kind::StructValue(map_to_struct(object)),
    };
    Value { kind: Some(kind) }
}

/// Converts a protobuf `Value` to JSON; NaN and infinities, which JSON
/// cannot hold, become `null`.
pub fn value_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(flag)) => Json::Bool(*flag),
        Some(Kind::NumberValue(number)) => number_to_json(*number),
        Some(Kind::StringValue(text)) => Json::String(text.clone()),
        Some(Kind::ListValue(list)) => Json::Array(list.values.iter().map(value_to_json).collect()),
        Some(Kind::StructValue(fields)) => struct_to_json(fields),
    }
}

fn number_to_json(number: f64) -> serde_json::Value {
    let is_exact_integer = number.fract() == 0.0 && number.abs() <= EXACT_INTEGER_LIMIT;
    if is_exact_integer {
        // In range and integral, so the cast is exact.
        return serde_json::Value::from(number as i64);
    }
    serde_json::Number::from_f64(number).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
