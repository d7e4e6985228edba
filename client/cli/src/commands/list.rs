//! `audit list`: every matching entry (or `--limit` of them), printed as
//! each message arrives.

use crate::cli::ListArgs;
use crate::error::CliError;
use crate::output::Format;
use crate::service::{ListQuery, Service};
use futures_util::TryStreamExt;
use std::io::{self, BufWriter, IsTerminal, Write};

pub async fn run(service: &Service, args: ListArgs) -> Result<(), CliError> {
    let format = args.format.unwrap_or_else(default_format);
    let query = ListQuery {
        filter: args.filters.to_filter(chrono::Utc::now()),
        oldest_first: args.oldest_first,
        page_size: args.page_size,
        limit: args.limit,
        ..Default::default()
    };
    let mut pages = service.pages(query);
    let mut out = BufWriter::new(io::stdout());
    let mut writer = format.writer();
    writer.begin(&mut out).map_err(CliError::Output)?;
    while let Some(page) = pages.try_next().await? {
        for entry in &page.entries {
            writer.entry(&mut out, entry).map_err(CliError::Output)?;
        }
        // Each message reaches the reader as soon as it arrives.
        out.flush().map_err(CliError::Output)?;
    }
    writer.end(&mut out).map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)
}

/// A table for a person at a terminal; NDJSON for a pipe or a file, which a
/// script or `audit import` reads.
fn default_format() -> Format {
    if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Ndjson
    }
}
