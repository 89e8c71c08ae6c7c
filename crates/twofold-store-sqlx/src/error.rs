//! The errors of setting a store up: its options, its connection, its schema.
//! (Once set up, the store reports through [`twofold::StoreError`].)

use std::error::Error as StdError;

/// Why a [`SqlStore`](crate::SqlStore) could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A table prefix or schema name that is not a plain SQL identifier: it is
    /// written into SQL, so only lowercase ASCII letters, digits and `_` are
    /// accepted, not starting with a digit, and not too long.
    #[error("the {what} {name:?} is not a plain lowercase SQL identifier of at most {max} bytes")]
    InvalidName {
        /// Which setting: `"table prefix"` or `"schema"`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The longest accepted.
        max: usize,
    },
    /// A schema name was given for a SQLite database, which has no schemas
    /// (use a table prefix).
    #[error("a schema name applies to PostgreSQL only; on SQLite use a table prefix")]
    SchemaOnSqlite,
    /// The URL names no database this build supports (`sqlite:` with the
    /// `sqlite` feature, `postgres:`/`postgresql:` with the `postgres` feature).
    #[error(
        "unsupported database URL: use sqlite:// or postgres:// (with the crate feature of that name)"
    )]
    UnsupportedUrl,
    /// Connecting failed.
    #[error("could not connect to the database")]
    Connect(#[source] Box<dyn StdError + Send + Sync>),
    /// The schema could not be brought up to date.
    #[error("twofold's schema could not be migrated")]
    Migration(#[from] MigrationError),
}

/// Why twofold's schema could not be migrated. Nothing of a failed migration
/// step stays applied: each run is one transaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// A migration that this database recorded as applied differs from the
    /// same version in this build (its checksum does not match): the schema
    /// may not be what this code expects, so nothing runs.
    #[error("twofold migration {version} was applied with different SQL than this build has")]
    Changed {
        /// The migration's version.
        version: i64,
    },
    /// The database records a twofold migration this build does not know: a
    /// newer twofold migrated it. Upgrade, rather than run older code on it.
    #[error("the database has twofold migration {version}, which this build does not know")]
    Unknown {
        /// The migration's version.
        version: i64,
    },
    /// A migration is recorded as started and not finished (by sqlx's
    /// migrator; this crate runs each in a transaction and never leaves one).
    #[error("twofold migration {version} is recorded as partly applied")]
    Partial {
        /// The migration's version.
        version: i64,
    },
    /// A migration's SQL failed.
    #[error("twofold migration {version} failed")]
    Step {
        /// The migration's version.
        version: i64,
        /// The database's error.
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The database failed around the migrations (the lock, the version table).
    #[error("the database failed while migrating")]
    Database(#[source] Box<dyn StdError + Send + Sync>),
}

impl From<sqlx::migrate::MigrateError> for MigrationError {
    fn from(error: sqlx::migrate::MigrateError) -> MigrationError {
        use sqlx::migrate::MigrateError;
        match error {
            MigrateError::VersionMismatch(version) => MigrationError::Changed { version },
            MigrateError::VersionMissing(version) => MigrationError::Unknown { version },
            MigrateError::Dirty(version) => MigrationError::Partial { version },
            MigrateError::ExecuteMigration(source, version) => MigrationError::Step {
                version,
                source: Box::new(source),
            },
            other => MigrationError::Database(Box::new(other)),
        }
    }
}

impl From<sqlx::Error> for MigrationError {
    fn from(error: sqlx::Error) -> MigrationError {
        MigrationError::Database(Box::new(error))
    }
}
