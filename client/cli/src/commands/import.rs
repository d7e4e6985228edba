//! `audit import FILE`: appends every event of an NDJSON file in batches.
//!
//! Each line is an entry as `audit list --format ndjson` prints it (the
//! client library's JSON form); what the service assigns (`id`, `tenant_id`,
//! `received_at`, and the chain's `sequence`, `content_digest` and `hash`)
//! is ignored. An event without an idempotency key gets one derived from
//! its line number and text, so running an interrupted import again stores
//! nothing twice.

use crate::cli::ImportArgs;
use crate::error::CliError;
use crate::progress;
use crate::service::Service;
use audit_client::audit_event_from_json;
use audit_proto::AuditLogInput;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

pub async fn run(service: &Service, args: ImportArgs) -> Result<(), CliError> {
    let path = args.file.as_path();
    let file = File::open(path).map_err(CliError::file("open", path))?;
    let size = file.metadata().map_or(0, |metadata| metadata.len());
    let progress = progress::bytes(size);
    let mut reader = BufReader::new(file);
    let mut batch = Batch::default();
    let mut imported = 0usize;
    let mut line = String::new();
    let mut line_number = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(CliError::file("read", path))?;
        if read == 0 {
            break;
        }
        line_number += 1;
        progress.inc(read as u64);
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let event = parse_event(text, line_number).map_err(|reason| {
            CliError::Invalid(format!("{}:{line_number}: {reason}", path.display()))
        })?;
        batch.push(event, line_number);
        if batch.len() >= usize::from(args.batch_size) {
            imported += send(service, &mut batch, path, imported).await?;
            progress.set_message(format!("{imported} events"));
        }
    }
    imported += send(service, &mut batch, path, imported).await?;
    progress.finish_and_clear();
    eprintln!("imported {imported} events from {}", path.display());
    Ok(())
}

/// Parses one line into the event to append.
fn parse_event(text: &str, line_number: usize) -> Result<AuditLogInput, String> {
    let json = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let mut event =
        AuditLogInput::from(audit_event_from_json(json).map_err(|error| error.to_string())?);
    if event.idempotency_key.is_empty() {
        event.idempotency_key = derived_key(text, line_number);
    }
    Ok(event)
}

/// A key that names this line of this file's content: the same on every
/// run, different for identical events on different lines.
fn derived_key(text: &str, line_number: usize) -> String {
    let digest = Sha256::digest(format!("{line_number}\n{text}"));
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("import-{hex}")
}

/// Events waiting to be sent, with the line each came from.
#[derive(Default)]
struct Batch {
    events: Vec<AuditLogInput>,
    lines: Vec<usize>,
}

impl Batch {
    fn push(&mut self, event: AuditLogInput, line_number: usize) {
        self.events.push(event);
        self.lines.push(line_number);
    }

    fn len(&self) -> usize {
        self.events.len()
    }
}

/// Appends the batch atomically and returns how many events it held;
/// rejected fields are named by line rather than by position in the batch.
async fn send(
    service: &Service,
    batch: &mut Batch,
    path: &Path,
    imported: usize,
) -> Result<usize, CliError> {
    if batch.events.is_empty() {
        return Ok(0);
    }
    let events = std::mem::take(&mut batch.events);
    let lines = std::mem::take(&mut batch.lines);
    let count = events.len();
    match service.append(events).await {
        Ok(_) => Ok(count),
        Err(error) => {
            if imported > 0 {
                eprintln!(
                    "note: the first {imported} events were imported; \
                     importing the file again will not store them twice"
                );
            }
            let violations = error.field_violations();
            if violations.is_empty() {
                return Err(error);
            }
            let named: Vec<String> = violations
                .iter()
                .map(|(field, why)| format!("{}: {why}", by_line(field, &lines, path)))
                .collect();
            Err(CliError::Invalid(format!(
                "invalid argument: {}",
                named.join("; ")
            )))
        }
    }
}

/// Rewrites `entries[3].action` as `FILE:LINE: action`.
fn by_line(field: &str, lines: &[usize], path: &Path) -> String {
    let located = field
        .strip_prefix("entries[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, rest)| {
            let line = lines.get(index.parse::<usize>().ok()?)?;
            Some(format!(
                "{}:{line}: {}",
                path.display(),
                rest.trim_start_matches('.')
            ))
        });
    located.unwrap_or_else(|| field.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_line_and_text() {
        let key = derived_key(r#"{"action":"a"}"#, 1);
        assert_eq!(key, derived_key(r#"{"action":"a"}"#, 1));
        assert_ne!(key, derived_key(r#"{"action":"a"}"#, 2));
        assert_ne!(key, derived_key(r#"{"action":"b"}"#, 1));
        assert_eq!(key.len(), "import-".len() + 32);
    }

    #[test]
    fn an_events_own_key_is_kept() {
        let event = parse_event(r#"{"action":"a","idempotency_key":"k1"}"#, 7).unwrap();
        assert_eq!(event.idempotency_key, "k1");
    }

    #[test]
    fn violations_are_named_by_line() {
        let path = Path::new("events.ndjson");
        assert_eq!(
            by_line("entries[1].action", &[4, 9], path),
            "events.ndjson:9: action"
        );
        assert_eq!(by_line("entries", &[4], path), "entries");
    }
}
