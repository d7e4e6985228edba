//! A stored `jsonb` metadata document written straight into protobuf as a
//! `google.protobuf.Struct`.
//!
//! Why: a List page carries a hundred documents, and each went JSON text →
//! `serde_json::Value` → `prost_types::Struct` → bytes, allocating every key
//! and value twice on the way. Here serde_json's parser drives a visitor that
//! writes the protobuf bytes as it reads, borrowing strings from the text.
//!
//! The bytes are exactly those prost writes for
//! `json_to_struct(serde_json::from_slice(text)?)` (the tests compare them):
//! numbers, depth limit and errors are serde_json's own because its parser
//! does the reading, and each object's fields are put back in the byte order
//! of their keys (a `BTreeMap` in both `Value` and `Struct`), keeping the last
//! of duplicate keys as `serde_json::Map` does.

use super::{begin_length, end_length};
use prost::encoding::{WireType, encode_key, encode_varint};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Why a stored metadata document could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed metadata JSON: {0}")]
pub(crate) struct MalformedMetadata(String);

/// `Struct.fields`, and the key and value of one of its map entries.
const STRUCT_FIELDS: u32 = 1;
const ENTRY_KEY: u32 = 1;
const ENTRY_VALUE: u32 = 2;
/// `ListValue.values`.
const LIST_VALUES: u32 = 1;
/// The members of `Value`'s `kind` oneof.
const NULL_VALUE: u32 = 1;
const NUMBER_VALUE: u32 = 2;
const STRING_VALUE: u32 = 3;
const BOOL_VALUE: u32 = 4;
const STRUCT_VALUE: u32 = 5;
const LIST_VALUE: u32 = 6;

/// serde_json's `raw_value` feature (turned on in this build by sqlx) makes
/// `Value` read an object whose first key is this as the JSON document held
/// in its string value. Appends refuse the key now
/// (`audit_validation::json::RESERVED_KEY`); a row stored before that reads
/// here as Get reads it.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Appends field `field_number` holding the `google.protobuf.Struct` that
/// `json_text` (one JSON document) converts to, exactly as prost encodes
/// `json_to_struct(serde_json::from_slice(json_text)?)` in that field:
/// nothing when the document is not an object (null, number, array, ...).
/// On error `out` is left as it was.
pub(crate) fn encode_metadata(
    field_number: u32,
    json_text: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), MalformedMetadata> {
    let start = out.len();
    let mut encoder = Encoder::new(std::mem::take(out));
    let mut parser = serde_json::Deserializer::from_slice(json_text);
    let result = encoder.document(&mut parser, Mode::Document(field_number));
    *out = encoder.out;
    result.map_err(|error| {
        out.truncate(start);
        MalformedMetadata(error.to_string())
    })
}

/// What a JSON value becomes.
#[derive(Clone, Copy)]
enum Mode {
    /// Message field `N` holding a `Struct` if the value is an object,
    /// nothing otherwise (the value is still read, so errors are the same).
    Document(u32),
    /// The content of a `Value` message (one member of its oneof).
    Value,
}

/// A field of the object being written: its key, and where its whole map
/// entry lies in `out`.
type Field<'de> = (Cow<'de, str>, Range<usize>);

/// What the visitors share. Owns the output while parsing, so nested
/// visitors need only one borrow; `fields` is a stack shared by all nested
/// objects and `scratch` is reused by each, so a document costs a couple of
/// allocations rather than some per key and value.
struct Encoder<'de> {
    out: Vec<u8>,
    fields: Vec<Field<'de>>,
    scratch: Vec<u8>,
}

