//! ListAuditLogs filters: every field narrows the listing, alone and
//! combined; the caller's tenant is always applied.

use audit_proto::{ActorType, AuditLogFilter, ListAuditLogsRequest, Result as Outcome};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, input, labels, on_both_backends, utc,
};

/// Seeds a small trail in [`ACME`] (one minute apart, `e1` oldest) and one
/// look-alike entry in [`GLOBEX`] that no ACME listing may show.
async fn seed_trail(app: &TestApp) {
    let minute = |n: u32| utc(&format!("2024-05-01T12:{n:02}:00Z"));
    let trail = vec![
        input("user.login")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .outcome(Outcome::Success)
            .client_ip("10.0.0.1")
            .at(minute(1))
            .labelled("e1"),
        input("user.logout")
            .by("u1", ActorType::User)
            .email("alice@acme.test")
            .outcome(Outcome::Success)
            .client_ip("10.0.0.2")
            .at(minute(2))
            .labelled("e2"),
        input("user.mfa.enabled")
            .by("u2", ActorType::User)
            .email("bob@acme.test")
            .on("user", "u2")
            .outcome(Outcome::Success)
            .client_ip("10.1.0.5")
            .at(minute(3))
            .labelled("e3"),
        input("document.read")
            .by("k1", ActorType::ApiKey)
            .on("document", "d1")
            .outcome(Outcome::Success)
            .client_ip("192.168.1.10")
            .at(minute(4))
            .labelled("e4"),
        input("document.delete")
            .by("k1", ActorType::ApiKey)
            .on("document", "d1")
            .outcome(Outcome::Denied)
            .client_ip("2001:db8::1")
            .at(minute(5))
            .labelled("e5"),
        input("document.read")
            .by("svc", ActorType::Service)
            .on("document", "d2")
            .outcome(Outcome::Failure)
            .client_ip("2001:db8:1::7")
            .at(minute(6))
            .labelled("e6"),
        input("userx.login")
            .by("u2", ActorType::User)
            .email("bob@acme.test")
            .outcome(Outcome::Error)
            .at(minute(7))
            .labelled("e7"),
    ];
    app.seed(ACME, trail).await;
    let look_alike = input("user.login")
        .by("u1", ActorType::User)
        .email("alice@acme.test")
        .client_ip("10.0.0.1")
        .at(minute(1))
        .labelled("globex-1");
    app.seed(GLOBEX, vec![look_alike]).await;
}

/// Lists ACME oldest first under `filter` and returns the labels.
async fn matching(app: &TestApp, filter: AuditLogFilter) -> Vec<String> {
    let request = ListAuditLogsRequest {
        filter: Some(filter.clone()),
        order: audit_proto::SortOrder::OldestFirst as i32,
        ..Default::default()
    };
    let entries = app
        .list(ACME, request)
        .await
        .unwrap_or_else(|status| panic!("list with {filter:?} failed: {status:?}"));
    labels(&entries)
}

#[track_caller]
fn assert_labels(seen: Vec<String>, expected: &[&str], filter: &str) {
    assert_eq!(seen, expected, "entries matching {filter}");
}

on_both_backends!(no_filter_lists_the_whole_tenant_and_nothing_else);
async fn no_filter_lists_the_whole_tenant_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;
    assert_labels(
        matching(&app, AuditLogFilter::default()).await,
        &["e1", "e2", "e3", "e4", "e5", "e6", "e7"],
        "no filter",
    );
}

on_both_backends!(actor_filters_match_exactly);
async fn actor_filters_match_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let by_id = AuditLogFilter {
        actor_id: "u1".into(),
        ..Default::default()
    };
    assert_labels(matching(&app, by_id).await, &["e1", "e2"], "actor_id u1");
    let by_email = AuditLogFilter {
        actor_email: "bob@acme.test".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, by_email).await,
        &["e3", "e7"],
        "actor_email bob",
    );
    let by_type = AuditLogFilter {
        actor_type: ActorType::ApiKey as i32,
        ..Default::default()
    };
    assert_labels(
        matching(&app, by_type).await,
        &["e4", "e5"],
        "actor_type API_KEY",
    );
    let service = AuditLogFilter {
        actor_type: ActorType::Service as i32,
        ..Default::default()
    };
    assert_labels(matching(&app, service).await, &["e6"], "actor_type SERVICE");
    let prefix_of_id = AuditLogFilter {
        actor_id: "u".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, prefix_of_id).await,
        &[],
        "actor_id u (not a prefix match)",
    );
}

on_both_backends!(action_filter_matches_exactly_or_by_prefix);
async fn action_filter_matches_exactly_or_by_prefix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let exact = AuditLogFilter {
        action: "document.read".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, exact).await,
        &["e4", "e6"],
        "action document.read",
    );
    let prefix = AuditLogFilter {
        action: "user.*".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, prefix).await,
        &["e1", "e2", "e3"],
        "action user.* (not userx.)",
    );
    let nested = AuditLogFilter {
        action: "user.mfa.*".into(),
        ..Default::default()
    };
    assert_labels(matching(&app, nested).await, &["e3"], "action user.mfa.*");
    let bare_prefix = AuditLogFilter {
        action: "user*".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, bare_prefix).await,
        &["e1", "e2", "e3", "e7"],
        "action user*",
    );
    let exact_is_not_prefix = AuditLogFilter {
        action: "user".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, exact_is_not_prefix).await,
        &[],
        "action user",
    );
}

