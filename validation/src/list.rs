//! A ListAuditLogs request → [`ListPlan`]: the filter, the order, paging and
//! the page token, checked together so one reply names every problem.

use crate::domain::{AuditLogFilter, Cursor, FollowPosition, ListOrder, TenantScope};
use crate::error::ValidationError;
use crate::filter::{TenantAccess, decode_filter};
use crate::page_token::{PageTokenError, PageTokenKey, QueryBinding};
use crate::violations::Violations;
use audit_proto as pb;
use prost::Message;

/// Entries per message when the request names no page size.
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// Most entries per message.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// A validated List request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    pub filter: AuditLogFilter,
    pub order: ListOrder,
    /// 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u64,
    /// Most entries in the whole stream; None for no limit.
    pub limit: Option<u64>,
    /// The last entry the page token says was delivered.
    pub after: Option<Cursor>,
    pub include_total_count: bool,
    /// What the stream's page tokens are bound to.
    pub binding: QueryBinding,
    /// Set in follow mode: where the follow stream starts.
    pub follow: Option<FollowPosition>,
}

/// Validates a List request for a caller who may read `access`; page tokens
/// are opened with `keys`.
pub fn decode_list_request(
    body: &pb::ListAuditLogsRequest,
    access: &TenantAccess,
    keys: &PageTokenKey,
) -> Result<ListPlan, ValidationError> {
    let filter = decode_filter("filter.", &body.filter.clone().unwrap_or_default(), access);
    plan(body, filter, keys)
}

/// Validates the paging fields; violations of the filter and of paging are
/// reported together.
fn plan(
    body: &pb::ListAuditLogsRequest,
    filter: Result<AuditLogFilter, ValidationError>,
    keys: &PageTokenKey,
) -> Result<ListPlan, ValidationError> {
    let mut violations = Violations::default();
    let filter = match filter {
        Ok(filter) => Some(filter),
        Err(ValidationError::InvalidArgument(filter_violations)) => {
            for violation in filter_violations {
                violations.add(violation.field, violation.description);
            }
            None
        }
        Err(other) => return Err(other),
    };
    if body.follow {
        if body.order != pb::SortOrder::Unspecified as i32 {
            violations.add(
                "order",
                "must be unspecified with follow: a follow stream is in commit (sequence) order",
            );
        }
        if body.include_total_count {
            violations.add(
                "include_total_count",
                "is not supported with follow: a follow stream has no end to count to",
            );
        }
    }
    let order = match pb::SortOrder::try_from(body.order) {
        Ok(pb::SortOrder::Unspecified | pb::SortOrder::NewestFirst) => ListOrder::NewestFirst,
        Ok(pb::SortOrder::OldestFirst) => ListOrder::OldestFirst,
        Err(_) => {
            violations.add("order", format!("unknown SortOrder value {}", body.order));
            ListOrder::NewestFirst
        }
    };
    let page_size = match body.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size if (1..=MAX_PAGE_SIZE as i32).contains(&size) => size as u64,
        size => {
            violations.add(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}, got {size}"),
            );
            DEFAULT_PAGE_SIZE
        }
    };
    let limit = match body.limit {
        0 => None,
        limit if limit > 0 => Some(limit as u64),
        limit => {
            violations.add(
                "limit",
                format!("must be 0 (no limit) or positive, got {limit}"),
            );
            None
        }
    };
    // A token is checked only against a valid filter.
    let Some(filter) = filter else {
        return Err(violations.into_error());
    };
    let binding = binding(&filter, body.filter.clone().unwrap_or_default());
    if body.follow {
        let position = if body.page_token.is_empty() {
            FollowPosition::new()
        } else {
            match keys.open_follow(&body.page_token, &binding) {
                Ok(position) => position,
                Err(error) => {
                    violations.add("page_token", token_problem(&error, true));
                    FollowPosition::new()
                }
            }
        };
        return violations.into_result(ListPlan {
            filter,
            order,
            page_size,
            limit,
            after: None,
            include_total_count: false,
            binding,
            follow: Some(position),
        });
    }
    let after = if body.page_token.is_empty() {
        None
    } else {
        match keys.open(&body.page_token, &binding, order) {
            Ok(cursor) => Some(cursor),
            Err(error) => {
                violations.add("page_token", token_problem(&error, false));
                None
            }
        }
    };
    violations.into_result(ListPlan {
        filter,
        order,
        page_size,
        limit,
        after,
        include_total_count: body.include_total_count,
        binding,
        follow: None,
    })
}

/// Says what is wrong with a refused page token.
fn token_problem(error: &PageTokenError, follow: bool) -> &'static str {
    match (error, follow) {
        (PageTokenError::Malformed, _) => "is malformed or was altered",
        (PageTokenError::OtherQuery, _) => {
            "was issued for another filter or order; send the same ones"
        }
        (PageTokenError::OtherMode, true) => {
            "is a List token, not a follow token: start the follow stream without one"
        }
        (PageTokenError::OtherMode, false) => "is a follow token: send it with follow set",
    }
}

/// Binds a token to the effective tenant scope and the filter as sent, with
/// the tenant field cleared (the scope already says which tenants).
fn binding(filter: &AuditLogFilter, mut sent: pb::AuditLogFilter) -> QueryBinding {
    sent.tenant_id.clear();
    let scope = match &filter.scope {
        TenantScope::One(tenant) => tenant.as_str(),
        TenantScope::All => "",
    };
    QueryBinding::new(scope, &sent.encode_to_vec())
}
