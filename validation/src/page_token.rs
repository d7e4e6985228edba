//! Page tokens: a position in a listing, bound to the tenant scope, filter
//! and order it was issued for, and authenticated with an HMAC so a client
//! can neither forge a position nor carry it over to another filter.
//!
//! Layout before base64url: version (1) ‖ order (1) ‖ occurred_at (8, BE) ‖
//! id (16) ‖ binding (16) ‖ HMAC-SHA256 tag, truncated (16).
//!
//! Follow tokens (version 2) hold a position per tenant instead: version (1)
//! ‖ binding (16) ‖ tenants (4, BE) ‖ per tenant: length (2, BE) ‖ tenant
//! (UTF-8) ‖ last sequence read (8, BE) ‖ tag (16). Each kind of token is
//! refused, as `OtherMode`, by the other kind of request.

use crate::domain::{Cursor, FollowPosition, ListOrder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const FOLLOW_VERSION: u8 = 2;
/// Version, binding and tenant count of a follow token.
const FOLLOW_HEADER_LEN: usize = 1 + 16 + 4;
const BODY_LEN: usize = 1 + 1 + 8 + 16 + 16;
const TAG_LEN: usize = 16;

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PageTokenError {
    /// Not a token this service issued, or altered since.
    Malformed,
    /// A genuine token, but for another filter, order or tenant.
    OtherQuery,
    /// A genuine token of the other mode: a follow token in a plain List,
    /// or a List token in a follow request.
    OtherMode,
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
        let bytes = self.authenticated(token)?;
        if bytes[0] == FOLLOW_VERSION {
            return Err(PageTokenError::OtherMode);
        }
        if bytes.len() != BODY_LEN || bytes[0] != VERSION {
            return Err(PageTokenError::Malformed);
        }
        let body = bytes.as_slice();
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

    /// Returns the token that resumes a follow stream at `position`.
    pub fn issue_follow(&self, binding: &QueryBinding, position: &FollowPosition) -> String {
        let mut bytes = Vec::with_capacity(FOLLOW_HEADER_LEN + TAG_LEN + 32 * position.len());
        bytes.push(FOLLOW_VERSION);
        bytes.extend_from_slice(&binding.0);
        let tenants = u32::try_from(position.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&tenants.to_be_bytes());
        for (tenant, sequence) in position.iter().take(tenants as usize) {
            // Tenant ids are validated far shorter than 64 KiB; a longer one
            // would make a token that is refused as malformed, never a wrong
            // position.
            let length = u16::try_from(tenant.len()).unwrap_or(u16::MAX);
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(tenant.as_bytes());
            bytes.extend_from_slice(&sequence.to_be_bytes());
        }
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Returns the position of a follow token issued for this very query.
    pub fn open_follow(
        &self,
        token: &str,
        binding: &QueryBinding,
    ) -> Result<FollowPosition, PageTokenError> {
        let bytes = self.authenticated(token)?;
        if bytes[0] == VERSION {
            return Err(PageTokenError::OtherMode);
        }
        if bytes[0] != FOLLOW_VERSION || bytes.len() < FOLLOW_HEADER_LEN {
            return Err(PageTokenError::Malformed);
        }
        if bytes[1..17] != binding.0 {
            return Err(PageTokenError::OtherQuery);
        }
        let mut reader = Reader(&bytes[17..]);
        let tenants = u32::from_be_bytes(reader.take()?);
        let mut position = FollowPosition::new();
        for _ in 0..tenants {
            let length = u16::from_be_bytes(reader.take()?) as usize;
            let tenant = std::str::from_utf8(reader.bytes(length)?)
                .map_err(|_| PageTokenError::Malformed)?
                .to_owned();
            let sequence = i64::from_be_bytes(reader.take()?);
            position.insert(tenant, sequence);
        }
        if !reader.0.is_empty() {
            return Err(PageTokenError::Malformed);
        }
        Ok(position)
    }

    /// Returns a token with a valid tag around any `body`, so the fuzz
    /// targets reach the parsing behind the HMAC. The server never builds
    /// with this feature.
    #[cfg(feature = "fuzzing")]
    pub fn seal_for_fuzzing(&self, body: &[u8]) -> String {
        let mut bytes = body.to_vec();
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token and checks its tag; returns its body.
    fn authenticated(&self, token: &str) -> Result<Vec<u8>, PageTokenError> {
        let mut bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| PageTokenError::Malformed)?;
        let Some(body_len) = bytes.len().checked_sub(TAG_LEN).filter(|len| *len > 0) else {
            return Err(PageTokenError::Malformed);
        };
        let tag = bytes.split_off(body_len);
        let mut mac = self.mac();
        mac.update(&bytes);
        mac.verify_truncated_left(&tag)
            .map_err(|_| PageTokenError::Malformed)?;
        Ok(bytes)
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

/// Reads fixed-size fields off an authenticated token body.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&mut self, length: usize) -> Result<&[u8], PageTokenError> {
        if self.0.len() < length {
            return Err(PageTokenError::Malformed);
        }
        let (field, rest) = self.0.split_at(length);
        self.0 = rest;
        Ok(field)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], PageTokenError> {
        self.bytes(N)?
            .try_into()
            .map_err(|_| PageTokenError::Malformed)
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
    fn a_follow_token_round_trips_and_stays_in_its_mode() {
        let key = PageTokenKey::derive(b"secret");
        let binding = QueryBinding::new("", b"filter");
        let position = FollowPosition::from([("acme".to_owned(), 42), ("globex".to_owned(), 7)]);
        let token = key.issue_follow(&binding, &position);
        assert_eq!(key.open_follow(&token, &binding), Ok(position));
        assert_eq!(
            key.open(&token, &binding, ListOrder::OldestFirst),
            Err(PageTokenError::OtherMode)
        );
        let list_token = key.issue(&binding, ListOrder::OldestFirst, cursor());
        assert_eq!(
            key.open_follow(&list_token, &binding),
            Err(PageTokenError::OtherMode)
        );
        let other = QueryBinding::new("acme", b"filter");
        assert_eq!(
            key.open_follow(&token, &other),
            Err(PageTokenError::OtherQuery)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[20] ^= 1;
        assert_eq!(
            key.open_follow(&URL_SAFE_NO_PAD.encode(bytes), &binding),
            Err(PageTokenError::Malformed)
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
