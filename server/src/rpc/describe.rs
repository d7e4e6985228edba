//! DescribeFilters: what a List or Stats filter accepts, and the actions and
//! target types present in the caller's tenant.

use super::AuditRpc;
use crate::auth::{Scope, caller};
use crate::error::AuditError;
use audit_proto as pb;
use pb::FilterOperator as Op;
use tonic::Request;

pub async fn describe(
    rpc: &AuditRpc,
    request: Request<pb::DescribeFiltersRequest>,
) -> Result<pb::FilterMetadata, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Read)?;
    let (actions, target_types) = tokio::try_join!(
        rpc.store.distinct_actions(&caller.tenant_id),
        rpc.store.distinct_target_types(&caller.tenant_id),
    )?;
    Ok(pb::FilterMetadata {
        fields: filter_fields(),
        sort_orders: vec![
            pb::SortOrder::NewestFirst as i32,
            pb::SortOrder::OldestFirst as i32,
        ],
        actions,
        target_types,
    })
}

/// Describes every field of `AuditLogFilter`.
fn filter_fields() -> Vec<pb::FilterField> {
    let enum_names = |names: &[&str]| {
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>()
    };
    let actor_types = enum_names(&[
        "ACTOR_TYPE_USER",
        "ACTOR_TYPE_API_KEY",
        "ACTOR_TYPE_SERVICE",
        "ACTOR_TYPE_SYSTEM",
    ]);
    let results = enum_names(&[
        "RESULT_SUCCESS",
        "RESULT_FAILURE",
        "RESULT_DENIED",
        "RESULT_ERROR",
    ]);
    let field =
        |name: &str, kind: &str, operators: &[Op], description: &str, values: Vec<String>| {
            pb::FilterField {
                name: name.to_owned(),
                r#type: kind.to_owned(),
                operators: operators.iter().map(|op| *op as i32).collect(),
                description: description.to_owned(),
                values,
            }
        };
    vec![
        field(
            "actor_id",
            "string",
            &[Op::Equals],
            "the actor's id",
            vec![],
        ),
        field(
            "actor_email",
            "string",
            &[Op::Equals],
            "the actor's email",
            vec![],
        ),
        field(
            "actor_type",
            "enum audit.v1.ActorType",
            &[Op::Equals],
            "the kind of actor",
            actor_types,
        ),
        field(
            "action",
            "string",
            &[Op::Equals, Op::Prefix],
            "exact, or a prefix ending in '*' such as user.*",
            vec![],
        ),
        field(
            "target_type",
            "string",
            &[Op::Equals],
            "the target's type",
            vec![],
        ),
        field(
            "target_id",
            "string",
            &[Op::Equals],
            "the target's id",
            vec![],
        ),
        field(
            "result",
            "enum audit.v1.Result",
            &[Op::Equals],
            "how the action ended",
            results,
        ),
        field(
            "client_ip",
            "string",
            &[Op::Equals, Op::Cidr],
            "an IP address, or a CIDR block such as 10.0.0.0/8",
            vec![],
        ),
        field(
            "start_time",
            "timestamp",
            &[Op::AtOrAfter],
            "occurred_at at or after (inclusive)",
            vec![],
        ),
        field(
            "end_time",
            "timestamp",
            &[Op::Before],
            "occurred_at before (exclusive)",
            vec![],
        ),
        field(
            "tenant_id",
            "string",
            &[Op::Equals],
            "audit:admin only: one tenant, or every tenant when empty",
            vec![],
        ),
    ]
}
