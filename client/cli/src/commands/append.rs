//! `audit append`: records one event from flags and prints its id.

use crate::cli::AppendArgs;
use crate::error::CliError;
use crate::output;
use crate::service::Service;
use audit_client::IntoTimestamp;
use audit_proto::{Actor, ActorType, AuditLogInput, Result as Outcome, Target};

pub async fn run(service: &Service, args: AppendArgs) -> Result<(), CliError> {
    let ids = service.append(vec![input(args)]).await?;
    let id = ids.first().ok_or_else(|| {
        CliError::Invalid("the service stored the event but returned no id".to_owned())
    })?;
    output::print(&format!("{id}\n"))
}

fn input(args: AppendArgs) -> AuditLogInput {
    let has_actor = args.actor_id.is_some()
        || args.actor_type.is_some()
        || args.actor_email.is_some()
        || args.actor_name.is_some();
    let actor = has_actor.then(|| Actor {
        id: args.actor_id.unwrap_or_default(),
        r#type: args
            .actor_type
            .map_or(ActorType::Unspecified, ActorType::from) as i32,
        name: args.actor_name.unwrap_or_default(),
        email: args.actor_email.unwrap_or_default(),
    });
    let target = args.target_type.map(|kind| Target {
        r#type: kind,
        id: args.target_id.unwrap_or_default(),
        name: args.target_name.unwrap_or_default(),
    });
    let now = chrono::Utc::now();
    AuditLogInput {
        occurred_at: args
            .occurred_at
            .map(|time| time.resolve(now).into_timestamp()),
        action: args.action,
        actor,
        target,
        result: args.result.map_or(Outcome::Unspecified, Outcome::from) as i32,
        client_ip: args.client_ip.unwrap_or_default(),
        metadata: args.metadata,
        idempotency_key: args.idempotency_key.unwrap_or_default(),
        ..Default::default()
    }
}
