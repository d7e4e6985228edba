//! The offline verifier on chains built with the contract crate's encoder:
//! intact, each kind of break, deletions, anchors and heads, and the
//! committed vectors through the JSON form an export writes.

use super::{Verdict, VerifyOptions, parse_hash, verify_entries};
use crate::{Actor, AuditLog, Target, audit_log_from_json, audit_log_to_json, json_to_struct};
use audit_proto::integrity::{GENESIS_HASH, chain_hash, content_digest, to_hex};
use audit_proto::{BreakKind, ChainStatus, RequestInfo};
use prost_types::Timestamp;
use serde_json::{Value, json};

fn entry(n: u32, action: &str) -> AuditLog {
    AuditLog {
        id: format!("019a0000-0000-7000-8000-{n:012x}"),
        tenant_id: "acme".into(),
        occurred_at: Some(Timestamp {
            seconds: 1_700_000_000 + i64::from(n),
            nanos: 250_000,
        }),
        received_at: Some(Timestamp {
            seconds: 1_700_000_001 + i64::from(n),
            nanos: 0,
        }),
        action: action.into(),
        actor: Some(Actor {
            id: format!("u{n}"),
            r#type: 1,
            ..Default::default()
        }),
        result: 1,
        ..Default::default()
    }
}

/// Links `entries` into a chain from sequence 1, as the server would.
fn chained(entries: Vec<AuditLog>) -> Vec<AuditLog> {
    let mut previous = GENESIS_HASH;
    entries
        .into_iter()
        .zip(1..)
        .map(|(mut entry, sequence)| {
            entry.sequence = sequence;
            let digest = content_digest(&entry).unwrap();
            previous = chain_hash(&digest, &previous);
            entry.content_digest = digest.to_vec();
            entry.hash = previous.to_vec();
            entry
        })
        .collect()
}

fn chain_of(length: u32) -> Vec<AuditLog> {
    chained((1..=length).map(|n| entry(n, "document.read")).collect())
}

fn hash_of(entry: &AuditLog) -> [u8; 32] {
    entry.hash.clone().try_into().unwrap()
}

fn verify(entries: Vec<AuditLog>) -> Verdict {
    verify_entries(entries, &VerifyOptions::default())
}

fn assert_broken(verdict: &Verdict, sequence: i64, kind: BreakKind) {
    assert_eq!(verdict.status, ChainStatus::Broken, "{verdict:?}");
    assert_eq!(
        (verdict.first_broken_sequence, verdict.kind),
        (sequence, kind),
        "{verdict:?}"
    );
}

/// A chain of 6 whose 3rd entry was deleted: the 6th is its deletion
/// record, naming sequence 3 and its digest; the 3rd is left out.
fn chain_with_deletion(named_digest: Option<[u8; 32]>) -> Vec<AuditLog> {
    let mut entries: Vec<AuditLog> = (1..=5).map(|n| entry(n, "document.read")).collect();
    let deleted_digest = chain_of(3)[2].content_digest.clone();
    let digest = named_digest.map_or_else(|| to_hex(&deleted_digest), |digest| to_hex(&digest));
    let mut deletion = entry(6, "audit_log.deleted");
    deletion.metadata = Some(
        json_to_struct(json!({
            "reason": "gdpr",
            "deleted_sequence": 3,
            "deleted_content_digest": digest,
        }))
        .unwrap(),
    );
    entries.push(deletion);
    let mut entries = chained(entries);
    entries.remove(2);
    entries
}

#[test]
fn an_intact_chain_in_any_order_verifies() {
    let entries = chain_of(5);
    let head = hash_of(&entries[4]);
    let mut newest_first = entries;
    newest_first.reverse();
    let verdict = verify(newest_first);
    assert!(verdict.is_intact(), "{verdict:?}");
    assert_eq!(verdict.kind, BreakKind::Unspecified);
    assert_eq!(verdict.entries_checked, 5);
    assert_eq!((verdict.first_sequence, verdict.last_sequence), (1, 5));
    assert_eq!(verdict.head_hash, Some(head));
    assert!(verdict.anchored);
}

#[test]
fn an_edited_field_is_a_hash_mismatch_at_its_sequence() {
    let mut entries = chain_of(5);
    entries[2].actor.as_mut().unwrap().id = "someone else".into();
    let verdict = verify(entries);
    assert_broken(&verdict, 3, BreakKind::HashMismatch);
    assert_eq!(verdict.entries_checked, 2);
    assert_eq!(verdict.kind_name(), "HASH_MISMATCH");
}

