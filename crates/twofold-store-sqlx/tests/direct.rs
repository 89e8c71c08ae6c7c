//! The second step's statements on a SQLite file that the store opened itself
//! run on its own connections (`src/direct.rs`), beside sqlx's pool: which
//! stores do so, that they pass the conformance suite on either kind of tokio
//! runtime, and that the two sets of connections see each other's writes.
#![cfg(test)]
#![cfg(feature = "sqlite")]

mod support;

use twofold::store::{CredentialChanges, Store, StoreError, UserRecord};
use twofold_store_sqlx::{SqlStore, SqlStoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_plain_sqlite_file_opened_by_the_store_runs_directly() {
    let dir = support::temp_dir();
    let file = dir.0.join("direct.db");
    let connected = SqlStore::connect(&support::sqlite_url_for(&file))
        .await
        .unwrap();
    assert!(connected.runs_sqlite_directly());

    // The application's own pool stays the only way in, unless it says so.
    let pool = sqlx::SqlitePool::connect(&support::sqlite_url_for(&file))
        .await
        .unwrap();
    assert!(
        !SqlStore::from_pool(pool.clone())
            .await
            .unwrap()
            .runs_sqlite_directly()
    );
    let opted_in = SqlStoreOptions::new()
        .direct_sqlite(true)
        .from_pool(pool)
        .await
        .unwrap();
    assert!(opted_in.runs_sqlite_directly());
    twofold::conformance::run(&opted_in).await.unwrap();
    // And a store it opened itself can be kept on sqlx alone.
    let off = SqlStoreOptions::new()
        .direct_sqlite(false)
        .connect(&support::sqlite_url_for(&file))
        .await
        .unwrap();
    assert!(!off.runs_sqlite_directly());
    // An in-memory pool cannot be shared with other connections, even one
    // that names a file; nor can a read-only one be written through: on sqlx
    // alone, whatever the option says.
    let memory = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let named_memory = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .in_memory(true),
    )
    .await
    .unwrap();
    let read_only = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true),
    )
    .await
    .unwrap();
    for (what, pool, migrate) in [
        ("memory", memory, true),
        ("memory with a file name", named_memory, true),
        ("read-only", read_only, false),
    ] {
        let store = SqlStoreOptions::new()
            .direct_sqlite(true)
            .migrate(migrate)
            .from_pool(pool)
            .await
            .unwrap();
        assert!(!store.runs_sqlite_directly(), "{what}");
    }

    // Each connection to an in-memory database would get a database of its own,
    // and a shared cache, read-only or other VFS is the URL's business.
    for url in [
        "sqlite::memory:".to_string(),
        "sqlite://?mode=memory".to_string(),
        format!("sqlite://{}?mode=rwc&cache=shared", file.display()),
    ] {
        let store = SqlStore::connect(&url).await.unwrap();
        assert!(!store.runs_sqlite_directly(), "{url}");
    }
}

#[tokio::test]
async fn the_direct_path_passes_the_conformance_suite_on_a_current_thread_runtime() {
    // Here block_in_place is not available: the calls go to the blocking pool.
    assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
    let (_dir, store) = support::sqlite_store().await;
    assert!(store.runs_sqlite_directly());
    twofold::conformance::run(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_on_the_applications_pool_passes_the_conformance_suite() {
    let dir = support::temp_dir();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.0.join("app.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let store = SqlStore::from_pool(pool).await.unwrap();
    twofold::conformance::run(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_own_connections_and_the_pool_see_each_others_writes() {
    let dir = support::temp_dir();
    let url = support::sqlite_url(&dir);
    let direct = SqlStore::connect(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let pooled = SqlStore::from_pool(pool).await.unwrap();
    assert!(direct.runs_sqlite_directly() && !pooled.runs_sqlite_directly());

    let record = UserRecord::default();
    let first = pooled
        .save_user("ana", &record, None, CredentialChanges::NONE)
        .await
        .unwrap();
    // Written by the pool, read and updated by the store's own connections.
    let (user, organization) = direct
        .load_user_and_organization("ana", "clinic")
        .await
        .unwrap();
    assert_eq!(user.map(|user| user.version), Some(first));
    assert!(organization.is_none());
    let second = direct
        .save_user("ana", &record, Some(first), CredentialChanges::NONE)
        .await
        .unwrap();
    assert_eq!(second, first + 1);
    // The pool sees that write: its stale version loses, its fresh one wins.
    assert!(matches!(
        pooled
            .save_user("ana", &record, Some(first), CredentialChanges::NONE)
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        pooled
            .load_user("ana")
            .await
            .unwrap()
            .map(|user| user.version),
        Some(second)
    );
    // And the other way round: a stale direct write loses to the pool's.
    let third = pooled
        .save_user("ana", &record, Some(second), CredentialChanges::NONE)
        .await
        .unwrap();
    assert!(matches!(
        direct
            .save_user("ana", &record, Some(second), CredentialChanges::NONE)
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        direct
            .load_user("ana")
            .await
            .unwrap()
            .map(|user| user.version),
        Some(third)
    );
}
