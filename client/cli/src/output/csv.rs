//! Entries as CSV: a header row, then one row per entry. Cells are taken
//! from the same JSON form `ndjson` prints, nested fields flattened
//! (`actor_id`, `target_type`, …) and metadata kept as a JSON cell; the
//! chain fields come last, so earlier columns keep their places.

use super::EntryWriter;
use audit_client::audit_log_to_json;
use audit_proto::AuditLog;
use serde_json::Value;
use std::io::{self, Write};

/// The header row, each column with where its cell is in the JSON form.
pub const COLUMNS: [(&str, &str); 24] = [
    ("id", "/id"),
    ("tenant_id", "/tenant_id"),
    ("occurred_at", "/occurred_at"),
    ("received_at", "/received_at"),
    ("action", "/action"),
    ("actor_id", "/actor/id"),
    ("actor_type", "/actor/type"),
    ("actor_name", "/actor/name"),
    ("actor_email", "/actor/email"),
    ("target_type", "/target/type"),
    ("target_id", "/target/id"),
    ("target_name", "/target/name"),
    ("result", "/result"),
    ("client_ip", "/client_ip"),
    ("user_agent", "/user_agent"),
    ("request_method", "/request/method"),
    ("request_path", "/request/path"),
    ("request_status_code", "/request/status_code"),
    ("request_id", "/request_id"),
    ("idempotency_key", "/idempotency_key"),
    ("metadata", "/metadata"),
    ("sequence", "/sequence"),
    ("content_digest", "/content_digest"),
    ("hash", "/hash"),
];

pub struct CsvWriter;

/// Writes one row, quoted and escaped by the csv crate.
fn write_row<I, T>(out: &mut dyn Write, cells: I) -> io::Result<()>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    writer.write_record(cells).map_err(io::Error::other)?;
    writer.flush()
}

impl EntryWriter for CsvWriter {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        write_row(out, COLUMNS.map(|(name, _)| name))
    }

    fn entry(&mut self, out: &mut dyn Write, entry: &AuditLog) -> io::Result<()> {
        let json = audit_log_to_json(entry);
        let cells = COLUMNS.map(|(_, pointer)| cell(json.pointer(pointer)));
        write_row(out, cells)
    }

    fn end(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// A JSON value as a cell: strings bare, absent or null empty, metadata
/// (an object) as compact JSON, an unset status code empty.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) if number.as_i64() == Some(0) => String::new(),
        Some(Value::Object(object)) if object.is_empty() => String::new(),
        Some(other) => other.to_string(),
    }
}