impl<'de> Encoder<'de> {
    fn new(out: Vec<u8>) -> Self {
        Self {
            out,
            fields: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Reads one whole document, as `serde_json::from_slice` would.
    fn document<R: serde_json::de::Read<'de>>(
        &mut self,
        parser: &mut serde_json::Deserializer<R>,
        mode: Mode,
    ) -> serde_json::Result<()> {
        Node { enc: self, mode }.deserialize(&mut *parser)?;
        // Trailing garbage is an error, as in `from_slice`.
        parser.end()
    }

    /// Writes an object's map entries, from its already-read first key on,
    /// then puts them in key order.
    fn fields<A: MapAccess<'de>>(
        &mut self,
        mut next: Option<Cow<'de, str>>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let base = self.fields.len();
        let body = self.out.len();
        while let Some(key) = next {
            let entry = self.out.len();
            encode_key(STRUCT_FIELDS, WireType::LengthDelimited, &mut self.out);
            let length = begin_length(&mut self.out);
            // prost leaves out a map key equal to the default, "".
            if !key.is_empty() {
                encode_key(ENTRY_KEY, WireType::LengthDelimited, &mut self.out);
                encode_varint(key.len() as u64, &mut self.out);
                self.out.extend_from_slice(key.as_bytes());
            }
            map.next_value_seed(Wrapped {
                enc: self,
                field: ENTRY_VALUE,
            })?;
            end_length(&mut self.out, length);
            self.fields.push((key, entry..self.out.len()));
            next = map.next_key_seed(Key)?;
        }
        self.sort_fields(base, body);
        Ok(())
    }

    /// Rewrites the entries from `body` on in key byte order, keeping the
    /// last of equal keys. Postgres prints keys by length first, so most
    /// objects need this.
    fn sort_fields(&mut self, base: usize, body: usize) {
        let fields = &mut self.fields[base..];
        if !fields.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable, so equal keys stay in text order and the last wins.
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            self.scratch.clear();
            for (i, (key, range)) in fields.iter().enumerate() {
                if fields.get(i + 1).is_none_or(|next| next.0 != *key) {
                    self.scratch.extend_from_slice(&self.out[range.clone()]);
                }
            }
            self.out.truncate(body);
            self.out.extend_from_slice(&self.scratch);
        }
        self.fields.truncate(base);
    }
}

/// One JSON value, written as its `mode` says.
struct Node<'a, 'de> {
    enc: &'a mut Encoder<'de>,
    mode: Mode,
}

