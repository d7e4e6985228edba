//! Verifying an NDJSON export file of any size in bounded memory.
//!
//! 1. A first pass reads each line's sequence and action only and collects
//!    the tombstones that deletion records name (a record comes after what
//!    it deletes, so they must be known before the walk). From the first
//!    line out of sequence order on, it also feeds the lines to a
//!    [`Sorter`] (in memory up to a budget, else in runs on disk).
//! 2. A file in sequence order is then streamed line by line into the
//!    [`ChainVerifier`]; any other is read back from the sorter.

use super::deletions::{DELETED_ACTION, Deletions};
use super::line::{line_key, parse_entry};
use super::sorted_lines::{DEFAULT_RUN_BYTES, Sorter};
use super::verifier::ChainVerifier;
use super::{Verdict, VerifyOptions};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Why a file could not be verified (as opposed to a broken chain, which is
/// a [`Verdict`]).
#[derive(Debug, thiserror::Error)]
pub enum NdjsonError {
    /// The file (or a temporary file for sorting) could not be read or
    /// written.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A line is not an entry as an export writes it.
    #[error("line {line}: {reason}")]
    Line {
        /// The 1-based line number in the file.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// Verifies the NDJSON export at `path` (one entry per line, blank lines
/// skipped, in any order) in bounded memory. See [the module](super) for
/// what an export can prove.
pub fn verify_ndjson_file(path: &Path, options: &VerifyOptions) -> Result<Verdict, NdjsonError> {
    verify_with_budget(path, options, DEFAULT_RUN_BYTES)
}

/// [`verify_ndjson_file`] holding at most about `budget` bytes of lines in
/// memory when the file must be sorted.
pub(crate) fn verify_with_budget(
    path: &Path,
    options: &VerifyOptions,
    budget: usize,
) -> Result<Verdict, NdjsonError> {
    let scan = scan(path, budget)?;
    let mut verifier = ChainVerifier::new(options, scan.deletions);
    let Some(sorter) = scan.sorter else {
        // Already in sequence order: stream it.
        for_each_line(path, |number, line| {
            let entry = parse_entry(line).map_err(|reason| at(number, reason))?;
            Ok(verifier.push(entry))
        })?;
        return Ok(verifier.finish());
    };
    for keyed in sorter.finish()? {
        let (_, number, line) = keyed?;
        let entry = parse_entry(&line).map_err(|reason| at(number, reason))?;
        if !verifier.push(entry) {
            break;
        }
    }
    Ok(verifier.finish())
}

/// What the first pass learns.
struct Scan {
    deletions: Deletions,
    /// The lines in sorting, when the file is not in sequence order.
    sorter: Option<Sorter>,
}

/// Reads every line's sequence and action once: collects the tombstones,
/// and from the first line out of sequence order on, sorts the lines (the
/// lines before it, in order, are read again into the sorter then).
fn scan(path: &Path, budget: usize) -> Result<Scan, NdjsonError> {
    let mut deletions = Deletions::default();
    let mut sorter: Option<Sorter> = None;
    let mut last = i64::MIN;
    for_each_line(path, |number, line| {
        let key = line_key(line).map_err(|reason| at(number, reason))?;
        let sequence = key.sequence.unwrap_or_default();
        if key.action.as_deref() == Some(DELETED_ACTION) {
            let entry = parse_entry(line).map_err(|reason| at(number, reason))?;
            deletions.note(&entry);
        }
        if sorter.is_none() && sequence <= last {
            sorter = Some(sorted_prefix(path, number, budget)?);
        }
        last = sequence;
        if let Some(sorter) = &mut sorter {
            sorter.push(sequence, number, line.to_owned())?;
        }
        Ok(true)
    })?;
    Ok(Scan { deletions, sorter })
}

/// A sorter holding the lines before line `end` (newest-first exports
/// break the order at line 2, so this is usually one line).
fn sorted_prefix(path: &Path, end: u64, budget: usize) -> Result<Sorter, NdjsonError> {
    let mut sorter = Sorter::new(budget);
    for_each_line(path, |number, line| {
        if number >= end {
            return Ok(false);
        }
        let key = line_key(line).map_err(|reason| at(number, reason))?;
        sorter.push(key.sequence.unwrap_or_default(), number, line.to_owned())?;
        Ok(true)
    })?;
    Ok(sorter)
}

/// Calls `each` with every non-blank line and its 1-based number, reusing
/// one buffer; stops when `each` returns false.
fn for_each_line(
    path: &Path,
    mut each: impl FnMut(u64, &str) -> Result<bool, NdjsonError>,
) -> Result<(), NdjsonError> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if !each(number, text)? {
            return Ok(());
        }
    }
}

fn at(line: u64, reason: String) -> NdjsonError {
    NdjsonError::Line { line, reason }
}
