//! A bounded history of stored checkpoints: the periodic task would
//! otherwise keep one per tenant per interval forever. Per tenant it keeps
//! the newest few and the newest of each UTC day, and deletes the rest.
//! Checkpoint files written to a directory are not touched: they are the
//! copy kept outside the server, and their keeping is the operator's.

use super::entity::audit_checkpoint;
use super::{AuditStore, StoreError};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeSet, HashMap};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Which checkpoints of one tenant to keep, given their times (any order):
/// the newest `keep_newest`, plus the newest of each UTC day.
pub fn times_to_keep(times: &[i64], keep_newest: usize) -> BTreeSet<i64> {
    let mut newest_first = times.to_vec();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let mut keep: BTreeSet<i64> = newest_first.iter().copied().take(keep_newest).collect();
    let mut days_seen = BTreeSet::new();
    for time in newest_first {
        if days_seen.insert(time.div_euclid(MICROS_PER_DAY)) {
            keep.insert(time);
        }
    }
    keep
}

impl AuditStore {
    /// Deletes every stored checkpoint [`times_to_keep`] does not keep;
    /// returns how many were deleted.
    pub async fn prune_checkpoints(&self, keep_newest: usize) -> Result<u64, StoreError> {
        let rows: Vec<(String, i64)> = audit_checkpoint::Entity::find()
            .select_only()
            .column(audit_checkpoint::Column::TenantId)
            .column(audit_checkpoint::Column::Time)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut by_tenant: HashMap<String, Vec<i64>> = HashMap::new();
        for (tenant_id, time) in rows {
            by_tenant.entry(tenant_id).or_default().push(time);
        }
        let mut deleted = 0;
        for (tenant_id, times) in by_tenant {
            let keep = times_to_keep(&times, keep_newest);
            if keep.len() == times.len() {
                continue;
            }
            deleted += audit_checkpoint::Entity::delete_many()
                .filter(audit_checkpoint::Column::TenantId.eq(tenant_id))
                .filter(audit_checkpoint::Column::Time.is_not_in(keep))
                .exec(&self.db)
                .await?
                .rows_affected;
        }
        Ok(deleted)
    }

    /// Returns the times of `tenant_id`'s stored checkpoints, newest first.
    pub async fn checkpoint_times(&self, tenant_id: &str) -> Result<Vec<i64>, StoreError> {
        Ok(audit_checkpoint::Entity::find()
            .select_only()
            .column(audit_checkpoint::Column::Time)
            .filter(audit_checkpoint::Column::TenantId.eq(tenant_id))
            .order_by_desc(audit_checkpoint::Column::Time)
            .into_tuple()
            .all(&self.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_one_per_day() {
        let day = MICROS_PER_DAY;
        // Three on day 0, two on day 1, four on day 2.
        let times = [
            10,
            20,
            30,
            day + 5,
            day + 6,
            2 * day + 1,
            2 * day + 2,
            2 * day + 3,
            2 * day + 4,
        ];
        let keep: Vec<i64> = times_to_keep(&times, 2).into_iter().collect();
        assert_eq!(keep, vec![30, day + 6, 2 * day + 3, 2 * day + 4]);
        assert_eq!(times_to_keep(&times, 100).len(), times.len());
        assert!(times_to_keep(&[], 3).is_empty());
    }
}
