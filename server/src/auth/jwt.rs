//! JWTs: issuing HS256 tokens for `audit-server token`, and verifying HS256
//! tokens (plus EdDSA or RS256 when a public key is configured).

use super::caller::{Caller, Credential};
use super::pem::{self, PublicKey};
use super::scope::{format_scopes, parse_scopes, parse_scopes_lenient};
use super::{AuthError, JwtSecret};
use crate::error::AuditError;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Clock skew tolerated on `exp`: enough for replicas whose clocks drift a
/// little, small enough that an expired token is refused almost at once.
const LEEWAY_SECS: u64 = 5;

/// The claims this service reads and writes. Everything is optional here so
/// that a missing claim is reported by name rather than as a JSON error.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

/// Signs an HS256 token for `subject` in `tenant` with `scopes`
/// (space-separated, each one of the four known scopes), valid for `ttl`.
pub fn issue_token(
    secret: &JwtSecret,
    subject: &str,
    tenant: &str,
    scopes: &str,
    ttl: Duration,
) -> Result<String, AuthError> {
    if subject.trim().is_empty() {
        return Err(AuthError::InvalidClaims("subject must not be empty".into()));
    }
    if tenant.trim().is_empty() {
        return Err(AuthError::InvalidClaims("tenant must not be empty".into()));
    }
    let scopes = parse_scopes(scopes).map_err(AuthError::InvalidScope)?;
    // `exp` is in whole seconds: a sub-second ttl would expire on issue.
    if ttl.as_secs() == 0 {
        return Err(AuthError::InvalidClaims("ttl must be at least 1s".into()));
    }
    let now = unix_now();
    let exp = now
        .checked_add(ttl.as_secs())
        .ok_or_else(|| AuthError::InvalidClaims("ttl is too long".into()))?;
    let claims = Claims {
        sub: Some(subject.to_owned()),
        tenant: Some(tenant.to_owned()),
        scope: Some(format_scopes(&scopes)),
        exp: Some(exp),
        iat: Some(now),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.bytes()),
    )
    .map_err(|error| AuthError::Signing(error.to_string()))
}

/// Parses a token lifetime such as `30s`, `15m` or `1h`.
pub fn parse_ttl(text: &str) -> Result<Duration, AuthError> {
    let invalid = |reason: String| AuthError::InvalidTtl {
        text: text.to_owned(),
        reason,
    };
    let ttl = humantime::parse_duration(text.trim()).map_err(|error| invalid(error.to_string()))?;
    if ttl.as_secs() == 0 {
        return Err(invalid("must be at least 1s".into()));
    }
    Ok(ttl)
}

/// Verifies tokens: HS256 with the shared secret always, and the configured
/// public key's algorithm (EdDSA or RS256) when there is one.
#[derive(Clone)]
pub struct JwtVerifier {
    hmac: DecodingKey,
    public: Option<PublicKey>,
}

impl JwtVerifier {
    /// Fails when `public_key_pem` is not an Ed25519 or RSA (2048+ bit)
    /// public key.
    pub fn new(secret: &JwtSecret, public_key_pem: Option<&[u8]>) -> Result<Self, AuthError> {
        let public = public_key_pem
            .map(pem::parse_public_key)
            .transpose()
            .map_err(AuthError::PublicKey)?;
        Ok(Self {
            hmac: DecodingKey::from_secret(secret.bytes()),
            public,
        })
    }

    /// Verifies `token` and returns its caller; every failure is
    /// UNAUTHENTICATED with a message saying what was wrong.
    pub fn verify(&self, token: &str) -> Result<Caller, AuditError> {
        let unauthenticated = |message: String| AuditError::Unauthenticated(message);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthenticated("malformed token".into()))?;
        // The key is chosen by algorithm, and each key accepts only its own
        // algorithm, so a token cannot pick how it is checked (no RS256 public
        // key used as an HMAC secret).
        let key = match (&header.alg, &self.public) {
            (Algorithm::HS256, _) => &self.hmac,
            (alg, Some(public)) if *alg == public.algorithm => &public.key,
            (alg, _) => {
                return Err(unauthenticated(format!(
                    "token algorithm {alg:?} is not accepted"
                )));
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        // No audience is configured, so there is none to compare with.
        validation.validate_aud = false;

        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|error| unauthenticated(describe(error.kind())))?
            .claims;
        let subject = claims
            .sub
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| unauthenticated("token has no sub claim".into()))?;
        let tenant_id = claims
            .tenant
            .filter(|tenant| !tenant.is_empty())
            .ok_or_else(|| unauthenticated("token has no tenant claim".into()))?;
        Ok(Caller {
            subject,
            tenant_id,
            scopes: parse_scopes_lenient(claims.scope.as_deref().unwrap_or_default()),
            credential: Credential::Jwt,
        })
    }
}

