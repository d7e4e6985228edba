//! A ListAuditLogs request through the server's validation: the filter, the
//! tenant scope, paging and the page token. What passes must be a query the
//! store can run as it is, and a token issued for it must open for it again.

use crate::stored::{assert_no_nul, assert_time};
use arbitrary::Arbitrary;
use audit_proto as pb;
use audit_validation::ValidationError;
use audit_validation::domain::{ActionMatch, Cursor, FollowPosition, ListOrder, TenantScope};
use audit_validation::filter::TenantAccess;
use audit_validation::list::{ListPlan, MAX_PAGE_SIZE, decode_list_request};
use audit_validation::page_token::PageTokenKey;
use std::sync::LazyLock;

static KEY: LazyLock<PageTokenKey> =
    LazyLock::new(|| PageTokenKey::derive(b"fuzzing secret of at least 32 bytes"));

/// Validates a request for `access` and asserts what the store relies on.
pub fn check_list_request(request: &pb::ListAuditLogsRequest, access: &TenantAccess) {
    let outcome = decode_list_request(request, access, &KEY);
    // Validation is a pure function of the request and the caller.
    assert_eq!(decode_list_request(request, access, &KEY), outcome);
    let sent = request.filter.clone().unwrap_or_default();
    match outcome {
        Ok(plan) => {
            check_plan(request, &sent, access, &plan);
            check_token_round_trip(request, access, &plan);
        }
        Err(ValidationError::InvalidArgument(violations)) => {
            assert!(!violations.is_empty());
        }
        Err(ValidationError::PermissionDenied(_)) => {
            // Only a tenant the caller may not read is refused this way.
            assert!(!access.admin);
            assert!(!sent.tenant_id.is_empty() && sent.tenant_id != access.tenant_id);
        }
    }
}

fn check_plan(
    request: &pb::ListAuditLogsRequest,
    sent: &pb::AuditLogFilter,
    access: &TenantAccess,
    plan: &ListPlan,
) {
    assert!((1..=MAX_PAGE_SIZE).contains(&plan.page_size));
    assert!(plan.limit.is_none_or(|limit| limit >= 1));

    let filter = &plan.filter;
    match &filter.scope {
        TenantScope::One(tenant) => {
            assert_no_nul("tenant_id", tenant);
            if access.admin {
                assert_eq!(tenant, &sent.tenant_id);
            } else {
                assert_eq!(tenant, &access.tenant_id, "read another tenant");
            }
        }
        TenantScope::All => assert!(access.admin && sent.tenant_id.is_empty()),
    }
    for (field, value) in [
        ("actor_id", &filter.actor_id),
        ("actor_email", &filter.actor_email),
        ("target_type", &filter.target_type),
        ("target_id", &filter.target_id),
    ] {
        if let Some(value) = value {
            assert!(!value.is_empty(), "{field}: empty text filters on nothing");
            assert_no_nul(field, value);
        }
    }
    if let Some(action) = &filter.action {
        let stem = match action {
            ActionMatch::Exact(action) => {
                assert!(!action.is_empty());
                action
            }
            ActionMatch::Prefix(prefix) => prefix,
        };
        assert!(
            !stem
                .chars()
                .any(|c| c == '*' || c.is_whitespace() || c.is_control()),
            "action {stem:?} passed validation"
        );
    }
    if let Some(range) = &filter.client_ip {
        assert!(range.first <= range.last);
    }
    if let Some(start) = filter.start_time {
        assert_time("start_time", start);
    }
    if let Some(end) = filter.end_time {
        assert_time("end_time", end);
    }
    if let (Some(start), Some(end)) = (filter.start_time, filter.end_time) {
        assert!(start < end);
    }

    if request.follow {
        assert!(plan.after.is_none());
        assert!(!plan.include_total_count);
        assert_eq!(plan.order, ListOrder::NewestFirst);
        assert!(plan.follow.is_some());
    } else {
        assert!(plan.follow.is_none());
        assert_eq!(plan.include_total_count, request.include_total_count);
    }
    if request.page_token.is_empty() {
        assert!(plan.after.is_none());
        assert!(plan.follow.as_ref().is_none_or(FollowPosition::is_empty));
    }
}

/// A token the server issues for a validated request opens for the same
/// request, at the same position.
fn check_token_round_trip(
    request: &pb::ListAuditLogsRequest,
    access: &TenantAccess,
    plan: &ListPlan,
) {
    let mut next = request.clone();
    if request.follow {
        let position = FollowPosition::from([(access.tenant_id.clone(), 7)]);
        next.page_token = KEY.issue_follow(&plan.binding, &position);
        let resumed = decode_list_request(&next, access, &KEY).expect("own follow token");
        assert_eq!(resumed.follow, Some(position));
    } else {
        let cursor = Cursor {
            occurred_at: 1_700_000_000_000_000,
            id: uuid::Uuid::from_u128(0x0190_f5c2_0000_7000_8000_0000_0000_0001),
        };
        next.page_token = KEY.issue(&plan.binding, plan.order, cursor);
        let resumed = decode_list_request(&next, access, &KEY).expect("own page token");
        assert_eq!(resumed.after, Some(cursor));
        assert_eq!(resumed.binding, plan.binding);
    }
}

