//! The Ed25519 key that signs checkpoints: read from the file named by
//! `--signing-key`, so every replica signs with the same key, or on a
//! loopback listener generated once as `<data_dir>/signing-key`.
//!
//! A key file holds the 32-byte seed as 64 hex digits or as base64
//! (standard or URL-safe, padded or not); surrounding whitespace is ignored.
//!
//! Key rotation: the signer holds only the current key, but also the public
//! keys of earlier ones (`--previous-public-keys`), so checkpoints signed
//! before a rotation still verify and GetPublicKeys still lists their keys.

use crate::auth::secret::{create_private_once, warn_if_readable_by_others};
use audit_proto::checkpoint::key_id;
use audit_proto::integrity::to_hex;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
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
    #[error("previous public key {given:?}: {reason}")]
    PreviousKey { given: String, reason: String },
}

/// A key that verifies checkpoints, as GetPublicKeys lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    pub key_id: String,
    pub public_key: [u8; 32],
    /// The key new checkpoints are signed with; the others are previous.
    pub current: bool,
}

/// The checkpoint signing key and its id; cheap to clone.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: Arc<SigningKey>,
    key_id: Arc<str>,
    /// Public keys of earlier signing keys, still trusted for verifying.
    previous: Arc<[ListedKey]>,
}

impl fmt::Debug for CheckpointSigner {
    // The seed must never reach a log line, even through `{:?}` of the
    // settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .field("previous", &self.previous.len())
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
            previous: Arc::new([]),
        }
    }

    /// Also trusts the public keys of earlier signing keys; the current key
    /// and repeats are left out.
    pub fn with_previous(mut self, keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        let current = self.public_key();
        let mut previous: Vec<ListedKey> = Vec::new();
        for public_key in keys {
            if public_key == current || previous.iter().any(|key| key.public_key == public_key) {
                continue;
            }
            previous.push(ListedKey {
                key_id: key_id(&public_key),
                public_key,
                current: false,
            });
        }
        self.previous = previous.into();
        self
    }

    /// Returns every key that verifies checkpoints: the current one first.
    pub fn listed_keys(&self) -> Vec<ListedKey> {
        let current = ListedKey {
            key_id: self.key_id.to_string(),
            public_key: self.public_key(),
            current: true,
        };
        std::iter::once(current)
            .chain(self.previous.iter().cloned())
            .collect()
    }

    /// Returns the public key listed under `key_id`, current or previous.
    pub fn verifying_key(&self, key_id: &str) -> Option<[u8; 32]> {
        self.listed_keys()
            .into_iter()
            .find(|key| key.key_id == key_id)
            .map(|key| key.public_key)
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

/// Reads one `--previous-public-keys` item: an Ed25519 public key as 64 hex
/// digits, or a file holding them.
pub fn read_previous_key(given: &str) -> Result<[u8; 32], SigningKeyError> {
    let error = |reason: String| SigningKeyError::PreviousKey {
        given: given.to_owned(),
        reason,
    };
    let text = if is_hex_key(given.trim()) {
        given.trim().to_owned()
    } else {
        std::fs::read_to_string(given)
            .map_err(|io| error(format!("neither 64 hex digits nor a readable file: {io}")))?
            .trim()
            .to_owned()
    };
    if !is_hex_key(&text) {
        return Err(error(
            "must be an Ed25519 public key as 64 hex digits".into(),
        ));
    }
    let mut key = [0u8; 32];
    for (index, pair) in text.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).map_err(|_| error("not hex".into()))?;
        key[index] = u8::from_str_radix(pair, 16).map_err(|_| error("not hex".into()))?;
    }
    VerifyingKey::from_bytes(&key)
        .map_err(|_| error("is not a valid Ed25519 public key".into()))?;
    Ok(key)
}

fn is_hex_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
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
    fn previous_keys_are_listed_after_the_current_one() {
        let old = CheckpointSigner::from_seed([1; 32]);
        let older = CheckpointSigner::from_seed([2; 32]);
        let signer = CheckpointSigner::from_seed([3; 32]).with_previous([
            old.public_key(),
            older.public_key(),
            old.public_key(),
            CheckpointSigner::from_seed([3; 32]).public_key(),
        ]);
        let listed = signer.listed_keys();
        assert_eq!(listed.len(), 3);
        assert!(listed[0].current && !listed[1].current && !listed[2].current);
        assert_eq!(signer.verifying_key(old.key_id()), Some(old.public_key()));
        assert_eq!(signer.verifying_key("0000000000000000"), None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.pub");
        std::fs::write(&path, format!("{}\n", to_hex(&old.public_key()))).unwrap();
        assert_eq!(
            read_previous_key(path.to_str().unwrap()).unwrap(),
            old.public_key()
        );
        assert_eq!(
            read_previous_key(&to_hex(&older.public_key())).unwrap(),
            older.public_key()
        );
        assert!(read_previous_key("nope").is_err());
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