#[test]
fn an_edited_hash_is_a_hash_mismatch() {
    let mut entries = chain_of(5);
    entries[3].hash[0] ^= 1;
    assert_broken(&verify(entries), 4, BreakKind::HashMismatch);
}

#[test]
fn a_removed_entry_is_a_gap() {
    let mut entries = chain_of(5);
    entries.remove(2);
    assert_broken(&verify(entries), 3, BreakKind::Gap);
}

#[test]
fn two_swapped_entries_are_a_reordering() {
    let mut entries = chain_of(5);
    entries[2].sequence = 4;
    entries[3].sequence = 3;
    assert_broken(&verify(entries), 3, BreakKind::Reordering);
}

#[test]
fn a_sequence_taken_twice_is_an_unexpected_entry() {
    let mut entries = chain_of(5);
    let mut forged = entry(99, "document.read");
    forged.sequence = 4;
    entries.push(forged);
    let verdict = verify(entries);
    assert_eq!(verdict.status, ChainStatus::Broken);
    assert_eq!(verdict.first_broken_sequence, 4);
    assert!(
        matches!(
            verdict.kind,
            BreakKind::UnexpectedEntry | BreakKind::HashMismatch
        ),
        "{verdict:?}"
    );

    let mut entries = chain_of(5);
    entries.push(entries[3].clone());
    assert_broken(&verify(entries), 4, BreakKind::UnexpectedEntry);
}

#[test]
fn an_entry_without_a_sequence_is_unexpected() {
    let mut entries = chain_of(3);
    entries.push(entry(9, "forged"));
    assert_broken(&verify(entries), 0, BreakKind::UnexpectedEntry);
}

#[test]
fn an_entry_of_another_tenant_is_unexpected() {
    let mut entries = chain_of(3);
    entries[1].tenant_id = "globex".into();
    assert_broken(&verify(entries), 2, BreakKind::UnexpectedEntry);
}

#[test]
fn a_gap_named_by_a_deletion_record_verifies_as_a_tombstone() {
    let entries = chain_with_deletion(None);
    let verdict = verify(entries);
    assert!(verdict.is_intact(), "{verdict:?}");
    assert_eq!((verdict.entries_checked, verdict.tombstones), (6, 1));
    assert_eq!(verdict.last_sequence, 6);
}

#[test]
fn a_deletion_record_naming_another_digest_is_an_unmatched_tombstone() {
    let entries = chain_with_deletion(Some([7; 32]));
    assert_broken(&verify(entries), 3, BreakKind::UnmatchedTombstone);
}

#[test]
fn a_deleted_first_entry_still_anchors_at_genesis() {
    let mut entries: Vec<AuditLog> = (1..=3).map(|n| entry(n, "document.read")).collect();
    let first_digest = chain_of(1)[0].content_digest.clone();
    let mut deletion = entry(4, "audit_log.deleted");
    deletion.metadata = Some(
        json_to_struct(json!({
            "deleted_sequence": 1,
            "deleted_content_digest": to_hex(&first_digest),
        }))
        .unwrap(),
    );
    entries.push(deletion);
    let mut entries = chained(entries);
    entries.remove(0);
    let verdict = verify(entries);
    assert!(verdict.is_intact(), "{verdict:?}");
    assert!(verdict.anchored);
    assert_eq!((verdict.first_sequence, verdict.tombstones), (1, 1));
}

#[test]
fn a_later_range_verifies_unanchored_or_from_its_anchor() {
    let entries = chain_of(6);
    let anchor = hash_of(&entries[2]);
    let later: Vec<AuditLog> = entries[3..].to_vec();

    let verdict = verify(later.clone());
    assert!(verdict.is_intact(), "{verdict:?}");
    assert!(!verdict.anchored);
    assert_eq!((verdict.first_sequence, verdict.entries_checked), (4, 3));

    let anchored = VerifyOptions {
        anchor: Some(anchor),
        head: None,
        checkpoint: None,
    };
    let verdict = verify_entries(later.clone(), &anchored);
    assert!(verdict.is_intact() && verdict.anchored, "{verdict:?}");

    let wrong = VerifyOptions {
        anchor: Some([1; 32]),
        head: None,
        checkpoint: None,
    };
    assert_broken(
        &verify_entries(later.clone(), &wrong),
        4,
        BreakKind::HashMismatch,
    );

    // Unanchored, the first entry's content is still checked.
    let mut edited = later;
    edited[0].action = "document.deleted".into();
    assert_broken(&verify(edited), 4, BreakKind::HashMismatch);
}

