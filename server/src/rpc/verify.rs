//! VerifyAuditChain: recomputes a tenant's hash chain over a range of
//! sequences in the store, streaming progress on long ranges and ending with
//! the verdict. A broken chain is a successful call whose verdict says so.

use super::AuditRpc;
use super::checkpoint::{TrustedCheckpoint, trust_checkpoint};
use super::retention::pruned_checkpoint_message;
use crate::auth::{Caller, Scope, caller};
use crate::domain::{BreakKind, ChainProgress, ChainStatus, ChainVerdict};
use crate::error::AuditError;
use crate::store::{
    AuditStore, ChainVerification, Pruned, PrunedPoint, StoreError, VerificationStep,
};
use audit_proto as pb;
use audit_proto::checkpoint::verify_pruned_checkpoint;
use audit_proto::verify_audit_chain_response::Message;
use audit_validation::violations::Violations;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status};
use tracing::Instrument;

pub type VerifyStream = ReceiverStream<Result<pb::VerifyAuditChainResponse, Status>>;

/// Entries between two progress messages.
const PROGRESS_EVERY: i64 = 10_000;

pub async fn verify(
    rpc: &AuditRpc,
    request: Request<pb::VerifyAuditChainRequest>,
) -> Result<VerifyStream, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Read)?;
    let body = request.get_ref();
    let tenant_id = chain_tenant(&body.tenant_id, caller)?;
    let mut violations = audit_validation::violations::Violations::default();
    for (field, value) in [
        ("from_sequence", body.from_sequence),
        ("to_sequence", body.to_sequence),
    ] {
        if value < 0 {
            violations.add(field, format!("must be 0 or positive, got {value}"));
        }
    }
    if body.to_sequence != 0 && body.from_sequence > body.to_sequence {
        violations.add(
            "from_sequence",
            format!(
                "must not be after to_sequence {}, got {}",
                body.to_sequence, body.from_sequence
            ),
        );
    }
    violations.into_result(())?;
    let checkpoint = match &body.checkpoint {
        Some(given) => {
            let checkpoint = checked_checkpoint(rpc, given, &tenant_id, body)?;
            not_purged(&rpc.store, &tenant_id, &checkpoint).await?;
            Some(checkpoint)
        }
        None => None,
    };

    // A pruned point is only as good as its signature: a database
    // administrator could otherwise move it to hide a removed range.
    let signer = rpc.checkpoints.signer().clone();
    let pruned_tenant = tenant_id.clone();
    let trust_pruned = move |point: &PrunedPoint| {
        let checkpoint = pruned_checkpoint_message(&pruned_tenant, point);
        // Any published key: a purge before a key rotation stays trusted.
        signer
            .verifying_key(&checkpoint.key_id)
            .is_some_and(|key| verify_pruned_checkpoint(&checkpoint, &key).is_ok())
    };
    let (verification, verdict) = rpc
        .store
        .begin_verification(
            &tenant_id,
            body.from_sequence,
            body.to_sequence,
            &trust_pruned,
        )
        .await?;
    let (sender, receiver) = mpsc::channel(2);
    let producer = run(
        rpc.store.clone(),
        verification,
        verdict,
        (tenant_id, checkpoint),
        sender,
    );
    tokio::spawn(producer.instrument(tracing::Span::current()));
    Ok(ReceiverStream::new(receiver))
}

/// Checks a given checkpoint's signature, and that its sequence lies in the
/// requested range.
fn checked_checkpoint(
    rpc: &AuditRpc,
    given: &pb::Checkpoint,
    tenant_id: &str,
    body: &pb::VerifyAuditChainRequest,
) -> Result<TrustedCheckpoint, AuditError> {
    let checkpoint = trust_checkpoint(given, tenant_id, rpc.checkpoints.signer())?;
    let before = body.from_sequence > 1 && checkpoint.sequence < body.from_sequence;
    let after = body.to_sequence != 0 && checkpoint.sequence > body.to_sequence;
    if before || after {
        return Err(AuditError::invalid(
            "checkpoint.sequence",
            format!(
                "{} is outside the verified range {}..{}",
                checkpoint.sequence, body.from_sequence, body.to_sequence
            ),
        ));
    }
    Ok(checkpoint)
}

/// Refuses a checkpoint of a link the purge removed: nothing is left to
/// compare it with, which says nothing about the chain. A checkpoint of the
/// last purged link itself is compared with the pruned point.
async fn not_purged(
    store: &AuditStore,
    tenant_id: &str,
    checkpoint: &TrustedCheckpoint,
) -> Result<(), AuditError> {
    let floor = store.retention(tenant_id).await?.pruned.sequence();
    if checkpoint.sequence < floor {
        return Err(AuditError::invalid(
            "checkpoint.sequence",
            format!(
                "{} was purged: the chain holds sequences after {floor} only",
                checkpoint.sequence
            ),
        ));
    }
    Ok(())
}

