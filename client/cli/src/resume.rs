//! `FILE.resume`: where an interrupted export stopped, so running it again
//! continues instead of starting over.
//!
//! It is rewritten (atomically, by rename) after every message has been
//! flushed to the export file and records the message's `next_page_token`
//! and the file's length at that point. Resuming truncates the file to that
//! length, dropping anything written after the last recorded message, and
//! continues from the token: no entry is lost or written twice.

use crate::cli::ExportFormat;
use crate::error::CliError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The state file's format; a different one is refused, not misread.
const VERSION: u32 = 1;

/// What an export had done when it last recorded progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportState {
    pub version: u32,
    /// The filter flags as typed; a resume must repeat them.
    pub filters: BTreeMap<String, String>,
    pub oldest_first: bool,
    pub format: ExportFormat,
    /// When the export started (RFC 3339): relative times such as
    /// `--since 24h` count back from here on every run, so a resumed export
    /// asks for exactly the same entries and its page token stays valid.
    pub started_at: String,
    /// Resumes after the last entry in the file; empty before the first
    /// message.
    pub next_page_token: String,
    /// The file's length after the last recorded message.
    pub bytes: u64,
    /// Entries in the file up to `bytes`.
    pub entries: u64,
}

impl ExportState {
    /// Starts the state of a new export.
    pub fn new(
        filters: BTreeMap<String, String>,
        oldest_first: bool,
        format: ExportFormat,
        started_at: String,
    ) -> Self {
        Self {
            version: VERSION,
            filters,
            oldest_first,
            format,
            started_at,
            next_page_token: String::new(),
            bytes: 0,
            entries: 0,
        }
    }

    /// Returns true when `other` asks for the same entries in the same form.
    pub fn same_query(&self, other: &ExportState) -> bool {
        self.filters == other.filters
            && self.oldest_first == other.oldest_first
            && self.format == other.format
    }

    /// Describes the query as flags, for the message refusing a resume.
    pub fn describe_query(&self) -> String {
        let mut parts: Vec<String> = self
            .filters
            .iter()
            .map(|(flag, value)| format!("--{flag} {value}"))
            .collect();
        if self.oldest_first {
            parts.push("--oldest-first".to_owned());
        }
        let format = match self.format {
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        };
        parts.push(format!("--format {format}"));
        parts.join(" ")
    }
}

/// Returns the state file of export file `output`: `FILE.resume`.
pub fn state_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".resume");
    PathBuf::from(name)
}

/// Reads the state file, if there is one.
pub fn load(path: &Path) -> Result<Option<ExportState>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(CliError::file("read", path)(error)),
    };
    let state: ExportState = serde_json::from_str(&text).map_err(|error| {
        CliError::Invalid(format!(
            "{} is not an export state ({error}); delete it to start over",
            path.display()
        ))
    })?;
    if state.version != VERSION {
        return Err(CliError::Invalid(format!(
            "{} has version {}, this audit writes {VERSION}; delete it to start over",
            path.display(),
            state.version
        )));
    }
    Ok(Some(state))
}

/// Replaces the state file in one step, so an interruption leaves either the
/// old state or the new one, never half of one.
pub fn save(path: &Path, state: &ExportState) -> Result<(), CliError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let text = serde_json::to_string(state)
        .map_err(|error| CliError::Invalid(format!("cannot encode the export state: {error}")))?;
    std::fs::write(&temporary, text).map_err(CliError::file("write", &temporary))?;
    std::fs::rename(&temporary, path).map_err(CliError::file("replace", path))
}

/// Deletes the state file of a finished export.
pub fn remove(path: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(CliError::file("remove", path)(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_sits_next_to_the_export() {
        assert_eq!(
            state_path(Path::new("/tmp/out.ndjson")),
            PathBuf::from("/tmp/out.ndjson.resume")
        );
    }

    #[test]
    fn state_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv.resume");
        assert_eq!(load(&path).unwrap(), None);
        let mut state = ExportState::new(
            BTreeMap::from([("since".to_owned(), "24h".to_owned())]),
            true,
            ExportFormat::Csv,
            "2024-05-01T00:00:00.123456789Z".to_owned(),
        );
        state.next_page_token = "token".to_owned();
        state.bytes = 42;
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), Some(state.clone()));
        assert_eq!(
            state.describe_query(),
            "--since 24h --oldest-first --format csv"
        );
        remove(&path).unwrap();
        assert_eq!(load(&path).unwrap(), None);
    }
}
