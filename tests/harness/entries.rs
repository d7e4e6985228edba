//! Builders for the entries, metadata and timestamps tests send.

use audit_proto::{
    Actor, ActorType, AuditLog, AuditLogInput, RequestInfo, Result as Outcome, Target,
};
use prost_types::{Struct, Timestamp};

/// Returns an entry with only `action` set: the smallest valid input.
pub fn input(action: &str) -> AuditLogInput {
    AuditLogInput {
        action: action.to_owned(),
        ..Default::default()
    }
}

/// Chainable setters on [`AuditLogInput`], so a fixture reads as a sentence:
/// `input("document.read").by("k1", ActorType::ApiKey).on("document", "d1")`.
pub trait AuditLogInputExt: Sized {
    /// Sets the actor's id and type.
    fn by(self, actor_id: &str, kind: ActorType) -> Self;
    /// Sets the actor's email.
    fn email(self, email: &str) -> Self;
    /// Sets the actor's display name.
    fn named(self, name: &str) -> Self;
    /// Sets the target.
    fn on(self, target_type: &str, target_id: &str) -> Self;
    fn outcome(self, result: Outcome) -> Self;
    fn client_ip(self, client_ip: &str) -> Self;
    fn at(self, occurred_at: Timestamp) -> Self;
    fn idempotency_key(self, key: &str) -> Self;
    fn metadata(self, json: serde_json::Value) -> Self;
    fn request(self, method: &str, path: &str, status_code: i32) -> Self;
    /// Tags the entry through `request_id`, so assertions can name entries
    /// (see [`labels`]).
    fn labelled(self, label: &str) -> Self;
}

impl AuditLogInputExt for AuditLogInput {
    fn by(mut self, actor_id: &str, kind: ActorType) -> Self {
        let actor = self.actor.get_or_insert_with(Actor::default);
        actor.id = actor_id.to_owned();
        actor.r#type = kind as i32;
        self
    }

    fn email(mut self, email: &str) -> Self {
        self.actor.get_or_insert_with(Actor::default).email = email.to_owned();
        self
    }

    fn named(mut self, name: &str) -> Self {
        self.actor.get_or_insert_with(Actor::default).name = name.to_owned();
        self
    }

    fn on(mut self, target_type: &str, target_id: &str) -> Self {
        let target = self.target.get_or_insert_with(Target::default);
        target.r#type = target_type.to_owned();
        target.id = target_id.to_owned();
        self
    }

    fn outcome(mut self, result: Outcome) -> Self {
        self.result = result as i32;
        self
    }

    fn client_ip(mut self, client_ip: &str) -> Self {
        self.client_ip = client_ip.to_owned();
        self
    }

    fn at(mut self, occurred_at: Timestamp) -> Self {
        self.occurred_at = Some(occurred_at);
        self
    }

    fn idempotency_key(mut self, key: &str) -> Self {
        self.idempotency_key = key.to_owned();
        self
    }

    fn metadata(mut self, json: serde_json::Value) -> Self {
        self.metadata = Some(json_struct(json));
        self
    }

    fn request(mut self, method: &str, path: &str, status_code: i32) -> Self {
        self.request = Some(RequestInfo {
            method: method.to_owned(),
            path: path.to_owned(),
            status_code,
        });
        self
    }

    fn labelled(mut self, label: &str) -> Self {
        self.request_id = label.to_owned();
        self
    }
}

/// Returns the labels (`request_id`s) of entries, in order.
pub fn labels(entries: &[AuditLog]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| entry.request_id.clone())
        .collect()
}

/// Parses an RFC 3339 time such as `2024-01-01T00:10:00Z`.
pub fn utc(text: &str) -> Timestamp {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("bad test timestamp {text:?}: {error}"));
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).expect("nanos fit in i32"),
    }
}

/// Returns a timestamp as microseconds since the epoch, for comparisons.
pub fn micros(timestamp: &Timestamp) -> i64 {
    timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos) / 1_000
}

/// Converts a JSON object to the `google.protobuf.Struct` metadata travels
/// as, with the client library's own conversion.
pub fn json_struct(json: serde_json::Value) -> Struct {
    audit_client::json_to_struct(json).expect("metadata fixtures are JSON objects")
}
