//! Both backends pass twofold's public conformance suite, unchanged.
//!
//! PostgreSQL tests read `TWOFOLD_TEST_POSTGRES_URL` and skip with a message
//! when it is unset, and fail under `CI`; `.ci/run` sets it, so in CI they always run.
#![cfg(test)]

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
