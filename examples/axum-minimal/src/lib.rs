//! A tiny "existing" application: users with Argon2id password hashes in
//! SQLite (sqlx), a sign-in form, one page for signed-in users, and sign-out,
//! with sessions from tower-sessions. Run it with `cargo run -p axum-minimal`.
//! Two-factor sign-in (app codes, backup codes, passkeys) comes from `twofold-axum`.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sqlx::SqlitePool;
use std::sync::Arc;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
use twofold::{Account, Keyring, PasskeyConfig, RelyingParty, SecretKey, SignInStep, TwoFactor};
use twofold_axum::{Enroller, FreshPasswordLayer, PasskeyHooks, SecondStep, SignedIn};
use twofold_axum::{TwoFactorState, passkey_router};

/// The shared state.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    /// The database.
    pub pool: SqlitePool,
    /// Two-factor sign-in.
    pub twofold: TwoFactorState,
}

impl PasskeyHooks for AppState {}

type Clock = Arc<dyn twofold::Clock>;
type Setup = Result<TwoFactorState, Box<dyn std::error::Error>>;
type Page = Result<Html<String>, AppError>;

/// Two-factor sign-in, its tables beside the app's, for browsers at `origin`.
pub async fn two_factor(pool: &SqlitePool, key: [u8; 32], origin: &str, clock: Clock) -> Setup {
    let store = twofold_store_sqlx::SqlStore::from_pool(pool.clone()).await?;
    let rp = RelyingParty::new("localhost", "Minimal", &[origin])?;
    let config = twofold::TwoFactorConfig::new("Minimal").with_passkeys(PasskeyConfig::new(rp));
    let keyring = Keyring::new(SecretKey::new("k1", key));
    let facade = TwoFactor::new(Arc::new(store), keyring, config)?.with_clock(clock.clone());
    Ok(TwoFactorState::new(Arc::new(facade)).with_clock(clock))
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
    let fresh = FreshPasswordLayer::new(state.twofold.clone());
    Router::new()
        .route("/", get(home))
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signin/second-step", get(code_page).post(code))
        .route("/2fa/totp", post(totp_begin).layer(fresh))
        .route("/2fa/totp/confirm", post(totp_confirm))
        .nest("/passkeys", passkey_router())
        .route("/signout", post(sign_out))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
        .with_state(state)
}

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
    let (user, organization, role, name) = (&id.to_string(), "main", "member", &email);
    let account = Account {
        user,
        organization,
        role,
        name,
    };
    let step = twofold_axum::begin_sign_in(&state.twofold, &session, &account).await?;
    Ok(match step {
        SignInStep::Allow { .. } | SignInStep::Remind { .. } => Redirect::to("/").into_response(),
        SignInStep::Challenge { .. } => Redirect::to("/signin/second-step").into_response(),
        _ => (StatusCode::FORBIDDEN, "Sign-in is locked for now.").into_response(),
    })
}

async fn home(user: SignedIn) -> Html<String> {
    Html(format!(
        r#"<p>Signed in as {}.</p><form method="post" action="/signout"><button>Sign out</button></form>
<form method="post" action="/2fa/totp"><button>Set up an authenticator app</button></form>
<button onclick="addPasskey()">Add a passkey</button><script>{SCRIPT}</script>"#,
        escape(&user.account.name)
    ))
}

/// `text` escaped for HTML.
fn escape(text: impl std::fmt::Display) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map_or_else(|n| match n {}, |s| s.to_string())
}

async fn sign_out(session: Session) -> Result<Redirect, AppError> {
    twofold_axum::sign_out(&session).await?;
    Ok(Redirect::to("/signin"))
}

const SCRIPT: &str = r#"async function post(u,b){const r=await fetch(u,{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify(b)});const j=await r.json();if(!r.ok)throw alert(j.error);return j}
async function addPasskey(){const o=await post('/passkeys/register/begin',{});const c=await navigator.credentials.create({publicKey:PublicKeyCredential.parseCreationOptionsFromJSON(o)});const d=await post('/passkeys/register/finish',{credential:c.toJSON()});alert(d.backup_codes?'Backup codes: '+d.backup_codes.join(' '):'Passkey added.')}
async function usePasskey(o){const c=await navigator.credentials.get({publicKey:PublicKeyCredential.parseRequestOptionsFromJSON(o)});location=(await post('/passkeys/sign-in',{credential:c.toJSON()})).redirect}"#;

async fn code_page(pending: SecondStep) -> Html<String> {
    let passkey = pending.passkey.map(escape).map(|options| format!(
        r#"<button onclick='usePasskey({options})'>Use a passkey</button><script>{SCRIPT}</script>"#
    ));
    let form = r#"<form method="post"><input name="code"><button>Verify</button></form>"#;
    Html(format!("{form}{}", passkey.unwrap_or_default()))
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn code(
    State(state): State<AppState>,
    pending: SecondStep,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let (twofold, account) = (state.twofold.two_factor(), pending.account.account());
    let verified = match form.code.len() {
        6 => {
            twofold
                .verify_totp(&account, &pending.challenge, &form.code)
                .await
        }
        _ => {
            twofold
                .verify_backup_code(&account, &pending.challenge, &form.code)
                .await
        }
    };
    if let Err(failure) = verified {
        return Ok((StatusCode::UNAUTHORIZED, failure.error.to_string()).into_response());
    }
    twofold_axum::complete_sign_in(&pending.session, &pending.account, pending.password_at).await?;
    Ok(Redirect::to("/").into_response())
}

async fn totp_begin(State(state): State<AppState>, user: Enroller) -> Page {
    let (twofold, account) = (state.twofold.two_factor(), user.account().account());
    let at = Some(user.password_at());
    let setup = twofold.begin_totp_enrollment(&account, at).await?;
    let (qr, secret) = (setup.value.qr_svg, setup.value.manual_entry_secret);
    let form = r#"<form method="post" action="/2fa/totp/confirm"><input name="code"><button>Confirm</button></form>"#;
    Ok(Html(format!("{qr}<p>{secret}</p>{form}")))
}

async fn totp_confirm(
    State(state): State<AppState>,
    user: Enroller,
    Form(form): Form<CodeForm>,
) -> Response {
    let (twofold, account) = (state.twofold.two_factor(), user.account().account());
    match twofold.confirm_totp_enrollment(&account, &form.code).await {
        Ok(done) => {
            let codes = done.value.backup_codes;
            let codes: Vec<&str> = codes.iter().flat_map(|c| c.iter()).collect();
            Html(format!("<p>Added. Backup codes: {}</p>", codes.join(" "))).into_response()
        }
        Err(failure) => (StatusCode::BAD_REQUEST, failure.error.to_string()).into_response(),
    }
}
