//! `--metadata`: a JSON object on the command line, sent as the entry's
//! `google.protobuf.Struct`.

use prost_types::Struct;

/// Parses `--metadata`. A clap value parser, so bad JSON or a value that is
/// not an object is a usage error rather than a server round trip.
pub fn parse_metadata(text: &str) -> Result<Struct, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    audit_client::json_to_struct(json).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_a_json_object() {
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{").is_err());
        let fields = parse_metadata(r#"{"a": 1}"#).unwrap();
        assert!(fields.fields.contains_key("a"));
    }
}
