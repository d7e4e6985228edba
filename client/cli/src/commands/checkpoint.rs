//! `audit checkpoint [--output FILE]`: has the service sign a checkpoint of
//! the chain head and saves it in the JSON form the server's checkpoint
//! directory holds, so an auditor can later check an export against it
//! with `audit verify --checkpoint FILE`.

use crate::cli::CheckpointArgs;
use crate::error::CliError;
use crate::output;
use crate::service::Service;
use audit_client::integrity::{checkpoint_to_json, to_hash};

pub async fn run(service: &Service, args: CheckpointArgs) -> Result<(), CliError> {
    let checkpoint = service.checkpoint(&args.tenant).await?;
    // For reference only: `verify` never trusts a key found in the file.
    let public_key = service
        .public_keys()
        .await?
        .into_iter()
        .find(|key| key.key_id == checkpoint.key_id)
        .and_then(|key| to_hash(&key.public_key));
    let json = checkpoint_to_json(&checkpoint, public_key.as_ref());
    let mut text = serde_json::to_string_pretty(&json)
        .map_err(|error| CliError::Invalid(format!("cannot encode the checkpoint: {error}")))?;
    text.push('\n');
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(CliError::file("write", path))?;
            eprintln!(
                "checkpoint of {} at sequence {} saved to {}",
                checkpoint.tenant_id,
                checkpoint.sequence,
                path.display()
            );
            Ok(())
        }
        None => output::print(&text),
    }
}
