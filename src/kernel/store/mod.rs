//! The kernel database: opening, schema versions, and read-only queries.
//!
//! Tables `kv` and `kv_vatstore` are the reference's (spec §6.1), so its SQL works unchanged on
//! our databases; our own metadata lives apart in `meta`.

mod backup;
mod integrity;
mod kv;
mod open;
mod query;
mod schema;

pub use backup::backup;
pub use integrity::quick_check;
pub use kv::Store;
pub use open::{create, open};
pub use query::{QueryLimits, read_only_query};
pub use schema::SCHEMA_VERSION;

/// Migrates an in-memory connection, for tests elsewhere in the crate.
#[cfg(test)]
pub fn migrate_for_tests(conn: &mut rusqlite::Connection) {
    schema::migrate(conn).expect("migrate");
}

use std::path::PathBuf;

/// Why the database could not be opened or queried.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A filesystem operation around the database failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database was written by a newer ocapd.
    #[error(
        "database schema version {found} is newer than this ocapd supports ({supported}); upgrade ocapd"
    )]
    NewerSchema {
        /// The version recorded in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database records a schema version that is not a version number.
    #[error(
        "database schema version {0:?} is not one any ocapd writes (this one writes {SCHEMA_VERSION}); refusing to touch it"
    )]
    UnknownSchema(String),
    /// The database file exists but holds nothing.
    #[error(
        "{0} is empty (0 bytes): it holds no kernel, and starting on it would make a new kernel \
         with a new identity that no OCAP URL or peer of the old one knows. Restore it from a \
         backup (ocapctl backup makes them), or remove it to start a new kernel"
    )]
    Empty(PathBuf),
    /// SQLite refused to switch to write-ahead logging.
    #[error("could not enable WAL journaling (journal_mode is {0})")]
    NoWal(String),
}
