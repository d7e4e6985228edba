//! GetAuditStats: counts under the same filter as List.

use super::AuditRpc;
use crate::auth::{Scope, caller};
use crate::domain::from_micros;
use crate::domain::{AuditStatsReport, Granularity};
use crate::error::AuditError;
use audit_proto as pb;
use audit_validation::filter::decode_filter;
use tonic::Request;

const DEFAULT_TOP: u64 = 10;
const MAX_TOP: i32 = 100;

pub async fn stats(
    rpc: &AuditRpc,
    request: Request<pb::GetAuditStatsRequest>,
) -> Result<pb::AuditStats, AuditError> {
    let caller = caller(&request)?;
    caller.require(Scope::Read)?;
    let body = request.get_ref();
    let filter = decode_filter(
        "filter.",
        &body.filter.clone().unwrap_or_default(),
        &caller.tenant_access(),
    )?;
    let (bucket, granularity) = match pb::Granularity::try_from(body.bucket) {
        Ok(pb::Granularity::Unspecified | pb::Granularity::Day) => {
            (pb::Granularity::Day, Granularity::Day)
        }
        Ok(pb::Granularity::Hour) => (pb::Granularity::Hour, Granularity::Hour),
        Ok(pb::Granularity::Week) => (pb::Granularity::Week, Granularity::Week),
        Ok(pb::Granularity::Month) => (pb::Granularity::Month, Granularity::Month),
        Err(_) => {
            return Err(AuditError::invalid(
                "bucket",
                format!("unknown Granularity value {}", body.bucket),
            ));
        }
    };
    let top = match body.top {
        0 => DEFAULT_TOP,
        top if (1..=MAX_TOP).contains(&top) => top as u64,
        top => {
            return Err(AuditError::invalid(
                "top",
                format!("must be between 1 and {MAX_TOP}, got {top}"),
            ));
        }
    };
    let report = rpc.store.stats(&filter, granularity, top).await?;
    Ok(encode_stats(report, bucket))
}

fn encode_stats(report: AuditStatsReport, bucket: pb::Granularity) -> pb::AuditStats {
    let counts = |pairs: Vec<(String, i64)>| {
        pairs
            .into_iter()
            .map(|(key, count)| pb::CountBy { key, count })
            .collect()
    };
    pb::AuditStats {
        total: report.total,
        by_action: counts(report.by_action),
        by_target_type: counts(report.by_target_type),
        by_result: report
            .by_result
            .into_iter()
            .map(|(outcome, count)| pb::CountBy {
                key: outcome.as_str_name().to_owned(),
                count,
            })
            .collect(),
        top_actors: report
            .top_actors
            .into_iter()
            .map(|actor| pb::ActorCount {
                actor_id: actor.actor_id,
                actor_email: actor.actor_email,
                actor_name: actor.actor_name,
                count: actor.count,
            })
            .collect(),
        histogram: report
            .histogram
            .into_iter()
            .map(|bucket| pb::HistogramBucket {
                start: Some(from_micros(bucket.start)),
                count: bucket.count,
            })
            .collect(),
        bucket: bucket as i32,
    }
}
