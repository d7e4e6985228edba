//! `audit verify FILE`: verifies the hash chain of an NDJSON export offline
//! with the client library's verifier, so an auditor need not trust the
//! server, and prints a one-line verdict.

use crate::cli::VerifyArgs;
use crate::error::CliError;
use crate::output;
use audit_client::integrity::{Verdict, VerifyOptions, verify_entries};
use audit_client::{AuditLog, audit_log_from_json};
use audit_proto::integrity::to_hex;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

pub fn run(args: VerifyArgs) -> Result<(), CliError> {
    let entries = read_export(&args.file)?;
    let options = VerifyOptions {
        anchor: args.anchor,
        head: args.head,
    };
    let verdict = verify_entries(entries, &options);
    output::print(&format!("{}\n", describe(&verdict)))?;
    if verdict.is_intact() {
        Ok(())
    } else {
        Err(CliError::ChainBroken)
    }
}

/// Reads every entry of an NDJSON export; blank lines are skipped.
fn read_export(path: &Path) -> Result<Vec<AuditLog>, CliError> {
    let file = File::open(path).map_err(CliError::file("open", path))?;
    let mut entries = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(CliError::file("read", path))?;
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |reason: String| {
            CliError::Invalid(format!("{}:{}: {reason}", path.display(), index + 1))
        };
        let json: serde_json::Value =
            serde_json::from_str(&line).map_err(|error| invalid(format!("not JSON: {error}")))?;
        let entry = audit_log_from_json(&json).map_err(|error| invalid(error.to_string()))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The verdict in one line.
fn describe(verdict: &Verdict) -> String {
    if !verdict.is_intact() {
        return format!(
            "broken at sequence {}: {} ({}); {} entries checked before it",
            verdict.first_broken_sequence,
            verdict.kind_name(),
            verdict.detail,
            verdict.entries_checked
        );
    }
    let Some(head) = verdict.head_hash else {
        return "intact: no entries".to_owned();
    };
    let mut line = format!(
        "intact: {}..{}, {} entries",
        verdict.first_sequence, verdict.last_sequence, verdict.entries_checked
    );
    if verdict.tombstones > 0 {
        line.push_str(&format!(" ({} deleted)", verdict.tombstones));
    }
    line.push_str(&format!(", head {}", to_hex(&head)));
    if !verdict.anchored {
        line.push_str(&format!(
            "; its first link (sequence {}) was taken on trust: pass --anchor HEX to check it",
            verdict.first_sequence
        ));
    }
    line
}
