//! `google.protobuf.Struct` ⇄ `serde_json::Value`: metadata travels as a
//! Struct and is stored as JSON (the way back lives in `domain`, which the
//! chain digests with).

use prost_types::value::Kind;
use prost_types::{Struct, Value};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::json_to_struct;

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