impl Node<'_, '_> {
    /// Writes one oneof member; a document that is not an object writes
    /// nothing.
    fn member(self, tag: u32, wire_type: WireType, write: impl FnOnce(&mut Vec<u8>)) {
        if let Mode::Value = self.mode {
            encode_key(tag, wire_type, &mut self.enc.out);
            write(&mut self.enc.out);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, parser: D) -> Result<(), D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.member(NULL_VALUE, WireType::Varint, |out| encode_varint(0, out));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<(), E> {
        self.member(BOOL_VALUE, WireType::Varint, |out| {
            encode_varint(u64::from(flag), out)
        });
        Ok(())
    }

    // `Number::as_f64` casts integers.
    fn visit_u64<E: de::Error>(self, number: u64) -> Result<(), E> {
        self.visit_f64(number as f64)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<(), E> {
        self.visit_f64(number as f64)
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<(), E> {
        // `Value` reads a non-finite double as null (the parser rejects them
        // first; kept so the mirror holds whatever reads the text).
        if !number.is_finite() {
            return self.visit_unit();
        }
        self.member(NUMBER_VALUE, WireType::SixtyFourBit, |out| {
            out.extend_from_slice(&number.to_le_bytes())
        });
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.member(STRING_VALUE, WireType::LengthDelimited, |out| {
            encode_varint(text.len() as u64, out);
            out.extend_from_slice(text.as_bytes());
        });
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let start = self.enc.out.len();
        encode_key(LIST_VALUE, WireType::LengthDelimited, &mut self.enc.out);
        let length = begin_length(&mut self.enc.out);
        // Elements are written even for a document, which drops them after:
        // reading them the way `Value` does keeps its errors.
        while let Some(()) = seq.next_element_seed(Wrapped {
            enc: &mut *self.enc,
            field: LIST_VALUES,
        })? {}
        match self.mode {
            Mode::Value => end_length(&mut self.enc.out, length),
            Mode::Document(_) => self.enc.out.truncate(start),
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = map.next_key_seed(Key)?;
        if first.as_deref() == Some(RAW_VALUE_TOKEN) {
            let text: String = map.next_value()?;
            return raw_value(self.enc, &text, self.mode).map_err(de::Error::custom);
        }
        let field = match self.mode {
            Mode::Document(field) => field,
            Mode::Value => STRUCT_VALUE,
        };
        encode_key(field, WireType::LengthDelimited, &mut self.enc.out);
        let length = begin_length(&mut self.enc.out);
        self.enc.fields(first, &mut map)?;
        end_length(&mut self.enc.out, length);
        Ok(())
    }
}

/// Writes, in place of the object holding it, the document `text` holds,
/// as serde_json's `Value` reads an object keyed by [`RAW_VALUE_TOKEN`].
fn raw_value(enc: &mut Encoder<'_>, text: &str, mode: Mode) -> serde_json::Result<()> {
    // Keys borrow from `text`, which outlives no outer key: its own encoder.
    let mut inner = Encoder::new(std::mem::take(&mut enc.out));
    let result = inner.document(&mut serde_json::Deserializer::from_str(text), mode);
    enc.out = inner.out;
    result
}

/// A `Value` message in field `field` of its parent: a list element or a
/// map entry's value.
struct Wrapped<'a, 'de> {
    enc: &'a mut Encoder<'de>,
    field: u32,
}

impl<'de> DeserializeSeed<'de> for Wrapped<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, parser: D) -> Result<(), D::Error> {
        encode_key(self.field, WireType::LengthDelimited, &mut self.enc.out);
        let length = begin_length(&mut self.enc.out);
        parser.deserialize_any(Node {
            enc: &mut *self.enc,
            mode: Mode::Value,
        })?;
        end_length(&mut self.enc.out, length);
        Ok(())
    }
}

/// An object key, borrowed from the text unless it holds escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, parser: D) -> Result<Self::Value, D::Error> {
        parser.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::json_to_struct;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// What prost writes for the document, None when serde_json rejects it.
    fn reference(field: u32, document: &[u8]) -> Option<Vec<u8>> {
        let value: serde_json::Value = serde_json::from_slice(document).ok()?;
        let mut out = Vec::new();
        if let Some(fields) = json_to_struct(value) {
            prost::encoding::message::encode(field, &fields, &mut out);
        }
        Some(out)
    }

    /// What `encode_metadata` appends after existing bytes, None on error
    /// (after checking it appended nothing).
    fn encoded(field: u32, document: &[u8]) -> Option<Vec<u8>> {
        let mut out = b"before".to_vec();
        match encode_metadata(field, document, &mut out) {
            Ok(()) => {
                assert_eq!(&out[..6], b"before");
                Some(out[6..].to_vec())
            }
            Err(error) => {
                assert_eq!(out, b"before", "{error}");
                None
            }
        }
    }

    fn assert_same(document: &str) {
        for field in [1, 12, 16, 536_870_911] {
            let expected = reference(field, document.as_bytes());
            assert!(expected.is_some(), "reference rejects {document}");
            assert_eq!(encoded(field, document.as_bytes()), expected, "{document}");
        }
    }

    #[test]
    fn objects_match_prost() {
        for document in [
            "{}",
            r#"{"a":{}}"#,
            r#"{"a":[]}"#,
            r#"{"a":{"b":{"c":[1,[2,[3,{}]],{"d":null}]}}}"#,
            r#"{"null":null,"t":true,"f":false,"zero":0,"n":1.5,"s":"text","e":"","l":[],"o":{}}"#,
            r#"{"":"","x":{"":0}}"#,
            r#"{"bb":1,"a":2,"ccc":{"z":[],"y":null}}"#,
            r#"{"id":"x","name":"y","action":"z","b":1,"aa":2,"A":3,"é":4,"😀":5,"z":6}"#,
            r#"{"q":"\"","b":"\\","n":"\n\t\r\b\f\/","u":"\u00e9","p":"\ud83d\ude00","0":"\u0000"}"#,
            r#"{"\u00e9t\u00e9":"été","\"k\"":1,"k\\":2,"\ud83d\ude00":[]}"#,
            r#"{"big":1e308,"nz":-0.0,"nzi":-0,"max":18446744073709551615,"min":-9223372036854775808}"#,
            r#"{"a":0.1,"b":123456789012345678901234567890,"c":-1e-320,"d":2.2250738585072014e-308}"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"a":{"x":1},"b":0,"a":{"y":2},"a":[{"k":1,"k":2}]}"#,
            r#"{"\u0061":1,"a":2}"#,
            r#"{"a": 1, "b": [1, 2], "cc": {"d": "e"}, "created_by": null}"#,
            " \n\t{ \"a\" : [ 1 , { } ] } \n",
            &format!(
                r#"{{"s":"{}","t":[{}]}}"#,
                "x".repeat(300),
                "7,".repeat(200) + "7"
            ),
        ] {
            assert_same(document);
        }
    }

    #[test]
    fn non_objects_append_nothing() {
        for document in [
            "null",
            "3",
            "-0.5",
            r#""x""#,
            "true",
            "[1]",
            "[]",
            r#"[{"a":1}]"#,
        ] {
            assert_same(document);
            assert_eq!(encoded(7, document.as_bytes()), Some(Vec::new()));
        }
    }

    #[test]
    fn malformed_documents_are_errors() {
        let deep = |open: &str, close: &str| open.repeat(200) + &close.repeat(200);
        for document in [
            &b"{"[..],
            b"",
            b"{\"a\":}",
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"{\"a\":\"\xff\"}",
            b"[\"\xc3\"]",
            b"{\"\xff\":1}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":1e400}",
            b"{\"a\":01}",
            deep("[", "]").as_bytes(),
            (String::from("{\"a\":") + &deep("[", "]") + "}").as_bytes(),
            deep("{\"a\":", "}").as_bytes(),
        ] {
            assert_eq!(reference(1, document), None);
            assert_eq!(
                encoded(1, document),
                None,
                "{:?}",
                String::from_utf8_lossy(document)
            );
        }
    }

