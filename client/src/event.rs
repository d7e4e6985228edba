//! [`AuditEvent`]: one event to record, built as a sentence and sent as an
//! `AuditLogInput`; serde gives it a JSON form for NDJSON files.

use crate::convert::{IntoTimestamp, rfc3339_option};
use crate::json::{map_to_struct, struct_to_map};
use crate::names::{actor_type_serde, outcome_serde};
use crate::{Actor, ActorType, AuditLogInput, Outcome, RequestInfo, Target};
use prost_types::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One event to record: who did what, to what, when, from where, with what
/// result. Only the action is required.
///
/// Converts into the [`AuditLogInput`] that
/// [`AuditClient::append`](crate::AuditClient::append) sends. Its serde form
/// is the one [`audit_log_to_json`](crate::audit_log_to_json) writes, so an
/// exported entry reads back as the event that produced it; enum values are
/// contract names (`ACTOR_TYPE_USER`, or short: `user`), times RFC 3339.
///
/// ```
/// use audit_client::{ActorType, AuditEvent, AuditLogInput, Outcome};
/// use serde_json::json;
/// use std::time::SystemTime;
///
/// let event = AuditEvent::new("user.login")
///     .actor(ActorType::User, "u_42")
///     .actor_email("ada@example.com")
///     .target("api_key", "key_7")
///     .result(Outcome::Success)
///     .client_ip("203.0.113.9")
///     .metadata(json!({"mfa": true}))
///     .occurred_at(SystemTime::now())
///     .idempotency_key("login-u_42-0001");
/// let input = AuditLogInput::from(event.clone());
/// assert_eq!(input.actor.map(|actor| actor.email).as_deref(), Some("ada@example.com"));
///
/// let line = serde_json::to_string(&event)?;
/// assert_eq!(serde_json::from_str::<AuditEvent>(&line)?, event);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[must_use]
pub struct AuditEvent {
    #[serde(
        default,
        with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    occurred_at: Option<Timestamp>,
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<EventActor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<EventTarget>,
    #[serde(default, with = "outcome_serde", skip_serializing_if = "is_zero")]
    result: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    client_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<EventRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    request_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    idempotency_key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct EventActor {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(
        rename = "type",
        default,
        with = "actor_type_serde",
        skip_serializing_if = "is_zero"
    )]
    kind: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    email: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct EventTarget {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct EventRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    method: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    path: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    status_code: i32,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

impl AuditEvent {
    /// Starts an event with its dotted action name, e.g. `user.login`.
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            ..Self::default()
        }
    }

    /// Sets who acted: their kind and id.
    pub fn actor(mut self, kind: ActorType, id: impl Into<String>) -> Self {
        let actor = self.actor.get_or_insert_with(EventActor::default);
        actor.kind = kind as i32;
        actor.id = id.into();
        self
    }

    /// Sets the actor's display name.
    pub fn actor_name(mut self, name: impl Into<String>) -> Self {
        self.actor.get_or_insert_with(EventActor::default).name = name.into();
        self
    }

    /// Sets the actor's email.
    pub fn actor_email(mut self, email: impl Into<String>) -> Self {
        self.actor.get_or_insert_with(EventActor::default).email = email.into();
        self
    }

    /// Sets what was acted on: its type (`api_key`) and id.
    pub fn target(mut self, target_type: impl Into<String>, id: impl Into<String>) -> Self {
        let target = self.target.get_or_insert_with(EventTarget::default);
        target.kind = target_type.into();
        target.id = id.into();
        self
    }

    /// Sets the target's display name.
    pub fn target_name(mut self, name: impl Into<String>) -> Self {
        self.target.get_or_insert_with(EventTarget::default).name = name.into();
        self
    }

    /// Sets how the action ended.
    pub fn result(mut self, result: Outcome) -> Self {
        self.result = result as i32;
        self
    }

    /// Sets the caller's IPv4 or IPv6 address.
    pub fn client_ip(mut self, client_ip: impl Into<String>) -> Self {
        self.client_ip = client_ip.into();
        self
    }

    /// Sets the caller's user agent.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets the HTTP request that carried the action.
    pub fn request(
        mut self,
        method: impl Into<String>,
        path: impl Into<String>,
        status_code: u16,
    ) -> Self {
        self.request = Some(EventRequest {
            method: method.into(),
            path: path.into(),
            status_code: i32::from(status_code),
        });
        self
    }

    /// Sets the id that ties the event to the request's logs and traces.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// Sets the free-form context. A JSON object's fields become the
    /// metadata; any other value is kept under the key `value`, since the
    /// contract's metadata is always an object.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(match metadata {
            Value::Object(fields) => fields,
            other => Map::from_iter([("value".to_owned(), other)]),
        });
        self
    }

    /// Adds one metadata field, keeping the others.
    pub fn metadata_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets when the event happened; the service uses the time it received
    /// the event when this is not set.
    pub fn occurred_at(mut self, occurred_at: impl IntoTimestamp) -> Self {
        self.occurred_at = Some(occurred_at.into_timestamp());
        self
    }

    /// Sets the key that makes sending the event again safe: the service
    /// stores it once and answers a repeat with the original id.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = key.into();
        self
    }

    /// Returns the message [`AuditClient::append`](crate::AuditClient::append)
    /// sends.
    pub fn into_input(self) -> AuditLogInput {
        AuditLogInput::from(self)
    }
}

impl From<AuditEvent> for AuditLogInput {
    fn from(event: AuditEvent) -> Self {
        AuditLogInput {
            occurred_at: event.occurred_at,
            action: event.action,
            actor: event.actor.map(|actor| Actor {
                id: actor.id,
                r#type: actor.kind,
                name: actor.name,
                email: actor.email,
            }),
            target: event.target.map(|target| Target {
                r#type: target.kind,
                id: target.id,
                name: target.name,
            }),
            result: event.result,
            client_ip: event.client_ip,
            user_agent: event.user_agent,
            request: event.request.map(|request| RequestInfo {
                method: request.method,
                path: request.path,
                status_code: request.status_code,
            }),
            metadata: event.metadata.map(map_to_struct),
            request_id: event.request_id,
            idempotency_key: event.idempotency_key,
        }
    }
}

/// Reads an input back as an event, e.g. to write a batch that could not be
/// sent to a file and replay it later.
impl From<AuditLogInput> for AuditEvent {
    fn from(input: AuditLogInput) -> Self {
        AuditEvent {
            occurred_at: input.occurred_at,
            action: input.action,
            actor: input.actor.map(|actor| EventActor {
                id: actor.id,
                kind: actor.r#type,
                name: actor.name,
                email: actor.email,
            }),
            target: input.target.map(|target| EventTarget {
                kind: target.r#type,
                id: target.id,
                name: target.name,
            }),
            result: input.result,
            client_ip: input.client_ip,
            user_agent: input.user_agent,
            request: input.request.map(|request| EventRequest {
                method: request.method,
                path: request.path,
                status_code: request.status_code,
            }),
            metadata: input.metadata.as_ref().map(struct_to_map),
            request_id: input.request_id,
            idempotency_key: input.idempotency_key,
        }
    }
}
