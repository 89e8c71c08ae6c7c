//! The typed sqlx pool a store runs on.

use crate::Backend;

/// The sqlx pool of a [`SqlStore`](crate::SqlStore): a `sqlx::SqlitePool` or a
/// `sqlx::PgPool`, typed, so that an application can hand in the pool it already
/// has (`From` each) and run its own queries on the one it gets back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlPool {
    /// A SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

impl SqlPool {
    /// The database of the pool.
    pub fn backend(&self) -> Backend {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite pool, if it is one.
    #[cfg(feature = "sqlite")]
    pub fn as_sqlite(&self) -> Option<&sqlx::SqlitePool> {
        match self {
            SqlPool::Sqlite(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The PostgreSQL pool, if it is one.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&sqlx::PgPool> {
        match self {
            SqlPool::Postgres(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Closes the pool: waits for the connections in use to be returned, and
    /// closes them all.
    pub async fn close(&self) {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(ref pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(ref pool) => pool.close().await,
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for SqlPool {
    fn from(pool: sqlx::SqlitePool) -> SqlPool {
        SqlPool::Sqlite(pool)
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for SqlPool {
    fn from(pool: sqlx::PgPool) -> SqlPool {
        SqlPool::Postgres(pool)
    }
}
