//! `audit_all_or_none(done, expected)` on Postgres: true when all
//! `expected` writes of a statement happened, false when none did, and an
//! error (which fails the statement it runs in) when only some did.
//!
//! Why: an append may link its entries to chain heads the server already
//! knows (its own last append to those tenants) and store them in one
//! statement, without first locking and reading the heads (see
//! `store::known_heads`). That statement moves each head only if it still
//! is the one the links were computed from, stores each idempotency key
//! only if it is new, and stores its rows only if every head moved and
//! every key was new. When another writer moved a head meanwhile (another
//! replica, a delete, a legal hold), or a key was stored before (a retried
//! call), the heads and keys that were written must not stay either: the
//! error (SQLSTATE `AU001`) rolls them back. When nothing was written,
//! which is the usual case of a moved head (a one-tenant append without
//! keys), the statement simply changes nothing, with no error in the
//! database's log. Either way the server appends again the locked way,
//! which resolves keys as before. SQLite takes the locked way only and
//! needs no function.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The SQLSTATE must match `store::insert::PARTLY_WRITTEN`.
const CREATE: &str = r#"CREATE OR REPLACE FUNCTION audit_all_or_none(done bigint, expected bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF done > 0 AND done <> expected THEN
        RAISE EXCEPTION 'only % of % chain heads and idempotency keys were written', done, expected
            USING ERRCODE = 'AU001';
    END IF;
    RETURN done = expected;
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(CREATE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_all_or_none(bigint, bigint)")
                .await?;
        }
        Ok(())
    }
}
