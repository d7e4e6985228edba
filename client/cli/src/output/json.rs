//! Entries as JSON: one array (`json`), or one object per line (`ndjson`),
//! in the client library's form ([`audit_client::audit_log_to_json`]): the
//! contract's field names, RFC 3339 times, enum values by contract name.
//! `audit import` reads the NDJSON form back.

use super::EntryWriter;
use audit_client::audit_log_to_json;
use audit_proto::AuditLog;
use std::io::{self, Write};

/// One object per line.
pub struct NdjsonWriter;

impl EntryWriter for NdjsonWriter {
    fn begin(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn entry(&mut self, out: &mut dyn Write, entry: &AuditLog) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &audit_log_to_json(entry))?;
        out.write_all(b"\n")
    }

    fn end(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// One array, written element by element so it streams like the rest.
#[derive(Default)]
pub struct JsonArrayWriter {
    written: usize,
}

impl EntryWriter for JsonArrayWriter {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"[")
    }

    fn entry(&mut self, out: &mut dyn Write, entry: &AuditLog) -> io::Result<()> {
        out.write_all(if self.written == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &audit_log_to_json(entry))?;
        self.written += 1;
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.written == 0 { b"]\n" } else { b"\n]\n" })
    }
}

/// Writes one entry as indented JSON: `get`'s default.
pub fn write_pretty(out: &mut dyn Write, entry: &AuditLog) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &audit_log_to_json(entry))?;
    out.write_all(b"\n")
}
