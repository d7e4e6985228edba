//! `audit list`: every matching entry (or `--limit` of them), printed as
//! each message arrives. With `--follow`, keeps printing new entries as they
//! commit until Ctrl-C, which ends the output cleanly (exit 0).

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
        follow: args.follow,
        ..Default::default()
    };
    let mut pages = service.pages(query);
    let mut out = BufWriter::new(io::stdout());
    let mut writer = format.writer();
    writer.begin(&mut out).map_err(CliError::Output)?;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let page = tokio::select! {
            page = pages.try_next() => page?,
            // Ctrl-C ends a follow (or a long listing) between messages, so
            // the output stays well-formed.
            _ = &mut interrupted => None,
        };
        let Some(page) = page else { break };
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