#[test]
fn a_head_must_be_reached() {
    let entries = chain_of(6);
    let with_head = |head: [u8; 32], entries: &[AuditLog]| {
        let options = VerifyOptions {
            anchor: None,
            head: Some(head),
            checkpoint: None,
        };
        verify_entries(entries.to_vec(), &options)
    };
    let last = hash_of(&entries[5]);
    let passed = hash_of(&entries[3]);
    assert!(with_head(last, &entries).is_intact());
    assert!(with_head(passed, &entries).is_intact());

    // The tail after sequence 4 cut off: the head of 6 is never reached.
    let truncated = &entries[..4];
    assert_broken(&with_head(last, truncated), 4, BreakKind::HashMismatch);
    assert_broken(&with_head([9; 32], &entries), 6, BreakKind::HashMismatch);
}

#[test]
fn an_empty_export_is_intact_unless_a_head_is_expected() {
    let verdict = verify(Vec::new());
    assert!(verdict.is_intact());
    assert_eq!(verdict.head_hash, None);
    let options = VerifyOptions {
        anchor: None,
        head: Some([3; 32]),
        checkpoint: None,
    };
    assert_broken(
        &verify_entries(Vec::new(), &options),
        0,
        BreakKind::HashMismatch,
    );
}

#[test]
fn hex_hashes_parse() {
    let hash = [0xab; 32];
    assert_eq!(parse_hash(&to_hex(&hash)), Some(hash));
    assert_eq!(parse_hash(&to_hex(&hash).to_uppercase()), Some(hash));
    assert_eq!(parse_hash("abcd"), None);
    assert_eq!(parse_hash(&"zz".repeat(32)), None);
}

/// The committed vectors, written as an export line and read back: the
/// JSON form keeps every hashed byte (negative times, floats, IPv6, an
/// absent target, absent metadata).
#[test]
fn the_committed_vectors_verify_through_the_json_form() {
    let vectors: Value = serde_json::from_str(include_str!(
        "../../../proto/testdata/integrity-vectors.json"
    ))
    .unwrap();
    let mut exported = Vec::new();
    for vector in vectors["entries"].as_array().unwrap() {
        let entry = vector_entry(vector);
        let line = serde_json::to_string(&audit_log_to_json(&entry)).unwrap();
        let read_back = audit_log_from_json(&serde_json::from_str(&line).unwrap()).unwrap();
        assert_eq!(read_back, entry);
        exported.push(read_back);
    }
    let verdict = verify(exported);
    assert!(verdict.is_intact(), "{verdict:?}");
    assert_eq!(verdict.entries_checked, 3);
}

fn vector_entry(vector: &Value) -> AuditLog {
    let text = |json: &Value, key: &str| json[key].as_str().unwrap_or_default().to_owned();
    let time = |micros: i64| {
        Some(Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap(),
        })
    };
    let number = |json: &Value, key: &str| i32::try_from(json[key].as_i64().unwrap()).unwrap();
    let expected = &vector["expected"];
    let hex = |key: &str| super::parse_hex(expected[key].as_str().unwrap()).unwrap();
    let actor = &vector["actor"];
    AuditLog {
        id: text(vector, "id"),
        tenant_id: text(vector, "tenant_id"),
        occurred_at: time(vector["occurred_at_us"].as_i64().unwrap()),
        received_at: time(vector["received_at_us"].as_i64().unwrap()),
        action: text(vector, "action"),
        actor: actor.as_object().map(|_| Actor {
            id: text(actor, "id"),
            r#type: number(actor, "type"),
            name: text(actor, "name"),
            email: text(actor, "email"),
        }),
        target: vector["target"].as_object().map(|_| Target {
            r#type: text(&vector["target"], "type"),
            id: text(&vector["target"], "id"),
            name: text(&vector["target"], "name"),
        }),
        result: number(vector, "result"),
        client_ip: text(vector, "client_ip"),
        user_agent: text(vector, "user_agent"),
        request: vector["request"].as_object().map(|_| RequestInfo {
            method: text(&vector["request"], "method"),
            path: text(&vector["request"], "path"),
            status_code: number(&vector["request"], "status_code"),
        }),
        metadata: (!vector["metadata"].is_null())
            .then(|| json_to_struct(vector["metadata"].clone()).unwrap()),
        request_id: text(vector, "request_id"),
        idempotency_key: text(vector, "idempotency_key"),
        sequence: vector["sequence"].as_i64().unwrap(),
        content_digest: hex("content_digest"),
        hash: hex("hash"),
    }
}

