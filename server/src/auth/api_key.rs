//! API keys: long-lived credentials for producers, created and revoked by an
//! operator.
//!
//! A key reads `ak_<id>_<secret>`: `id` is 16 lowercase hex digits and names
//! the stored record; `secret` is 32 random bytes in unpadded base64url (43
//! characters, which may themselves contain `_`, so only the first `_` after
//! the id splits). The store keeps SHA-256 of the secret text only, so a
//! leaked database does not leak working keys. Every request looks the key up
//! again: revocation takes effect at once on every replica.

use super::caller::{Caller, Credential};
use super::scope::{format_scopes, parse_scopes, parse_scopes_lenient};
use crate::domain::now_micros;
use crate::error::AuditError;
use crate::store::{ApiKeyRecord, AuditStore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Every API key starts with this, which tells it apart from a JWT.
pub const PREFIX: &str = "ak_";

const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A newly created key. `key` is the only copy of the secret: print it once.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub id: String,
    pub key: String,
}

/// Creates a key for `tenant` with `scopes` (space-separated, each a known
/// scope) and stores its hash.
pub async fn create_api_key(
    store: &AuditStore,
    tenant: &str,
    scopes: &str,
    name: &str,
) -> Result<CreatedApiKey, AuditError> {
    let tenant = tenant.trim();
    if tenant.is_empty() {
        return Err(AuditError::invalid("tenant", "must not be empty"));
    }
    let scopes = parse_scopes(scopes).map_err(|reason| AuditError::invalid("scope", reason))?;
    let (id, secret) = generate();
    let record = ApiKeyRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        name: name.trim().to_owned(),
        scopes: format_scopes(&scopes),
        secret_hash: hash_secret(&secret),
        created_at: now_micros(),
        revoked_at: None,
    };
    store.insert_api_key(&record).await?;
    tracing::info!(key_id = %id, tenant, scopes = %record.scopes, "api key created");
    Ok(CreatedApiKey {
        key: format_key(&id, &secret),
        id,
    })
}

/// Revokes the key `id`; returns false when there is no such key.
pub async fn revoke_api_key(store: &AuditStore, id: &str) -> Result<bool, AuditError> {
    let revoked = store.revoke_api_key(id, now_micros()).await?;
    tracing::info!(key_id = %id, revoked, "api key revocation");
    Ok(revoked)
}

/// Tells an API key apart from a JWT (whose first character is `e`, from the
/// base64 of `{"`).
pub(crate) fn looks_like_api_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// Checks an `ak_…` key against the store.
pub(crate) async fn authenticate(store: &AuditStore, key: &str) -> Result<Caller, AuditError> {
    let unauthenticated = |message: &str| AuditError::Unauthenticated(message.to_owned());
    let (id, secret) = parse_key(key).ok_or_else(|| unauthenticated("malformed api key"))?;
    // One message for an unknown id and a wrong secret: the caller learns
    // nothing about which ids exist.
    let record = store
        .find_api_key(id)
        .await?
        .ok_or_else(|| unauthenticated("invalid api key"))?;
    if !verify_secret(secret, &record.secret_hash) {
        return Err(unauthenticated("invalid api key"));
    }
    // Checked after the secret, so only the key's holder learns it was
    // revoked.
    if record.revoked_at.is_some() {
        return Err(unauthenticated("api key revoked"));
    }
    Ok(Caller {
        subject: record.id.clone(),
        tenant_id: record.tenant_id,
        scopes: parse_scopes_lenient(&record.scopes),
        credential: Credential::ApiKey {
            id: record.id,
            name: record.name,
        },
    })
}

/// Splits `ak_<id>_<secret>` into id and secret.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    let id_ok = !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_alphanumeric());
    let secret_ok = !secret.is_empty()
        && secret
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// SHA-256 of the secret text: what the store keeps. A fast hash is enough
/// because the secret is 256 random bits, not a password.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares `secret`'s hash with the stored one in constant time.
pub fn verify_secret(secret: &str, stored_hash: &[u8]) -> bool {
    constant_time_eq(&hash_secret(secret), stored_hash)
}

/// Equality whose time does not depend on where the inputs first differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        // Lengths are public (always 32 for a real hash).
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// Returns a fresh (id, secret) pair.
fn generate() -> (String, String) {
    let id: [u8; ID_BYTES] = rand::random();
    let secret: [u8; SECRET_BYTES] = rand::random();
    (to_hex(&id), URL_SAFE_NO_PAD.encode(secret))
}

fn format_key(id: &str, secret: &str) -> String {
    format!("{PREFIX}{id}_{secret}")
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_format() {
        for _ in 0..50 {
            let (id, secret) = generate();
            assert_eq!(id.len(), 2 * ID_BYTES);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(secret.len(), 43);
            let key = format_key(&id, &secret);
            assert!(looks_like_api_key(&key));
            assert_eq!(parse_key(&key), Some((id.as_str(), secret.as_str())));
        }
    }

    #[test]
    fn secret_may_contain_underscores() {
        assert_eq!(
            parse_key("ak_0123456789abcdef_ab_c-d_"),
            Some(("0123456789abcdef", "ab_c-d_"))
        );
    }

    #[test]
    fn malformed_keys_are_not_parsed() {
        for bad in [
            "",
            "ak_",
            "ak__secret",
            "ak_id",
            "ak_id_",
            "ak_id!_secret",
            "ak_id_sec ret",
            "ak_id_sec+ret",
            "xk_id_secret",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        ] {
            assert_eq!(parse_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_right_secret_matches_its_hash() {
        let (_, secret) = generate();
        let stored = hash_secret(&secret);
        assert_eq!(stored.len(), 32);
        assert_ne!(stored, secret.as_bytes());
        assert!(verify_secret(&secret, &stored));

        let (_, other) = generate();
        assert!(!verify_secret(&other, &stored));
        assert!(!verify_secret(&secret, &stored[..31]));
        assert!(!verify_secret(&secret, &[]));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
    }
}