/// A client-facing reason for a rejected token; never the token itself.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::InvalidSignature => "invalid token signature".into(),
        ErrorKind::ImmatureSignature => "token is not valid yet".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("token has no {claim} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("token claim {claim} is malformed"),
        ErrorKind::Json(_) => "token claims are malformed".into(),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            "malformed token".into()
        }
        ErrorKind::InvalidAlgorithm => "token algorithm is not accepted".into(),
        _ => "invalid token".into(),
    }
}

fn unix_now() -> u64 {
    // A clock before 1970 is a broken host; treating it as the epoch makes
    // every token look expired rather than panicking.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scope::Scope;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const ED25519_PRIVATE: &str = include_str!("testdata/ed25519-private.pem");
    const ED25519_PUBLIC: &str = include_str!("testdata/ed25519-public.pem");
    const RSA_PRIVATE: &str = include_str!("testdata/rsa-private.pem");
    const RSA_PUBLIC: &str = include_str!("testdata/rsa-public.pem");

    fn secret() -> JwtSecret {
        JwtSecret::new(SECRET)
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(&secret(), None).unwrap()
    }

    fn rejection(result: Result<Caller, AuditError>) -> String {
        match result {
            Err(AuditError::Unauthenticated(message)) => message,
            other => panic!("expected unauthenticated, got {other:?}"),
        }
    }

    fn sign(claims: &serde_json::Value, alg: Algorithm, key: &EncodingKey) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
    }

    fn hs256(claims: &serde_json::Value) -> String {
        sign(claims, Algorithm::HS256, &EncodingKey::from_secret(SECRET))
    }

    fn private_der(pem_text: &str) -> Vec<u8> {
        pem::decode_pem(pem_text.as_bytes()).unwrap().1
    }

    fn valid_claims() -> serde_json::Value {
        serde_json::json!({
            "sub": "bob",
            "tenant": "acme",
            "scope": "audit:read",
            "exp": unix_now() + 600,
        })
    }

    #[test]
    fn issued_token_verifies() {
        let ttl = Duration::from_secs(3600);
        let token =
            issue_token(&secret(), "alice", "acme", "audit:append audit:read", ttl).unwrap();
        let caller = verifier().verify(&token).unwrap();
        assert_eq!(caller.subject, "alice");
        assert_eq!(caller.tenant_id, "acme");
        assert_eq!(caller.credential, Credential::Jwt);
        assert_eq!(
            caller.scopes.iter().copied().collect::<Vec<_>>(),
            [Scope::Read, Scope::Append]
        );

        let claims: serde_json::Value =
            jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
        let exp = claims["exp"].as_u64().unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(exp - iat, 3600);
        assert_eq!(claims["scope"], "audit:read audit:append");
    }

    #[test]
    fn issue_rejects_bad_requests() {
        let ttl = Duration::from_secs(60);
        assert!(matches!(
            issue_token(&secret(), "alice", "acme", "audit:reed", ttl),
            Err(AuthError::InvalidScope(_))
        ));
        assert!(matches!(
            issue_token(&secret(), "alice", "acme", "", ttl),
            Err(AuthError::InvalidScope(_))
        ));
        assert!(issue_token(&secret(), "alice", "", "audit:read", ttl).is_err());
        assert!(issue_token(&secret(), "", "acme", "audit:read", ttl).is_err());
        assert!(issue_token(&secret(), "a", "acme", "audit:read", Duration::ZERO).is_err());
    }

    #[test]
    fn expired_token_is_rejected() {
        let mut claims = valid_claims();
        claims["exp"] = (unix_now() - LEEWAY_SECS - 10).into();
        assert_eq!(
            rejection(verifier().verify(&hs256(&claims))),
            "token expired"
        );

        // Within the leeway it still passes.
        claims["exp"] = (unix_now() - 1).into();
        assert!(verifier().verify(&hs256(&claims)).is_ok());
    }

    #[test]
    fn wrong_signature_is_rejected() {
        let other = JwtSecret::new("another-secret-another-secret-another");
        let token = issue_token(
            &other,
            "alice",
            "acme",
            "audit:admin",
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(
            rejection(verifier().verify(&token)),
            "invalid token signature"
        );

        // A payload edited after signing fails the same way.
        let token = hs256(&valid_claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = valid_claims();
        forged["scope"] = "audit:admin".into();
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            forged.to_string(),
        );
        assert_eq!(
            rejection(verifier().verify(&parts.join("."))),
            "invalid token signature"
        );
    }

    #[test]
    fn garbled_token_is_rejected() {
        for garbled in [
            "abc",
            "a.b.c",
            "a.b",
            "....",
            "eyJhbGciOiJIUzI1NiJ9.%%%.sig",
        ] {
            let message = rejection(verifier().verify(garbled));
            assert!(
                message == "malformed token" || message == "invalid token signature",
                "{garbled}: {message}"
            );
        }
        assert_eq!(rejection(verifier().verify("abc")), "malformed token");
    }

    #[test]
    fn required_claims_are_named() {
        for (claim, message) in [
            ("exp", "token has no exp claim"),
            ("sub", "token has no sub claim"),
            ("tenant", "token has no tenant claim"),
        ] {
            let mut claims = valid_claims();
            claims.as_object_mut().unwrap().remove(claim);
            assert_eq!(rejection(verifier().verify(&hs256(&claims))), message);
        }
        let mut claims = valid_claims();
        claims["tenant"] = "".into();
        assert_eq!(
            rejection(verifier().verify(&hs256(&claims))),
            "token has no tenant claim"
        );
    }

    #[test]
    fn unknown_scopes_in_a_token_grant_nothing() {
        let mut claims = valid_claims();
        claims["scope"] = "audit:read audit:everything".into();
        let caller = verifier().verify(&hs256(&claims)).unwrap();
        assert_eq!(caller.scopes.len(), 1);
    }

    #[test]
    fn eddsa_and_rs256_need_the_configured_public_key() {
        let cases = [
            (
                Algorithm::EdDSA,
                EncodingKey::from_ed_der(&private_der(ED25519_PRIVATE)),
                ED25519_PUBLIC,
            ),
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_der(&private_der(RSA_PRIVATE)),
                RSA_PUBLIC,
            ),
        ];
        for (alg, key, public) in cases {
            let token = sign(&valid_claims(), alg, &key);
            let with_key = JwtVerifier::new(&secret(), Some(public.as_bytes())).unwrap();
            assert_eq!(with_key.verify(&token).unwrap().subject, "bob");
            // HS256 keeps working alongside the public key.
            assert!(with_key.verify(&hs256(&valid_claims())).is_ok());

            let message = rejection(verifier().verify(&token));
            assert!(message.contains("is not accepted"), "{message}");
        }

        // A public key of one kind does not accept the other algorithm.
        let ed_only = JwtVerifier::new(&secret(), Some(ED25519_PUBLIC.as_bytes())).unwrap();
        let rsa_key = EncodingKey::from_rsa_der(&private_der(RSA_PRIVATE));
        let message = rejection(ed_only.verify(&sign(&valid_claims(), Algorithm::RS256, &rsa_key)));
        assert!(message.contains("is not accepted"), "{message}");
    }

    #[test]
    fn bad_public_key_fails_at_startup() {
        let error = JwtVerifier::new(&secret(), Some(b"not a key"))
            .err()
            .unwrap();
        assert!(
            error.to_string().starts_with("invalid jwt public key"),
            "{error}"
        );
    }

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl(" 1h 30m ").unwrap(), Duration::from_secs(5400));
        for bad in ["", "abc", "10", "0s", "500ms", "-1h"] {
            let error = parse_ttl(bad).unwrap_err();
            assert!(
                error.to_string().starts_with("invalid ttl"),
                "{bad}: {error}"
            );
        }
    }
}
