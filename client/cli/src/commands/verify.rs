//! `audit verify FILE [--checkpoint FILE]`: verifies the hash chain of an
//! NDJSON export offline with the client library's verifier, so an auditor
//! need not trust the server, and prints a one-line verdict. With a signed
//! checkpoint, its signature is checked first (with a key given, or listed
//! by the service), then the export must pass through it.

use super::Connection;
use crate::cli::VerifyArgs;
use crate::error::CliError;
use crate::output;
use audit_client::integrity::{
    Verdict, VerifyOptions, chain_point, checkpoint_from_json, parse_hash, to_hash,
    verify_ndjson_file,
};
use audit_proto::Checkpoint;
use audit_proto::checkpoint::verify_checkpoint;
use audit_proto::integrity::to_hex;
use std::path::Path;

pub async fn run(args: VerifyArgs, connection: &Connection) -> Result<(), CliError> {
    let mut options = VerifyOptions {
        anchor: args.anchor,
        head: args.head,
        checkpoint: None,
    };
    let mut checked = None;
    if let Some(path) = &args.checkpoint {
        let checkpoint = read_checkpoint(path)?;
        let (key, source) = match &args.public_key {
            Some(given) => (parse_public_key(given)?, "--public-key".to_owned()),
            None => fetch_public_key(&checkpoint, connection).await?,
        };
        if let Err(error) = verify_checkpoint(&checkpoint, &key) {
            output::print(&format!(
                "checkpoint rejected: {error} (key {} from {source})\n",
                audit_proto::checkpoint::key_id(&key)
            ))?;
            return Err(CliError::CheckpointRejected);
        }
        options.checkpoint = chain_point(&checkpoint);
        checked = Some(format!(
            "passes through the checkpoint at sequence {} (signature checked with key {} from {source})",
            checkpoint.sequence, checkpoint.key_id
        ));
    }
    let verdict = verify_ndjson_file(&args.file, &options).map_err(|error| match error {
        audit_client::integrity::NdjsonError::Io(source) => CliError::File {
            context: format!("cannot read {}", args.file.display()),
            source,
        },
        other => CliError::Invalid(format!("{}: {other}", args.file.display())),
    })?;
    let mut line = describe(&verdict);
    if let Some(checked) = checked
        && verdict.is_intact()
    {
        line.push_str("; ");
        line.push_str(&checked);
    }
    output::print(&format!("{line}\n"))?;
    if verdict.is_intact() {
        Ok(())
    } else {
        Err(CliError::ChainBroken)
    }
}

/// Reads a checkpoint's JSON file.
fn read_checkpoint(path: &Path) -> Result<Checkpoint, CliError> {
    let text = std::fs::read_to_string(path).map_err(CliError::file("read", path))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| CliError::Invalid(format!("{}: not JSON: {error}", path.display())))?;
    checkpoint_from_json(&json)
        .map_err(|error| CliError::Invalid(format!("{}: {error}", path.display())))
}

/// A public key as 64 hex digits, or a file holding them.
fn parse_public_key(given: &str) -> Result<[u8; 32], CliError> {
    if let Some(key) = parse_hash(given) {
        return Ok(key);
    }
    let path = Path::new(given);
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "--public-key {given:?} is neither 64 hex digits nor a file"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(CliError::file("read", path))?;
    parse_hash(text.trim()).ok_or_else(|| {
        CliError::Usage(format!(
            "--public-key file {} must hold an Ed25519 public key as 64 hex digits",
            path.display()
        ))
    })
}

/// The key the service lists under the checkpoint's key id, and where it
/// came from.
async fn fetch_public_key(
    checkpoint: &Checkpoint,
    connection: &Connection,
) -> Result<([u8; 32], String), CliError> {
    let keys = connection.connect().await?.public_keys().await?;
    let source = format!("GetPublicKeys at {}", connection.endpoint);
    let listed = keys
        .iter()
        .find(|key| key.key_id == checkpoint.key_id)
        .and_then(|key| to_hash(&key.public_key));
    match listed {
        Some(key) => Ok((key, source)),
        None => {
            let ids: Vec<&str> = keys.iter().map(|key| key.key_id.as_str()).collect();
            output::print(&format!(
                "checkpoint rejected: its key {} is not among the keys listed by {source} ({})\n",
                checkpoint.key_id,
                ids.join(", ")
            ))?;
            Err(CliError::CheckpointRejected)
        }
    }
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
