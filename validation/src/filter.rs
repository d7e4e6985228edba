//! `AuditLogFilter` → validated [`AuditLogFilter`](crate::domain::AuditLogFilter),
//! with the caller's tenant applied.

use crate::domain::{ActionMatch, ActorType, AuditLogFilter, IpRange, Outcome, TenantScope};
use crate::error::ValidationError;
use crate::timestamp::to_micros;
use crate::violations::Violations;
use audit_proto as pb;

/// The tenants an authenticated caller may read: what a filter needs of the
/// caller, so validation does not depend on how callers authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAccess {
    /// The tenant of the caller's token or API key.
    pub tenant_id: String,
    /// True for `audit:admin`, which reads every tenant.
    pub admin: bool,
}

/// Decodes a filter; `path` prefixes field names in violations (`filter.`).
///
/// The tenant comes from the token: only an admin may name another tenant
/// or, by naming none, look at every tenant.
pub fn decode_filter(
    path: &str,
    filter: &pb::AuditLogFilter,
    access: &TenantAccess,
) -> Result<AuditLogFilter, ValidationError> {
    let scope = tenant_scope(filter, access)?;
    let mut violations = Violations::default();
    if access.admin {
        violations.check_no_nul(format!("{path}tenant_id"), &filter.tenant_id);
    }
    let mut text = |field: &str, value: &String| {
        violations.check_no_nul(format!("{path}{field}"), value);
        (!value.is_empty()).then(|| value.clone())
    };
    let actor_id = text("actor_id", &filter.actor_id);
    let actor_email = text("actor_email", &filter.actor_email);
    let target_type = text("target_type", &filter.target_type);
    let target_id = text("target_id", &filter.target_id);

    let actor_type = match ActorType::try_from(filter.actor_type) {
        Ok(ActorType::Unspecified) => None,
        Ok(kind) => Some(kind),
        Err(_) => {
            violations.add(
                format!("{path}actor_type"),
                format!("unknown ActorType value {}", filter.actor_type),
            );
            None
        }
    };
    let result = match Outcome::try_from(filter.result) {
        Ok(Outcome::Unspecified) => None,
        Ok(outcome) => Some(outcome),
        Err(_) => {
            violations.add(
                format!("{path}result"),
                format!("unknown Result value {}", filter.result),
            );
            None
        }
    };
    let action = decode_action(&format!("{path}action"), &filter.action, &mut violations);
    let client_ip = if filter.client_ip.is_empty() {
        None
    } else {
        IpRange::parse(&filter.client_ip).or_else(|| {
            violations.add(
                format!("{path}client_ip"),
                "must be an IP address or a CIDR block such as 10.0.0.0/8",
            );
            None
        })
    };
    let mut time = |field: &str, value: &Option<prost_types::Timestamp>| {
        value.as_ref().and_then(|timestamp| {
            to_micros(timestamp).or_else(|| {
                violations.add(
                    format!("{path}{field}"),
                    "must be a valid timestamp between years 1 and 9999",
                );
                None
            })
        })
    };
    let start_time = time("start_time", &filter.start_time);
    let end_time = time("end_time", &filter.end_time);
    if let (Some(start), Some(end)) = (start_time, end_time)
        && start >= end
    {
        violations.add(format!("{path}start_time"), "must be before end_time");
    }

    violations.into_result(AuditLogFilter {
        scope,
        actor_id,
        actor_email,
        actor_type,
        action,
        target_type,
        target_id,
        result,
        client_ip,
        start_time,
        end_time,
    })
}

fn tenant_scope(
    filter: &pb::AuditLogFilter,
    access: &TenantAccess,
) -> Result<TenantScope, ValidationError> {
    if access.admin {
        return Ok(if filter.tenant_id.is_empty() {
            TenantScope::All
        } else {
            TenantScope::One(filter.tenant_id.clone())
        });
    }
    if filter.tenant_id.is_empty() || filter.tenant_id == access.tenant_id {
        Ok(TenantScope::One(access.tenant_id.clone()))
    } else {
        Err(ValidationError::PermissionDenied(
            "filter.tenant_id: only audit:admin may read another tenant".into(),
        ))
    }
}

/// `user.login` matches exactly; `user.*` matches every action starting with
/// `user.`; a lone `*` matches everything.
fn decode_action(field: &str, action: &str, violations: &mut Violations) -> Option<ActionMatch> {
    if action.is_empty() || action == "*" {
        return None;
    }
    let (stem, is_prefix) = match action.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (action, false),
    };
    if stem.contains('*') || stem.chars().any(|c| c.is_whitespace() || c.is_control()) {
        violations.add(
            field,
            "must be an action, or a prefix ending in a single '*' such as user.*",
        );
        return None;
    }
    Some(if is_prefix {
        ActionMatch::Prefix(stem.to_owned())
    } else {
        ActionMatch::Exact(stem.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> TenantAccess {
        TenantAccess {
            tenant_id: "acme".into(),
            admin: false,
        }
    }

    fn violated_fields(error: ValidationError) -> Vec<String> {
        match error {
            ValidationError::InvalidArgument(violations) => violations
                .into_iter()
                .map(|violation| violation.field)
                .collect(),
            other => panic!("expected violations, got {other:?}"),
        }
    }

    // Found by the filter fuzz target: NUL reached the query's bound text,
    // which Postgres refuses.
    #[test]
    fn nul_in_a_text_filter_is_a_violation() {
        let filter = pb::AuditLogFilter {
            actor_id: "u_\0".into(),
            target_type: "\0".into(),
            ..Default::default()
        };
        let error = decode_filter("filter.", &filter, &acme()).unwrap_err();
        assert_eq!(
            violated_fields(error),
            ["filter.actor_id", "filter.target_type"]
        );
    }

    #[test]
    fn nul_in_an_admins_tenant_is_a_violation() {
        let filter = pb::AuditLogFilter {
            tenant_id: "acme\0".into(),
            ..Default::default()
        };
        let admin = TenantAccess {
            admin: true,
            ..acme()
        };
        let error = decode_filter("filter.", &filter, &admin).unwrap_err();
        assert_eq!(violated_fields(error), ["filter.tenant_id"]);
        // Anyone else is refused that tenant before its text matters.
        assert!(matches!(
            decode_filter("filter.", &filter, &acme()),
            Err(ValidationError::PermissionDenied(_))
        ));
    }

    #[test]
    fn a_non_admin_reads_only_their_own_tenant() {
        let everything = decode_filter("filter.", &pb::AuditLogFilter::default(), &acme());
        assert_eq!(everything.unwrap().scope, TenantScope::One("acme".into()));
    }
}
