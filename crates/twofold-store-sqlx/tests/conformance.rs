//! Both backends pass twofold's public conformance suite, unchanged.
//!
//! PostgreSQL tests read `TWOFOLD_TEST_POSTGRES_URL` and skip with a message
//! when it is unset, and fail under `CI`; `.ci/run` sets it, so in CI they always run.
// Each file runs SQLite tests, so needs the (default) `sqlite` feature.
#![cfg(test)]
#![cfg(feature = "sqlite")]

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let (_dir, store) = support::sqlite_store().await;
    twofold::conformance::run(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    let Some(store) = support::postgres_store().await else {
        return;
    };
    twofold::conformance::run(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_the_schema_is_idempotent() {
    let (dir, store) = support::sqlite_store().await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let again = twofold_store_sqlx::SqlStore::connect(&support::sqlite_url(&dir))
        .await
        .unwrap();
    twofold::conformance::run(&again).await.unwrap();
    if let Some(pg) = support::postgres_store().await {
        pg.migrate().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite_with_a_table_prefix() {
    let dir = support::temp_dir();
    let store = twofold_store_sqlx::SqlStoreOptions::new()
        .table_prefix("app_2fa_")
        .connect(&support::sqlite_url(&dir))
        .await
        .unwrap();
    twofold::conformance::run(&store).await.unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite_in_a_schema_with_a_table_prefix() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    // A schema of this run's own, on the application's pool.
    let schema = format!("twofold_conformance_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let store = twofold_store_sqlx::SqlStoreOptions::new()
        .table_prefix("app_2fa_")
        .schema(schema.as_str())
        .from_pool(pool.clone())
        .await
        .unwrap();
    twofold::conformance::run(&store).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .unwrap();
}