/// Returns the hash of the link at `sequence`: stored, or, for the last
/// purged link, the pruned point's.
async fn link_or_pruned_hash(
    store: &AuditStore,
    tenant_id: &str,
    sequence: i64,
) -> Result<Option<[u8; 32]>, StoreError> {
    if let Some(hash) = store.link_hash(tenant_id, sequence).await? {
        return Ok(Some(hash));
    }
    Ok(match store.retention(tenant_id).await?.pruned {
        Pruned::Through(point) if point.sequence == sequence => Some(point.hash),
        _ => None,
    })
}

/// Turns an intact verdict into BROKEN when the chain does not pass through
/// the checkpoint: its head is before it (a truncated tail), or the link at
/// its sequence has another hash (a rewritten chain). The range was just
/// verified, so the stored link stands for the recomputed one.
async fn against_checkpoint(
    store: &AuditStore,
    tenant_id: &str,
    verdict: ChainVerdict,
    checkpoint: TrustedCheckpoint,
) -> Result<ChainVerdict, StoreError> {
    if verdict.status != ChainStatus::Intact {
        return Ok(verdict);
    }
    let broken_at = |sequence| ChainVerdict {
        status: ChainStatus::Broken,
        first_broken_sequence: sequence,
        kind: BreakKind::CheckpointMismatch,
        ..verdict.clone()
    };
    if checkpoint.sequence > verdict.head_sequence {
        return Ok(broken_at(verdict.head_sequence + 1));
    }
    match link_or_pruned_hash(store, tenant_id, checkpoint.sequence).await? {
        Some(hash) if hash == checkpoint.head_hash => Ok(verdict),
        _ => Ok(broken_at(checkpoint.sequence)),
    }
}

/// The tenant whose chain to verify: the caller's own unless an admin names
/// another.
pub(super) fn chain_tenant(requested: &str, caller: &Caller) -> Result<String, AuditError> {
    if requested.is_empty() || requested == caller.tenant_id {
        return Ok(caller.tenant_id.clone());
    }
    if caller.is_admin() {
        // An admin names any tenant, so the name is unchecked text bound
        // into the store's queries: Postgres refuses NUL there.
        let mut violations = Violations::default();
        violations.check_no_nul("tenant_id", requested);
        return Ok(violations.into_result(requested.to_owned())?);
    }
    Err(AuditError::PermissionDenied(
        "tenant_id: only audit:admin may verify another tenant's chain".into(),
    ))
}

/// Checks page after page, sending progress every [`PROGRESS_EVERY`]
/// entries and the verdict last; stops when the client leaves.
async fn run(
    store: AuditStore,
    mut verification: ChainVerification,
    mut verdict: Option<ChainVerdict>,
    (tenant_id, checkpoint): (String, Option<TrustedCheckpoint>),
    sender: mpsc::Sender<Result<pb::VerifyAuditChainResponse, Status>>,
) {
    let mut next_progress = PROGRESS_EVERY;
    let verdict = loop {
        if let Some(verdict) = verdict.take() {
            break verdict;
        }
        if sender.is_closed() {
            tracing::debug!("verify client went away");
            return;
        }
        match store.verify_next(&mut verification).await {
            Ok(VerificationStep::Done(done)) => verdict = Some(done),
            Ok(VerificationStep::Checked(progress)) => {
                if progress.entries_checked < next_progress {
                    continue;
                }
                next_progress = progress.entries_checked + PROGRESS_EVERY;
                if sender.send(Ok(progress_message(progress))).await.is_err() {
                    return;
                }
            }
            Err(error) => return send_error(&sender, error).await,
        }
    };
    let verdict = match checkpoint {
        Some(checkpoint) => {
            match against_checkpoint(&store, &tenant_id, verdict, checkpoint).await {
                Ok(verdict) => verdict,
                Err(error) => return send_error(&sender, error).await,
            }
        }
        None => verdict,
    };
    tracing::info!(
        head_sequence = verdict.head_sequence,
        status = ?verdict.status,
        kind = ?verdict.kind,
        first_broken_sequence = verdict.first_broken_sequence,
        entries_checked = verdict.entries_checked,
        "chain verified"
    );
    let _ = sender.send(Ok(verdict_message(verdict))).await;
}

async fn send_error(
    sender: &mpsc::Sender<Result<pb::VerifyAuditChainResponse, Status>>,
    error: StoreError,
) {
    let status = Status::from(AuditError::from(error));
    tracing::Span::current().record("grpc.code", status.code() as i32);
    let _ = sender.send(Err(status)).await;
}

fn progress_message(progress: ChainProgress) -> pb::VerifyAuditChainResponse {
    pb::VerifyAuditChainResponse {
        message: Some(Message::Progress(pb::VerifyProgress {
            checked_through_sequence: progress.checked_through_sequence,
            entries_checked: progress.entries_checked,
        })),
    }
}

fn verdict_message(verdict: ChainVerdict) -> pb::VerifyAuditChainResponse {
    pb::VerifyAuditChainResponse {
        message: Some(Message::Verdict(pb::ChainVerdict {
            status: verdict.status as i32,
            first_broken_sequence: verdict.first_broken_sequence,
            kind: verdict.kind as i32,
            entries_checked: verdict.entries_checked,
            tombstones: verdict.tombstones,
            head_sequence: verdict.head_sequence,
            head_hash: verdict.head_hash.to_vec(),
        })),
    }
}
