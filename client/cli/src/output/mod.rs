//! How entries are printed: a header, one piece per entry as it arrives,
//! and a footer, so a listing streams instead of waiting for its end.
//!
//! # Layout
//! - [`table`]: aligned columns for people.
//! - [`json`]: one JSON array, or one object per line (NDJSON).
//! - [`csv`]: a header row, then one row per entry.
//! - [`columns`]: aligned columns for the short reports of `describe` and
//!   `stats`.
//! - [`bars`]: horizontal bars for the stats histogram.

pub mod bars;
pub mod columns;
pub mod csv;
pub mod json;
pub mod table;

use crate::error::CliError;
use audit_proto::AuditLog;
use clap::ValueEnum;
use std::io::{self, Write};

/// An output format for entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns: time, actor, action, target, result, ip.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
}

/// Writes entries in one format.
pub trait EntryWriter {
    /// Writes what comes before the first entry (a header, `[`).
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()>;
    /// Writes one entry.
    fn entry(&mut self, out: &mut dyn Write, entry: &AuditLog) -> io::Result<()>;
    /// Writes what comes after the last entry (`]`).
    fn end(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

impl Format {
    /// Returns a writer for this format.
    pub fn writer(self) -> Box<dyn EntryWriter> {
        match self {
            Format::Table => Box::new(table::TableWriter),
            Format::Json => Box::new(json::JsonArrayWriter::default()),
            Format::Ndjson => Box::new(json::NdjsonWriter),
            Format::Csv => Box::new(csv::CsvWriter),
        }
    }
}

/// Prints `text` on stdout; unlike `print!`, a closed pipe is an error to
/// report rather than a panic.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::Output)
}