fn point(entry: &AuditLog) -> super::ChainPoint {
    super::ChainPoint {
        tenant_id: entry.tenant_id.clone(),
        sequence: entry.sequence,
        hash: hash_of(entry),
    }
}

fn with_checkpoint(checkpoint: super::ChainPoint) -> VerifyOptions {
    VerifyOptions {
        checkpoint: Some(checkpoint),
        ..VerifyOptions::default()
    }
}

#[test]
fn a_chain_must_pass_through_its_checkpoint() {
    let entries = chain_of(6);
    let options = with_checkpoint(point(&entries[3]));
    assert!(verify_entries(entries.clone(), &options).is_intact());

    // A chain rewritten consistently from sequence 3 on: every link
    // checks, but the link at the checkpoint has another hash.
    let mut rewritten: Vec<AuditLog> = entries
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            if entry.sequence == 3 {
                entry.action = "document.deleted".into();
            }
            entry
        })
        .collect();
    rewritten = chained(rewritten);
    assert!(verify(rewritten.clone()).is_intact());
    assert_broken(
        &verify_entries(rewritten, &options),
        4,
        BreakKind::CheckpointMismatch,
    );

    // Truncated before the checkpoint.
    let verdict = verify_entries(entries[..3].to_vec(), &options);
    assert_broken(&verdict, 4, BreakKind::CheckpointMismatch);
    assert!(verdict.detail.contains("truncated"), "{}", verdict.detail);

    // Entries of another tenant than the checkpoint's.
    let mut other = point(&entries[3]);
    other.tenant_id = "globex".into();
    assert_broken(
        &verify_entries(entries.clone(), &with_checkpoint(other)),
        1,
        BreakKind::UnexpectedEntry,
    );
}

#[test]
fn a_checkpoint_just_before_a_range_anchors_it() {
    let entries = chain_of(6);
    let later = entries[3..].to_vec();
    let verdict = verify_entries(later.clone(), &with_checkpoint(point(&entries[2])));
    assert!(verdict.is_intact(), "{verdict:?}");
    assert!(verdict.anchored);
    // One further back cannot be checked by this range.
    assert_broken(
        &verify_entries(later, &with_checkpoint(point(&entries[1]))),
        2,
        BreakKind::CheckpointMismatch,
    );
}

/// Writes `entries` as an NDJSON export in the given order.
fn write_ndjson(dir: &std::path::Path, entries: &[AuditLog]) -> std::path::PathBuf {
    let path = dir.join("export.ndjson");
    let text: String = entries
        .iter()
        .map(|entry| format!("{}\n", audit_log_to_json(entry)))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_file_verifies_in_order_or_sorted_in_runs_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    // Sequence 3 deleted; its deletion record, last, vouches for it.
    let entries = chain_with_deletion(None);
    let expected = verify_entries(entries.clone(), &VerifyOptions::default());
    assert!(expected.is_intact(), "{expected:?}");

    let ascending = write_ndjson(dir.path(), &entries);
    let verdict = super::verify_ndjson_file(&ascending, &VerifyOptions::default()).unwrap();
    assert_eq!(verdict, expected);

    // Newest first, shuffled a little, with a budget of a few lines per run:
    // many runs merged from temporary files.
    let mut shuffled: Vec<AuditLog> = entries.iter().rev().cloned().collect();
    shuffled.swap(0, 3);
    let path = write_ndjson(dir.path(), &shuffled);
    for budget in [1, 2_000, usize::MAX] {
        let verdict =
            super::ndjson::verify_with_budget(&path, &VerifyOptions::default(), budget).unwrap();
        assert_eq!(verdict, expected, "budget {budget}");
    }

    // A line that is not an entry names its number.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n{\"sequence\": \"seven\"}\n");
    std::fs::write(&path, text).unwrap();
    let error = super::verify_ndjson_file(&path, &VerifyOptions::default()).unwrap_err();
    assert!(error.to_string().starts_with("line "), "{error}");
}
