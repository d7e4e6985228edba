//! `google.protobuf.Struct` ⇄ `serde_json::Value`: metadata travels as a
//! Struct and is stored as JSON.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::{Map, Number, Value as Json};

/// Converts a Struct to a JSON object; None when a number is not finite
/// (JSON cannot hold NaN or infinity).
pub fn struct_to_json(fields: &Struct) -> Option<Json> {
    let mut object = Map::with_capacity(fields.fields.len());
    for (key, value) in &fields.fields {
        object.insert(key.clone(), value_to_json(value)?);
    }
    Some(Json::Object(object))
}

fn value_to_json(value: &Value) -> Option<Json> {
    Some(match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(flag)) => Json::Bool(*flag),
        Some(Kind::NumberValue(number)) => Json::Number(json_number(*number)?),
        Some(Kind::StringValue(text)) => Json::String(text.clone()),
        Some(Kind::ListValue(list)) => Json::Array(
            list.values
                .iter()
                .map(value_to_json)
                .collect::<Option<_>>()?,
        ),
        Some(Kind::StructValue(inner)) => struct_to_json(inner)?,
    })
}

/// Keeps integral values integral so stored JSON reads naturally.
fn json_number(number: f64) -> Option<Number> {
    if number.fract() == 0.0 && number.abs() < 9.0e15 {
        Some(Number::from(number as i64))
    } else {
        Number::from_f64(number)
    }
}

/// Converts stored JSON back to a Struct; None for anything but an object.
pub fn json_to_struct(json: &Json) -> Option<Struct> {
    match json {
        Json::Object(object) => Some(object_to_struct(object)),
        _ => None,
    }
}

fn object_to_struct(object: &Map<String, Json>) -> Struct {
    Struct {
        fields: object
            .iter()
            .map(|(key, value)| (key.clone(), json_to_value(value)))
            .collect(),
    }
}

fn json_to_value(json: &Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(flag) => Kind::BoolValue(*flag),
        Json::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        Json::String(text) => Kind::StringValue(text.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        Json::Object(object) => Kind::StructValue(object_to_struct(object)),
    };
    Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_metadata_round_trips() {
        let json = serde_json::json!({"reason": "rotation", "count": 3, "ratio": 0.5,
            "tags": ["a", null, true], "nested": {"k": "v"}});
        let fields = json_to_struct(&json).unwrap();
        assert_eq!(struct_to_json(&fields).unwrap(), json);
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let mut fields = Struct::default();
        fields.fields.insert(
            "x".into(),
            Value {
                kind: Some(Kind::NumberValue(f64::NAN)),
            },
        );
        assert_eq!(struct_to_json(&fields), None);
    }
}
