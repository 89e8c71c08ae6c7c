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
    direct: Option<bool>,
}

impl Default for SqlStoreOptions {
    fn default() -> SqlStoreOptions {
        SqlStoreOptions {
            prefix: names::DEFAULT_PREFIX.to_string(),
            schema: None,
            migrate: true,
            direct: None,
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

    /// SQLite only: whether the reads and conditional writes of user and
    /// organisation records (a second step's two statements) run on
    /// connections of the store's own to the same file, on the calling thread
    /// inside `tokio::task::block_in_place`, rather than through sqlx's worker
    /// thread, which costs about twice as much per statement.
    ///
    /// - [`connect`](SqlStoreOptions::connect): on by default, for a plain file
    ///   URL (`sqlite://path`, no parameters but `mode=rw`/`mode=rwc`).
    /// - [`from_pool`](SqlStoreOptions::from_pool): off by default, since the
    ///   pool's connections are the application's to configure (a key pragma,
    ///   a shared cache, another VFS would not reach these). Turn it on when
    ///   the pool's database is a plain file; an in-memory pool stays on sqlx.
    ///
    /// The store's own connections use `busy_timeout` 5 s, `foreign_keys` on
    /// and `synchronous` FULL; at most 4 calls run at once (more wait their
    /// turn asynchronously). Pragmas of the application's own (a key, an
    /// exclusive locking mode) do not reach them: leave this off for such a
    /// pool. While a call runs, its task runs nothing else, so a timeout
    /// around a store call waits for the statement (at most the busy timeout).
    pub fn direct_sqlite(mut self, direct: bool) -> SqlStoreOptions {
        self.direct = Some(direct);
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
        let direct = self.direct.unwrap_or(true) && plain_sqlite_file(url);
        self.build(pool, direct, true).await
    }

    /// A store on the application's own pool (a `sqlx::SqlitePool` or
    /// `sqlx::PgPool`); see [`SqlStore::from_pool`].
    pub async fn from_pool(self, pool: impl Into<SqlPool>) -> Result<SqlStore, SetupError> {
        let direct = self.direct.unwrap_or(false);
        self.build(pool.into(), direct, false).await
    }

    /// The store on `pool`; `direct`: whether to try the direct SQLite path,
    /// `url_checked`: whether `connect` has already checked the pool's URL.
    async fn build(
        self,
        pool: SqlPool,
        direct: bool,
        url_checked: bool,
    ) -> Result<SqlStore, SetupError> {
        let backend = pool.backend();
        let names = self.names(backend)?;
        #[cfg_attr(not(feature = "sqlite"), allow(unused_mut))]
        let mut store = SqlStore {
            queries: Arc::new(Queries::new(&names, backend)),
            names,
            pool,
            #[cfg(feature = "sqlite")]
            direct: None,
        };
        if self.migrate {
            store.migrate().await?;
        }
        #[cfg(feature = "sqlite")]
        if let (true, Some(path)) = (direct, sqlite_file(&store.pool, url_checked)) {
            let direct = crate::direct::Direct::open(path, Arc::clone(&store.queries))
                .map_err(|error| SetupError::Connect(Box::new(error)))?;
            store.direct = Some(Arc::new(direct));
        }
        #[cfg(not(feature = "sqlite"))]
        let _ = (direct, url_checked);
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

/// Whether `url` names a SQLite file plainly (a path, with no parameters but
/// `mode=rw` or `mode=rwc`), which the store's own connections can open too:
/// not an in-memory database (each connection would get its own), nor one
/// opened read-only, immutable, shared-cache or through another VFS.
fn plain_sqlite_file(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return false;
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.trim_start_matches("//");
    let plain = query
        .split('&')
        .all(|parameter| matches!(parameter, "" | "mode=rw" | "mode=rwc"));
    plain && !path.is_empty() && path != ":memory:" && !path.starts_with("file:")
}

/// The file of a SQLite pool's database, as sqlx read it (percent-decoded, so
/// that both open the same file), if the pool opens it plainly; otherwise
/// none, and the pool alone is used. Not in memory (sqlx names those
/// ":memory:" or "file:sqlx-in-memory-N"). For a pool of the application's
/// (`url_checked` false, no URL of ours to read), also read-write, private
/// cache, not immutable and no other VFS, by sqlx's own account of its options
/// (`to_url_lossy`), which is only asked of an absolute path without a colon
/// (it cannot write others as a URL).
#[cfg(feature = "sqlite")]
fn sqlite_file(pool: &SqlPool, url_checked: bool) -> Option<std::path::PathBuf> {
    use sqlx::ConnectOptions;
    let options = pool.as_sqlite()?.connect_options();
    let file = options.get_filename();
    let name = file.to_str()?;
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
        return None;
    }
    if !url_checked {
        if !file.is_absolute() || name.contains(':') {
            return None;
        }
        let plain = options.to_url_lossy().query_pairs().all(|(key, value)| {
            matches!(
                (key.as_ref(), value.as_ref()),
                ("mode", "rw" | "rwc") | ("cache", "private")
            )
        });
        if !plain {
            return None;
        }
    }
    Some(file.to_path_buf())
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
