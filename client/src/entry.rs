//! [`AuditLogExt`]: a stored entry's fields as Rust types (`Uuid`,
//! `SystemTime`, JSON) rather than wire strings and messages.

use crate::convert::{parse_entry_id, timestamp_to_system_time};
use crate::json::struct_to_json;
use crate::{ActorType, AuditLog, Error, Outcome, audit_log_to_json};
use std::time::SystemTime;
use uuid::Uuid;

/// Typed accessors on a stored [`AuditLog`].
///
/// ```
/// use audit_client::{AuditLog, AuditLogExt, Outcome};
///
/// let entry = AuditLog {
///     id: "01890f4a-7c3e-7b4e-9a2e-3f1c2d4b5a69".into(),
///     result: Outcome::Denied as i32,
///     ..Default::default()
/// };
/// assert_eq!(entry.entry_id()?.get_version_num(), 7);
/// assert_eq!(entry.outcome(), Outcome::Denied);
/// assert_eq!(entry.metadata_json(), serde_json::json!({}));
/// # Ok::<(), audit_client::Error>(())
/// ```
pub trait AuditLogExt {
    /// Returns the entry's id as a UUID.
    fn entry_id(&self) -> Result<Uuid, Error>;
    /// Returns when the event happened.
    fn occurred_at_time(&self) -> Result<SystemTime, Error>;
    /// Returns when the service stored the event.
    fn received_at_time(&self) -> Result<SystemTime, Error>;
    /// Returns how the action ended (`Unspecified` for a value this build
    /// does not know).
    fn outcome(&self) -> Outcome;
    /// Returns the actor's kind (`Unspecified` when there is no actor).
    fn actor_type(&self) -> ActorType;
    /// Returns the metadata as a JSON object (empty when there is none).
    fn metadata_json(&self) -> serde_json::Value;
    /// Returns the whole entry as plain JSON; see [`audit_log_to_json`].
    fn to_json(&self) -> serde_json::Value;
}

impl AuditLogExt for AuditLog {
    fn entry_id(&self) -> Result<Uuid, Error> {
        parse_entry_id(&self.id)
    }

    fn occurred_at_time(&self) -> Result<SystemTime, Error> {
        required_time(self.occurred_at.as_ref(), "occurred_at")
    }

    fn received_at_time(&self) -> Result<SystemTime, Error> {
        required_time(self.received_at.as_ref(), "received_at")
    }

    fn outcome(&self) -> Outcome {
        Outcome::try_from(self.result).unwrap_or_default()
    }

    fn actor_type(&self) -> ActorType {
        self.actor
            .as_ref()
            .and_then(|actor| ActorType::try_from(actor.r#type).ok())
            .unwrap_or_default()
    }

    fn metadata_json(&self) -> serde_json::Value {
        self.metadata
            .as_ref()
            .map_or_else(|| serde_json::json!({}), struct_to_json)
    }

    fn to_json(&self) -> serde_json::Value {
        audit_log_to_json(self)
    }
}

fn required_time(
    timestamp: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<SystemTime, Error> {
    let timestamp = timestamp.ok_or_else(|| Error::invalid_value(field, "is not set"))?;
    timestamp_to_system_time(timestamp)
}
