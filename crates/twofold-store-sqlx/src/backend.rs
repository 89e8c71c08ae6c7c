//! The store's operations, written once and stamped out for each database's
//! typed pool (`backend!`), so that every statement runs on sqlx's native
//! driver with no `Any` translation in between.
//!
//! The facade's conditional writes are single statements: `INSERT` (a unique
//! violation is a conflict), `UPDATE … WHERE version = $n` and `DELETE …
//! RETURNING`, so that two processes can never both spend one code. A write that
//! binds or unbinds passkey credentials runs in one transaction with the
//! credential index, whose primary key keeps each credential id to one user.

use std::error::Error as StdError;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twofold::store::{StoreError, Version};

pub(crate) fn backend_error(error: impl StdError + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database| database.is_unique_violation())
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(backend_error)
}

pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        what,
        source: Box::new(error),
    })
}

pub(crate) fn from_sql_version(version: i64) -> Result<Version, StoreError> {
    Version::try_from(version).map_err(|error| StoreError::Corrupt {
        what: "version",
        source: Box::new(error),
    })
}

pub(crate) fn to_sql_version(version: Version) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Conflict)
}

pub(crate) fn to_sql_time(time: u64) -> i64 {
    // Times beyond i64 (year 292 billion) are clamped; they only ever mean "never".
    i64::try_from(time).unwrap_or(i64::MAX)
}

pub(crate) fn to_sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

/// A versioned record from its two columns (both NULL: no record).
pub(crate) fn versioned<T: DeserializeOwned>(
    what: &'static str,
    version: Option<i64>,
    record: Option<String>,
) -> Result<Option<twofold::store::Versioned<T>>, StoreError> {
    match (version, record) {
        (Some(version), Some(record)) => Ok(Some(twofold::store::Versioned {
            value: decode(what, &record)?,
            version: from_sql_version(version)?,
        })),
        _ => Ok(None),
    }
}

/// Every operation of the store on one database, as free functions over its
/// typed pool and the store's statements.
/// An `INSERT`'s outcome: a unique violation means another writer was first.
pub(crate) fn insert_outcome<T>(result: Result<T, sqlx::Error>) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict),
        Err(error) => Err(backend_error(error)),
    }
}

/// A conditional `UPDATE … WHERE version = $n`'s outcome: the new version if
/// it changed the row, else a conflict.
pub(crate) fn update_outcome(rows_affected: u64, version: Version) -> Result<Version, StoreError> {
    if rows_affected == 1 {
        Ok(version + 1)
    } else {
        Err(StoreError::Conflict)
    }
}

