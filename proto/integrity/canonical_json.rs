//! Canonical JSON of metadata (`docs/integrity.md`, "Metadata"): no
//! whitespace, keys in UTF-8 byte order, one escaping, one number format.

use super::CanonicalError;
use prost_types::value::Kind;
use prost_types::{Struct, Value};
use std::fmt::Write;

/// 2^53: below it every integer is exact as a double.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Returns the canonical JSON text of a metadata object.
pub fn canonical_json(fields: &Struct) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_object(&mut out, fields)?;
    Ok(out)
}

/// Returns the canonical text of a finite number: a plain integer when it
/// is integral and below 2^53 in magnitude, otherwise the shortest decimal
/// that reads back as the same double, written without an exponent.
pub fn canonical_number(number: f64) -> Result<String, CanonicalError> {
    if !number.is_finite() {
        return Err(CanonicalError::NonFiniteNumber);
    }
    if number.fract() == 0.0 && number.abs() < EXACT_INTEGER_LIMIT {
        // Exact: the cast cannot truncate, and -0 becomes 0.
        return Ok((number as i64).to_string());
    }
    // Rust's Display of f64 prints the shortest round-trip digits in plain
    // positional notation (no exponent, no trailing zeros).
    Ok(number.to_string())
}

fn write_object(out: &mut String, fields: &Struct) -> Result<(), CanonicalError> {
    // A BTreeMap<String, _> iterates in byte order of the keys.
    out.push('{');
    for (index, (key, value)) in fields.fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value)?;
    }
    out.push('}');
    Ok(())
}

fn write_value(out: &mut String, value: &Value) -> Result<(), CanonicalError> {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => out.push_str("null"),
        Some(Kind::BoolValue(flag)) => out.push_str(if *flag { "true" } else { "false" }),
        Some(Kind::NumberValue(number)) => out.push_str(&canonical_number(*number)?),
        Some(Kind::StringValue(text)) => write_string(out, text),
        Some(Kind::ListValue(list)) => {
            out.push('[');
            for (index, item) in list.values.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Some(Kind::StructValue(inner)) => write_object(out, inner)?,
    }
    Ok(())
}

/// `"` and `\` escaped with a backslash, control characters below U+0020 as
/// `\b \f \n \r \t` or `\u00xx` (lowercase hex), everything else as is.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}
