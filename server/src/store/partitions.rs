//! Monthly partitions of `audit_logs` on Postgres: the month of receipt of
//! an id, each month's bounds, and the upkeep that creates partitions ahead
//! of time (moving any rows the DEFAULT partition caught for that month).
//!
//! The table is partitioned by `RANGE (id)`. A UUIDv7 starts with the
//! 48-bit Unix millisecond at which the server received the entry, so the
//! ids of one month lie between the UUID of the month's first millisecond
//! (the rest zero) and that of the next month's: a lookup by id names its
//! partition, and each partition only grows while its month is current.
//! SQLite has no partitions: everything here is a no-op there.

use super::{AuditStore, StoreError};
use crate::domain::Micros;
use chrono::{Datelike, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// The partitioned table.
pub(crate) const PARENT: &str = "audit_logs";
/// The partition that catches ids outside every monthly one.
pub(crate) const DEFAULT_PARTITION: &str = "audit_logs_default";
/// Months after the current one whose partitions exist ahead of time: a
/// server down for weeks over a month boundary still finds its month.
pub const MONTHS_AHEAD: u32 = 3;
/// The advisory lock key that serialises partition upkeep across
/// replicas ("auditprt" as an integer).
const UPKEEP_LOCK_KEY: i64 = 0x6175_6469_7470_7274;
/// How long upkeep waits for a table lock (ATTACH locks the DEFAULT
/// partition) before it gives up until its next round, rather than queue
/// every List behind it.
const UPKEEP_LOCK_TIMEOUT: &str = "10s";

/// A calendar month (UTC) of receipt: the span of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReceiptMonth {
    year: i32,
    /// 1–12.
    month: u32,
}

impl ReceiptMonth {
    /// Returns the month containing `micros` since the epoch.
    pub fn of_micros(micros: Micros) -> Option<Self> {
        let time = Utc.timestamp_micros(micros).single()?;
        Some(Self {
            year: time.year(),
            month: time.month(),
        })
    }

    /// Returns the month in which the server received the entry `id`:
    /// the time a UUIDv7 starts with. None for ids of other versions.
    pub fn of_id(id: Uuid) -> Option<Self> {
        if id.get_version_num() != 7 {
            return None;
        }
        let millis = i64::try_from(id.as_u128() >> 80).ok()?;
        Self::of_micros(millis.checked_mul(1000)?)
    }

    /// Returns the month `year`-`month`, if it is one a UUIDv7 can hold.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        let candidate = Self { year, month };
        candidate.lower_bound()?;
        Some(candidate)
    }

    /// Returns the month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Returns the smallest id of the month: its first millisecond in the
    /// 48 time bits, every other bit zero. None outside the 48-bit range.
    pub fn lower_bound(self) -> Option<Uuid> {
        let first = Utc
            .with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()?;
        let millis = u128::try_from(first.timestamp_millis()).ok()?;
        (millis < 1 << 48).then(|| Uuid::from_u128(millis << 80))
    }

    /// Returns the partition's name, `audit_logs_y2026m12`.
    pub fn partition_name(self) -> String {
        format!("{PARENT}_y{:04}m{:02}", self.year, self.month)
    }

    /// Returns the month a [`partition_name`](Self::partition_name) names.
    pub fn from_partition_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(PARENT)?.strip_prefix("_y")?;
        let (year, month) = rest.split_once('m')?;
        Self::new(year.parse().ok()?, month.parse().ok()?)
    }

    /// Returns the first microsecond of the month since the epoch.
    pub fn first_micros(self) -> Option<Micros> {
        let first = Utc
            .with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()?;
        Some(first.timestamp_micros())
    }
}

impl AuditStore {
    /// Creates the partitions of the month of `now` and the
    /// [`MONTHS_AHEAD`] after it where missing, each with any rows the
    /// DEFAULT partition holds for its month, in one transaction under an
    /// advisory lock (replicas take turns; the later one finds nothing to
    /// do). Returns the names created. Does nothing on SQLite.
    pub async fn prepare_partitions(&self, now: Micros) -> Result<Vec<String>, StoreError> {
        if self.backend != DbBackend::Postgres {
            return Ok(Vec::new());
        }
        let Some(mut month) = ReceiptMonth::of_micros(now) else {
            return Err(StoreError::Internal(format!("no month contains {now}")));
        };
        let txn = self.begin_write().await?;
        txn.execute_unprepared(&format!(
            "SET LOCAL lock_timeout = '{UPKEEP_LOCK_TIMEOUT}'; \
             SELECT pg_advisory_xact_lock({UPKEEP_LOCK_KEY})"
        ))
        .await?;
        let mut created = Vec::new();
        for _ in 0..=MONTHS_AHEAD {
            if let Some(moved) = create_month_partition(&txn, month).await? {
                tracing::info!(
                    partition = %month.partition_name(),
                    moved_from_default = moved,
                    "audit log partition created"
                );
                created.push(month.partition_name());
            }
            month = month.next();
        }
        txn.commit().await?;
        Ok(created)
    }

