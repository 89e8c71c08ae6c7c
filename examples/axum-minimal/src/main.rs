//! Run with `cargo run -p axum-minimal`, then open <http://localhost:3000> and
//! sign in as `demo@example.com` with the password `demo password`.

use axum_minimal::{AppState, add_user, create_schema, router, two_factor};
use sqlx::sqlite::SqlitePoolOptions;
use std::sync::Arc;
use twofold::{Randomness, SystemClock};

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
    let clock = Arc::new(SystemClock);
    let twofold = two_factor(&pool, key()?, "http://localhost:3000", clock).await?;
    axum::serve(listener, router(AppState { pool, twofold })).await?;
    Ok(())
}

/// The key that seals TOTP secrets at rest, kept beside the database.
fn key() -> Result<[u8; 32], Box<dyn std::error::Error>> {
    const KEY: &str = "axum-minimal.key";
    if let Some(key) = std::fs::read(KEY).ok().and_then(|k| k.try_into().ok()) {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    twofold::OsRandomness.fill(&mut key)?;
    std::fs::write(KEY, key)?;
    Ok(key)
}
