//! Run with `cargo run -p axum-minimal`, then open <http://localhost:3000> and
//! sign in as `demo@example.com` with the password `demo password`.

use axum_minimal::{AppState, add_user, create_schema, router};
use sqlx::sqlite::SqlitePoolOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = SqlitePoolOptions::new()
        .connect("sqlite://axum-minimal.db?mode=rwc")
        .await?;
    create_schema(&pool).await?;
    if add_user(&pool, "demo@example.com", "demo password")
        .await
        .is_err()
    {
        // Already there from an earlier run.
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://localhost:3000");
    axum::serve(listener, router(AppState { pool })).await?;
    Ok(())
}
