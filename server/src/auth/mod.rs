//! Authentication: a bearer token (a JWT or an API key) becomes a [`Caller`].
//!
//! Every RPC of `audit.v1.AuditService` needs `authorization: Bearer <token>`;
//! [`AuthLayer`] checks it before the call reaches a handler and leaves health
//! and reflection alone. Handlers then read the [`Caller`] with [`caller`] and
//! check the scope their call needs with [`Caller::require`].
//!
//! - [`scope`]: the four scopes and how they are spelled.
//! - [`caller`](mod@caller): who is calling, and as what actor they are recorded.
//! - [`jwt`]: issuing and verifying JWTs (HS256, plus EdDSA or RS256 with a
//!   configured public key).
//! - [`secret`]: the HS256 secret, explicit or the generated dev secret.
//! - [`api_key`]: `ak_<id>_<secret>` keys, stored as SHA-256 of the secret.
//! - [`layer`]: the tower layer that authenticates each request.

pub mod api_key;
pub mod caller;
pub mod jwt;
pub mod layer;
mod pem;
pub mod scope;
pub mod secret;
#[cfg(test)]
mod store_tests;

pub use api_key::{CreatedApiKey, create_api_key, revoke_api_key};
pub use caller::{Caller, Credential, caller};
pub use jwt::{JwtVerifier, issue_token, parse_ttl};
pub use layer::{AuthLayer, AuthService};
pub use scope::Scope;
pub use secret::JwtSecret;

use crate::error::AuditError;
use crate::store::AuditStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Why the server or the CLI could not set up authentication; each Display is
/// one lowercase line meant for a terminal.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A setting that could not be used as given.
    #[error("{0}")]
    Config(String),
    #[error(
        "refusing to listen on {listen} without --jwt-secret (or AUDIT_JWT_SECRET): \
         the generated dev secret is only allowed on loopback addresses"
    )]
    MissingSecret { listen: SocketAddr },
    #[error(
        "refusing to listen on {listen} with a {len}-byte jwt secret: \
         use at least {min} bytes off loopback",
        min = secret::MIN_SECRET_BYTES
    )]
    ShortSecret { listen: SocketAddr, len: usize },
    #[error("dev secret {}: {source}", path.display())]
    DevSecret {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid ttl {text:?}: {reason}")]
    InvalidTtl { text: String, reason: String },
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    #[error("invalid token request: {0}")]
    InvalidClaims(String),
    #[error("invalid jwt public key: {0}")]
    PublicKey(String),
    #[error("cannot sign token: {0}")]
    Signing(String),
}

/// Turns an `authorization` header value into a [`Caller`]: JWTs are verified
/// locally, API keys are looked up in the store on every request.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    jwt: JwtVerifier,
    store: AuditStore,
}

impl Authenticator {
    /// Builds an authenticator that accepts HS256 tokens signed with `secret`,
    /// EdDSA or RS256 tokens signed for `public_key_pem` when one is given,
    /// and API keys kept in `store`.
    pub fn new(
        secret: &JwtSecret,
        public_key_pem: Option<&[u8]>,
        store: AuditStore,
    ) -> Result<Self, AuthError> {
        let jwt = JwtVerifier::new(secret, public_key_pem)?;
        Ok(Self {
            inner: Arc::new(Inner { jwt, store }),
        })
    }

    /// Authenticates the value of an `authorization` header.
    ///
    /// Every failure is UNAUTHENTICATED except a store outage, which stays
    /// UNAVAILABLE so clients retry instead of discarding their credentials.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuditError> {
        let token = bearer_token(authorization)?;
        if api_key::looks_like_api_key(token) {
            api_key::authenticate(&self.inner.store, token).await
        } else {
            self.inner.jwt.verify(token)
        }
    }
}

/// Extracts the token from `Bearer <token>`; the scheme is case-insensitive
/// (RFC 7235).
pub(crate) fn bearer_token(authorization: Option<&str>) -> Result<&str, AuditError> {
    let value = authorization
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| AuditError::Unauthenticated("missing bearer token".into()))?;
    // "Bearer" alone is a missing token, not a malformed header.
    let (scheme, token) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuditError::Unauthenticated(
            "authorization header must be \"Bearer <token>\"".into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuditError::Unauthenticated("missing bearer token".into()));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<&str, AuditError>) -> String {
        match result {
            Err(AuditError::Unauthenticated(message)) => message,
            other => panic!("expected unauthenticated, got {other:?}"),
        }
    }

    #[test]
    fn bearer_token_is_extracted() {
        assert_eq!(bearer_token(Some("Bearer abc")).ok(), Some("abc"));
        assert_eq!(bearer_token(Some("bearer   abc ")).ok(), Some("abc"));
    }

    #[test]
    fn missing_or_odd_authorization_is_unauthenticated() {
        assert_eq!(message(bearer_token(None)), "missing bearer token");
        assert_eq!(message(bearer_token(Some(""))), "missing bearer token");
        assert_eq!(
            message(bearer_token(Some("Bearer "))),
            "missing bearer token"
        );
        assert!(message(bearer_token(Some("Basic abc"))).contains("Bearer <token>"));
        assert!(message(bearer_token(Some("abc"))).contains("Bearer <token>"));
    }

    #[test]
    fn auth_errors_are_one_line() {
        let listen: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        let errors = [
            AuthError::MissingSecret { listen },
            AuthError::ShortSecret { listen, len: 5 },
        ];
        for error in errors {
            let text = error.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(text.starts_with(char::is_lowercase), "{text}");
        }
    }
}
