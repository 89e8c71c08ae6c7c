//! A tiny "existing" application: users with Argon2id password hashes in
//! SQLite (sqlx), a sign-in form, one page for signed-in users, and sign-out,
//! with sessions from tower-sessions. Run it with `cargo run -p axum-minimal`.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sqlx::SqlitePool;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

/// The shared state.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: SqlitePool,
}

/// The one error type: every failure is a 500 here.
#[derive(Debug)]
pub struct AppError;

impl<E: std::error::Error> From<E> for AppError {
    fn from(_: E) -> AppError {
        AppError
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
    }
}

/// Creates the users table.
pub async fn create_schema(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, \
         email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL)",
    )
    .execute(pool)
    .await
    .map(drop)
}

/// Adds a user with an Argon2id hash of `password`.
pub async fn add_user(pool: &SqlitePool, email: &str, password: &str) -> Result<(), AppError> {
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
    })
    .await??;
    sqlx::query("INSERT INTO users (email, password_hash) VALUES (?, ?)")
        .bind(email)
        .bind(hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// The user's id and email, if `password` is theirs.
async fn check_password(
    pool: &SqlitePool,
    email: &str,
    password: &str,
) -> Result<Option<(i64, String)>, AppError> {
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT id, email, password_hash FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(pool)
            .await?;
    let Some((id, email, hash)) = row else {
        return Ok(None);
    };
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await?;
    Ok(matches.then_some((id, email)))
}

/// The application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signout", post(sign_out))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
        .with_state(state)
}

const USER: &str = "user";

async fn sign_in_page() -> Html<&'static str> {
    Html(
        r#"<form method="post" action="/signin"><input name="email" placeholder="Email">
<input name="password" type="password" placeholder="Password"><button>Sign in</button></form>"#,
    )
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let Some((id, email)) = check_password(&state.pool, &form.email, &form.password).await? else {
        return Ok((StatusCode::UNAUTHORIZED, "Wrong email or password.").into_response());
    };
    session.cycle_id().await?;
    session.insert(USER, (id, email)).await?;
    Ok(Redirect::to("/").into_response())
}

async fn home(session: Session) -> Result<Response, AppError> {
    match session.get::<(i64, String)>(USER).await? {
        Some((_, email)) => Ok(Html(format!(
            r#"<p>Signed in as {email}.</p><form method="post" action="/signout"><button>Sign out</button></form>"#
        ))
        .into_response()),
        None => Ok(Redirect::to("/signin").into_response()),
    }
}

async fn sign_out(session: Session) -> Result<Redirect, AppError> {
    session.flush().await?;
    Ok(Redirect::to("/signin"))
}
