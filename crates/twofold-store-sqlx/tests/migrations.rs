//! twofold's schema migrations and the application's own `sqlx::migrate!()`
//! share one database without colliding, whichever runs first, on SQLite and
//! PostgreSQL; running either again changes nothing; twofold's version table
//! checks what it records; and databases of the original store are adopted.
//!
//! Every test has a database of its own (a SQLite file, or a fresh PostgreSQL
//! database).
#![cfg(test)]
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod support;

use sqlx::migrate::Migrator;
use twofold::Store;
use twofold::store::{CredentialChanges, UserRecord};
use twofold_store_sqlx::{MigrationError, SetupError, SqlPool, SqlStore, SqlStoreOptions};

/// The application's migrations: a real `sqlx::migrate!()`, as an application
/// embeds them, recorded in sqlx's own `_sqlx_migrations`.
static APP: Migrator = sqlx::migrate!("tests/data/app_migrations");
const APP_VERSIONS: [i64; 2] = [20240101000000, 20240102000000];

/// The store's migrations as the original store ran them (`sqlx::migrate!` on
/// `_sqlx_migrations`), from copies of its migration files.
static LEGACY: Migrator = sqlx::migrate!("tests/data/legacy_migrations");
const TWOFOLD_VERSIONS: [i64; 3] = [20261122000001, 20261124000001, 20261207000001];
/// The versions the original store recorded in `_sqlx_migrations`.
const LEGACY_VERSIONS: [i64; 2] = [20261122000001, 20261124000001];

/// A database of the test's own.
struct Database {
    url: String,
    _dir: Option<support::TempDir>,
    #[cfg(feature = "postgres")]
    fresh: Option<support::FreshDatabase>,
}

impl Database {
    #[cfg(feature = "sqlite")]
    fn sqlite() -> Option<Database> {
        let dir = support::temp_dir();
        Some(Database {
            url: support::sqlite_url(&dir),
            _dir: Some(dir),
            #[cfg(feature = "postgres")]
            fresh: None,
        })
    }

    #[cfg(feature = "postgres")]
    async fn postgres() -> Option<Database> {
        let fresh = support::FreshDatabase::create().await?;
        Some(Database {
            url: fresh.url.clone(),
            _dir: None,
            fresh: Some(fresh),
        })
    }

    /// A new pool on it: the application's, or another process's.
    async fn pool(&self) -> SqlPool {
        if self.url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            return sqlx::SqlitePool::connect(&self.url).await.unwrap().into();
        }
        #[cfg(feature = "postgres")]
        return sqlx::PgPool::connect(&self.url).await.unwrap().into();
        #[allow(unreachable_code)]
        {
            unreachable!("no driver for {}", self.url)
        }
    }

    async fn finish(self) {
        #[cfg(feature = "postgres")]
        if let Some(fresh) = self.fresh {
            fresh.drop().await;
        }
    }
}

async fn run_migrator(
    migrator: &Migrator,
    pool: &SqlPool,
) -> Result<(), sqlx::migrate::MigrateError> {
    match pool {
        #[cfg(feature = "sqlite")]
        SqlPool::Sqlite(pool) => migrator.run(pool).await,
        #[cfg(feature = "postgres")]
        SqlPool::Postgres(pool) => migrator.run(pool).await,
        _ => unreachable!(),
    }
}

