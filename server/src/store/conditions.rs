//! Turns an `AuditLogFilter` and a keyset cursor into SQL conditions, shaped
//! so the indexes created by the migration can serve them.

use super::entity::audit_log::Column;
use super::rows::enum_to_column;
use crate::domain::{ActionMatch, AuditLogFilter, Cursor, IpRange, ListOrder, TenantScope};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func};

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
        condition = condition.add(client_ip_condition(range));
    }
    if let Some(start) = filter.start_time {
        condition = condition.add(Column::OccurredAt.gte(start));
    }
    if let Some(end) = filter.end_time {
        condition = condition.add(Column::OccurredAt.lt(end));
    }
    condition
}

/// An exact action is an equality. A prefix that names a namespace is the
/// namespace equality, which lets the `(tenant_id, action_namespace,
/// occurred_at, id)` index serve it in time order: for exactly `ns.` (the
/// usual `user.*`) that is the whole condition; below it (`user.mfa.*`) the
/// rest is a filter, `substr(action, 1, n) = prefix`, deliberately no range
/// on `action` (a range would tempt the planner to read the action index
/// and sort every match). Any other prefix is the half-open range
/// `[p, successor(p))`. All of it is case-sensitive on both backends
/// (unlike SQLite's LIKE) and needs no escaping.
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
                // Both backends count characters in substr.
                let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
                let starts_with = Expr::expr(
                    Func::cust("substr")
                        .arg(Expr::col(Column::Action))
                        .arg(1)
                        .arg(length),
                )
                .eq(prefix.as_str());
                return condition.add(not_guessed_rare(starts_with));
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

/// The generated column of migration 000008 (not in the entity: never
/// written, never read back).
const CLIENT_NETWORK: &str = "client_network";

/// The leading 12 bytes of an IPv4 address's key (`::ffff:a.b.c.d`).
const IPV4_MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
/// The bytes of a key the `client_network` column keeps: the /24 of an IPv4
/// address (12 + 3 bytes), the /48 of an IPv6 one.
const IPV4_NETWORK_BYTES: usize = 15;
const IPV6_NETWORK_BYTES: usize = 6;

/// Returns the `client_network` of a stored address key, as the generated
/// column of migration 000008 computes it.
pub(crate) fn network_of(key: &[u8; 16]) -> &[u8] {
    if key[..12] == IPV4_MAPPED {
        &key[..IPV4_NETWORK_BYTES]
    } else {
        &key[..IPV6_NETWORK_BYTES]
    }
}

/// 16-byte keys compare with memcmp on both backends, so a CIDR block is one
/// contiguous range of `client_ip`. The condition takes the shape an index
/// can follow in time order:
/// - one address: an equality on `client_ip`;
/// - a block inside one network (an IPv4 /24 or narrower, an IPv6 /48 or
///   narrower): an equality on `client_network`, plus the range as a filter
///   when the block is narrower than the network;
/// - a wider block spans many networks, which no B-tree orders by time: the
///   range is written over `substr(client_ip, 1, 16)` (the whole key), which
///   no index matches, so the time index serves it with a filter (right for
///   dense blocks; a sparse wide block reads more of the tenant).
fn client_ip_condition(range: &IpRange) -> Condition {
    let whole = Condition::all();
    if range.first == range.last {
        return whole.add(Column::ClientIp.eq(range.first.to_vec()));
    }
    let network = network_of(&range.first);
    // A block of IPv6 keys that reaches into the IPv4-mapped space holds
    // keys of both network lengths: treated as wide.
    let mixed = network.len() == IPV6_NETWORK_BYTES
        && range.first[..] <= mapped_bound(0xff)[..]
        && range.last[..] >= mapped_bound(0)[..];
    if !mixed && network == network_of(&range.last) {
        let mut condition = whole.add(Expr::col(CLIENT_NETWORK).eq(network.to_vec()));
        let n = network.len();
        let spans_network =
            range.first[n..].iter().all(|b| *b == 0) && range.last[n..].iter().all(|b| *b == 0xff);
        if !spans_network {
            condition =
                condition.add(Column::ClientIp.between(range.first.to_vec(), range.last.to_vec()));
        }
        return condition;
    }
    let in_block = Expr::expr(
        Func::cust("substr")
            .arg(Expr::col(Column::ClientIp))
            .arg(1)
            .arg(16),
    )
    .between(range.first.to_vec(), range.last.to_vec());
    whole.add(not_guessed_rare(in_block))
}

/// Wraps a filter that no index serves (and no statistics describe) in
/// `COALESCE(test, FALSE)`, which selects the same rows. Postgres guesses a
/// bare comparison on an expression matches 0.5% of rows, so for a filter
/// that in fact matches thousands it fetches them all and sorts; for the
/// COALESCE it guesses half, and then follows the ordered index (namespace
/// or time) and stops once the page is full: cheap whatever the match count.
fn not_guessed_rare(test: Expr) -> Expr {
    Expr::expr(Func::coalesce([test, Expr::cust("FALSE")]))
}

/// The first (`fill` 0) or last (`fill` 0xff) key of the IPv4-mapped space.
fn mapped_bound(fill: u8) -> [u8; 16] {
    let mut key = [fill; 16];
    key[..12].copy_from_slice(&IPV4_MAPPED);
    key
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
