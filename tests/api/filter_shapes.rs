//! Each shape the store gives a client-address or action-prefix condition
//! (an equality on the indexed network, the network plus a narrower range,
//! a block over many networks, a prefix below the namespace) selects
//! exactly the matching entries, in List and in Stats.

use audit_proto::{AuditLogFilter, GetAuditStatsRequest, ListAuditLogsRequest, SortOrder};
use audit_tests::{
    ACME, AuditLogInputExt, Backend, GLOBEX, TestApp, input, labels, on_both_backends, utc,
};

async fn seed(app: &TestApp) {
    let minute = |n: u32| utc(&format!("2024-05-01T12:{n:02}:00Z"));
    let entry = |label: &str, action: &str, client_ip: &str, n: u32| {
        input(action)
            .client_ip(client_ip)
            .at(minute(n))
            .labelled(label)
    };
    app.seed(
        ACME,
        vec![
            entry("a1", "project.member.added", "10.0.0.1", 1),
            entry("a2", "project.member.removed", "10.0.0.20", 2),
            entry("a3", "project.members", "10.0.1.5", 3),
            entry("a4", "project.membership", "2001:db8:1::7", 4),
            entry("a5", "project.created", "2001:db8:1:2::9", 5),
            entry("a6", "project.member.role.changed", "", 6),
        ],
    )
    .await;
    // Another tenant's look-alike never shows up.
    app.seed(
        GLOBEX,
        vec![entry("g1", "project.member.added", "10.0.0.1", 1)],
    )
    .await;
}

/// Returns the labels ACME lists under `filter`, oldest first, after
/// checking that Stats counts as many.
async fn matching(app: &TestApp, filter: AuditLogFilter) -> Vec<String> {
    let request = ListAuditLogsRequest {
        filter: Some(filter.clone()),
        order: SortOrder::OldestFirst as i32,
        ..Default::default()
    };
    let listed = labels(
        &app.list(ACME, request)
            .await
            .unwrap_or_else(|status| panic!("list with {filter:?} failed: {status:?}")),
    );
    let stats = app
        .stats(
            ACME,
            GetAuditStatsRequest {
                filter: Some(filter.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|status| panic!("stats with {filter:?} failed: {status:?}"));
    assert_eq!(
        stats.total,
        listed.len() as i64,
        "stats total for {filter:?}"
    );
    listed
}

on_both_backends!(every_address_block_shape_selects_exactly_its_entries);
async fn every_address_block_shape_selects_exactly_its_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app).await;
    for (block, expected) in [
        // Inside one IPv4 /24, narrower than it.
        ("10.0.0.0/28", &["a1"][..]),
        ("10.0.0.16/28", &["a2"][..]),
        // Exactly one /24, also written as IPv6.
        ("10.0.0.0/24", &["a1", "a2"][..]),
        ("::ffff:10.0.0.0/120", &["a1", "a2"][..]),
        // Two networks.
        ("10.0.0.0/23", &["a1", "a2", "a3"][..]),
        // Inside one IPv6 /48, narrower than it, and the /48 itself.
        ("2001:db8:1::/64", &["a4"][..]),
        ("2001:db8:1::/48", &["a4", "a5"][..]),
        // IPv6 blocks that hold the IPv4-mapped space.
        ("::/64", &["a1", "a2", "a3"][..]),
        ("::/0", &["a1", "a2", "a3", "a4", "a5"][..]),
    ] {
        let filter = AuditLogFilter {
            client_ip: block.into(),
            ..Default::default()
        };
        assert_eq!(matching(&app, filter).await, expected, "client_ip {block}");
    }
}

on_both_backends!(every_action_prefix_shape_selects_exactly_its_entries);
async fn every_action_prefix_shape_selects_exactly_its_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app).await;
    for (prefix, expected) in [
        ("project.*", &["a1", "a2", "a3", "a4", "a5", "a6"][..]),
        ("project.member.*", &["a1", "a2", "a6"][..]),
        ("project.member*", &["a1", "a2", "a3", "a4", "a6"][..]),
        ("project.member.role.*", &["a6"][..]),
        ("proj*", &["a1", "a2", "a3", "a4", "a5", "a6"][..]),
    ] {
        let filter = AuditLogFilter {
            action: prefix.into(),
            ..Default::default()
        };
        assert_eq!(matching(&app, filter).await, expected, "action {prefix}");
    }
}
