//! `google.protobuf.Struct` ⇄ `serde_json::Value`: metadata travels as a
//! Struct and is stored as JSON (the way back lives in `domain`, which the
//! chain digests with).

use prost_types::value::Kind;
use prost_types::{Struct, Value};
use serde_json::{Map, Number, Value as Json};

/// Why a Struct cannot be stored as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataProblem {
    /// NaN or an infinity, which JSON cannot hold.
    NonFiniteNumber,
    /// NUL in a key or a string, which Postgres refuses in `jsonb`.
    Nul,
    /// A key that serde_json reads back as something else (see
    /// [`RESERVED_KEY`]).
    ReservedKey,
}

/// With serde_json's `raw_value` feature (on in the server's build, through
/// sqlx), an object whose first key is this reads back as the JSON its value
/// holds, not as an object: an entry stored with it would come back changed,
/// and its chain digest would no longer match.
pub const RESERVED_KEY: &str = "$serde_json::private::RawValue";

impl MetadataProblem {
    /// Says what the producer must change, as a field violation.
    pub fn description(self) -> &'static str {
        match self {
            MetadataProblem::NonFiniteNumber => "numbers must be finite",
            MetadataProblem::Nul => "keys and strings must not contain NUL characters",
            MetadataProblem::ReservedKey => {
                "keys must not be \"$serde_json::private::RawValue\", which is reserved"
            }
        }
    }
}

/// Converts a Struct to a JSON object, or says why it cannot be stored.
pub fn struct_to_json(fields: &Struct) -> Result<Json, MetadataProblem> {
    let mut object = Map::with_capacity(fields.fields.len());
    for (key, value) in &fields.fields {
        no_nul(key)?;
        if key == RESERVED_KEY {
            return Err(MetadataProblem::ReservedKey);
        }
        object.insert(key.clone(), value_to_json(value)?);
    }
    Ok(Json::Object(object))
}

fn value_to_json(value: &Value) -> Result<Json, MetadataProblem> {
    Ok(match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(flag)) => Json::Bool(*flag),
        Some(Kind::NumberValue(number)) => {
            Json::Number(json_number(*number).ok_or(MetadataProblem::NonFiniteNumber)?)
        }
        Some(Kind::StringValue(text)) => Json::String(no_nul(text)?.to_owned()),
        Some(Kind::ListValue(list)) => Json::Array(
            list.values
                .iter()
                .map(value_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::StructValue(inner)) => struct_to_json(inner)?,
    })
}

fn no_nul(text: &str) -> Result<&str, MetadataProblem> {
    if text.contains('\0') {
        Err(MetadataProblem::Nul)
    } else {
        Ok(text)
    }
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
        let fields = json_to_struct(json.clone()).unwrap();
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
        assert_eq!(
            struct_to_json(&fields),
            Err(MetadataProblem::NonFiniteNumber)
        );
    }

    // Found by the append_request fuzz target: Postgres refuses NUL in jsonb.
    #[test]
    fn nul_in_keys_or_strings_is_refused() {
        for json in [
            serde_json::json!({"note": "a\u{0}b"}),
            serde_json::json!({"a\u{0}": 1}),
            serde_json::json!({"nested": {"list": ["ok", "\u{0}"]}}),
        ] {
            let fields = json_to_struct(json.clone()).unwrap();
            assert_eq!(struct_to_json(&fields), Err(MetadataProblem::Nul), "{json}");
        }
    }
}
