//! Checkpoints as JSON files outside the database,
//! `<dir>/<tenant>/<sequence>.json`, so that a superuser who rewrites the
//! database (checkpoints included) is still caught by whoever holds the
//! directory. Files are never overwritten.

use crate::store::CheckpointRecord;
use audit_proto::checkpoint::ED25519;
use audit_proto::integrity::to_hex;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `checkpoint` under `dir` and returns its path: `<sequence>.json`,
/// or `<sequence>-<time>.json` when a checkpoint of that sequence is
/// already there (the earlier one is evidence; it stays as it is).
pub fn write(
    dir: &Path,
    checkpoint: &CheckpointRecord,
    public_key: &[u8; 32],
) -> io::Result<PathBuf> {
    let tenant_dir = dir.join(tenant_dir_name(&checkpoint.tenant_id));
    fs::create_dir_all(&tenant_dir)?;
    let json = to_json(checkpoint, public_key);
    let mut text = serde_json::to_vec_pretty(&json).map_err(io::Error::other)?;
    text.push(b'\n');
    let first = tenant_dir.join(format!("{}.json", checkpoint.sequence));
    match create_new(&first, &text) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let again =
                tenant_dir.join(format!("{}-{}.json", checkpoint.sequence, checkpoint.time));
            create_new(&again, &text).map(|()| again)
        }
        other => other.map(|()| first),
    }
}

/// The JSON form: binary fields in lowercase hex, `time` in microseconds
/// since the epoch (what is signed) and in RFC 3339 for people.
pub fn to_json(checkpoint: &CheckpointRecord, public_key: &[u8; 32]) -> serde_json::Value {
    let rfc3339 = chrono::DateTime::from_timestamp_micros(checkpoint.time)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    serde_json::json!({
        "tenant_id": checkpoint.tenant_id,
        "sequence": checkpoint.sequence,
        "head_hash": to_hex(&checkpoint.head_hash),
        "time_micros": checkpoint.time,
        "time": rfc3339,
        "key_id": checkpoint.key_id,
        "algorithm": ED25519,
        "public_key": to_hex(public_key),
        "signature": to_hex(&checkpoint.signature),
    })
}

fn create_new(path: &Path, text: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text)?;
    file.sync_all()
}

/// A tenant id as one safe path component: bytes outside `[A-Za-z0-9_.-]`,
/// and a leading `.`, are written `%XX`, so no id can climb out of `dir`.
pub fn tenant_dir_name(tenant_id: &str) -> String {
    let mut name = String::with_capacity(tenant_id.len());
    for (index, byte) in tenant_id.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'-')
            || (byte == b'.' && index > 0);
        if plain {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    if name.is_empty() {
        name.push_str("%00");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_cannot_escape_the_directory() {
        assert_eq!(tenant_dir_name("acme"), "acme");
        assert_eq!(tenant_dir_name("../etc"), "%2E.%2Fetc");
        assert_eq!(tenant_dir_name("a/b"), "a%2Fb");
    }

    #[test]
    fn an_existing_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = CheckpointRecord {
            tenant_id: "acme".into(),
            sequence: 3,
            head_hash: [1; 32],
            time: 10,
            key_id: "k".into(),
            signature: [2; 64],
        };
        let first = write(dir.path(), &checkpoint, &[0; 32]).unwrap();
        let second = write(
            dir.path(),
            &CheckpointRecord {
                time: 11,
                ..checkpoint
            },
            &[0; 32],
        )
        .unwrap();
        assert!(first.ends_with("acme/3.json"));
        assert!(second.ends_with("acme/3-11.json"));
    }
}
