//! `audit export --output FILE`: streams the matching entries to a file
//! with a progress bar, and resumes an interrupted export from `FILE.resume`
//! (see [`crate::resume`]).

use crate::cli::{ExportArgs, ExportFormat};
use crate::error::CliError;
use crate::output::Format;
use crate::progress;
use crate::resume::{self, ExportState};
use crate::service::{ListQuery, Service};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

pub async fn run(service: &Service, args: ExportArgs) -> Result<(), CliError> {
    let path = args.output.as_path();
    let state_path = resume::state_path(path);
    let format = args.format.unwrap_or_else(|| format_for(path));
    let requested = ExportState::new(
        args.filters.as_flags(),
        args.oldest_first,
        format,
        Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
    );
    let mut writer = Format::from(format).writer();

    let (mut state, file) = match resume::load(&state_path)? {
        Some(saved) => {
            if !saved.same_query(&requested) {
                return Err(CliError::Invalid(format!(
                    "{} belongs to an export with other options ({}); repeat them to resume, \
                     or delete it to start over",
                    state_path.display(),
                    saved.describe_query()
                )));
            }
            let file = reopen(path, saved.bytes)?;
            eprintln!(
                "resuming the export to {} after {} entries",
                path.display(),
                saved.entries
            );
            (saved, file)
        }
        None if args.resume => {
            return Err(CliError::Invalid(format!(
                "nothing to resume: {} does not exist",
                state_path.display()
            )));
        }
        None => {
            let mut file = File::create(path).map_err(CliError::file("create", path))?;
            writer
                .begin(&mut file)
                .map_err(CliError::file("write", path))?;
            let mut state = requested;
            state.bytes = position(&mut file, path)?;
            // Recorded before the first message, so even an export stopped
            // that early is resumed only with the same options.
            resume::save(&state_path, &state)?;
            (state, file)
        }
    };

    let started_at = DateTime::parse_from_rfc3339(&state.started_at)
        .map_err(|error| {
            CliError::Invalid(format!("{}: bad started_at: {error}", state_path.display()))
        })?
        .to_utc();
    let query = ListQuery {
        filter: args.filters.to_filter(started_at),
        oldest_first: state.oldest_first,
        page_size: args.page_size,
        limit: None,
        page_token: state.next_page_token.clone(),
        include_total_count: true,
        follow: false,
    };
    let mut pages = service.pages(query);
    let mut out = BufWriter::new(file);
    let mut bar = None;
    let mut messages = 0u64;
    while let Some(page) = pages.try_next().await? {
        let bar = bar.get_or_insert_with(|| {
            let total = page.total_count.and_then(|count| u64::try_from(count).ok());
            progress::entries(total, state.entries)
        });
        for entry in &page.entries {
            writer
                .entry(&mut out, entry)
                .map_err(CliError::file("write", path))?;
        }
        out.flush().map_err(CliError::file("write", path))?;
        state.entries += page.entries.len() as u64;
        bar.set_position(state.entries);
        if page.next_page_token.is_empty() {
            break;
        }
        state.bytes = position(out.get_mut(), path)?;
        state.next_page_token = page.next_page_token;
        resume::save(&state_path, &state)?;
        messages += 1;
        if args.stop_after == Some(messages) {
            bar.abandon();
            return Err(CliError::Invalid(format!(
                "stopped after {messages} messages as asked; run the same export again to resume"
            )));
        }
    }
    let file = out
        .into_inner()
        .map_err(|error| CliError::file("write", path)(error.into_error()))?;
    file.sync_all().map_err(CliError::file("write", path))?;
    resume::remove(&state_path)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    eprintln!("exported {} entries to {}", state.entries, path.display());
    Ok(())
}

/// CSV for a `.csv` file, NDJSON for anything else.
fn format_for(path: &Path) -> ExportFormat {
    let is_csv = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
    if is_csv {
        ExportFormat::Csv
    } else {
        ExportFormat::Ndjson
    }
}

/// Opens an interrupted export's file at the end of its last recorded
/// message, dropping whatever was written after it.
fn reopen(path: &Path, bytes: u64) -> Result<File, CliError> {
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(CliError::file("open", path))?;
    let length = file.metadata().map_err(CliError::file("read", path))?.len();
    if length < bytes {
        return Err(CliError::Invalid(format!(
            "{} holds {length} bytes but its resume state records {bytes}; \
             delete {} to start over",
            path.display(),
            resume::state_path(path).display()
        )));
    }
    file.set_len(bytes)
        .map_err(CliError::file("truncate", path))?;
    file.seek(SeekFrom::End(0))
        .map_err(CliError::file("seek", path))?;
    Ok(file)
}

fn position(file: &mut File, path: &Path) -> Result<u64, CliError> {
    file.stream_position().map_err(CliError::file("seek", path))
}
