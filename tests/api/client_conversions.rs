//! The client's conversions hold up through the real server: `SystemTime`
//! and `chrono` times, JSON metadata, UUID ids, and the JSON form of entries
//! and events (an exported entry re-imports as the event that made it).

use audit_client::{
    ActorType, AuditClient, AuditEvent, AuditLog, AuditLogExt, Outcome, audit_event_from_json,
    audit_log_to_json, timestamp_to_datetime,
};
use audit_tests::{ACME, ALL_SCOPES, Backend, GLOBEX, TestApp, on_both_backends};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn acme(app: &TestApp) -> AuditClient {
    app.client_for(ACME, ALL_SCOPES)
}

/// Appends one event and reads it back.
async fn round_trip(client: &AuditClient, event: AuditEvent) -> AuditLog {
    let ids = client.append([event]).await.expect("append");
    client.get(&ids[0]).await.expect("get")
}

/// A rich event: every field set.
fn login() -> AuditEvent {
    AuditEvent::new("user.login")
        .actor(ActorType::User, "u_42")
        .actor_name("Ada")
        .actor_email("ada@acme.test")
        .target("session", "s_1")
        .target_name("web")
        .result(Outcome::Success)
        .client_ip("2001:db8::7")
        .user_agent("curl/8.5")
        .request("POST", "/login", 200)
        .request_id("req-1")
        .metadata(json!({"mfa": true, "attempt": 2, "ratio": 0.5, "tags": ["a", null]}))
        .metadata_field("note", "été ✓")
        .occurred_at(UNIX_EPOCH + Duration::from_micros(1_717_237_800_123_456))
        .idempotency_key("login-u_42-1")
}

on_both_backends!(system_time_and_chrono_times_survive_the_server);
async fn system_time_and_chrono_times_survive_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = acme(&app);
    // The service keeps microseconds: times with more precision are cut.
    let system_time = UNIX_EPOCH + Duration::from_micros(1_717_237_800_123_456);
    let chrono_time = chrono::DateTime::parse_from_rfc3339("1999-12-31T23:59:59.999999Z")
        .expect("valid")
        .to_utc();

    let from_system_time = round_trip(
        &client,
        AuditEvent::new("user.login").occurred_at(system_time),
    )
    .await;
    let from_chrono = round_trip(
        &client,
        AuditEvent::new("user.login").occurred_at(chrono_time),
    )
    .await;

    assert_eq!(
        from_system_time.occurred_at_time().expect("set"),
        system_time
    );
    let occurred_at = from_chrono.occurred_at.expect("set");
    assert_eq!(
        timestamp_to_datetime(&occurred_at).expect("in range"),
        chrono_time
    );
    let received = from_chrono.received_at_time().expect("set");
    let age = SystemTime::now()
        .duration_since(received)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "received just now");
}

on_both_backends!(json_metadata_survives_the_server);
async fn json_metadata_survives_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let metadata = json!({
        "reason": "password expired",
        "attempts": 3,
        "negative": -7,
        "ratio": 0.25,
        "big": 9_007_199_254_740_992_i64,
        "mfa": false,
        "missing": null,
        "scopes": ["audit:read", "audit:append"],
        "nested": {"depth": {"deeper": [1, {"k": "v"}]}},
        "unicode": "日本語 ✓",
    });

    let stored = round_trip(
        &acme(&app),
        AuditEvent::new("user.login").metadata(metadata.clone()),
    )
    .await;

    assert_eq!(stored.metadata_json(), metadata);
}

on_both_backends!(entry_ids_are_uuid_v7);
async fn entry_ids_are_uuid_v7(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let stored = round_trip(&acme(&app), AuditEvent::new("user.login")).await;

    let id = stored.entry_id().expect("a UUID");
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(
        id.to_string(),
        stored.id,
        "hyphenated lowercase on the wire"
    );
}

on_both_backends!(exported_entry_reimports_as_the_event_that_made_it);
async fn exported_entry_reimports_as_the_event_that_made_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let original = round_trip(&acme(&app), login()).await;

    let exported = audit_log_to_json(&original);

    assert_eq!(exported["id"], original.id.as_str());
    assert_eq!(exported["tenant_id"], ACME);
    assert_eq!(exported["occurred_at"], "2024-06-01T10:30:00.123456Z");
    assert_eq!(exported["actor"]["type"], "ACTOR_TYPE_USER");
    assert_eq!(exported["result"], "RESULT_SUCCESS");
    assert_eq!(exported["request"]["status_code"], 200);
    assert_eq!(exported["metadata"]["attempt"], 2, "an integer stays one");
    assert_eq!(exported["metadata"]["note"], "été ✓");
    // Through NDJSON into another tenant, as an import would.
    let line = serde_json::to_string(&exported).expect("serializable");
    let event = audit_event_from_json(serde_json::from_str(&line).expect("json"))
        .expect("an exported entry is an event");
    let copy = round_trip(&app.client_for(GLOBEX, ALL_SCOPES), event).await;

    assert_eq!(copy.tenant_id, GLOBEX);
    assert_ne!(copy.id, original.id);
    let content = |entry: &AuditLog| AuditLog {
        id: String::new(),
        tenant_id: String::new(),
        received_at: None,
        // The chain link covers the id and tenant, so it differs too.
        sequence: 0,
        content_digest: Vec::new(),
        hash: Vec::new(),
        ..entry.clone()
    };
    assert_eq!(content(&copy), content(&original));
}

on_both_backends!(events_as_ndjson_lines_append_like_built_ones);
async fn events_as_ndjson_lines_append_like_built_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = acme(&app);
    let ndjson = [
        r#"{"action": "api_key.created", "actor": {"id": "u_1", "type": "user"}, "result": "success"}"#,
        r#"{"action": "api_key.revoked", "actor": {"id": "svc", "type": "SERVICE"}, "target": {"type": "api_key", "id": "k_9"}, "occurred_at": "2024-06-01T12:30:00+02:00", "metadata": {"why": "leaked"}}"#,
    ];

    let events: Vec<AuditEvent> = ndjson
        .iter()
        .map(|line| serde_json::from_str(line).expect("a valid event line"))
        .collect();
    let ids = client.append(events).await.expect("append");

    let created = client.get(&ids[0]).await.expect("get");
    assert_eq!(created.actor_type(), ActorType::User);
    assert_eq!(created.outcome(), Outcome::Success);
    let revoked = client.get(&ids[1]).await.expect("get");
    assert_eq!(revoked.actor_type(), ActorType::Service);
    assert_eq!(revoked.target.as_ref().expect("a target").id, "k_9");
    assert_eq!(
        audit_log_to_json(&revoked)["occurred_at"],
        "2024-06-01T10:30:00Z",
        "offsets are normalised to UTC"
    );
    assert_eq!(revoked.metadata_json(), json!({"why": "leaked"}));
    let missing_action = serde_json::from_str::<AuditEvent>(r#"{"actor": {"id": "u_1"}}"#);
    assert!(missing_action.is_err(), "action is required");
}
