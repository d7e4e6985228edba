//! Every malformed request is INVALID_ARGUMENT with a `google.rpc.BadRequest`
//! violation naming the field to fix.

use audit_proto::{
    ActorType, AuditLogFilter, GetAuditStatsRequest, GetCheckpointRequest, ListAuditLogsRequest,
    VerifyAuditChainRequest,
};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, TestApp, assert_invalid_field, input, on_both_backends, utc,
    verify_chain_as,
};
use serde_json::json;

fn list_with(filter: AuditLogFilter) -> ListAuditLogsRequest {
    ListAuditLogsRequest {
        filter: Some(filter),
        ..Default::default()
    }
}

fn stats_with(filter: AuditLogFilter) -> GetAuditStatsRequest {
    GetAuditStatsRequest {
        filter: Some(filter),
        ..Default::default()
    }
}

on_both_backends!(append_of_no_entries_is_rejected);
async fn append_of_no_entries_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_invalid_field(app.append(ACME, vec![]).await, "entries");
}

on_both_backends!(append_of_1001_entries_is_rejected_and_1000_accepted);
async fn append_of_1001_entries_is_rejected_and_1000_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let batch = |count: usize| (0..count).map(|_| input("user.login")).collect::<Vec<_>>();

    assert_invalid_field(app.append(ACME, batch(1001)).await, "entries");

    let ids = app.seed(ACME, batch(1000)).await;
    assert_eq!(ids.len(), 1000);
}

on_both_backends!(empty_action_is_rejected);
async fn empty_action_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let batch = vec![input("user.login"), input("")];
    assert_invalid_field(app.append(ACME, batch).await, "entries[1].action");
}

on_both_backends!(action_over_256_chars_is_rejected_and_256_accepted);
async fn action_over_256_chars_is_rejected_and_256_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let action = |len: usize| format!("user.{}", "x".repeat(len - 5));

    assert_invalid_field(
        app.append(ACME, vec![input(&action(257))]).await,
        "entries[0].action",
    );

    let ids = app.seed(ACME, vec![input(&action(256))]).await;
    assert_eq!(
        app.get(ACME, &ids[0]).await.expect("stored").action.len(),
        256
    );
}

on_both_backends!(metadata_over_16_kib_is_rejected);
async fn metadata_over_16_kib_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let too_big = input("user.login").metadata(json!({"blob": "x".repeat(17 * 1024)}));
    let small = input("user.login").metadata(json!({"blob": "x".repeat(8 * 1024)}));

    assert_invalid_field(
        app.append(ACME, vec![small.clone(), too_big]).await,
        "entries[1].metadata",
    );

    app.seed(ACME, vec![small]).await;
}

on_both_backends!(unknown_enum_values_in_an_entry_are_rejected);
async fn unknown_enum_values_in_an_entry_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut unknown_result = input("user.login");
    unknown_result.result = 99;
    let mut unknown_actor_type = input("user.login").by("u1", audit_proto::ActorType::User);
    unknown_actor_type.actor.as_mut().expect("actor set").r#type = 99;

    assert_invalid_field(
        app.append(ACME, vec![unknown_result]).await,
        "entries[0].result",
    );
    assert_invalid_field(
        app.append(ACME, vec![unknown_actor_type]).await,
        "entries[0].actor.type",
    );
}

on_both_backends!(malformed_client_ip_in_an_entry_is_rejected);
async fn malformed_client_ip_in_an_entry_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in ["10.0.0", "10.0.0.1/8", "not-an-ip", "2001:db8::g"] {
        let entry = input("user.login").client_ip(bad);
        assert_invalid_field(app.append(ACME, vec![entry]).await, "entries[0].client_ip");
    }
}

// serde_json (with its raw_value feature, which the server's build has)
// reads an object led by this key back as the JSON its value holds: stored,
// the entry would come back changed and fail its chain digest.
on_both_backends!(metadata_with_serde_jsons_reserved_key_is_rejected);
async fn metadata_with_serde_jsons_reserved_key_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reserved = "$serde_json::private::RawValue";
    for metadata in [
        serde_json::json!({ reserved: "5" }),
        serde_json::json!({"outer": { reserved: "[1]" }}),
    ] {
        let entry = input("user.login").metadata(metadata);
        let status =
            assert_invalid_field(app.append(ACME, vec![entry]).await, "entries[0].metadata");
        assert!(status.message().contains(reserved), "{}", status.message());
    }
}

on_both_backends!(unknown_enum_values_in_a_filter_are_rejected);
async fn unknown_enum_values_in_a_filter_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown_result = AuditLogFilter {
        result: 99,
        ..Default::default()
    };
    let unknown_actor_type = AuditLogFilter {
        actor_type: 99,
        ..Default::default()
    };

    assert_invalid_field(
        app.list(ACME, list_with(unknown_result.clone())).await,
        "filter.result",
    );
    assert_invalid_field(
        app.stats(ACME, stats_with(unknown_result)).await,
        "filter.result",
    );
    assert_invalid_field(
        app.list(ACME, list_with(unknown_actor_type)).await,
        "filter.actor_type",
    );
    let unknown_order = ListAuditLogsRequest {
        order: 99,
        ..Default::default()
    };
    assert_invalid_field(app.list(ACME, unknown_order).await, "order");
    let unknown_bucket = GetAuditStatsRequest {
        bucket: 99,
        ..Default::default()
    };
    assert_invalid_field(app.stats(ACME, unknown_bucket).await, "bucket");
}

