//! The second step's statements on SQLite without sqlx's worker thread.
//!
//! sqlx runs every SQLite statement on a worker thread of its connection, and a
//! pooled connection is pinged through that thread when it is returned: each
//! statement costs two or more hand-offs between threads, which, on a SQLite
//! file whose statements take tens of microseconds, is most of a second step's
//! time. So a store that owns its database file ([`SqlStore::connect`]) reads
//! and conditionally writes user and organisation records on connections of its
//! own (rusqlite, on the same SQLite library as sqlx), on the calling thread,
//! inside [`tokio::task::block_in_place`], which moves the runtime's other tasks
//! to another worker first; so the executor never waits on the disk. On a
//! current-thread runtime, where that is not possible, the call runs on
//! tokio's blocking pool instead.
//!
//! Everything else (setup, migrations, the credential index's transactions,
//! ceremonies, sweeps) stays on sqlx. The two sets of connections meet only in
//! the database, as any two processes would: every write is a single
//! conditional statement or one transaction, and WAL lets readers go on while
//! one writes.
//!
//! [`SqlStore::connect`]: crate::SqlStore::connect

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use twofold::store::{OrganizationRecord, StoreError, UserRecord, Version, Versioned};

use crate::backend::{backend_error, to_sql_version, update_outcome, versioned};
use crate::names::Queries;

/// How many calls run at once, each on a connection of its own (kept open
/// for the next call). More calls wait for a turn asynchronously, before
/// they take a thread: threads, connections and contention for SQLite's one
/// write lock stay bounded however many requests come at once.
const MAX_CONNECTIONS: usize = 4;

/// How long a statement waits for another connection's write lock: sqlx's own
/// default, so that both sets of connections wait alike.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of the store's own to its SQLite file.
#[derive(Debug)]
pub(crate) struct Direct {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    turns: tokio::sync::Semaphore,
    queries: Arc<Queries>,
}

/// A record's two columns, as read.
type Columns = (Option<i64>, Option<String>);

impl Direct {
    /// Opens one connection to the database at `path` (which sqlx has already
    /// created and migrated), so that a file it cannot open fails setup.
    pub(crate) fn open(path: PathBuf, queries: Arc<Queries>) -> Result<Direct, rusqlite::Error> {
        // Resolved once: a relative path must not follow a later change of
        // the process's working directory.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let direct = Direct {
            path,
            idle: Mutex::new(Vec::new()),
            turns: tokio::sync::Semaphore::new(MAX_CONNECTIONS),
            queries,
        };
        let connection = direct.connect()?;
        direct.put_back(connection);
        Ok(direct)
    }

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        // The file must exist (no CREATE): sqlx made it. WAL is a property of
        // the file; `synchronous` stays SQLite's default, FULL, as on sqlx's
        // connections, so that a spent code stays spent after a power cut.
        let connection = Connection::open_with_flags(
            &self.path,
            // No SQLITE_OPEN_URI: the name is a plain path, read as one.
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
        Ok(connection)
    }

    fn take(&self) -> Result<Connection, rusqlite::Error> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(connection) => Ok(connection),
            None => self.connect(),
        }
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// Runs `work` on a connection, off the executor, once a turn is free. A
    /// connection whose work failed is closed rather than kept.
    ///
    /// Inside `block_in_place` the calling task runs nothing else until the
    /// statement returns: a `tokio::time::timeout` or `select!` around a store
    /// call waits for it (at most the 5 s busy timeout).
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Connection, &Queries) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        // Held until the call returns, across the blocking section.
        let _turn = self.turns.acquire().await.map_err(backend_error)?;
        let direct = Arc::clone(self);
        let call = move || {
            let connection = direct.take().map_err(backend_error)?;
            let result = work(&connection, &direct.queries);
            if result.is_ok() {
                direct.put_back(connection);
            }
            result
        };
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(call)
            }
            Ok(handle) => handle.spawn_blocking(call).await.map_err(backend_error)?,
            // No runtime (a future driven by another executor): the caller's
            // thread is all there is.
            Err(_) => call(),
        }
    }

    /// The user's and the organisation's records, in one statement.
    pub(crate) async fn load_user_and_organization(
        self: &Arc<Self>,
        user: &str,
        organization: &str,
    ) -> Result<
        (
            Option<Versioned<UserRecord>>,
            Option<Versioned<OrganizationRecord>>,
        ),
        StoreError,
    > {
        let (user, organization) = (user.to_owned(), organization.to_owned());
        let (user_columns, organization_columns) = self
            .run(move |connection, queries| {
                let mut statement = connection
                    .prepare_cached(queries.load_user_and_organization.text())
                    .map_err(backend_error)?;
                statement
                    .query_row(
                        &[("$1", &user as &dyn rusqlite::ToSql), ("$2", &organization)],
                        |row| -> rusqlite::Result<(Columns, Columns)> {
                            Ok(((row.get(0)?, row.get(1)?), (row.get(2)?, row.get(3)?)))
                        },
                    )
                    .map_err(backend_error)
            })
            .await?;
        // JSON is decoded back on the caller's thread, as on the sqlx path.
        Ok((
            versioned("user record", user_columns.0, user_columns.1)?,
            versioned(
                "organization record",
                organization_columns.0,
                organization_columns.1,
            )?,
        ))
    }

    /// A record by id, with `sql` (`SELECT version, record … WHERE id = $1`).
    pub(crate) async fn load_versioned<T: serde::de::DeserializeOwned>(
        self: &Arc<Self>,
        which: fn(&Queries) -> &crate::names::Statement,
        what: &'static str,
        id: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        let id = id.to_owned();
        let columns: Option<Columns> = self
            .run(move |connection, queries| {
                connection
                    .prepare_cached(which(queries).text())
                    .map_err(backend_error)?
                    .query_row(&[("$1", &id as &dyn rusqlite::ToSql)], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()
                    .map_err(backend_error)
            })
            .await?;
        match columns {
            Some((version, record)) => versioned(what, version, record),
            None => Ok(None),
        }
    }

    /// The conditional `UPDATE` of a user record at `version`: the new
    /// version, or a conflict if another write came first.
    pub(crate) async fn update_user(
        self: &Arc<Self>,
        user: &str,
        record: String,
        (expires_at, notify_at): (Option<i64>, Option<i64>),
        version: Version,
    ) -> Result<Version, StoreError> {
        let user = user.to_owned();
        let expected = to_sql_version(version)?;
        let updated = self
            .run(move |connection, queries| {
                connection
                    .prepare_cached(queries.update_user.text())
                    .map_err(backend_error)?
                    .execute(&[
                        ("$1", &record as &dyn rusqlite::ToSql),
                        ("$2", &expires_at),
                        ("$3", &user),
                        ("$4", &expected),
                        ("$5", &notify_at),
                    ])
                    .map_err(backend_error)
            })
            .await?;
        update_outcome(u64::try_from(updated).unwrap_or(0), version)
    }
}