/// A request built field by field, each from a few telling values or any
/// text, so the fuzzer reaches valid filters without learning the wire
/// format first.
#[derive(Debug, Arbitrary)]
pub struct ListFields {
    admin: bool,
    filter: Option<FilterFields>,
    order: Small,
    page_size: Small,
    limit: Small,
    page_token: Text,
    include_total_count: bool,
    follow: bool,
}

#[derive(Debug, Arbitrary)]
struct FilterFields {
    tenant_id: Text,
    actor_id: Text,
    actor_email: Text,
    actor_type: Small,
    action: Text,
    target_type: Text,
    target_id: Text,
    result: Small,
    client_ip: Text,
    start_time: Option<Time>,
    end_time: Option<Time>,
}

/// Text: empty, one of the values validation treats specially, or any.
#[derive(Debug, Arbitrary)]
enum Text {
    Empty,
    Telling(u8),
    Any(String),
}

const TELLING_TEXT: &[&str] = &[
    "acme",
    "globex",
    "user.login",
    "user.*",
    "*",
    "**",
    "user.*.x",
    "user. login",
    "10.0.0.0/8",
    "10.0.0.7",
    "::1",
    "2001:db8::/32",
    "::/129",
    "10.0.0.0/33",
    "a\0b",
    "\0",
    "ada@example.com",
];

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Empty => String::new(),
            Text::Telling(index) => {
                TELLING_TEXT[usize::from(*index) % TELLING_TEXT.len()].to_owned()
            }
            Text::Any(text) => text.clone(),
        }
    }
}

/// Integers near the edges of what the fields accept, or any.
#[derive(Debug, Arbitrary)]
enum Small {
    Edge(u8),
    Any(i32),
}

const EDGE_INTEGERS: &[i32] = &[0, 1, 2, 3, 4, 5, 6, -1, 999, 1000, 1001, i32::MAX, i32::MIN];

impl Small {
    fn value(&self) -> i32 {
        match self {
            Small::Edge(index) => EDGE_INTEGERS[usize::from(*index) % EDGE_INTEGERS.len()],
            Small::Any(value) => *value,
        }
    }
}

/// Timestamps at the edges of the accepted range, or any.
#[derive(Debug, Arbitrary)]
enum Time {
    Edge(u8, bool),
    Any(i64, i32),
}

const EDGE_SECONDS: &[i64] = &[
    audit_validation::timestamp::MIN_SECONDS,
    audit_validation::timestamp::MIN_SECONDS - 1,
    audit_validation::timestamp::MAX_SECONDS,
    audit_validation::timestamp::MAX_SECONDS + 1,
    0,
    -1,
    1_700_000_000,
    i64::MAX,
    i64::MIN,
];

impl Time {
    fn timestamp(&self) -> prost_types::Timestamp {
        match self {
            Time::Edge(index, late) => prost_types::Timestamp {
                seconds: EDGE_SECONDS[usize::from(*index) % EDGE_SECONDS.len()],
                nanos: if *late { 999_999_999 } else { 0 },
            },
            Time::Any(seconds, nanos) => prost_types::Timestamp {
                seconds: *seconds,
                nanos: *nanos,
            },
        }
    }
}

impl ListFields {
    /// Returns the request and the caller it is sent by.
    pub fn request(&self) -> (pb::ListAuditLogsRequest, TenantAccess) {
        let filter = self.filter.as_ref().map(|filter| pb::AuditLogFilter {
            tenant_id: filter.tenant_id.text(),
            actor_id: filter.actor_id.text(),
            actor_email: filter.actor_email.text(),
            actor_type: filter.actor_type.value(),
            action: filter.action.text(),
            target_type: filter.target_type.text(),
            target_id: filter.target_id.text(),
            result: filter.result.value(),
            client_ip: filter.client_ip.text(),
            start_time: filter.start_time.as_ref().map(Time::timestamp),
            end_time: filter.end_time.as_ref().map(Time::timestamp),
        });
        let request = pb::ListAuditLogsRequest {
            filter,
            order: self.order.value(),
            page_size: self.page_size.value(),
            limit: self.limit.value(),
            page_token: self.page_token.text(),
            include_total_count: self.include_total_count,
            follow: self.follow,
        };
        let access = TenantAccess {
            tenant_id: "acme".to_owned(),
            admin: self.admin,
        };
        (request, access)
    }
}