/// The versions recorded in `table`.
async fn versions(pool: &SqlPool, table: &str) -> Vec<i64> {
    let sql = format!("SELECT version FROM {table} ORDER BY version");
    match pool {
        #[cfg(feature = "sqlite")]
        SqlPool::Sqlite(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap(),
        #[cfg(feature = "postgres")]
        SqlPool::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap(),
        _ => unreachable!(),
    }
}

/// The store works: a user written and read back.
async fn store_works(store: &SqlStore, user: &str) {
    let version = store
        .save_user(user, &UserRecord::default(), None, CredentialChanges::NONE)
        .await
        .unwrap();
    assert_eq!(
        store.load_user(user).await.unwrap().unwrap().version,
        version
    );
}

#[derive(Debug, Clone, Copy)]
enum Order {
    AppFirst,
    TwofoldFirst,
}

#[derive(Debug, Clone, Copy)]
enum Way {
    /// On the application's pool.
    FromPool,
    /// On a pool of the store's own.
    Connect,
}

async fn twofold(database: &Database, app: &SqlPool, way: Way) -> SqlStore {
    match way {
        Way::FromPool => SqlStore::from_pool(app.clone()).await.unwrap(),
        Way::Connect => SqlStore::connect(&database.url).await.unwrap(),
    }
}

async fn both_migrate(database: Database, order: Order, way: Way) {
    let app = database.pool().await;
    let store = match order {
        Order::AppFirst => {
            run_migrator(&APP, &app).await.unwrap();
            twofold(&database, &app, way).await
        }
        Order::TwofoldFirst => {
            let store = twofold(&database, &app, way).await;
            run_migrator(&APP, &app).await.unwrap();
            store
        }
    };
    // Again, both, in both orders: nothing to do, no error.
    run_migrator(&APP, &app).await.unwrap();
    store.migrate().await.unwrap();
    twofold(&database, &app, way).await;
    run_migrator(&APP, &app).await.unwrap();

    support::execute(
        &app,
        "INSERT INTO app_users (id, email) VALUES ($1, $2)",
        &["a-1", "ana@example.com"],
    )
    .await;
    store_works(&store, "migrated-user").await;
    assert_eq!(
        versions(&app, "_sqlx_migrations").await,
        APP_VERSIONS,
        "_sqlx_migrations holds the application's migrations and nothing else"
    );
    assert_eq!(
        versions(&app, "twofold_schema_migrations").await,
        TWOFOLD_VERSIONS,
        "twofold's own table holds twofold's"
    );
    app.close().await;
    store.pool().close().await;
    database.finish().await;
}

/// A prefix (and on PostgreSQL a schema) names every table, the version table too.
async fn names_are_configurable(database: Database, schema: Option<&str>) {
    let app = database.pool().await;
    run_migrator(&APP, &app).await.unwrap();
    let mut options = SqlStoreOptions::new().table_prefix("auth_2fa_");
    if let Some(schema) = schema {
        options = options.schema(schema);
    }
    let store = options.clone().from_pool(app.clone()).await.unwrap();
    options.from_pool(app.clone()).await.unwrap();
    store_works(&store, "prefixed-user").await;
    let qualified = |table: &str| match schema {
        Some(schema) => format!("\"{schema}\".{table}"),
        None => table.to_string(),
    };
    assert_eq!(
        versions(&app, &qualified("auth_2fa_schema_migrations")).await,
        TWOFOLD_VERSIONS
    );
    assert_eq!(versions(&app, "_sqlx_migrations").await, APP_VERSIONS);
    // The default names are another store: empty, its own version table.
    let default = SqlStore::from_pool(app.clone()).await.unwrap();
    assert!(default.load_user("prefixed-user").await.unwrap().is_none());
    assert_eq!(store.table_prefix(), "auth_2fa_");
    assert_eq!(store.schema(), schema);
    database.finish().await;
}

/// An applied migration whose SQL differs from this build's stops everything.
async fn a_changed_migration_is_refused(database: Database) {
    let app = database.pool().await;
    let store = SqlStore::from_pool(app.clone()).await.unwrap();
    support::execute(
        &app,
        // Another migration's checksum (a value of the column's own type on both databases).
        "UPDATE twofold_schema_migrations SET checksum = \
         (SELECT checksum FROM twofold_schema_migrations WHERE version = 20261122000001) \
         WHERE version = 20261124000001",
        &[],
    )
    .await;
    let error = store.migrate().await.unwrap_err();
    assert!(
        matches!(
            error,
            MigrationError::Changed {
                version: 20261124000001
            }
        ),
        "{error:?}"
    );
    let error = SqlStore::from_pool(app.clone()).await.unwrap_err();
    assert!(
        matches!(error, SetupError::Migration(MigrationError::Changed { .. })),
        "{error:?}"
    );
    database.finish().await;
}

/// A database migrated by a newer twofold is refused, not run on.
async fn a_newer_database_is_refused(database: Database) {
    let app = database.pool().await;
    let store = SqlStore::from_pool(app.clone()).await.unwrap();
    support::execute(
        &app,
        "INSERT INTO twofold_schema_migrations (version, description, success, checksum, execution_time) \
         SELECT 29991231000000, 'from the future', TRUE, checksum, 0 \
         FROM twofold_schema_migrations WHERE version = 20261122000001",
        &[],
    )
    .await;
    let error = store.migrate().await.unwrap_err();
    assert!(
        matches!(
            error,
            MigrationError::Unknown {
                version: 29991231000000
            }
        ),
        "{error:?}"
    );
    database.finish().await;
}

/// A database of the original store (its migrations in `_sqlx_migrations`,
/// beside the application's, which tolerated them) is adopted: twofold's own
/// table records them, nothing runs again, the data stays, and
/// `_sqlx_migrations` is left as it was.
async fn the_original_stores_databases_are_adopted(database: Database) {
    let app = database.pool().await;
    run_migrator(&LEGACY, &app).await.unwrap();
    support::execute(
        &app,
        "INSERT INTO twofold_users (id, version, record) VALUES ($1, 7, '{}')",
        &["old-user"],
    )
    .await;
    let store = SqlStore::from_pool(app.clone()).await.unwrap();
    assert_eq!(
        store.load_user("old-user").await.unwrap().unwrap().version,
        7
    );
    store_works(&store, "new-user").await;
    assert_eq!(
        versions(&app, "twofold_schema_migrations").await,
        TWOFOLD_VERSIONS
    );
    assert_eq!(versions(&app, "_sqlx_migrations").await, LEGACY_VERSIONS);
    store.migrate().await.unwrap();
    database.finish().await;
}

/// Processes that start together: each migrates, or finds nothing to do.
async fn many_start_at_once(database: Database) {
    let mut pools = Vec::new();
    for _ in 0..6 {
        pools.push(database.pool().await);
    }
    let starts = pools.iter().map(|pool| SqlStore::from_pool(pool.clone()));
    for started in futures_join_all(starts).await {
        started.unwrap();
    }
    assert_eq!(
        versions(&pools[0], "twofold_schema_migrations").await,
        TWOFOLD_VERSIONS
    );
    database.finish().await;
}

/// Joins futures concurrently (on separate tasks, so that they truly overlap).
async fn futures_join_all<T: Send + 'static>(
    futures: impl Iterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    fn database() -> Database {
        Database::sqlite().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_application_migrates_first() {
        both_migrate(database(), Order::AppFirst, Way::FromPool).await;
        both_migrate(database(), Order::AppFirst, Way::Connect).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twofold_migrates_first() {
        both_migrate(database(), Order::TwofoldFirst, Way::FromPool).await;
        both_migrate(database(), Order::TwofoldFirst, Way::Connect).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_prefix_names_every_table() {
        names_are_configurable(database(), None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_schema_is_refused_on_sqlite() {
        let database = database();
        let error = SqlStoreOptions::new()
            .schema("auth")
            .connect(&database.url)
            .await
            .unwrap_err();
        assert!(matches!(error, SetupError::SchemaOnSqlite), "{error:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_changed_migration_is_refused_on_sqlite() {
        a_changed_migration_is_refused(database()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_newer_database_is_refused_on_sqlite() {
        a_newer_database_is_refused(database()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_original_stores_sqlite_databases_are_adopted() {
        the_original_stores_databases_are_adopted(database()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_start_at_once_on_sqlite() {
        many_start_at_once(database()).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_application_migrates_first() {
        for way in [Way::FromPool, Way::Connect] {
            let Some(database) = Database::postgres().await else {
                return;
            };
            both_migrate(database, Order::AppFirst, way).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twofold_migrates_first() {
        for way in [Way::FromPool, Way::Connect] {
            let Some(database) = Database::postgres().await else {
                return;
            };
            both_migrate(database, Order::TwofoldFirst, way).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_prefix_and_a_schema_name_every_table() {
        let Some(database) = Database::postgres().await else {
            return;
        };
        // `user` is a keyword: names are quoted.
        names_are_configurable(database, Some("user")).await;
        let Some(database) = Database::postgres().await else {
            return;
        };
        names_are_configurable(database, None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_changed_migration_is_refused_on_postgres() {
        let Some(database) = Database::postgres().await else {
            return;
        };
        a_changed_migration_is_refused(database).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_newer_database_is_refused_on_postgres() {
        let Some(database) = Database::postgres().await else {
            return;
        };
        a_newer_database_is_refused(database).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_original_stores_postgres_databases_are_adopted() {
        let Some(database) = Database::postgres().await else {
            return;
        };
        the_original_stores_databases_are_adopted(database).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_start_at_once_on_postgres() {
        let Some(database) = Database::postgres().await else {
            return;
        };
        many_start_at_once(database).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_are_not_plain_identifiers_are_refused_before_connecting() {
    for (prefix, schema) in [
        ("Twofold_", None),
        ("tf; DROP TABLE app_users; --", None),
        ("", None),
        ("tf_", Some("auth\".x")),
        ("tf_", Some("Auth")),
    ] {
        let mut options = SqlStoreOptions::new().table_prefix(prefix);
        if let Some(schema) = schema {
            options = options.schema(schema);
        }
        // Nothing listens here: the names are refused before any connection.
        let error = options
            .connect("postgres://nobody@127.0.0.1:1/none")
            .await
            .unwrap_err();
        assert!(
            matches!(error, SetupError::InvalidName { .. }),
            "{prefix:?} {schema:?}: {error:?}"
        );
    }
}