on_both_backends!(malformed_client_ip_or_cidr_in_a_filter_is_rejected);
async fn malformed_client_ip_or_cidr_in_a_filter_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in [
        "10.0.0.0/33",
        "10.0.0/8",
        "2001:db8::/129",
        "10.0.0.0/x",
        "host.example",
    ] {
        let filter = AuditLogFilter {
            client_ip: bad.into(),
            ..Default::default()
        };
        assert_invalid_field(
            app.list(ACME, list_with(filter.clone())).await,
            "filter.client_ip",
        );
        assert_invalid_field(
            app.stats(ACME, stats_with(filter)).await,
            "filter.client_ip",
        );
    }
}

on_both_backends!(start_time_not_before_end_time_is_rejected);
async fn start_time_not_before_end_time_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (start, end) in [
        ("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
    ] {
        let filter = AuditLogFilter {
            start_time: Some(utc(start)),
            end_time: Some(utc(end)),
            ..Default::default()
        };
        let status = assert_invalid_field(
            app.list(ACME, list_with(filter.clone())).await,
            "filter.start_time",
        );
        assert!(
            status.message().contains("end_time"),
            "says what start_time is compared with: {}",
            status.message()
        );
        assert_invalid_field(
            app.stats(ACME, stats_with(filter)).await,
            "filter.start_time",
        );
    }
}

on_both_backends!(page_size_out_of_range_is_rejected);
async fn page_size_out_of_range_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for page_size in [1001, -1] {
        let request = ListAuditLogsRequest {
            page_size,
            ..Default::default()
        };
        assert_invalid_field(app.list(ACME, request).await, "page_size");
    }
}

on_both_backends!(negative_limit_is_rejected);
async fn negative_limit_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let request = ListAuditLogsRequest {
        limit: -1,
        ..Default::default()
    };
    assert_invalid_field(app.list(ACME, request).await, "limit");
}

on_both_backends!(stats_top_out_of_range_is_rejected);
async fn stats_top_out_of_range_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for top in [101, -1] {
        let request = GetAuditStatsRequest {
            top,
            ..Default::default()
        };
        assert_invalid_field(app.stats(ACME, request).await, "top");
    }
}

on_both_backends!(malformed_id_is_rejected_by_get_and_delete);
async fn malformed_id_is_rejected_by_get_and_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in ["not-a-uuid", "0190f0e0-0000-7000-8000", ""] {
        assert_invalid_field(app.get(ACME, bad).await, "id");
        assert_invalid_field(app.delete(ACME, bad, "cleanup").await, "id");
    }
}

on_both_backends!(every_violation_of_a_batch_is_named_at_once);
async fn every_violation_of_a_batch_is_named_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let batch = vec![input(""), input("user.login").client_ip("nope")];

    let status = assert_invalid_field(app.append(ACME, batch).await, "entries[0].action");

    let fields = audit_tests::violated_fields(&status);
    assert!(
        fields.contains(&"entries[1].client_ip".to_owned()),
        "{fields:?}"
    );
}

// Postgres refuses NUL in `text` and `jsonb`: it is refused up front, the
// same on both backends, rather than as an internal error from the store.
on_both_backends!(nul_characters_in_an_entry_are_rejected);
async fn nul_characters_in_an_entry_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (
            input("user.login").by("u_\0", ActorType::User),
            "entries[0].actor.id",
        ),
        (
            input("user.login").idempotency_key("key\0"),
            "entries[0].idempotency_key",
        ),
        (
            input("user.login").metadata(json!({"note": "a\u{0}b"})),
            "entries[0].metadata",
        ),
        (
            input("user.login").metadata(json!({"a\u{0}": 1})),
            "entries[0].metadata",
        ),
    ];
    for (entry, field) in cases {
        assert_invalid_field(app.append(ACME, vec![entry]).await, field);
    }
}

on_both_backends!(nul_characters_in_a_filter_are_rejected);
async fn nul_characters_in_a_filter_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let filter = AuditLogFilter {
        actor_id: "u_\0".into(),
        ..Default::default()
    };
    assert_invalid_field(
        app.list(ACME, list_with(filter.clone())).await,
        "filter.actor_id",
    );
    assert_invalid_field(app.stats(ACME, stats_with(filter)).await, "filter.actor_id");
}

on_both_backends!(nul_characters_in_a_tenant_an_admin_names_are_rejected);
async fn nul_characters_in_a_tenant_an_admin_names_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin();
    let verify = VerifyAuditChainRequest {
        tenant_id: "acme\0".into(),
        ..Default::default()
    };
    assert_invalid_field(verify_chain_as(&admin, verify).await, "tenant_id");
    let checkpoint = GetCheckpointRequest {
        tenant_id: "acme\0".into(),
    };
    assert_invalid_field(admin.stub().get_checkpoint(checkpoint).await, "tenant_id");
}
