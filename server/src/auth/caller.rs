//! Who is calling: the authenticated identity handlers check scopes against
//! and record as the actor of what they do.

use super::scope::{Scope, Scopes};
use crate::domain::{Actor, ActorType};
use crate::error::AuditError;
use audit_validation::filter::TenantAccess;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Jwt,
    ApiKey { id: String, name: String },
}

/// An authenticated caller, put in the request extensions by
/// [`super::AuthLayer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The JWT `sub`, or the API key's id.
    pub subject: String,
    /// The tenant whose trail this caller reaches.
    pub tenant_id: String,
    pub scopes: Scopes,
    pub credential: Credential,
}

impl Caller {
    /// Checks that the caller holds `scope`; `audit:admin` satisfies every
    /// scope.
    pub fn require(&self, scope: Scope) -> Result<(), AuditError> {
        if self.scopes.contains(&scope) || self.is_admin() {
            Ok(())
        } else {
            Err(AuditError::PermissionDenied(format!(
                "this call needs scope {scope}"
            )))
        }
    }

    /// Returns true when the caller holds `audit:admin`.
    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }

    /// Returns the tenants this caller may read, as filter validation needs
    /// them.
    pub fn tenant_access(&self) -> TenantAccess {
        TenantAccess {
            tenant_id: self.tenant_id.clone(),
            admin: self.is_admin(),
        }
    }

    /// The actor recorded for what this caller does (e.g. a deletion).
    pub fn actor(&self) -> Actor {
        match &self.credential {
            Credential::Jwt => Actor {
                id: self.subject.clone(),
                kind: ActorType::User,
                name: self.subject.clone(),
                email: String::new(),
            },
            Credential::ApiKey { id, name } => Actor {
                id: id.clone(),
                kind: ActorType::ApiKey,
                name: name.clone(),
                email: String::new(),
            },
        }
    }
}

/// Returns the caller [`super::AuthLayer`] attached to `request`.
///
/// A missing caller means the layer was not installed in front of the
/// service; refusing the call is the safe answer.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Caller, AuditError> {
    request
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| AuditError::Unauthenticated("request is not authenticated".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scope::parse_scopes;

    fn jwt_caller(scopes: &str) -> Caller {
        Caller {
            subject: "alice".into(),
            tenant_id: "acme".into(),
            scopes: parse_scopes(scopes).unwrap(),
            credential: Credential::Jwt,
        }
    }

    #[test]
    fn require_checks_scope_and_names_it() {
        let caller = jwt_caller("audit:read");
        assert!(caller.require(Scope::Read).is_ok());
        match caller.require(Scope::Append) {
            Err(AuditError::PermissionDenied(message)) => {
                assert_eq!(message, "this call needs scope audit:append")
            }
            other => panic!("expected permission denied, got {other:?}"),
        }
        assert!(caller.require(Scope::Write).is_err());
        assert!(caller.require(Scope::Admin).is_err());
        assert!(!caller.is_admin());
    }

    #[test]
    fn admin_satisfies_every_scope() {
        let caller = jwt_caller("audit:admin");
        assert!(caller.is_admin());
        for scope in Scope::ALL {
            assert!(caller.require(scope).is_ok(), "{scope}");
        }
    }

    #[test]
    fn actor_depends_on_credential() {
        let actor = jwt_caller("audit:read").actor();
        assert_eq!((actor.id.as_str(), actor.kind), ("alice", ActorType::User));
        assert_eq!(actor.name, "alice");

        let key = Caller {
            subject: "0123456789abcdef".into(),
            credential: Credential::ApiKey {
                id: "0123456789abcdef".into(),
                name: "billing exporter".into(),
            },
            ..jwt_caller("audit:append")
        };
        let actor = key.actor();
        assert_eq!(actor.id, "0123456789abcdef");
        assert_eq!(actor.kind, ActorType::ApiKey);
        assert_eq!(actor.name, "billing exporter");
    }

    #[test]
    fn caller_is_read_from_extensions() {
        let mut request = tonic::Request::new(());
        assert!(matches!(
            caller(&request),
            Err(AuditError::Unauthenticated(_))
        ));
        request.extensions_mut().insert(jwt_caller("audit:read"));
        assert_eq!(caller(&request).unwrap().subject, "alice");
    }
}
