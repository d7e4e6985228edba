//! The Ed25519 key that signs checkpoints: read from the file named by
//! `--signing-key`, so every replica signs with the same key, or on a
//! loopback listener generated once as `<data_dir>/signing-key`.
//!
//! A key file holds the 32-byte seed as 64 hex digits or as base64
//! (standard or URL-safe, padded or not); surrounding whitespace is ignored.

use crate::auth::secret::{create_private_once, warn_if_readable_by_others};
use audit_proto::checkpoint::key_id;
use audit_proto::integrity::to_hex;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The generated key's file name inside the data directory.
pub const DEV_SIGNING_KEY_FILE: &str = "signing-key";

/// Why the signing key could not be set up; one line for a terminal.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(
        "refusing to listen on {listen} without --signing-key (or AUDIT_SIGNING_KEY): \
         a generated checkpoint signing key is only allowed on loopback addresses"
    )]
    Missing { listen: SocketAddr },
    #[error("signing key {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
}

/// The checkpoint signing key and its id; cheap to clone.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: Arc<SigningKey>,
    key_id: Arc<str>,
}

impl fmt::Debug for CheckpointSigner {
    // The seed must never reach a log line, even through `{:?}` of the
    // settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// Builds the signer of a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(key.verifying_key().as_bytes());
        Self {
            key: Arc::new(key),
            key_id: key_id.into(),
        }
    }

    /// Picks the key: the file given, else on loopback
    /// `<data_dir>/signing-key` (generated on first use), else an error.
    pub fn resolve(
        explicit: Option<&Path>,
        data_dir: &Path,
        listen: SocketAddr,
    ) -> Result<Self, SigningKeyError> {
        if let Some(path) = explicit {
            return Self::read(path);
        }
        if !listen.ip().to_canonical().is_loopback() {
            return Err(SigningKeyError::Missing { listen });
        }
        let path = data_dir.join(DEV_SIGNING_KEY_FILE);
        if !path.exists() {
            let seed: [u8; 32] = rand::random();
            // Hex, so the file can be passed as --signing-key as it is.
            let created = create_private_once(data_dir, &path, to_hex(&seed).as_bytes())
                .map_err(|error| file_error(&path, error.to_string()))?;
            if created {
                tracing::info!(path = %path.display(), "generated checkpoint signing key");
            }
        }
        Self::read(&path)
    }

    /// Reads a key file: the seed as hex or base64.
    pub fn read(path: &Path) -> Result<Self, SigningKeyError> {
        let contents =
            std::fs::read_to_string(path).map_err(|error| file_error(path, error.to_string()))?;
        warn_if_readable_by_others(path);
        let seed = parse_seed(contents.trim()).ok_or_else(|| {
            file_error(
                path,
                "must hold a 32-byte Ed25519 seed as 64 hex digits or base64".into(),
            )
        })?;
        Ok(Self::from_seed(seed))
    }

    /// Returns the key id: hex of the first 8 bytes of SHA-256 of the
    /// public key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Returns the raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

fn file_error(path: &Path, reason: String) -> SigningKeyError {
    SigningKeyError::File {
        path: path.to_owned(),
        reason,
    }
}

/// Decodes a seed written as 64 hex digits or as base64.
fn parse_seed(text: &str) -> Option<[u8; 32]> {
    if text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        let mut seed = [0u8; 32];
        for (index, pair) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok()?;
            seed[index] = u8::from_str_radix(pair, 16).ok()?;
        }
        return Some(seed);
    }
    let unpadded = text.trim_end_matches('=');
    let decoded = URL_SAFE_NO_PAD
        .decode(unpadded.replace('+', "-").replace('/', "_"))
        .or_else(|_| STANDARD.decode(text))
        .ok()?;
    decoded.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn generated_key_is_private_reused_and_loopback_only() {
        let dir = tempfile::tempdir().unwrap();
        let first = CheckpointSigner::resolve(None, dir.path(), addr("127.0.0.1:1")).unwrap();
        let second = CheckpointSigner::resolve(None, dir.path(), addr("[::1]:1")).unwrap();
        assert_eq!(first.public_key(), second.public_key());
        assert_eq!(first.key_id().len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join(DEV_SIGNING_KEY_FILE);
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        let refused = CheckpointSigner::resolve(None, other.path(), addr("0.0.0.0:1"));
        assert!(matches!(refused, Err(SigningKeyError::Missing { .. })));
        assert!(!other.path().join(DEV_SIGNING_KEY_FILE).exists());
    }

    #[test]
    fn key_files_take_hex_or_base64() {
        let dir = tempfile::tempdir().unwrap();
        let seed = [7u8; 32];
        let expected = CheckpointSigner::from_seed(seed).public_key();
        for (name, text) in [
            ("hex", format!("{}\n", to_hex(&seed))),
            ("b64", STANDARD.encode(seed)),
            ("b64url", URL_SAFE_NO_PAD.encode(seed)),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let signer =
                CheckpointSigner::resolve(Some(&path), dir.path(), addr("0.0.0.0:1")).unwrap();
            assert_eq!(signer.public_key(), expected, "{name}");
        }
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "short").unwrap();
        let error = CheckpointSigner::read(&bad).unwrap_err().to_string();
        assert!(error.contains("32-byte Ed25519 seed"), "{error}");
    }
}