on_both_backends!(target_filters_match_exactly);
async fn target_filters_match_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let by_type = AuditLogFilter {
        target_type: "document".into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, by_type).await,
        &["e4", "e5", "e6"],
        "target_type document",
    );
    let by_id = AuditLogFilter {
        target_id: "d1".into(),
        ..Default::default()
    };
    assert_labels(matching(&app, by_id).await, &["e4", "e5"], "target_id d1");
    let user_target = AuditLogFilter {
        target_type: "user".into(),
        target_id: "u2".into(),
        ..Default::default()
    };
    assert_labels(matching(&app, user_target).await, &["e3"], "target user/u2");
}

on_both_backends!(result_filter_matches_exactly);
async fn result_filter_matches_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    for (result, expected) in [
        (Outcome::Success, &["e1", "e2", "e3", "e4"][..]),
        (Outcome::Denied, &["e5"][..]),
        (Outcome::Failure, &["e6"][..]),
        (Outcome::Error, &["e7"][..]),
    ] {
        let filter = AuditLogFilter {
            result: result as i32,
            ..Default::default()
        };
        assert_labels(matching(&app, filter).await, expected, result.as_str_name());
    }
}

on_both_backends!(client_ip_filter_matches_an_address_or_a_cidr_block);
async fn client_ip_filter_matches_an_address_or_a_cidr_block(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    for (client_ip, expected) in [
        ("10.0.0.1", &["e1"][..]),
        ("10.0.0.0/24", &["e1", "e2"][..]),
        ("10.0.0.0/8", &["e1", "e2", "e3"][..]),
        ("192.168.0.0/16", &["e4"][..]),
        ("2001:db8::1", &["e5"][..]),
        ("2001:db8::/32", &["e5", "e6"][..]),
        ("2001:db8:1::/48", &["e6"][..]),
        ("0.0.0.0/0", &["e1", "e2", "e3", "e4"][..]),
        ("172.16.0.0/12", &[][..]),
    ] {
        let filter = AuditLogFilter {
            client_ip: client_ip.into(),
            ..Default::default()
        };
        assert_labels(matching(&app, filter).await, expected, client_ip);
    }
}

on_both_backends!(start_time_is_inclusive_and_end_time_exclusive);
async fn start_time_is_inclusive_and_end_time_exclusive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let window = AuditLogFilter {
        start_time: Some(utc("2024-05-01T12:02:00Z")),
        end_time: Some(utc("2024-05-01T12:05:00Z")),
        ..Default::default()
    };
    assert_labels(
        matching(&app, window).await,
        &["e2", "e3", "e4"],
        "[12:02, 12:05)",
    );
    let just_after = AuditLogFilter {
        start_time: Some(utc("2024-05-01T12:06:00.000001Z")),
        ..Default::default()
    };
    assert_labels(
        matching(&app, just_after).await,
        &["e7"],
        "from 12:06:00.000001",
    );
    let until = AuditLogFilter {
        end_time: Some(utc("2024-05-01T12:02:00.000001Z")),
        ..Default::default()
    };
    assert_labels(
        matching(&app, until).await,
        &["e1", "e2"],
        "before 12:02:00.000001",
    );
}

on_both_backends!(filters_combine_with_and);
async fn filters_combine_with_and(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let filter = AuditLogFilter {
        action: "document.*".into(),
        result: Outcome::Success as i32,
        ..Default::default()
    };
    assert_labels(
        matching(&app, filter).await,
        &["e4"],
        "document.* AND SUCCESS",
    );
    let filter = AuditLogFilter {
        actor_id: "u1".into(),
        client_ip: "10.0.0.2".into(),
        start_time: Some(utc("2024-05-01T12:00:00Z")),
        ..Default::default()
    };
    assert_labels(
        matching(&app, filter).await,
        &["e2"],
        "u1 AND 10.0.0.2 AND after noon",
    );
    let contradiction = AuditLogFilter {
        actor_id: "u1".into(),
        target_type: "document".into(),
        ..Default::default()
    };
    assert_labels(matching(&app, contradiction).await, &[], "u1 AND document");
}

on_both_backends!(naming_the_own_tenant_is_the_same_as_naming_none);
async fn naming_the_own_tenant_is_the_same_as_naming_none(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed_trail(&app).await;

    let own = AuditLogFilter {
        tenant_id: ACME.into(),
        ..Default::default()
    };
    assert_labels(
        matching(&app, own).await,
        &["e1", "e2", "e3", "e4", "e5", "e6", "e7"],
        "tenant_id acme",
    );
}
