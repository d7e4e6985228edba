//! Stepping the schema back, as tests of upgrades from older releases do.

use audit_server::store::Migrator;
use sea_orm_migration::MigratorTrait;

/// How many steps `Migrator::down` takes from the newest migration back to
/// just before the one whose name contains `tag` (e.g. `"_000009_"`).
pub fn steps_back_before(tag: &str) -> u32 {
    let migrations = Migrator::migrations();
    let position = migrations
        .iter()
        .position(|migration| migration.name().contains(tag))
        .unwrap_or_else(|| panic!("no migration named like {tag}"));
    u32::try_from(migrations.len() - position).expect("a few migrations")
}
