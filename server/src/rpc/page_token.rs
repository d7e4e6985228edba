//! Page tokens: a position in a listing, bound to the tenant scope, filter
//! and order it was issued for, and authenticated with an HMAC so a client
//! can neither forge a position nor carry it over to another filter.
//!
//! Layout before base64url: version (1) ‖ order (1) ‖ occurred_at (8, BE) ‖
//! id (16) ‖ binding (16) ‖ HMAC-SHA256 tag, truncated (16).

use crate::domain::{Cursor, ListOrder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 1 + 8 + 16 + 16;
const TAG_LEN: usize = 16;

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PageTokenError {
    /// Not a token this service issued, or altered since.
    Malformed,
    /// A genuine token, but for another filter, order or tenant.
    OtherQuery,
}

/// Issues and checks page tokens. Every replica that shares the JWT secret
/// derives the same key, so a stream may resume on any of them.
#[derive(Clone)]
pub struct PageTokenKey {
    /// One SHA-256 block: HMAC zero-pads shorter keys to this size anyway,
    /// and a fixed-size key makes building the MAC infallible.
    key: [u8; 64],
}

impl PageTokenKey {
    /// Derives the token key from the service secret, so the secret itself
    /// never signs two kinds of things.
    pub fn derive(secret: &[u8]) -> Self {
        // HMAC hashes keys longer than a block, so a digest is the same key.
        let block_key = if secret.len() > 64 {
            Sha256::digest(secret).to_vec()
        } else {
            secret.to_vec()
        };
        let mut padded = [0u8; 64];
        padded[..block_key.len()].copy_from_slice(&block_key);
        let mut mac = <HmacSha256 as KeyInit>::new(&padded.into());
        mac.update(b"audit.v1 page token key");
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&mac.finalize().into_bytes());
        Self { key }
    }

    /// Returns the token that resumes right after `cursor`.
    pub fn issue(&self, binding: &QueryBinding, order: ListOrder, cursor: Cursor) -> String {
        let mut bytes = Vec::with_capacity(BODY_LEN + TAG_LEN);
        bytes.push(VERSION);
        bytes.push(order_byte(order));
        bytes.extend_from_slice(&cursor.occurred_at.to_be_bytes());
        bytes.extend_from_slice(cursor.id.as_bytes());
        bytes.extend_from_slice(&binding.0);
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Returns the cursor of a token issued for this very query.
    pub fn open(
        &self,
        token: &str,
        binding: &QueryBinding,
        order: ListOrder,
    ) -> Result<Cursor, PageTokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| PageTokenError::Malformed)?;
        if bytes.len() != BODY_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(PageTokenError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_truncated_left(tag)
            .map_err(|_| PageTokenError::Malformed)?;
        if body[1] != order_byte(order) || body[26..42] != binding.0 {
            return Err(PageTokenError::OtherQuery);
        }
        let occurred_at = i64::from_be_bytes(
            body[2..10]
                .try_into()
                .map_err(|_| PageTokenError::Malformed)?,
        );
        let id = Uuid::from_slice(&body[10..26]).map_err(|_| PageTokenError::Malformed)?;
        Ok(Cursor { occurred_at, id })
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new(&self.key.into())
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac();
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

fn order_byte(order: ListOrder) -> u8 {
    match order {
        ListOrder::NewestFirst => 1,
        ListOrder::OldestFirst => 2,
    }
}

/// A digest of the query a token belongs to: the effective tenant scope and
/// the filter's canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryBinding([u8; 16]);

impl QueryBinding {
    /// Binds `scope` (the tenant or "" for every tenant) and the encoded
    /// filter; prost encodes a given message deterministically.
    pub fn new(scope: &str, encoded_filter: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update((scope.len() as u64).to_be_bytes());
        hasher.update(scope.as_bytes());
        hasher.update(encoded_filter);
        let digest = hasher.finalize();
        let mut binding = [0u8; 16];
        binding.copy_from_slice(&digest[..16]);
        Self(binding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            occurred_at: 1_700_000_000_000_000,
            id: Uuid::now_v7(),
        }
    }

    #[test]
    fn a_token_opens_for_its_own_query_only() {
        let key = PageTokenKey::derive(b"secret");
        let binding = QueryBinding::new("acme", b"filter");
        let position = cursor();
        let token = key.issue(&binding, ListOrder::NewestFirst, position);
        assert_eq!(
            key.open(&token, &binding, ListOrder::NewestFirst),
            Ok(position)
        );
        assert_eq!(
            key.open(&token, &binding, ListOrder::OldestFirst),
            Err(PageTokenError::OtherQuery)
        );
        let other = QueryBinding::new("globex", b"filter");
        assert_eq!(
            key.open(&token, &other, ListOrder::NewestFirst),
            Err(PageTokenError::OtherQuery)
        );
    }

    #[test]
    fn tampered_or_foreign_tokens_are_malformed() {
        let key = PageTokenKey::derive(b"secret");
        let binding = QueryBinding::new("acme", b"");
        let token = key.issue(&binding, ListOrder::NewestFirst, cursor());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[5] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            key.open(&tampered, &binding, ListOrder::NewestFirst),
            Err(PageTokenError::Malformed)
        );
        let stranger = PageTokenKey::derive(b"other secret");
        assert_eq!(
            stranger.open(&token, &binding, ListOrder::NewestFirst),
            Err(PageTokenError::Malformed)
        );
        assert_eq!(
            key.open("not a token", &binding, ListOrder::NewestFirst),
            Err(PageTokenError::Malformed)
        );
    }
}
