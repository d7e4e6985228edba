//! Signed checkpoints of tenants' chain heads (`docs/integrity.md`,
//! "Checkpoints"): a statement, signed with the server's Ed25519 key, that a
//! tenant's chain had a given head at a given time. Anyone who keeps one can
//! later catch a chain rewritten or truncated behind the server's back.
//!
//! - [`key`]: the signing key, from a file or generated on loopback.
//! - [`file`]: checkpoints written as JSON outside the database.
//! - [`task`]: the periodic checkpoint of every tenant whose head moved.

pub mod file;
pub mod key;
pub mod task;

pub use key::{CheckpointSigner, SigningKeyError};

use crate::domain::now_micros;
use crate::store::{AuditStore, CheckpointRecord, StoreError};
use audit_proto::checkpoint::canonical_checkpoint_bytes;
use std::path::PathBuf;

/// Takes, signs, stores and exports checkpoints; cheap to clone.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    store: AuditStore,
    signer: CheckpointSigner,
    /// Where each checkpoint is also written as JSON, when configured.
    dir: Option<PathBuf>,
}

impl Checkpointer {
    pub fn new(store: AuditStore, signer: CheckpointSigner, dir: Option<PathBuf>) -> Self {
        Self { store, signer, dir }
    }

    /// Returns the store checkpoints are kept in.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// Returns the key checkpoints are signed with.
    pub fn signer(&self) -> &CheckpointSigner {
        &self.signer
    }

    /// Checkpoints `tenant_id`'s current chain head.
    pub async fn take(&self, tenant_id: &str) -> Result<CheckpointRecord, StoreError> {
        let head = self.store.chain_head(tenant_id).await?;
        self.record(head.tenant_id, head.sequence, head.hash).await
    }

    /// Checkpoints every tenant whose head moved past its latest checkpoint;
    /// returns how many were taken.
    pub async fn take_moved(&self) -> Result<usize, StoreError> {
        let heads = self.store.heads_past_checkpoints().await?;
        let count = heads.len();
        for head in heads {
            self.record(head.tenant_id, head.sequence, head.hash)
                .await?;
        }
        Ok(count)
    }

    /// Signs a head, stores the checkpoint and exports it.
    async fn record(
        &self,
        tenant_id: String,
        sequence: i64,
        head_hash: [u8; 32],
    ) -> Result<CheckpointRecord, StoreError> {
        let time = now_micros();
        let key_id = self.signer.key_id().to_owned();
        let bytes = canonical_checkpoint_bytes(&tenant_id, sequence, &head_hash, time, &key_id);
        let checkpoint = CheckpointRecord {
            signature: self.signer.sign(&bytes),
            tenant_id,
            sequence,
            head_hash,
            time,
            key_id,
        };
        self.store.save_checkpoint(&checkpoint).await?;
        if let Some(dir) = &self.dir {
            // The stored and signed checkpoint stands; a full disk must not
            // fail the call, but an operator must hear of it.
            if let Err(error) = file::write(dir, &checkpoint, &self.signer.public_key()) {
                tracing::warn!(
                    tenant_id = %checkpoint.tenant_id,
                    sequence = checkpoint.sequence,
                    dir = %dir.display(),
                    %error,
                    "cannot write checkpoint file"
                );
            }
        }
        tracing::info!(
            tenant_id = %checkpoint.tenant_id,
            sequence = checkpoint.sequence,
            key_id = %checkpoint.key_id,
            "checkpoint signed"
        );
        Ok(checkpoint)
    }
}
