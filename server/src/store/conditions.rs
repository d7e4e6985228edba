//! Turns an `AuditLogFilter` and a keyset cursor into SQL conditions, shaped
//! so the indexes created by the migration can serve them.

use super::entity::audit_log::Column;
use super::rows::enum_to_column;
use crate::domain::{ActionMatch, AuditLogFilter, Cursor, ListOrder, TenantScope};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};

/// Returns the condition selecting the entries a filter matches (AND of
/// every field that is set).
pub(crate) fn filter_condition(filter: &AuditLogFilter) -> Condition {
    let mut condition = Condition::all();
    if let TenantScope::One(tenant_id) = &filter.scope {
        condition = condition.add(Column::TenantId.eq(tenant_id.as_str()));
    }
    if let Some(actor_id) = &filter.actor_id {
        condition = condition.add(Column::ActorId.eq(actor_id.as_str()));
    }
    if let Some(actor_email) = &filter.actor_email {
        condition = condition.add(Column::ActorEmail.eq(actor_email.as_str()));
    }
    if let Some(actor_type) = filter.actor_type {
        condition = condition.add(Column::ActorType.eq(enum_to_column(actor_type as i32)));
    }
    if let Some(action) = &filter.action {
        condition = condition.add(action_condition(action));
    }
    if let Some(target_type) = &filter.target_type {
        condition = condition.add(Column::TargetType.eq(target_type.as_str()));
    }
    if let Some(target_id) = &filter.target_id {
        condition = condition.add(Column::TargetId.eq(target_id.as_str()));
    }
    if let Some(result) = filter.result {
        condition = condition.add(Column::Result.eq(enum_to_column(result as i32)));
    }
    if let Some(range) = &filter.client_ip {
        // 16-byte keys compare with memcmp on both backends, so a CIDR block
        // is one contiguous range. One address stays an equality: the planner
        // follows the (tenant_id, client_ip, occurred_at, id) index in time
        // order only then.
        condition = if range.first == range.last {
            condition.add(Column::ClientIp.eq(range.first.to_vec()))
        } else {
            condition.add(Column::ClientIp.between(range.first.to_vec(), range.last.to_vec()))
        };
    }
    if let Some(start) = filter.start_time {
        condition = condition.add(Column::OccurredAt.gte(start));
    }
    if let Some(end) = filter.end_time {
        condition = condition.add(Column::OccurredAt.lt(end));
    }
    condition
}

/// An exact action is an equality. A prefix is the half-open range
/// `[p, successor(p))`: case-sensitive on both backends (unlike SQLite's
/// LIKE) and needs no escaping. When the prefix names a namespace, the
/// namespace equality lets the `(tenant_id, action_namespace, occurred_at,
/// id)` index serve the filter in time order; for exactly `ns.` (the usual
/// `user.*`) it is the whole condition, so no planner is tempted to read the
/// `action` index and sort.
fn action_condition(action: &ActionMatch) -> Condition {
    match action {
        ActionMatch::Exact(exact) => Condition::all().add(Column::Action.eq(exact.as_str())),
        ActionMatch::Prefix(prefix) => {
            let mut condition = Condition::all();
            if let Some(namespace) = action.namespace() {
                condition = condition.add(Column::ActionNamespace.eq(namespace));
                // `action_namespace = 'user'` holds exactly for the actions
                // that start with `user.`. ("" also holds for dotless actions.)
                if !namespace.is_empty() && prefix.len() == namespace.len() + 1 {
                    return condition;
                }
            }
            if !prefix.is_empty() {
                condition = condition.add(Column::Action.gte(prefix.as_str()));
            }
            if let Some(upper) = prefix_upper_bound(prefix) {
                condition = condition.add(Column::Action.lt(upper));
            }
            condition
        }
    }
}

/// Returns the least string greater than every string that starts with
/// `prefix`, in code-point order (= UTF-8 byte order, which both backends
/// use for these columns); None when no such bound exists (empty prefix, or
/// only `char::MAX`s).
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Returns the next Unicode scalar value, skipping the surrogate gap.
fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        char::MAX => None,
        _ => char::from_u32(u32::from(c) + 1),
    }
}

/// Returns the condition "strictly after `cursor` in `order`": a row
/// comparison on `(occurred_at, id)`, which both backends turn into a range
/// on the trailing `(occurred_at, id)` columns of whichever index serves the
/// filter. (A redundant `occurred_at <= t` would make SQLite's planner, which
/// has no statistics, prefer the time index over a filter's own index.)
pub(crate) fn keyset_condition(order: ListOrder, cursor: &Cursor) -> Expr {
    let columns = Expr::tuple([Expr::col(Column::OccurredAt), Expr::col(Column::Id)]);
    let values = Expr::tuple([Expr::val(cursor.occurred_at), Expr::val(cursor.id)]);
    match order {
        ListOrder::NewestFirst => columns.lt(values),
        ListOrder::OldestFirst => columns.gt(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bound_is_the_prefix_with_its_last_char_incremented() {
        assert_eq!(prefix_upper_bound("user."), Some("user/".to_owned()));
        assert_eq!(prefix_upper_bound("us"), Some("ut".to_owned()));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}"),
            Some("a\u{E000}".to_owned())
        );
        assert_eq!(
            prefix_upper_bound(&format!("a{}", char::MAX)),
            Some("b".to_owned())
        );
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound(&char::MAX.to_string()), None);
    }
}