    #[test]
    fn depth_limit_is_serde_jsons() {
        let mut outcomes = Vec::new();
        for depth in 120..135 {
            for (open, close) in [("{\"a\":", "}"), ("[", "]")] {
                let document = open.repeat(depth) + "1" + &close.repeat(depth);
                let expected = reference(3, document.as_bytes());
                assert_eq!(encoded(3, document.as_bytes()), expected, "{depth}");
                outcomes.push(expected.is_some());
            }
        }
        // The limit falls inside the depths tried.
        assert!(outcomes.contains(&true) && outcomes.contains(&false));
    }

    /// serde_json's `raw_value` reading of an object keyed by its private
    /// token, which the reference does in this build.
    #[test]
    fn raw_value_token_reads_as_serde_json_does() {
        for document in [
            r#"{"$serde_json::private::RawValue":"{\"b\":1,\"a\":[2]}"}"#,
            r#"{"x":{"$serde_json::private::RawValue":"[1, {\"k\": null}]"}}"#,
            r#"{"x":{"$serde_json::private::RawValue":"3"},"a":0}"#,
            r#"{"$serde_json::private::RawValue":"7"}"#,
            r#"{"a":1,"$serde_json::private::RawValue":"7"}"#,
        ] {
            assert_same(document);
        }
        for document in [
            r#"{"$serde_json::private::RawValue":7}"#,
            r#"{"$serde_json::private::RawValue":"{"}"#,
            r#"{"$serde_json::private::RawValue":"1","a":2}"#,
        ] {
            assert_eq!(reference(1, document.as_bytes()), None, "{document}");
            assert_eq!(encoded(1, document.as_bytes()), None, "{document}");
        }
    }

    /// Random JSON text: nested values, a small key pool (so duplicates and
    /// escaped spellings of one key occur), escapes, numbers of every form,
    /// odd spacing and, now and then, a mistake.
    struct Documents(StdRng);

    impl Documents {
        fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
            choices[self.0.random_range(0..choices.len())]
        }

        fn space(&mut self, text: &mut String) {
            if self.0.random_bool(0.3) {
                text.push_str(self.pick(&[" ", "\n", "\t ", "  \r\n"]));
            }
        }

