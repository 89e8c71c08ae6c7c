//! SQLite and PostgreSQL stores for [twofold](https://docs.rs/twofold), on sqlx.
//!
//! One [`SqlStore`] serves both databases through sqlx's `Any` driver, with the
//! same portable SQL:
//!
//! - **SQLite** (feature `sqlite`, default): the embedded default for a single
//!   server, in WAL mode so that readers never wait for the writer.
//! - **PostgreSQL** (feature `postgres`): for many application servers sharing
//!   one database.
//!
//! [`SqlStore::connect`] creates the schema from embedded migrations (idempotent,
//! safe to run from many processes at once), so applications need no separate
//! step. The facade's conditional writes are single statements: `INSERT` (a
//! unique violation is a conflict), `UPDATE … WHERE version = $n` and
//! `DELETE … RETURNING`, so two processes can never both spend one code.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let store = twofold_store_sqlx::SqlStore::connect("sqlite://twofold.db?mode=rwc").await?;
//! // or SqlStore::connect("postgres://app@db.internal/clinic").await?
//! let store: Arc<dyn twofold::Store> = Arc::new(store);
//! # let _ = store; Ok(()) }
//! ```
#![forbid(unsafe_code)]

use std::error::Error as StdError;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use twofold::store::{
    CeremonyRecord, OrganizationRecord, Store, StoreError, StoreFuture, UserRecord, Version,
    Versioned,
};

/// The schema, embedded in the binary.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A twofold [`Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

fn backend_error(error: impl StdError + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database| database.is_unique_violation())
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(backend_error)
}

fn decode<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        what,
        reason: error.to_string(),
    })
}

fn version_of(row: &AnyRow) -> Result<Version, StoreError> {
    let version: i64 = row.try_get("version").map_err(backend_error)?;
    Version::try_from(version).map_err(|_| StoreError::Corrupt {
        what: "version",
        reason: format!("{version} is negative"),
    })
}

fn to_sql_version(version: Version) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Conflict)
}

fn to_sql_time(time: u64) -> i64 {
    // Times beyond i64 (year 292 billion) are clamped; they only ever mean "never".
    i64::try_from(time).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`) and
    /// creates or updates the schema. SQLite databases are put in WAL mode.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Backend(
                "unsupported database URL: use sqlite:// or postgres://".into(),
            ));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .connect(url)
            .await
            .map_err(backend_error)?;
        let store = SqlStore { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates or updates the schema: idempotent, and safe when many processes
    /// start at once (sqlx takes a lock around migrations).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
        }
        MIGRATIONS.run(&self.pool).await.map_err(backend_error)
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for the application's own queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn load_versioned<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        what: &'static str,
        id: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        let Some(row) = row else { return Ok(None) };
        let record: String = row.try_get("record").map_err(backend_error)?;
        Ok(Some(Versioned {
            value: decode(what, &record)?,
            version: version_of(&row)?,
        }))
    }

    async fn save_versioned(
        &self,
        insert: &'static str,
        update: &'static str,
        id: &str,
        record: String,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        match expected {
            None => {
                let inserted = sqlx::query(insert)
                    .bind(id.to_string())
                    .bind(record)
                    .execute(&self.pool)
                    .await;
                match inserted {
                    Ok(_) => Ok(1),
                    Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict),
                    Err(error) => Err(backend_error(error)),
                }
            }
            Some(version) => {
                let updated = sqlx::query(update)
                    .bind(record)
                    .bind(id.to_string())
                    .bind(to_sql_version(version)?)
                    .execute(&self.pool)
                    .await
                    .map_err(backend_error)?;
                if updated.rows_affected() == 1 {
                    Ok(version + 1)
                } else {
                    Err(StoreError::Conflict)
                }
            }
        }
    }
}

impl Store for SqlStore {
    fn load_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Option<Versioned<UserRecord>>> {
        Box::pin(self.load_versioned(
            "SELECT version, record FROM twofold_users WHERE id = $1",
            "user record",
            user,
        ))
    }

    fn save_user<'a>(
        &'a self,
        user: &'a str,
        record: &'a UserRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            self.save_versioned(
                "INSERT INTO twofold_users (id, version, record) VALUES ($1, 1, $2)",
                "UPDATE twofold_users SET record = $1, version = version + 1 WHERE id = $2 AND version = $3",
                user,
                encode(record)?,
                expected,
            )
            .await
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let deleted = sqlx::query("DELETE FROM twofold_users WHERE id = $1 AND version = $2")
                .bind(user.to_string())
                .bind(to_sql_version(expected)?)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
            if deleted.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict)
            }
        })
    }

    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let inserted = sqlx::query(
                "INSERT INTO twofold_ceremonies (id, expires_at, record) VALUES ($1, $2, $3)",
            )
            .bind(id.to_string())
            .bind(to_sql_time(ceremony.expires_at))
            .bind(encode(ceremony)?)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict),
                Err(error) => Err(backend_error(error)),
            }
        })
    }

    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        Box::pin(async move {
            // One statement: of any number of concurrent takes, one deletes the row.
            let row = sqlx::query("DELETE FROM twofold_ceremonies WHERE id = $1 RETURNING record")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
            let Some(row) = row else { return Ok(None) };
            let record: String = row.try_get("record").map_err(backend_error)?;
            decode("ceremony", &record).map(Some)
        })
    }

    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        Box::pin(self.load_versioned(
            "SELECT version, record FROM twofold_organizations WHERE id = $1",
            "organisation record",
            organization,
        ))
    }

    fn save_organization<'a>(
        &'a self,
        organization: &'a str,
        record: &'a OrganizationRecord,
        expected: Option<Version>,
    ) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            self.save_versioned(
                "INSERT INTO twofold_organizations (id, version, record) VALUES ($1, 1, $2)",
                "UPDATE twofold_organizations SET record = $1, version = version + 1 WHERE id = $2 AND version = $3",
                organization,
                encode(record)?,
                expected,
            )
            .await
        })
    }
}
