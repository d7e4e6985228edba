//! `StoreError` and the one place where a `DbErr` is classified as the
//! database being unreachable (UNAVAILABLE, worth retrying) or anything else.

use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};

/// Everything the store can fail with. Causes are for the log only: the
/// service never sends them to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No entry with this id in the caller's scope.
    #[error("audit log {0} not found")]
    NotFound(String),
    /// The idempotency key is already stored with a different fingerprint.
    #[error("idempotency key {key:?} is already stored with different content")]
    IdempotencyConflict { key: String },
    /// The operation is refused in the current state (a tenant on legal
    /// hold, a deletion record that must stay).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A requested range of the hash chain does not exist.
    #[error("{0}")]
    InvalidRange(String),
    /// The database cannot be reached right now (pool timeout, refused or
    /// dropped connection, I/O error, SQLite busy past its timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other failure: a bug, a broken schema or corrupt data.
    #[error("database error: {0}")]
    Internal(String),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        if is_unavailable(&error) {
            StoreError::Unavailable(error.to_string())
        } else {
            StoreError::Internal(error.to_string())
        }
    }
}

/// Returns true when the error is a violated unique constraint or primary
/// key: the signal that a concurrent writer stored the same key first.
pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Returns true when an append should be made again under the head locks:
/// some of its heads had moved or keys were stored before
/// (`audit_all_or_none`), or Postgres ended the statement in a deadlock or
/// serialization failure with another writer. Nothing of the statement was
/// stored in any case.
pub(crate) fn calls_for_locked_append(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(cause)) | DbErr::Query(RuntimeErr::SqlxError(cause))) =
        error
    else {
        return false;
    };
    let sqlx::Error::Database(database) = &**cause else {
        return false;
    };
    matches!(
        database.code().as_deref(),
        Some(super::insert::PARTLY_WRITTEN | "40P01" | "40001")
    )
}

/// Returns true for failures of the connection rather than of the statement.
fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) => true,
        // A malformed URL is a configuration mistake, not an outage.
        DbErr::Conn(RuntimeErr::SqlxError(cause)) => {
            !matches!(**cause, sqlx::Error::Configuration(_))
        }
        DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(cause)) | DbErr::Query(RuntimeErr::SqlxError(cause)) => {
            is_unavailable_sqlx(cause)
        }
        _ => false,
    }
}

fn is_unavailable_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => {
            let code = database.code().unwrap_or_default();
            if database
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // 08xxx: connection exception; 57P01..57P03: the server is
                // shutting down or starting; 53300: too many connections.
                code.starts_with("08") || code.starts_with("57P") || code == "53300"
            } else {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes
                // (low byte 5 or 6): another writer held the lock past
                // busy_timeout; a retry later can succeed.
                code.parse::<i32>()
                    .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;

    #[test]
    fn pool_timeout_is_unavailable_and_other_errors_are_internal() {
        let timeout = StoreError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert!(matches!(timeout, StoreError::Unavailable(_)), "{timeout:?}");
        let custom = StoreError::from(DbErr::Custom("boom".into()));
        assert!(matches!(custom, StoreError::Internal(_)), "{custom:?}");
        let io = DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)).into(),
        ));
        assert!(matches!(StoreError::from(io), StoreError::Unavailable(_)));
    }
}
