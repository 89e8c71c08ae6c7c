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
//! `DELETE … RETURNING`, so two processes can never both spend one code. A
//! write that binds or unbinds passkey credentials runs in one transaction with
//! the credential index, whose primary key keeps each credential id to one user.
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
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::error::Error as StdError;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use twofold::store::{
    CeremonyRecord, CredentialChanges, OrganizationRecord, Store, StoreError, StoreFuture,
    UserRecord, Version, Versioned,
};
use twofold::{CredentialId, Timestamp};

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
        source: Box::new(error),
    })
}

fn version_of(row: &AnyRow) -> Result<Version, StoreError> {
    let version: i64 = row.try_get("version").map_err(backend_error)?;
    Version::try_from(version).map_err(|error| StoreError::Corrupt {
        what: "version",
        source: Box::new(error),
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

    /// The conditional write of a user record, on `executor` (the pool, or a
    /// transaction that also updates the credential index).
    async fn write_user<'e>(
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        user: &str,
        record: String,
        expires_at: Option<i64>,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        match expected {
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO twofold_users (id, version, record, expires_at) VALUES ($1, 1, $2, $3)",
                )
                .bind(user.to_string())
                .bind(record)
                .bind(expires_at)
                .execute(executor)
                .await;
                match inserted {
                    Ok(_) => Ok(1),
                    Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict),
                    Err(error) => Err(backend_error(error)),
                }
            }
            Some(version) => {
                let updated = sqlx::query(
                    "UPDATE twofold_users SET record = $1, expires_at = $2, version = version + 1 \
                     WHERE id = $3 AND version = $4",
                )
                .bind(record)
                .bind(expires_at)
                .bind(user.to_string())
                .bind(to_sql_version(version)?)
                .execute(executor)
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

    /// A user write with credential index changes, in one transaction.
    async fn write_user_and_credentials(
        &self,
        user: &str,
        record: String,
        expires_at: Option<i64>,
        expected: Option<Version>,
        credentials: CredentialChanges<'_>,
    ) -> Result<Version, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend_error)?;
        // The record first: a stale write fails before it touches the index.
        let version = SqlStore::write_user(&mut *tx, user, record, expires_at, expected).await?;
        for id in credentials.unbind {
            sqlx::query("DELETE FROM twofold_credentials WHERE id = $1 AND user_id = $2")
                .bind(id.to_base64url())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        for id in credentials.bind {
            // A concurrent transaction binding the same id waits on the primary
            // key, then finds it taken.
            sqlx::query(
                "INSERT INTO twofold_credentials (id, user_id) VALUES ($1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.to_base64url())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
            let owner: String =
                sqlx::query("SELECT user_id FROM twofold_credentials WHERE id = $1")
                    .bind(id.to_base64url())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend_error)?
                    .try_get("user_id")
                    .map_err(backend_error)?;
            if owner != user {
                // Dropping the transaction rolls it back: nothing is written.
                return Err(StoreError::CredentialInUse);
            }
        }
        tx.commit().await.map_err(backend_error)?;
        Ok(version)
    }
}

fn to_sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
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
        credentials: CredentialChanges<'a>,
    ) -> StoreFuture<'a, Version> {
        Box::pin(async move {
            let text = encode(record)?;
            let expires_at = record.expires_at().map(to_sql_time);
            if credentials.is_empty() {
                // The common write (a second step, a setup): one statement.
                SqlStore::write_user(&self.pool, user, text, expires_at, expected).await
            } else {
                self.write_user_and_credentials(user, text, expires_at, expected, credentials)
                    .await
            }
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str, expected: Version) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(backend_error)?;
            let deleted = sqlx::query("DELETE FROM twofold_users WHERE id = $1 AND version = $2")
                .bind(user.to_string())
                .bind(to_sql_version(expected)?)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            if deleted.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
            sqlx::query("DELETE FROM twofold_credentials WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            tx.commit().await.map_err(backend_error)
        })
    }

    fn credential_owner<'a>(&'a self, id: &'a CredentialId) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT user_id FROM twofold_credentials WHERE id = $1")
                .bind(id.to_base64url())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
            row.map(|row| row.try_get("user_id").map_err(backend_error))
                .transpose()
        })
    }

    fn expired_users<'a>(&'a self, now: Timestamp, limit: usize) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id FROM twofold_users WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
            )
            .bind(to_sql_time(now.as_unix_seconds()))
            .bind(to_sql_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
            rows.iter()
                .map(|row| row.try_get("id").map_err(backend_error))
                .collect()
        })
    }

    fn list_users<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            // Byte order on both databases (SQLite's default; PostgreSQL's "C").
            let (first, next) = match self.backend {
                Backend::Postgres => (
                    r#"SELECT id FROM twofold_users ORDER BY id COLLATE "C" LIMIT $1"#,
                    r#"SELECT id FROM twofold_users WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2"#,
                ),
                Backend::Sqlite => (
                    "SELECT id FROM twofold_users ORDER BY id LIMIT $1",
                    "SELECT id FROM twofold_users WHERE id > $1 ORDER BY id LIMIT $2",
                ),
            };
            let query = match after {
                None => sqlx::query(first).bind(to_sql_limit(limit)),
                Some(after) => sqlx::query(next)
                    .bind(after.to_string())
                    .bind(to_sql_limit(limit)),
            };
            let rows = query.fetch_all(&self.pool).await.map_err(backend_error)?;
            rows.iter()
                .map(|row| row.try_get("id").map_err(backend_error))
                .collect()
        })
    }

    fn insert_ceremony<'a>(
        &'a self,
        id: &'a str,
        ceremony: &'a CeremonyRecord,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let inserted = sqlx::query(
                "INSERT INTO twofold_ceremonies (id, expires_at, record, organization) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.to_string())
            .bind(to_sql_time(ceremony.expires_at))
            .bind(encode(ceremony)?)
            .bind(ceremony.organization.clone())
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

    fn count_ceremonies<'a>(&'a self, organization: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT COUNT(*) AS outstanding FROM twofold_ceremonies WHERE organization = $1",
            )
            .bind(organization.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(backend_error)?;
            let count: i64 = row.try_get("outstanding").map_err(backend_error)?;
            Ok(to_u64(count))
        })
    }

    fn purge_expired<'a>(&'a self, now: Timestamp) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let deleted = sqlx::query("DELETE FROM twofold_ceremonies WHERE expires_at <= $1")
                .bind(to_sql_time(now.as_unix_seconds()))
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
            Ok(deleted.rows_affected())
        })
    }

    fn load_organization<'a>(
        &'a self,
        organization: &'a str,
    ) -> StoreFuture<'a, Option<Versioned<OrganizationRecord>>> {
        Box::pin(self.load_versioned(
            "SELECT version, record FROM twofold_organizations WHERE id = $1",
            "organization record",
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
