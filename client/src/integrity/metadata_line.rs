//! An entry's metadata read from its JSON line straight into the protobuf
//! `Struct` the encoder takes, without a `serde_json::Value` tree first.
//! Each value converts exactly as [`json_to_value`](crate::json_to_value)
//! converts it (numbers as `f64`, a repeated key keeps its last value), so
//! the canonical JSON, and the digest, are the same.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A JSON object read as a protobuf `Struct`.
pub(crate) struct MetadataLine(pub Struct);

impl<'de> Deserialize<'de> for MetadataLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(StructVisitor)
            .map(MetadataLine)
    }
}

/// One JSON value read as a protobuf `Value`.
struct ValueLine(Value);

impl<'de> Deserialize<'de> for ValueLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(ValueLine)
    }
}

struct StructVisitor;

impl<'de> Visitor<'de> for StructVisitor {
    type Value = Struct;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Struct, A::Error> {
        let mut fields = Struct::default();
        while let Some((key, ValueLine(value))) = map.next_entry::<String, ValueLine>()? {
            fields.fields.insert(key, value);
        }
        Ok(fields)
    }
}

struct ValueVisitor;

fn value(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(value(Kind::NullValue(0)))
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(value(Kind::BoolValue(flag)))
    }

    // As `serde_json::Number::as_f64`: integers cast to the nearest double.
    fn visit_i64<E>(self, number: i64) -> Result<Value, E> {
        Ok(value(Kind::NumberValue(number as f64)))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Value, E> {
        Ok(value(Kind::NumberValue(number as f64)))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value, E> {
        Ok(value(Kind::NumberValue(number)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(value(Kind::StringValue(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(value(Kind::StringValue(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(ValueLine(item)) = seq.next_element()? {
            values.push(item);
        }
        Ok(value(Kind::ListValue(ListValue { values })))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        StructVisitor
            .visit_map(map)
            .map(|fields| value(Kind::StructValue(fields)))
    }
}

#[cfg(test)]
mod tests {
    use super::MetadataLine;
    use crate::json_to_struct;
    use serde_json::json;

    #[test]
    fn reads_as_json_to_struct_converts() {
        let samples = [
            json!({}),
            json!({"a": 1, "b": -2, "c": 0.1, "d": 1e300, "e": 18446744073709551615u64}),
            json!({"n": null, "t": true, "s": "x\"y\u{e9}", "l": [1, "two", [3], {"k": []}]}),
            json!({"nested": {"deep": {"deeper": [null, false, 9007199254740993i64]}}}),
        ];
        for sample in samples {
            let text = sample.to_string();
            let MetadataLine(read) = serde_json::from_str(&text).unwrap();
            assert_eq!(read, json_to_struct(sample).unwrap(), "{text}");
        }
        let MetadataLine(repeated) = serde_json::from_str(r#"{"k": 1, "k": 2}"#).unwrap();
        let last: serde_json::Value = serde_json::from_str(r#"{"k": 1, "k": 2}"#).unwrap();
        assert_eq!(repeated, json_to_struct(last).unwrap());
    }
}
