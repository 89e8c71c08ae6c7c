#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// With neither database feature there is no store to run the operations on:
// the crate still builds (for `cargo hack --each-feature`), its helpers unused.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(
        dead_code,
        unused_imports,
        unused_macros,
        unused_variables,
        unreachable_code
    )
)]

mod backend;
#[cfg(feature = "sqlite")]
mod direct;
mod error;
mod migrate;
mod names;
mod options;
mod pool;
mod store;

pub use error::{MigrationError, SetupError};
pub use options::SqlStoreOptions;
pub use pool::SqlPool;

use names::{Names, Queries};

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A twofold [`Store`](twofold::Store) on SQLite or PostgreSQL, on a typed sqlx
/// pool: its own ([`connect`](SqlStore::connect)) or the application's
/// ([`from_pool`](SqlStore::from_pool)). Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: SqlPool,
    names: Names,
    queries: std::sync::Arc<Queries>,
    /// The store's own connections to a SQLite file it opened itself
    /// ([`connect`](SqlStore::connect)), for the second step's statements.
    #[cfg(feature = "sqlite")]
    direct: Option<std::sync::Arc<direct::Direct>>,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`) with a
    /// pool of its own, and creates or updates the schema, with the default
    /// options ([`SqlStoreOptions`]). A SQLite database is put in WAL mode.
    ///
    /// On a SQLite file (`sqlite://path`, with no parameters but `mode=rw` or
    /// `mode=rwc`), the reads and conditional writes of user and organisation
    /// records, a second step's two statements, run on connections of the
    /// store's own on the calling thread, inside `tokio::task::block_in_place`
    /// (on a current-thread runtime, on the blocking pool), rather than on
    /// sqlx's worker thread: a second step then costs about 1.4× what the
    /// database alone needs, rather than 2.8× through the pool. Everything else runs on the pool.
    pub async fn connect(url: &str) -> Result<SqlStore, SetupError> {
        SqlStoreOptions::new().connect(url).await
    }

    /// A store on the application's own pool (a `sqlx::SqlitePool` or
    /// `sqlx::PgPool`), so that twofold's tables live beside the application's
    /// and share its connections; creates or updates the schema, with the
    /// default options ([`SqlStoreOptions`]: tables `twofold_*`).
    ///
    /// The pool's settings stay the application's: on SQLite, WAL mode
    /// (`SqliteConnectOptions::journal_mode`) is recommended, so that readers
    /// never wait for the writer.
    pub async fn from_pool(pool: impl Into<SqlPool>) -> Result<SqlStore, SetupError> {
        SqlStoreOptions::new().from_pool(pool).await
    }

    /// Creates or updates twofold's schema: idempotent, and safe when many
    /// processes start at once (see [`SqlStoreOptions::migrate`]). Only twofold's
    /// own version table is touched, never sqlx's `_sqlx_migrations`, so an
    /// application's own `sqlx::migrate!()` runs before or after it alike.
    pub async fn migrate(&self) -> Result<(), MigrationError> {
        match self.pool {
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(ref pool) => migrate::sqlite(pool, &self.names).await,
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(ref pool) => migrate::postgres(pool, &self.names).await,
        }
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// The connection pool (the application's, if it gave one), for the
    /// application's own queries.
    pub fn pool(&self) -> &SqlPool {
        &self.pool
    }

    /// Whether the reads and conditional writes of user and organisation
    /// records run on the store's own SQLite connections rather than on the
    /// pool (see [`connect`](SqlStore::connect)): only for a SQLite file the
    /// store opened itself.
    pub fn runs_sqlite_directly(&self) -> bool {
        #[cfg(feature = "sqlite")]
        return self.direct.is_some();
        #[cfg(not(feature = "sqlite"))]
        false
    }

    /// The prefix of twofold's table names.
    pub fn table_prefix(&self) -> &str {
        &self.names.prefix
    }

    /// The PostgreSQL schema of twofold's tables, if one was set (otherwise the
    /// connection's `search_path` decides).
    pub fn schema(&self) -> Option<&str> {
        self.names.schema.as_deref()
    }
}
