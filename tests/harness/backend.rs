//! The database a test runs on; each test gets a fresh, empty one.

use std::path::Path;

/// A storage backend the server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Creates an empty database and returns its URL; a SQLite file lives in
    /// `dir`, which the caller keeps alive for the test's duration.
    pub async fn fresh_database_url(self, dir: &Path) -> String {
        match self {
            Backend::Postgres => crate::postgres::fresh_database_url().await,
            Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("audit.db").display()),
        }
    }
}