    /// Returns the names of the partitions of `audit_logs`, DEFAULT
    /// included, in name order; none on SQLite.
    pub async fn partition_names(&self) -> Result<Vec<String>, StoreError> {
        if self.backend != DbBackend::Postgres {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT c.relname::text FROM pg_inherits i \
                     JOIN pg_class c ON c.oid = i.inhrelid \
                     WHERE i.inhparent = '{PARENT}'::regclass ORDER BY 1"
                ),
            ))
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get_by_index(0))
            .collect::<Result<_, _>>()?)
    }
}

/// Returns the monthly partitions (DEFAULT aside), oldest first.
pub(crate) fn monthly(names: &[String]) -> Vec<(ReceiptMonth, &str)> {
    let mut months: Vec<(ReceiptMonth, &str)> = names
        .iter()
        .filter_map(|name| Some((ReceiptMonth::from_partition_name(name)?, name.as_str())))
        .collect();
    months.sort_unstable();
    months
}

/// Creates and attaches the partition of `month` unless a table of its
/// name exists, first moving the rows of its range out of the DEFAULT
/// partition (Postgres refuses to attach a range DEFAULT holds rows of).
/// Returns the number of rows moved, or None when it existed.
///
/// The table is made standalone and then attached, rather than created
/// `PARTITION OF`: ATTACH takes a weaker lock on the parent, so appends and
/// reads of other partitions carry on meanwhile. Indexes come from the
/// parent's partitioned indexes at ATTACH.
pub(crate) async fn create_month_partition<C: ConnectionTrait>(
    db: &C,
    month: ReceiptMonth,
) -> Result<Option<u64>, DbErr> {
    let name = month.partition_name();
    let (Some(lower), Some(upper)) = (month.lower_bound(), month.next().lower_bound()) else {
        return Err(DbErr::Custom(format!(
            "{name} lies outside the UUIDv7 range"
        )));
    };
    let exists = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT to_regclass('{name}') IS NOT NULL"),
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false);
    if exists {
        return Ok(None);
    }
    let columns = stored_columns(db, PARENT).await?.join(", ");
    let in_month = format!("id >= '{lower}' AND id < '{upper}'");
    db.execute_unprepared(&format!(
        "CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING GENERATED)"
    ))
    .await?;
    let moved = db
        .execute_unprepared(&format!(
            "INSERT INTO {name} ({columns}) SELECT {columns} FROM {DEFAULT_PARTITION} \
             WHERE {in_month}"
        ))
        .await?
        .rows_affected();
    if moved > 0 {
        db.execute_unprepared(&format!("DELETE FROM {DEFAULT_PARTITION} WHERE {in_month}"))
            .await?;
    }
    db.execute_unprepared(&format!(
        "ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')"
    ))
    .await?;
    Ok(Some(moved))
}

/// Returns the quoted names of `table`'s columns that hold stored values
/// (generated columns are computed, never inserted), in column order.
pub(crate) async fn stored_columns<C: ConnectionTrait>(
    db: &C,
    table: &str,
) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT quote_ident(attname) FROM pg_attribute \
                 WHERE attrelid = '{table}'::regclass AND attnum > 0 \
                 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"
            ),
        ))
        .await?;
    rows.iter().map(|row| row.try_get_by_index(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_bounded_by_the_uuidv7_of_its_first_millisecond() {
        let december = ReceiptMonth::new(2026, 12).unwrap();
        // 2026-12-01T00:00:00Z = 1,796,083,200,000 ms = 0x01A2_2EE6_B000.
        assert_eq!(
            december.lower_bound().unwrap().to_string(),
            "01a22ee6-b000-0000-0000-000000000000"
        );
        assert_eq!(december.next(), ReceiptMonth::new(2027, 1).unwrap());
        assert_eq!(december.partition_name(), "audit_logs_y2026m12");
        assert_eq!(
            ReceiptMonth::from_partition_name("audit_logs_y2026m12"),
            Some(december)
        );
        assert_eq!(
            ReceiptMonth::from_partition_name("audit_logs_default"),
            None
        );
    }

    #[test]
    fn an_id_falls_in_the_month_it_was_received() {
        let december = ReceiptMonth::new(2026, 12).unwrap();
        let lower = december.lower_bound().unwrap();
        let upper = december.next().lower_bound().unwrap();
        let id = Uuid::now_v7();
        let month = ReceiptMonth::of_id(id).unwrap();
        let (low, high) = (
            month.lower_bound().unwrap(),
            month.next().lower_bound().unwrap(),
        );
        assert!(low <= id && id < high, "{low} <= {id} < {high}");
        assert!(lower < upper);
        assert_eq!(ReceiptMonth::of_id(Uuid::nil()), None);
    }
}
