//! GetCheckpoint and GetPublicKeys, and checking a checkpoint a client
//! hands back to VerifyAuditChain.

use super::AuditRpc;
use super::verify::chain_tenant;
use crate::auth::{Scope, caller};
use crate::checkpoint::CheckpointSigner;
use crate::domain::from_micros;
use crate::error::AuditError;
use crate::store::CheckpointRecord;
use audit_proto as pb;
use audit_proto::checkpoint::{CheckpointError, ED25519, verify_checkpoint};
use tonic::Request;

pub async fn get_checkpoint(
    rpc: &AuditRpc,
    request: Request<pb::GetCheckpointRequest>,
) -> Result<pb::Checkpoint, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Read)?;
    let tenant_id = chain_tenant(&request.get_ref().tenant_id, caller)?;
    let checkpoint = rpc.checkpoints.take(&tenant_id).await?;
    Ok(checkpoint_message(&checkpoint))
}

pub async fn get_public_keys(
    rpc: &AuditRpc,
    request: Request<pb::GetPublicKeysRequest>,
) -> Result<pb::PublicKeys, AuditError> {
    caller(&request)?.require(Scope::Read)?;
    let keys = rpc.checkpoints.signer().listed_keys();
    Ok(pb::PublicKeys {
        keys: keys
            .into_iter()
            .map(|key| pb::PublicKey {
                key_id: key.key_id,
                algorithm: ED25519.to_owned(),
                public_key: key.public_key.to_vec(),
                current: key.current,
            })
            .collect(),
    })
}

fn checkpoint_message(checkpoint: &CheckpointRecord) -> pb::Checkpoint {
    pb::Checkpoint {
        tenant_id: checkpoint.tenant_id.clone(),
        sequence: checkpoint.sequence,
        head_hash: checkpoint.head_hash.to_vec(),
        time: Some(from_micros(checkpoint.time)),
        key_id: checkpoint.key_id.clone(),
        signature: checkpoint.signature.to_vec(),
    }
}

/// A checkpoint whose signature checked out: the link the chain must pass
/// through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    pub sequence: i64,
    pub head_hash: [u8; 32],
}

/// Checks a client's checkpoint of `tenant_id`'s chain with the listed key
/// it names (current or previous). A checkpoint that does not verify is INVALID_ARGUMENT, not a broken
/// chain: it says nothing about the chain, only about the checkpoint.
pub fn trust_checkpoint(
    checkpoint: &pb::Checkpoint,
    tenant_id: &str,
    signer: &CheckpointSigner,
) -> Result<TrustedCheckpoint, AuditError> {
    if checkpoint.tenant_id != tenant_id {
        return Err(AuditError::invalid(
            "checkpoint.tenant_id",
            format!(
                "is {:?}, not the verified tenant {tenant_id:?}",
                checkpoint.tenant_id
            ),
        ));
    }
    if checkpoint.sequence < 0 {
        return Err(AuditError::invalid(
            "checkpoint.sequence",
            format!("must be 0 or positive, got {}", checkpoint.sequence),
        ));
    }
    // Any listed key: a checkpoint signed before a key rotation still
    // verifies with the previous key it names.
    let Some(public_key) = signer.verifying_key(&checkpoint.key_id) else {
        return Err(AuditError::invalid(
            "checkpoint.key_id",
            format!(
                "{:?} names no key this server lists (GetPublicKeys)",
                checkpoint.key_id
            ),
        ));
    };
    verify_checkpoint(checkpoint, &public_key).map_err(|error| {
        let field = match error {
            CheckpointError::HeadHashLength(_) => "checkpoint.head_hash",
            CheckpointError::Time => "checkpoint.time",
            CheckpointError::UnknownKey(_) => "checkpoint.key_id",
            CheckpointError::Malformed(_) | CheckpointError::BadSignature => "checkpoint.signature",
        };
        AuditError::invalid(field, error.to_string())
    })?;
    let head_hash = checkpoint
        .head_hash
        .as_slice()
        .try_into()
        .map_err(|_| AuditError::invalid("checkpoint.head_hash", "must be 32 bytes"))?;
    Ok(TrustedCheckpoint {
        sequence: checkpoint.sequence,
        head_hash,
    })
}
