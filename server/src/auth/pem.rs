//! Reads an Ed25519 or RSA public key from PEM.
//!
//! jsonwebtoken's own PEM support sits behind its `use_pem` feature, which
//! this build leaves off; the two key shapes we accept need only a base64
//! decode and a few DER headers, done here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey};

/// `1.3.101.112`, id-Ed25519 (RFC 8410).
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// `1.2.840.113549.1.1.1`, rsaEncryption (RFC 8017).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Below this, RS256 signatures are forgeable in practice.
const MIN_RSA_MODULUS_BYTES: usize = 2048 / 8;

/// A public key and the one algorithm tokens signed for it must name.
#[derive(Clone)]
pub(crate) struct PublicKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

/// Parses `PUBLIC KEY` (SubjectPublicKeyInfo, Ed25519 or RSA) or
/// `RSA PUBLIC KEY` (PKCS#1) PEM.
pub(crate) fn parse_public_key(pem: &[u8]) -> Result<PublicKey, String> {
    let (label, der) = decode_pem(pem)?;
    match label.as_str() {
        "RSA PUBLIC KEY" => rsa_from_pkcs1(&der),
        "PUBLIC KEY" => from_spki(&der),
        other => Err(format!(
            "expected a \"PUBLIC KEY\" pem block (ed25519 or rsa), found {other:?}"
        )),
    }
}

/// Returns the label and the DER bytes of the first PEM block in `pem`.
pub(crate) fn decode_pem(pem: &[u8]) -> Result<(String, Vec<u8>), String> {
    let text = std::str::from_utf8(pem).map_err(|_| "pem is not utf-8 text".to_owned())?;
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| "no \"-----BEGIN\" line found".to_owned())?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| "unterminated \"-----BEGIN\" line".to_owned())?;
    let end_marker = format!("-----END {label}-----");
    let (body, _) = rest
        .split_once(&end_marker)
        .ok_or_else(|| format!("no {end_marker:?} line found"))?;
    let body: String = body.split_whitespace().collect();
    let der = STANDARD
        .decode(body)
        .map_err(|error| format!("pem body is not base64: {error}"))?;
    Ok((label.to_owned(), der))
}

fn from_spki(der: &[u8]) -> Result<PublicKey, String> {
    let (spki, _) = expect(der, TAG_SEQUENCE, "subject public key info")?;
    let (algorithm, rest) = expect(spki, TAG_SEQUENCE, "algorithm identifier")?;
    let (oid, _) = expect(algorithm, TAG_OID, "algorithm oid")?;
    let (bits, _) = expect(rest, TAG_BIT_STRING, "public key bits")?;
    // The first byte of a BIT STRING counts unused trailing bits: keys use
    // whole bytes.
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err("malformed public key bit string".into()),
    };
    if oid == OID_ED25519 {
        // The verifier slices exactly 32 bytes: anything else must not reach it.
        if key.len() != 32 {
            return Err(format!("ed25519 key is {} bytes, expected 32", key.len()));
        }
        Ok(PublicKey {
            key: DecodingKey::from_ed_der(key),
            algorithm: Algorithm::EdDSA,
        })
    } else if oid == OID_RSA {
        rsa_from_pkcs1(key)
    } else {
        Err("unsupported key type: only ed25519 and rsa public keys are accepted".into())
    }
}

fn rsa_from_pkcs1(der: &[u8]) -> Result<PublicKey, String> {
    let (sequence, _) = expect(der, TAG_SEQUENCE, "rsa public key")?;
    let (modulus, rest) = expect(sequence, TAG_INTEGER, "rsa modulus")?;
    let (exponent, _) = expect(rest, TAG_INTEGER, "rsa exponent")?;
    // DER integers carry a leading zero when the top bit is set.
    let modulus = strip_leading_zeros(modulus);
    let exponent = strip_leading_zeros(exponent);
    if modulus.len() < MIN_RSA_MODULUS_BYTES {
        return Err(format!(
            "rsa key has {} bits, at least 2048 are needed",
            modulus.len() * 8
        ));
    }
    if exponent.is_empty() {
        return Err("rsa exponent is zero".into());
    }
    Ok(PublicKey {
        key: DecodingKey::from_rsa_raw_components(modulus, exponent),
        algorithm: Algorithm::RS256,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first..]
}

/// Reads one DER element with tag `tag`; returns its content and what follows.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let malformed = || format!("malformed der: bad {what}");
    let (&found, rest) = input.split_first().ok_or_else(malformed)?;
    if found != tag {
        return Err(malformed());
    }
    let (&first, rest) = rest.split_first().ok_or_else(malformed)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: the low bits count the length bytes that follow; four
        // cover any key we would accept.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(malformed());
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(malformed());
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_PUBLIC: &str = include_str!("testdata/ed25519-public.pem");
    const RSA_PUBLIC: &str = include_str!("testdata/rsa-public.pem");

    #[test]
    fn reads_ed25519_and_rsa_public_keys() {
        let ed = parse_public_key(ED25519_PUBLIC.as_bytes()).unwrap();
        assert_eq!(ed.algorithm, Algorithm::EdDSA);
        let rsa = parse_public_key(RSA_PUBLIC.as_bytes()).unwrap();
        assert_eq!(rsa.algorithm, Algorithm::RS256);
    }

    #[test]
    fn rejects_other_pem() {
        let private = include_str!("testdata/ed25519-private.pem");
        assert!(parse_public_key(private.as_bytes()).is_err());
        assert!(parse_public_key(b"not a pem").is_err());
        let garbled = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
        assert!(parse_public_key(garbled.as_bytes()).is_err());
    }
}
