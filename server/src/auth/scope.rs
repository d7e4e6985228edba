//! The four scopes a credential can carry, spelled `audit:read` and so on.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a credential may do. [`Scope::Admin`] satisfies every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// ListAuditLogs, GetAuditLog, GetAuditStats, DescribeFilters,
    /// VerifyAuditChain, GetCheckpoint, GetPublicKeys.
    Read,
    /// AppendAuditLogs.
    Append,
    /// DeleteAuditLog.
    Write,
    /// Everything, across tenants where a call allows it; alone it allows
    /// SetLegalHold, ClearLegalHold and GetLegalHold.
    Admin,
}

/// A credential's scopes, in a stable order.
pub type Scopes = BTreeSet<Scope>;

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Append, Scope::Write, Scope::Admin];

    /// The wire spelling, e.g. `audit:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "audit:read",
            Scope::Append => "audit:append",
            Scope::Write => "audit:write",
            Scope::Admin => "audit:admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the four scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?} (expected audit:read, audit:append, audit:write or audit:admin)")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| UnknownScope(text.to_owned()))
    }
}

/// Parses a space-separated list strictly, for credentials being created: an
/// unknown scope is a typo the operator should hear about, and a credential
/// with no scope could do nothing.
pub fn parse_scopes(text: &str) -> Result<Scopes, String> {
    let scopes = text
        .split_whitespace()
        .map(Scope::from_str)
        .collect::<Result<Scopes, _>>()
        .map_err(|error| error.to_string())?;
    if scopes.is_empty() {
        return Err(
            "at least one scope is needed (audit:read, audit:append, audit:write or audit:admin)"
                .into(),
        );
    }
    Ok(scopes)
}

/// Parses the scopes of a credential being presented: unknown words grant
/// nothing and are skipped, so a token minted for a newer server still works
/// for the scopes this one knows.
pub fn parse_scopes_lenient(text: &str) -> Scopes {
    text.split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect()
}

/// The canonical space-separated form of `scopes`.
pub fn format_scopes(scopes: &Scopes) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_roundtrip_through_text() {
        for scope in Scope::ALL {
            assert_eq!(scope.to_string().parse::<Scope>(), Ok(scope));
        }
        assert_eq!("audit:read".parse::<Scope>(), Ok(Scope::Read));
        assert!("audit:READ".parse::<Scope>().is_err());
        assert!("read".parse::<Scope>().is_err());
    }

    #[test]
    fn strict_parsing_rejects_unknown_and_empty() {
        let scopes = parse_scopes("audit:append  audit:read audit:read").unwrap();
        assert_eq!(format_scopes(&scopes), "audit:read audit:append");
        let error = parse_scopes("audit:read audit:raed").unwrap_err();
        assert!(error.contains("\"audit:raed\""), "{error}");
        assert!(parse_scopes("  ").is_err());
    }

    #[test]
    fn lenient_parsing_skips_unknown() {
        let scopes = parse_scopes_lenient("audit:read something:else audit:admin");
        assert_eq!(format_scopes(&scopes), "audit:read audit:admin");
        assert!(parse_scopes_lenient("").is_empty());
    }
}