macro_rules! backend {
    ($db:ty) => {
        use sqlx::Row;
        use twofold::CredentialId;
        use twofold::store::{CredentialChanges, OrganizationRecord, UserRecord, Versioned};

        use $crate::backend::*;
        use $crate::names::{Queries, Statement};

        type Pool = sqlx::Pool<$db>;

        pub(crate) async fn load_versioned<T: serde::de::DeserializeOwned>(
            pool: &Pool,
            sql: &Statement,
            what: &'static str,
            id: &str,
        ) -> Result<Option<Versioned<T>>, StoreError> {
            let row = sqlx::query(sql.sql())
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(backend_error)?;
            let Some(row) = row else { return Ok(None) };
            versioned(
                what,
                row.try_get("version").map_err(backend_error)?,
                row.try_get("record").map_err(backend_error)?,
            )
        }

        pub(crate) async fn load_user_and_organization(
            pool: &Pool,
            queries: &Queries,
            user: &str,
            organization: &str,
        ) -> Result<
            (
                Option<Versioned<UserRecord>>,
                Option<Versioned<OrganizationRecord>>,
            ),
            StoreError,
        > {
            let row = sqlx::query(queries.load_user_and_organization.sql())
                .bind(user)
                .bind(organization)
                .fetch_one(pool)
                .await
                .map_err(backend_error)?;
            let user = versioned(
                "user record",
                row.try_get("user_version").map_err(backend_error)?,
                row.try_get("user_record").map_err(backend_error)?,
            )?;
            let organization = versioned(
                "organization record",
                row.try_get("organization_version").map_err(backend_error)?,
                row.try_get("organization_record").map_err(backend_error)?,
            )?;
            Ok((user, organization))
        }

        /// The conditional write of a user record, on `executor` (the pool, or a
        /// transaction that also updates the credential index).
        async fn write_user<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
            queries: &Queries,
            user: &str,
            record: String,
            (expires_at, notify_at): (Option<i64>, Option<i64>),
            expected: Option<Version>,
        ) -> Result<Version, StoreError> {
            match expected {
                None => {
                    let inserted = sqlx::query(queries.insert_user.sql())
                        .bind(user)
                        .bind(record)
                        .bind(expires_at)
                        .bind(notify_at)
                        .execute(executor)
                        .await;
                    insert_outcome(inserted).map(|()| 1)
                }
                Some(version) => {
                    let updated = sqlx::query(queries.update_user.sql())
                        .bind(record)
                        .bind(expires_at)
                        .bind(user)
                        .bind(to_sql_version(version)?)
                        .bind(notify_at)
                        .execute(executor)
                        .await
                        .map_err(backend_error)?;
                    update_outcome(updated.rows_affected(), version)
                }
            }
        }

        pub(crate) async fn save_user(
            pool: &Pool,
            queries: &Queries,
            user: &str,
            record: &UserRecord,
            expected: Option<Version>,
            credentials: CredentialChanges<'_>,
        ) -> Result<Version, StoreError> {
            let text = encode(record)?;
            let times = (
                record.expires_at().map(to_sql_time),
                record.notify_at().map(to_sql_time),
            );
            if credentials.is_empty() {
                // The common write (a second step, a setup): one statement.
                return write_user(pool, queries, user, text, times, expected).await;
            }
            let mut tx = pool.begin().await.map_err(backend_error)?;
            // The record first: a stale write fails before it touches the index.
            let version = write_user(&mut *tx, queries, user, text, times, expected).await?;
            for id in credentials.unbind {
                sqlx::query(queries.unbind.sql())
                    .bind(id.to_base64url())
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
            }
            for id in credentials.bind {
                // A concurrent transaction binding the same id waits on the
                // primary key, then finds it taken.
                sqlx::query(queries.bind.sql())
                    .bind(id.to_base64url())
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                let owner: String = sqlx::query(queries.credential_owner.sql())
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

        pub(crate) async fn delete_user(
            pool: &Pool,
            queries: &Queries,
            user: &str,
            expected: Version,
        ) -> Result<(), StoreError> {
            let mut tx = pool.begin().await.map_err(backend_error)?;
            let deleted = sqlx::query(queries.delete_user.sql())
                .bind(user)
                .bind(to_sql_version(expected)?)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            if deleted.rows_affected() != 1 {
                return Err(StoreError::Conflict);
            }
            sqlx::query(queries.unbind_all.sql())
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            tx.commit().await.map_err(backend_error)
        }

        pub(crate) async fn credential_owner(
            pool: &Pool,
            queries: &Queries,
            id: &CredentialId,
        ) -> Result<Option<String>, StoreError> {
            let row = sqlx::query(queries.credential_owner.sql())
                .bind(id.to_base64url())
                .fetch_optional(pool)
                .await
                .map_err(backend_error)?;
            row.map(|row| row.try_get("user_id").map_err(backend_error))
                .transpose()
        }

        /// The `id` column of every row of a query.
        pub(crate) async fn ids(
            pool: &Pool,
            query: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>,
        ) -> Result<Vec<String>, StoreError> {
            let rows = query.fetch_all(pool).await.map_err(backend_error)?;
            rows.iter()
                .map(|row| row.try_get("id").map_err(backend_error))
                .collect()
        }

        pub(crate) async fn expired_users(
            pool: &Pool,
            queries: &Queries,
            now: i64,
            limit: usize,
        ) -> Result<Vec<String>, StoreError> {
            let query = sqlx::query(queries.expired_users.sql())
                .bind(now)
                .bind(to_sql_limit(limit));
            ids(pool, query).await
        }

        pub(crate) async fn users_to_notify(
            pool: &Pool,
            queries: &Queries,
            now: i64,
            limit: usize,
        ) -> Result<Vec<String>, StoreError> {
            let query = sqlx::query(queries.users_to_notify.sql())
                .bind(now)
                .bind(to_sql_limit(limit));
            ids(pool, query).await
        }

        pub(crate) async fn list_users(
            pool: &Pool,
            queries: &Queries,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<String>, StoreError> {
            let query = match after {
                None => sqlx::query(queries.list_users_first.sql()).bind(to_sql_limit(limit)),
                Some(after) => sqlx::query(queries.list_users_after.sql())
                    .bind(after.to_string())
                    .bind(to_sql_limit(limit)),
            };
            ids(pool, query).await
        }

        pub(crate) async fn insert_ceremony(
            pool: &Pool,
            queries: &Queries,
            id: &str,
            ceremony: &twofold::store::CeremonyRecord,
        ) -> Result<(), StoreError> {
            let inserted = sqlx::query(queries.insert_ceremony.sql())
                .bind(id)
                .bind(to_sql_time(ceremony.expires_at))
                .bind(encode(ceremony)?)
                .bind(ceremony.organization.as_str())
                .execute(pool)
                .await;
            insert_outcome(inserted)
        }

        pub(crate) async fn take_ceremony(
            pool: &Pool,
            queries: &Queries,
            id: &str,
        ) -> Result<Option<twofold::store::CeremonyRecord>, StoreError> {
            // One statement: of any number of concurrent takes, one deletes the row.
            let row = sqlx::query(queries.take_ceremony.sql())
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(backend_error)?;
            let Some(row) = row else { return Ok(None) };
            let record: String = row.try_get("record").map_err(backend_error)?;
            decode("ceremony", &record).map(Some)
        }

        pub(crate) async fn count_ceremonies(
            pool: &Pool,
            queries: &Queries,
            organization: &str,
        ) -> Result<u64, StoreError> {
            let row = sqlx::query(queries.count_ceremonies.sql())
                .bind(organization)
                .fetch_one(pool)
                .await
                .map_err(backend_error)?;
            let count: i64 = row.try_get("outstanding").map_err(backend_error)?;
            Ok(to_u64(count))
        }

        pub(crate) async fn purge_expired(
            pool: &Pool,
            queries: &Queries,
            now: i64,
        ) -> Result<u64, StoreError> {
            let deleted = sqlx::query(queries.purge_ceremonies.sql())
                .bind(now)
                .execute(pool)
                .await
                .map_err(backend_error)?;
            Ok(deleted.rows_affected())
        }

        pub(crate) async fn save_organization(
            pool: &Pool,
            queries: &Queries,
            organization: &str,
            record: &OrganizationRecord,
            expected: Option<Version>,
        ) -> Result<Version, StoreError> {
            let text = encode(record)?;
            match expected {
                None => {
                    let inserted = sqlx::query(queries.insert_organization.sql())
                        .bind(organization)
                        .bind(text)
                        .execute(pool)
                        .await;
                    insert_outcome(inserted).map(|()| 1)
                }
                Some(version) => {
                    let updated = sqlx::query(queries.update_organization.sql())
                        .bind(text)
                        .bind(organization)
                        .bind(to_sql_version(version)?)
                        .execute(pool)
                        .await
                        .map_err(backend_error)?;
                    update_outcome(updated.rows_affected(), version)
                }
            }
        }
    };
}

/// The operations on SQLite.
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite {
    use twofold::store::{StoreError, Version};
    backend!(sqlx::Sqlite);
}

/// The operations on PostgreSQL.
#[cfg(feature = "postgres")]
pub(crate) mod postgres {
    use twofold::store::{StoreError, Version};
    backend!(sqlx::Postgres);
}
