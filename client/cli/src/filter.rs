//! The filter flags shared by `list`, `export` and `stats`, and their
//! translation into an `AuditLogFilter`.

use crate::cli::{ActorKind, ResultKind};
use crate::time::{TimeArg, parse_time};
use audit_client::IntoTimestamp;
use audit_proto::{ActorType, AuditLogFilter, Result as Outcome};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;

/// Flags mirroring `AuditLogFilter`; all optional, combined with AND.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Exact action, or a prefix ending in `*` (`user.*`).
    #[arg(long)]
    pub action: Option<String>,
    /// The actor's id.
    #[arg(long, value_name = "ID")]
    pub actor_id: Option<String>,
    /// The actor's email.
    #[arg(long, value_name = "EMAIL")]
    pub actor_email: Option<String>,
    /// The kind of actor.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub actor_type: Option<ActorKind>,
    /// The target's type.
    #[arg(long, value_name = "TYPE")]
    pub target_type: Option<String>,
    /// The target's id.
    #[arg(long, value_name = "ID")]
    pub target_id: Option<String>,
    /// How the action ended.
    #[arg(long, value_enum)]
    pub result: Option<ResultKind>,
    /// An address (`10.0.0.7`) or a CIDR block (`10.0.0.0/8`).
    #[arg(long, value_name = "IP")]
    pub client_ip: Option<String>,
    /// Occurred at or after: RFC 3339, a date, or an age such as `24h`, `7d`.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<TimeArg>,
    /// Occurred before: RFC 3339, a date, or an age such as `1h`.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<TimeArg>,
    /// Another tenant to look into (`audit:admin` only).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
}

impl FilterArgs {
    /// Returns the filter these flags describe, relative times counted back
    /// from `now`.
    pub fn to_filter(&self, now: DateTime<Utc>) -> AuditLogFilter {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let time =
            |value: &Option<TimeArg>| value.as_ref().map(|arg| arg.resolve(now).into_timestamp());
        AuditLogFilter {
            actor_id: text(&self.actor_id),
            actor_email: text(&self.actor_email),
            actor_type: self
                .actor_type
                .map_or(ActorType::Unspecified, ActorType::from) as i32,
            action: text(&self.action),
            target_type: text(&self.target_type),
            target_id: text(&self.target_id),
            result: self.result.map_or(Outcome::Unspecified, Outcome::from) as i32,
            client_ip: text(&self.client_ip),
            start_time: time(&self.since),
            end_time: time(&self.until),
            tenant_id: text(&self.tenant),
        }
    }

    /// Returns the flags given, by flag name, as typed: what an export's
    /// resume state remembers and compares.
    pub fn as_flags(&self) -> BTreeMap<String, String> {
        [
            ("action", self.action.clone()),
            ("actor-id", self.actor_id.clone()),
            ("actor-email", self.actor_email.clone()),
            ("actor-type", self.actor_type.and_then(value_name)),
            ("target-type", self.target_type.clone()),
            ("target-id", self.target_id.clone()),
            ("result", self.result.and_then(value_name)),
            ("client-ip", self.client_ip.clone()),
            ("since", self.since.as_ref().map(|arg| arg.text.clone())),
            ("until", self.until.as_ref().map(|arg| arg.text.clone())),
            ("tenant", self.tenant.clone()),
        ]
        .into_iter()
        .filter_map(|(flag, value)| Some((flag.to_owned(), value?)))
        .collect()
    }
}

/// Returns the name a `ValueEnum` value is typed as.
fn value_name(value: impl ValueEnum) -> Option<String> {
    Some(value.to_possible_value()?.get_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_keep_the_text_as_typed() {
        let filters = FilterArgs {
            action: Some("user.*".into()),
            actor_type: Some(ActorKind::ApiKey),
            since: Some(parse_time("24h").unwrap()),
            ..Default::default()
        };
        let flags = filters.as_flags();
        assert_eq!(flags["action"], "user.*");
        assert_eq!(flags["actor-type"], "api_key");
        assert_eq!(flags["since"], "24h");
        assert_eq!(flags.len(), 3);
    }
}
