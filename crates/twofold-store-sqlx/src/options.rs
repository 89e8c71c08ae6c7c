//! How a store is set up: where its tables live, and whether it migrates.

use std::sync::Arc;

use crate::error::SetupError;
use crate::names::{self, Names, Queries};
use crate::{Backend, SqlPool, SqlStore};

/// Options of a [`SqlStore`], then [`connect`](SqlStoreOptions::connect) or
/// [`from_pool`](SqlStoreOptions::from_pool), like sqlx's `PoolOptions`.
///
/// ```no_run
/// # async fn demo(pool: sqlx::SqlitePool) -> Result<(), twofold_store_sqlx::SetupError> {
/// use twofold_store_sqlx::SqlStoreOptions;
/// // `pool`: the application's sqlx::PgPool (or SqlitePool, without a schema).
/// // Tables tf_users, tf_organizations, …, beside the application's; on
/// // PostgreSQL `.schema("auth")` puts them in a schema of their own.
/// let store = SqlStoreOptions::new()
///     .table_prefix("tf_")
///     .from_pool(pool)
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SqlStoreOptions {
    prefix: String,
    schema: Option<String>,
    migrate: bool,
}

impl Default for SqlStoreOptions {
    fn default() -> SqlStoreOptions {
        SqlStoreOptions {
            prefix: names::DEFAULT_PREFIX.to_string(),
            schema: None,
            migrate: true,
        }
    }
}

impl SqlStoreOptions {
    /// The defaults: tables `twofold_users`, `twofold_organizations`, … (and
    /// the version table `twofold_schema_migrations`) where the connection puts
    /// unqualified names, migrated on start.
    pub fn new() -> SqlStoreOptions {
        SqlStoreOptions::default()
    }

    /// The prefix of every table and index name twofold creates (default
    /// `twofold_`): lowercase ASCII letters, digits and `_`, not starting with a
    /// digit, at most 40 bytes; otherwise setting up fails with
    /// [`SetupError::InvalidName`]. Changing it for an existing database starts
    /// afresh, with empty tables.
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> SqlStoreOptions {
        self.prefix = prefix.into();
        self
    }

    /// PostgreSQL only: the schema of twofold's tables (created if missing),
    /// instead of the connection's `search_path`. The same characters as a
    /// prefix, at most 63 bytes. On SQLite, setting up fails with
    /// [`SetupError::SchemaOnSqlite`].
    pub fn schema(mut self, schema: impl Into<String>) -> SqlStoreOptions {
        self.schema = Some(schema.into());
        self
    }

    /// Whether setting up creates or updates the schema (default `true`). Turn
    /// it off where the application's database role may not change the schema,
    /// and run [`SqlStore::migrate`] from a deploy step instead.
    ///
    /// Migrating is idempotent and safe when many processes start at once: one
    /// transaction, under a PostgreSQL advisory lock or SQLite's write lock
    /// (`BEGIN IMMEDIATE`).
    pub fn migrate(mut self, migrate: bool) -> SqlStoreOptions {
        self.migrate = migrate;
        self
    }

    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`) with a
    /// pool of the store's own: on SQLite at most 4 connections, in WAL mode;
    /// on PostgreSQL at most 10.
    pub async fn connect(self, url: &str) -> Result<SqlStore, SetupError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(SetupError::UnsupportedUrl);
        };
        // Bad names fail before anything connects.
        self.names(backend)?;
        let pool = match backend {
            Backend::Sqlite => connect_sqlite(url).await?,
            Backend::Postgres => connect_postgres(url).await?,
        };
        self.from_pool(pool).await
    }

    /// A store on the application's own pool (a `sqlx::SqlitePool` or
    /// `sqlx::PgPool`); see [`SqlStore::from_pool`].
    pub async fn from_pool(self, pool: impl Into<SqlPool>) -> Result<SqlStore, SetupError> {
        let pool = pool.into();
        let backend = pool.backend();
        let names = self.names(backend)?;
        let store = SqlStore {
            queries: Arc::new(Queries::new(&names, backend)),
            names,
            pool,
        };
        if self.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    fn names(&self, backend: Backend) -> Result<Names, SetupError> {
        names::validate("table prefix", &self.prefix, names::MAX_PREFIX)?;
        if let Some(schema) = &self.schema {
            if backend == Backend::Sqlite {
                return Err(SetupError::SchemaOnSqlite);
            }
            names::validate("schema", schema, names::MAX_SCHEMA)?;
        }
        Ok(Names {
            prefix: self.prefix.clone(),
            schema: self.schema.clone(),
        })
    }
}

fn connect_error(error: sqlx::Error) -> SetupError {
    SetupError::Connect(Box::new(error))
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite(url: &str) -> Result<SqlPool, SetupError> {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    let options = SqliteConnectOptions::from_str(url)
        .map_err(connect_error)?
        // Readers never wait for the writer. `synchronous` stays FULL: a
        // spent code must stay spent after a power cut.
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        // A file has no peer that can hang up: no ping before each use.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(connect_error)?;
    Ok(SqlPool::Sqlite(pool))
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite(_url: &str) -> Result<SqlPool, SetupError> {
    Err(SetupError::UnsupportedUrl)
}

#[cfg(feature = "postgres")]
async fn connect_postgres(url: &str) -> Result<SqlPool, SetupError> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(url)
        .await
        .map_err(connect_error)?;
    Ok(SqlPool::Postgres(pool))
}

#[cfg(not(feature = "postgres"))]
async fn connect_postgres(_url: &str) -> Result<SqlPool, SetupError> {
    Err(SetupError::UnsupportedUrl)
}