        fn string(&mut self, text: &mut String) {
            text.push('"');
            for _ in 0..self.0.random_range(0..8) {
                let piece = if self.0.random_bool(0.005) {
                    self.pick(&["\\x", "\u{1}", "\\ud800", "\\u12"])
                } else {
                    self.pick(&[
                        "a",
                        "b",
                        "Z",
                        " ",
                        "é",
                        "😀",
                        "\u{7f}",
                        "\\\"",
                        "\\\\",
                        "\\/",
                        "\\n",
                        "\\t",
                        "\\b",
                        "\\f",
                        "\\r",
                        "\\u00e9",
                        "\\u0000",
                        "\\u0061",
                        "\\ud83d\\ude00",
                        "\\uFFFF",
                    ])
                };
                text.push_str(piece);
            }
            text.push('"');
        }

        fn number(&mut self, text: &mut String) {
            let rng = &mut self.0;
            let number = match rng.random_range(0..8) {
                0 => rng.random::<i64>().to_string(),
                1 => rng.random::<u64>().to_string(),
                2 => rng.random_range(-1000..1000).to_string(),
                3 | 4 => {
                    let number = f64::from_bits(rng.random());
                    let number = if number.is_finite() { number } else { 0.5 };
                    if rng.random_bool(0.5) {
                        format!("{number:?}")
                    } else {
                        format!("{number:e}")
                    }
                }
                5 => {
                    let digits: String = (0..rng.random_range(1..40))
                        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                        .collect();
                    let digits = digits.trim_start_matches('0');
                    let digits = if digits.is_empty() { "0" } else { digits };
                    let exponent = rng.random_range(-340..340);
                    format!("{digits}.{}e{exponent}", rng.random_range(0..1000))
                }
                6 => self
                    .pick(&["0", "-0", "-0.0", "0.1", "1e308", "5e-324", "1E+2"])
                    .into(),
                _ => self
                    .pick(&["-9223372036854775808", "18446744073709551616", "0e0"])
                    .into(),
            };
            text.push_str(&number);
        }

        fn value(&mut self, text: &mut String, depth: u32) {
            self.space(text);
            match self.0.random_range(0..if depth > 4 { 4 } else { 7 }) {
                0 => text.push_str(self.pick(&["null", "true", "false"])),
                1 => self.number(text),
                2 | 3 => self.string(text),
                4 => {
                    text.push('[');
                    for i in 0..self.0.random_range(0..5) {
                        if i > 0 {
                            text.push(',');
                        }
                        self.value(text, depth + 1);
                    }
                    text.push(']');
                }
                _ => self.object(text, depth),
            }
            self.space(text);
        }

        fn object(&mut self, text: &mut String, depth: u32) {
            text.push('{');
            for i in 0..self.0.random_range(0..7) {
                if i > 0 {
                    text.push(',');
                }
                self.space(text);
                if self.0.random_bool(0.01) {
                    // The token's value: a document serde_json reads again.
                    let mut inner = String::new();
                    self.value(&mut inner, depth + 1);
                    text.push_str(r#""$serde_json::private::RawValue":"#);
                    text.push_str(&serde_json::to_string(&inner).unwrap());
                    continue;
                }
                let key = self.pick(&[
                    "", "a", "b", "aa", "ab", "ba", "A", "id", "name", "é", "\\u00e9", "\\u0061",
                    "😀", "a\\nb", "\\\"",
                ]);
                text.push_str(&format!("\"{key}\""));
                self.space(text);
                text.push(':');
                self.value(text, depth + 1);
            }
            text.push('}');
        }
    }

    #[test]
    fn random_documents_match_prost() {
        let mut documents = Documents(StdRng::seed_from_u64(0x5eed_0fa1));
        let mut valid = 0;
        for round in 0..5000 {
            let mut text = String::new();
            if round % 10 == 0 {
                documents.value(&mut text, 0);
            } else {
                documents.object(&mut text, 0);
            }
            let expected = reference(12, text.as_bytes());
            valid += usize::from(expected.is_some());
            assert_eq!(encoded(12, text.as_bytes()), expected, "{text}");
        }
        assert!(valid > 4000, "only {valid} valid documents");
    }
}
