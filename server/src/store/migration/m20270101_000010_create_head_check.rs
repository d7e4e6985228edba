//! `audit_check_heads_moved(moved, expected)` on Postgres: true when all
//! `expected` chain heads moved, false when none did, and an error (which
//! fails the statement it runs in) when only some did.
//!
//! Why: an append may link its entries to chain heads the server already
//! knows (its own last append to those tenants) and store them in one
//! statement, without first locking and reading the heads (see
//! `store::known_heads`). That statement moves each head only if it still
//! is the one the links were computed from, and stores its rows only if
//! every head moved. When another writer moved a head meanwhile (another
//! replica, a delete, a legal hold), the heads that did match must not move
//! either: the error (SQLSTATE `AU001`) rolls them back. When none matched,
//! which is the usual case (a one-tenant append), the statement simply
//! changes nothing, with no error in the database's log; either way the
//! server appends again the locked way. SQLite takes the locked way only
//! and needs no function.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Must match `store::insert::HEADS_MOVED_ELSEWHERE`.
const CREATE: &str = r#"CREATE OR REPLACE FUNCTION audit_check_heads_moved(moved bigint, expected bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF moved > 0 AND moved <> expected THEN
        RAISE EXCEPTION 'only % of % chain heads were where the rows were linked to them', moved, expected
            USING ERRCODE = 'AU001';
    END IF;
    RETURN moved = expected;
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
                .execute_unprepared(
                    "DROP FUNCTION IF EXISTS audit_check_heads_moved(bigint, bigint)",
                )
                .await?;
        }
        Ok(())
    }
}
