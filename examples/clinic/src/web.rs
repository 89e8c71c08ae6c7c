//! The pages and actions, named as the clinic's guide names them.

use std::fmt::Write as _;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use twofold::{
    Account, CredentialId, ErrorKind, Event, FactorConfirmed, Failure, Lock, Method, Mode,
    NewBackupCodes, Reason, SignInStep, Timestamp, TwoFactorError,
};

use crate::db::{self, AuditQuery, NewAuditEntry, User};
use crate::html::{Nav, Page, csrf_field, esc, notice};
use crate::throttle::{self, Keys};
use crate::{App, assets, csrf, slots};

/// The application's routes, with sessions (in the database), CSRF protection
/// and the security headers.
pub fn router(app: App) -> Router {
    // The cookie lasts the browser session; the server ends sessions that are
    // idle or too old (see `sessions`).
    let sessions = SessionManagerLayer::new(app.sessions().clone())
        .with_name("clinic_session")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(app.secure_cookies())
        .with_expiry(Expiry::OnSessionEnd);
    Router::new()
        .route("/", get(home))
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signin/second-step", get(second_step_page))
        .route("/signin/second-step/code", post(second_step_code))
        .route("/signin/second-step/backup", post(second_step_backup))
        .route("/signin/second-step/passkey", post(second_step_passkey))
        .route("/signin/setup", get(forced_setup_page))
        .route("/signin/setup/skip", post(skip_setup))
        .route("/signout", post(sign_out))
        .route("/profile/security", get(profile_security))
        .route("/security/totp/begin", post(totp_begin))
        .route("/security/totp/confirm", post(totp_confirm))
        .route("/security/backup-codes", get(show_backup_codes))
        .route("/security/backup-codes/regenerate", post(regenerate_codes))
        .route("/security/passkeys/begin", post(passkey_begin))
        .route("/security/passkeys/finish", post(passkey_finish))
        .route("/security/passkeys/remove", post(passkey_remove))
        .route("/security/disable", post(disable))
        .route("/settings/security", get(settings_security))
        .route("/settings/security/enforcement", post(set_enforcement))
        .route("/settings/staff", get(settings_staff))
        .route("/settings/staff/disable", post(staff_disable))
        .route("/settings/staff/unlock", post(staff_unlock))
        .route("/settings/audit", get(audit_page))
        .route("/security/sessions/others", post(sign_out_others))
        .route("/assets/app.css", get(assets::style))
        .route("/assets/app.js", get(assets::script))
        .layer(axum::middleware::from_fn(csrf::guard))
        .layer(sessions)
        .layer(axum::middleware::from_fn(assets::headers))
        .with_state(app)
}

/// Where the user stands in sign-in, kept in the (server-side) session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
enum Auth {
    /// Password verified; a second factor is asked for.
    SecondStep {
        user: String,
        challenge: String,
        totp: bool,
        recovery: bool,
        passkey: Option<Value>,
    },
    /// Password verified; the clinic requires 2FA and the user has none: setup only.
    MustEnroll {
        user: String,
        can_defer: bool,
        reason: String,
        /// When the password was entered: setup right after it counts as fresh.
        #[serde(default)]
        password_at: u64,
    },
    /// Fully signed in.
    SignedIn { user: String, password_at: u64 },
}

const AUTH: &str = "auth";
const NEW_CODES: &str = "new_codes";
const FLASH: &str = "flash";

fn account(user: &User) -> Account<'_> {
    Account {
        user: &user.id,
        organization: &user.clinic,
        role: &user.role,
        name: &user.email,
    }
}

/// A clear "not now" page (503), with `Retry-After` when a wait is known.
fn unavailable(text: &str, retry_after_seconds: Option<u64>) -> Response {
    let page = Page::bare("Try again shortly")
        .body(&format!("<p id=\"unavailable\">{}</p>", esc(text)))
        .render();
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, page).into_response();
    if let Some(seconds) = retry_after_seconds
        && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

fn internal(app: &App, what: &str, error: &dyn std::fmt::Display) -> Response {
    app.log(&format!("error: {what}: {error}"));
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Page::bare("Something went wrong")
            .body("<p>The server could not complete this request. Try again in a moment.</p>")
            .render(),
    )
        .into_response()
}

async fn auth(session: &Session) -> Option<Auth> {
    session.get::<Auth>(AUTH).await.ok().flatten()
}

async fn set_auth(app: &App, session: &Session, auth: &Auth) -> Result<(), Response> {
    session
        .insert(AUTH, auth)
        .await
        .map_err(|error| internal(app, "session", &error))
}

async fn flash(session: &Session, kind: &str, text: &str) {
    let _ = session.insert(FLASH, (kind, text)).await;
}

async fn take_flash(session: &Session) -> String {
    match session.remove::<(String, String)>(FLASH).await {
        Ok(Some((kind, text))) => notice(&kind, &text),
        _ => String::new(),
    }
}

async fn load_user(app: &App, id: &str) -> Result<User, Response> {
    match db::user_by_id(app.pool(), id).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Redirect::to("/signin").into_response()),
        Err(error) => Err(internal(app, "loading a user", &error)),
    }
}

/// The signed-in user, as an extractor: anyone else is redirected (to sign-in,
/// or back to the forced setup).
struct Member {
    user: User,
    password_at: u64,
}

impl FromRequestParts<App> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Member, Response> {
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let (user, password_at) = member(app, &session).await?;
        Ok(Member { user, password_at })
    }
}

/// The signed-in user, or a redirect to sign-in.
async fn member(app: &App, session: &Session) -> Result<(User, u64), Response> {
    match auth(session).await {
        Some(Auth::SignedIn { user, password_at }) => {
            Ok((load_user(app, &user).await?, password_at))
        }
        Some(Auth::MustEnroll { .. }) => Err(Redirect::to("/signin/setup").into_response()),
        _ => Err(Redirect::to("/signin").into_response()),
    }
}

/// The client's address, for throttling password entries: the connection's
/// peer, or the last `X-Forwarded-For` entry behind a trusted proxy.
struct Client(String);

impl FromRequestParts<App> for Client {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Client, Response> {
        let forwarded = app
            .trust_forwarded_for()
            .then(|| parts.headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|list| list.rsplit(',').next())
            .map(|last| last.trim().to_string())
            .filter(|last| !last.is_empty());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        Ok(Client(
            forwarded.or(peer).unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// Why a password entry was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No password given, and the last one is not recent.
    Missing,
    /// The wrong password (or no such account).
    Wrong,
    /// Too many wrong passwords: wait this long first.
    Wait(u64),
    /// The server is too busy checking passwords right now.
    Busy,
}

impl Refusal {
    /// Words for the user; `otherwise` for a missing or wrong password.
    fn text(self, otherwise: &str) -> String {
        match self {
            Refusal::Missing | Refusal::Wrong => otherwise.to_string(),
            Refusal::Wait(seconds) => format!(
                "Too many wrong passwords. Try again in {}.",
                wait_text(seconds)
            ),
            Refusal::Busy => {
                "The server is busy checking passwords. Try again in a few seconds.".to_string()
            }
        }
    }
}

/// Checks a password for `email` (whose account is `user`, if it exists) from
/// `client`: throttled per account and per address before any hashing;
/// hashed on the offload, with a stand-in hash for unknown accounts, so that
/// neither the time taken nor the throttle tells them apart; failures and the
/// start of a back-off are audited. Returns when it was entered.
async fn check_password(
    app: &App,
    user: Option<&User>,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<u64, Refusal> {
    let keys = Keys::new(email, &client.0);
    let now = app.now();
    // Admitted before any hashing; parallel attempts count against the budget
    // while they are in flight (the admission leaves when this returns).
    let _admission = match throttle::admit(app.pool(), app.in_flight(), &keys, now).await {
        Ok(Ok(admission)) => admission,
        Ok(Err(seconds)) => return Err(Refusal::Wait(seconds)),
        Err(error) => {
            app.log(&format!("error: password throttle: {error}"));
            return Err(Refusal::Busy);
        }
    };
    let hash = user.map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    // One hash at a time per address: a burst from one address waits in its
    // own lane instead of in front of everyone else's sign-in.
    let turn = app.hash_turn(&client.0).await;
    let matched = app
        .verify_password(password, &hash)
        .await
        .map_err(|_| Refusal::Busy)?;
    drop(turn);
    if matched && user.is_some() {
        if let Err(error) = throttle::succeed(app.pool(), &keys).await {
            app.log(&format!("error: password throttle: {error}"));
        }
        return Ok(now);
    }
    let failures = match throttle::fail(app.pool(), &keys, now).await {
        Ok(failures) => failures,
        Err(error) => {
            app.log(&format!("error: password throttle: {error}"));
            return Err(Refusal::Wrong);
        }
    };
    match user {
        Some(user) => {
            let detail = json!({ "user": user.id, "failures": failures, "address": client.0 });
            audit(
                app,
                &user.clinic,
                now,
                "password_failed",
                &user.id,
                &user.id,
                &detail,
            )
            .await;
            if throttle::starts_back_off(failures) {
                let detail = json!({
                    "user": user.id,
                    "failures": failures,
                    "wait_seconds": throttle::account_wait(failures),
                    "address": client.0,
                });
                audit(
                    app,
                    &user.clinic,
                    now,
                    "password_lockout",
                    &user.id,
                    &user.id,
                    &detail,
                )
                .await;
            }
        }
        None => app.log(&format!(
            "sign-in: a wrong password for an unknown account from {}",
            client.0
        )),
    }
    Err(Refusal::Wrong)
}

/// Writes one audit entry (and the log line).
async fn audit(
    app: &App,
    clinic: &str,
    at: u64,
    event: &str,
    actor: &str,
    subject: &str,
    detail: &Value,
) {
    let text = detail.to_string();
    app.log(&format!("audit: {event} {text}"));
    let entry = NewAuditEntry {
        clinic,
        at,
        event,
        actor,
        subject,
        detail: &text,
    };
    if let Err(error) = db::append_audit(app.pool(), &entry).await {
        app.log(&format!("error: writing the audit log: {error}"));
    }
}

/// How long a password entry counts as fresh for changing factors ("sudo mode"):
/// the policy's default for self-disable.
const REAUTH_SECONDS: u64 = 300;

/// What an enrollment request is about to do.
#[derive(Clone, Copy)]
enum Gate<'a> {
    /// Start a change (new app, new passkey): the password must have been
    /// entered recently or be given now.
    Change(Option<&'a str>),
    /// Finish a change started under `Change`.
    Finish,
}

/// Why an enrollment request was refused: a page for forms, words for `fetch`.
struct Refused {
    response: Response,
    status: StatusCode,
    message: String,
}

impl Refused {
    fn sign_in() -> Refused {
        Refused {
            response: Redirect::to("/signin").into_response(),
            status: StatusCode::UNAUTHORIZED,
            message: "Sign in again.".into(),
        }
    }
}

/// Re-checks the password when given (and then counts it as fresh), or accepts
/// a password entered in the last five minutes. Returns when it was entered.
async fn recent_password(
    app: &App,
    session: &Session,
    user: &User,
    password_at: u64,
    given: Option<&str>,
    client: &Client,
) -> Result<u64, Refusal> {
    match given.filter(|password| !password.is_empty()) {
        Some(password) => {
            let at = check_password(app, Some(user), &user.email, password, client).await?;
            let auth = Auth::SignedIn {
                user: user.id.clone(),
                password_at: at,
            };
            let _ = session.insert(AUTH, &auth).await;
            Ok(at)
        }
        None if app.now().saturating_sub(password_at) <= REAUTH_SECONDS => Ok(password_at),
        None => Err(Refusal::Missing),
    }
}

/// The user who may set up a factor, whether they were forced into setup, and
/// when they last entered their password (the proof twofold asks for): signed
/// in (with a fresh password to start a change), or forced into setup (only
/// while they still have no factor; the sign-in's password counts).
async fn enroller(
    app: &App,
    session: &Session,
    gate: Gate<'_>,
    client: &Client,
) -> Result<(User, bool, u64), Refused> {
    let (user, password_at, forced_at) = match auth(session).await {
        Some(Auth::SignedIn { user, password_at }) => (user, Some(password_at), 0),
        Some(Auth::MustEnroll {
            user, password_at, ..
        }) => (user, None, password_at),
        _ => return Err(Refused::sign_in()),
    };
    let user = load_user(app, &user).await.map_err(|response| Refused {
        response,
        ..Refused::sign_in()
    })?;
    let status = app
        .two_factor()
        .status(&account(&user))
        .await
        .map_err(|error| Refused {
            response: internal(app, "status", &error),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "Try again.".into(),
        })?;
    match password_at {
        // A forced-setup session that outlived the user's own setup elsewhere
        // must not add another factor: sign in again, with the factor.
        None if status.enabled => {
            let _ = session.flush().await;
            Err(Refused::sign_in())
        }
        None => Ok((user, true, forced_at)),
        Some(password_at) => {
            let Gate::Change(given) = gate else {
                return Ok((user, false, password_at));
            };
            match recent_password(app, session, &user, password_at, given, client).await {
                Ok(at) => Ok((user, false, at)),
                Err(refusal) => {
                    let message = refusal.text("Re-enter your password to change how you sign in.");
                    flash(session, "error", &message).await;
                    Err(Refused {
                        response: Redirect::to("/profile/security").into_response(),
                        status: StatusCode::FORBIDDEN,
                        message,
                    })
                }
            }
        }
    }
}

/// Writes twofold's events to the audit log and the log (events carry no secrets).
async fn record(app: &App, clinic: &str, events: &[Event]) {
    for event in events {
        // The event's own accessors; the JSON form is only the stored detail.
        let detail = serde_json::to_value(event).unwrap_or(Value::Null);
        let actor = event.actor();
        let subject = event.subject().unwrap_or(actor);
        let at = event.at().as_unix_seconds();
        audit(app, clinic, at, event.kind(), actor, subject, &detail).await;
    }
}

/// A JSON object's field, or null.
fn field<'v>(value: &'v Value, key: &str) -> &'v Value {
    value.get(key).unwrap_or(&Value::Null)
}

fn wait_text(seconds: u64) -> String {
    match seconds {
        0..=1 => "a moment".to_string(),
        2..=119 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// A factor error in words the guide's reader understands.
fn explain(error: &TwoFactorError) -> String {
    match error {
        TwoFactorError::WrongCode => "That code is not correct. If your codes keep being \
            rejected, the time on your phone may be off: sync your phone's clock (set date \
            and time to automatic) and try the next code."
            .to_string(),
        TwoFactorError::CodeAlreadyUsed => {
            "That code was already used. Wait for the next code and enter it.".to_string()
        }
        TwoFactorError::Locked { lock } => lock_text(*lock),
        TwoFactorError::InvalidCode(why) => format!("That code could not be read: {why}."),
        TwoFactorError::NoChallenge | TwoFactorError::Expired => {
            "This step has expired. Start again.".to_string()
        }
        TwoFactorError::NoPendingEnrollment => {
            "There is no setup in progress. Start again: a new QR code will be shown.".to_string()
        }
        TwoFactorError::Denied(reason) => reason.to_string(),
        TwoFactorError::Passkey(error) => format!("The passkey was not accepted: {error}."),
        TwoFactorError::NotEnrolled(what) => format!("You have not set up {what}."),
        other => format!("Something went wrong: {other}."),
    }
}

// ---------------------------------------------------------------------------
// Sign-in

async fn home(session: Session) -> Response {
    match auth(&session).await {
        Some(Auth::SignedIn { .. }) => Redirect::to("/profile/security").into_response(),
        Some(Auth::MustEnroll { .. }) => Redirect::to("/signin/setup").into_response(),
        Some(Auth::SecondStep { .. }) => Redirect::to("/signin/second-step").into_response(),
        None => Redirect::to("/signin").into_response(),
    }
}

fn sign_in_form(token: &str, message: &str) -> String {
    format!(
        r#"{message}<form method="post" action="/signin" id="signin-form">{}
<label>Email <input type="email" name="email" id="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" id="password" autocomplete="current-password" required></label>
<button type="submit" id="signin-submit">Sign in</button></form>"#,
        csrf_field(token)
    )
}

async fn sign_in_page(session: Session) -> Response {
    let token = csrf::token(&session).await;
    let message = take_flash(&session).await;
    Page::bare("Sign in")
        .csrf(&token)
        .body(&sign_in_form(&token, &message))
        .render()
        .into_response()
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

async fn sign_in(
    State(app): State<App>,
    session: Session,
    client: Client,
    Form(form): Form<SignInForm>,
) -> Response {
    let user = match db::user_by_email(app.pool(), &form.email).await {
        Ok(user) => user,
        Err(error) => return internal(&app, "sign-in", &error),
    };
    if let Err(refusal) =
        check_password(&app, user.as_ref(), &form.email, &form.password, &client).await
    {
        let (status, text) = match refusal {
            Refusal::Wait(_) => (StatusCode::TOO_MANY_REQUESTS, refusal.text("")),
            Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, refusal.text("")),
            Refusal::Missing | Refusal::Wrong => (
                StatusCode::UNAUTHORIZED,
                "Wrong email or password.".to_string(),
            ),
        };
        let token = csrf::token(&session).await;
        return (
            status,
            Page::bare("Sign in")
                .csrf(&token)
                .body(&sign_in_form(&token, &notice("error", &text)))
                .render(),
        )
            .into_response();
    }
    let Some(user) = user else {
        return internal(&app, "sign-in", &"a password matched no account");
    };
    // Whoever this browser's session belonged to before, nothing of it is
    // carried over: no data, and a new session id (no fixation).
    session.clear().await;
    if let Err(error) = session.cycle_id().await {
        return internal(&app, "session", &error);
    }
    csrf::renew(&session).await;
    let step = app.two_factor().begin_sign_in(&account(&user)).await;
    let step = match step {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            done.value
        }
        Err(failure) => return factor_failure(&app, &session, &user, failure, "/signin").await,
    };
    match step {
        SignInStep::Allow { .. } => {
            complete_sign_in(&app, &session, &user, "/profile/security").await
        }
        SignInStep::Challenge {
            challenge_id,
            methods,
            recovery,
            passkey_options,
            ..
        } => {
            let auth = Auth::SecondStep {
                user: user.id.clone(),
                challenge: challenge_id,
                totp: methods.contains(Method::Totp),
                recovery,
                passkey: passkey_options,
            };
            if let Err(response) = set_auth(&app, &session, &auth).await {
                return response;
            }
            Redirect::to("/signin/second-step").into_response()
        }
        SignInStep::MustEnroll {
            can_defer, reason, ..
        } => {
            let auth = Auth::MustEnroll {
                user: user.id.clone(),
                can_defer,
                reason: reason_text(&reason),
                password_at: app.now(),
            };
            if let Err(response) = set_auth(&app, &session, &auth).await {
                return response;
            }
            Redirect::to("/signin/setup").into_response()
        }
        SignInStep::Locked { lock } => {
            let _ = session.remove_value(AUTH).await;
            let text = lock_text(lock);
            flash(&session, "error", &text).await;
            Redirect::to("/signin").into_response()
        }
        SignInStep::Blocked { reason } => {
            let _ = session.remove_value(AUTH).await;
            flash(
                &session,
                "error",
                &format!("You cannot sign in: {}", reason_text(&reason)),
            )
            .await;
            Redirect::to("/signin").into_response()
        }
    }
}

/// An Argon2id hash (same parameters as real ones) verified against for unknown
/// emails, so that response time does not reveal which accounts exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| db::hash_password("no such account").unwrap_or_default())
}

async fn complete_sign_in(app: &App, session: &Session, user: &User, to: &str) -> Response {
    if let Err(error) = session.cycle_id().await {
        return internal(app, "session", &error);
    }
    csrf::renew(session).await;
    let auth = Auth::SignedIn {
        user: user.id.clone(),
        password_at: app.now(),
    };
    if let Err(response) = set_auth(app, session, &auth).await {
        return response;
    }
    app.log(&format!("sign-in: user {} signed in", user.id));
    Redirect::to(to).into_response()
}

/// Records a failure's events and shows its explanation on `back`.
async fn factor_failure(
    app: &App,
    session: &Session,
    user: &User,
    failure: Failure,
    back: &str,
) -> Response {
    record(app, &user.clinic, &failure.events).await;
    match &failure.error {
        TwoFactorError::UnknownKey { key_id } => {
            // The operator's fault, not the user's: say what to do, and tell the log.
            app.log(&format!(
                "error: {}'s secret is sealed under key id {key_id:?}, which the keyring \
                 lacks: add that key back as a previous key",
                user.id
            ));
            return unavailable(
                "Your authenticator app cannot be checked right now: the server is missing \
                 the key your setup was stored with. Your clinic's administrator has been \
                 told. Use a passkey or a backup code meanwhile.",
                None,
            );
        }
        TwoFactorError::NoChallenge | TwoFactorError::Expired if back.starts_with("/signin") => {
            let _ = session.remove_value(AUTH).await;
            flash(session, "error", "This sign-in has expired. Sign in again.").await;
            return Redirect::to("/signin").into_response();
        }
        _ => {}
    }
    match failure.kind() {
        ErrorKind::Unavailable => {
            return unavailable(
                "The server is busy checking codes. Try again in a few seconds.",
                Some(5),
            );
        }
        ErrorKind::Server => return internal(app, "two-factor operation", &failure.error),
        _ => {}
    }
    let mut text = explain(&failure.error);
    // A wrong answer may start a back-off: the failure says how long to wait.
    if !matches!(failure.error, TwoFactorError::Locked { .. })
        && let Some(lock) = failure.lock
    {
        text.push(' ');
        text.push_str(&lock_text(lock));
    }
    flash(session, "error", &text).await;
    Redirect::to(back).into_response()
}

async fn second_step_page(State(app): State<App>, session: Session) -> Response {
    let Some(Auth::SecondStep {
        totp,
        recovery,
        passkey,
        user,
        ..
    }) = auth(&session).await
    else {
        return Redirect::to("/signin").into_response();
    };
    let user = match load_user(&app, &user).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let token = csrf::token(&session).await;
    let mut body = take_flash(&session).await;
    let _ = write!(
        body,
        "<p>Signing in as <strong>{}</strong>. Confirm it's you with your second factor.</p>",
        esc(&user.email)
    );
    if totp {
        let _ = write!(
            body,
            r#"<section id="code-step"><h2>Enter the 6-digit code</h2>
<p>Open your authenticator app and type the code it shows for Smile Dental.</p>
<form method="post" action="/signin/second-step/code">{}
<label>6-digit code <input type="text" name="code" id="totp-code" inputmode="numeric" autocomplete="one-time-code" maxlength="12" autofocus required></label>
<button type="submit" id="totp-submit">Verify</button></form></section>"#,
            csrf_field(&token)
        );
    }
    if let Some(options) = passkey {
        let json = options.to_string().replace('<', "\\u003c");
        let _ = write!(
            body,
            r#"<section id="passkey-step"><h2>Use a passkey</h2>
<script type="application/json" id="passkey-options">{json}</script>
<button type="button" id="use-passkey">Use a passkey</button>
<p class="notice error" id="passkey-error" hidden></p></section>"#
        );
    }
    if recovery {
        let _ = write!(
            body,
            r#"<section id="backup-step"><details id="use-backup"><summary id="use-backup-code">Use a backup code</summary>
<p>Lost your phone? Enter one of the backup codes you saved. Each works once.</p>
<form method="post" action="/signin/second-step/backup">{}
<label>Backup code <input type="text" name="code" id="backup-code" autocomplete="off" maxlength="40" required></label>
<button type="submit" id="backup-submit">Verify</button></form>
<p>No phone and no backup codes? Your clinic's owner or admin can disable 2FA on your user from Settings → Staff.</p></details></section>"#,
            csrf_field(&token)
        );
    }
    let _ = write!(
        body,
        r#"<form method="post" action="/signout">{}<button id="cancel-sign-in">Cancel</button></form>"#,
        csrf_field(&token)
    );
    Page::bare("Two-factor authentication")
        .csrf(&token)
        .body(&body)
        .render()
        .into_response()
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn pending(app: &App, session: &Session) -> Result<(User, String), Response> {
    match auth(session).await {
        Some(Auth::SecondStep {
            user, challenge, ..
        }) => Ok((load_user(app, &user).await?, challenge)),
        _ => Err(Redirect::to("/signin").into_response()),
    }
}

async fn second_step_code(
    State(app): State<App>,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Response {
    let (user, challenge) = match pending(&app, &session).await {
        Ok(pending) => pending,
        Err(response) => return response,
    };
    match app
        .two_factor()
        .verify_totp(&account(&user), &challenge, &form.code)
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            complete_sign_in(&app, &session, &user, "/profile/security").await
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, "/signin/second-step").await,
    }
}

async fn second_step_backup(
    State(app): State<App>,
    session: Session,
    client: Client,
    Form(form): Form<CodeForm>,
) -> Response {
    let (user, challenge) = match pending(&app, &session).await {
        Ok(pending) => pending,
        Err(response) => return response,
    };
    // A backup code costs one Argon2: in the address's lane, like a password.
    let _turn = app.hash_turn(&client.0).await;
    match app
        .two_factor()
        .verify_backup_code(&account(&user), &challenge, &form.code)
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            let remaining = done.value.backup_codes_remaining.unwrap_or(0);
            flash(
                &session,
                if remaining <= 3 { "error" } else { "info" },
                &format!(
                    "You signed in with a backup code; {remaining} backup codes remain.{}",
                    if remaining <= 3 {
                        " Generate new ones below."
                    } else {
                        ""
                    }
                ),
            )
            .await;
            // complete_sign_in cycles the session id; the flash survives it.
            complete_sign_in(&app, &session, &user, "/profile/security").await
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, "/signin/second-step").await,
    }
}

#[derive(Deserialize)]
struct CredentialBody {
    credential: Value,
    #[serde(default)]
    name: String,
}

fn json_error(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

async fn second_step_passkey(
    State(app): State<App>,
    session: Session,
    Json(body): Json<CredentialBody>,
) -> Response {
    let (user, challenge) = match pending(&app, &session).await {
        Ok(pending) => pending,
        Err(_) => return json_error(StatusCode::UNAUTHORIZED, "Sign in again."),
    };
    match app
        .two_factor()
        .verify_passkey(&account(&user), &challenge, &body.credential.to_string())
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            let response = complete_sign_in(&app, &session, &user, "/profile/security").await;
            if response.status().is_server_error() {
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again.");
            }
            Json(json!({ "redirect": "/profile/security" })).into_response()
        }
        Err(failure) => {
            record(&app, &user.clinic, &failure.events).await;
            json_error(StatusCode::BAD_REQUEST, &explain(&failure.error))
        }
    }
}

async fn forced_setup_page(State(app): State<App>, session: Session) -> Response {
    let Some(Auth::MustEnroll {
        user,
        can_defer,
        reason,
        ..
    }) = auth(&session).await
    else {
        return Redirect::to("/").into_response();
    };
    let user = match load_user(&app, &user).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let token = csrf::token(&session).await;
    let mut body = take_flash(&session).await;
    let _ = write!(
        body,
        "{}<p>Your clinic requires two-factor authentication. Set up a second factor to finish signing in as <strong>{}</strong>.</p>",
        notice("info", &format!("2FA required: {}", reason)),
        esc(&user.email)
    );
    body.push_str(&factor_setup_sections(&token));
    if can_defer {
        let _ = write!(
            body,
            r#"<form method="post" action="/signin/setup/skip">{}<button id="skip-setup">Skip for now</button></form>"#,
            csrf_field(&token)
        );
    }
    let _ = write!(
        body,
        r#"<form method="post" action="/signout">{}<button id="cancel-sign-in">Cancel</button></form>"#,
        csrf_field(&token)
    );
    Page::bare("Set up two-factor authentication")
        .csrf(&token)
        .body(&body)
        .render()
        .into_response()
}

async fn skip_setup(State(app): State<App>, session: Session) -> Response {
    match auth(&session).await {
        Some(Auth::MustEnroll {
            user,
            can_defer: true,
            ..
        }) => match load_user(&app, &user).await {
            Ok(user) => complete_sign_in(&app, &session, &user, "/profile/security").await,
            Err(response) => response,
        },
        _ => Redirect::to("/").into_response(),
    }
}

/// Ends the user's other sessions (keeping this one); says how many, for a flash.
async fn sign_out_elsewhere(app: &App, session: &Session, user: &User) -> String {
    match app
        .sessions()
        .revoke_user(&user.id, session.id().as_ref())
        .await
    {
        Ok(0) => String::new(),
        Ok(1) => " You were signed out of 1 other session.".into(),
        Ok(n) => format!(" You were signed out of {n} other sessions."),
        Err(error) => {
            app.log(&format!("error: ending other sessions: {error}"));
            String::new()
        }
    }
}

/// "Sign out other sessions" (My Profile → Security): after a lost phone or a
/// shared computer.
async fn sign_out_others(
    State(app): State<App>,
    session: Session,
    Member { user, .. }: Member,
) -> Response {
    let ended = sign_out_elsewhere(&app, &session, &user).await;
    let text = if ended.is_empty() {
        "You had no other sessions.".to_string()
    } else {
        ended.trim().to_string()
    };
    flash(&session, "ok", &text).await;
    Redirect::to("/profile/security").into_response()
}

/// Owners and admins see the staff list and the audit log; staff do not.
fn is_manager(user: &User) -> bool {
    matches!(user.role.as_str(), "owner" | "admin")
}

fn managers_only() -> Response {
    (
        StatusCode::FORBIDDEN,
        Page::bare("Not for your role")
            .body(
                r#"<p id="managers-only">Only owners and admins see this page. Your own activity is on <a href="/profile/security">My Profile → Security</a>.</p>"#,
            )
            .render(),
    )
        .into_response()
}

async fn sign_out(State(app): State<App>, session: Session) -> Response {
    if let Err(error) = session.flush().await {
        return internal(&app, "session", &error);
    }
    Redirect::to("/signin").into_response()
}

// ---------------------------------------------------------------------------
// My Profile → Security

fn factor_setup_sections(token: &str) -> String {
    format!(
        r#"<section id="totp-setup"><h2>Authenticator app</h2>
<form method="post" action="/security/totp/begin">{}<button id="setup-totp">Set up authenticator app</button></form></section>
<section id="passkey-setup"><h2>Passkeys</h2>{}</section>"#,
        csrf_field(token),
        passkey_setup("")
    )
}

/// "Set up passkey": a name, the button that runs the ceremony, and where its
/// errors show; `extra` goes between (the password field, when needed).
fn passkey_setup(extra: &str) -> String {
    format!(
        r#"<label>Passkey name <input type="text" id="passkey-name" maxlength="64" value="My passkey"></label>{extra}
<button type="button" id="setup-passkey">Set up passkey</button>
<p class="notice error" id="passkey-error" hidden></p>"#
    )
}

fn nav<'a>(user: &'a User, token: &'a str) -> Nav<'a> {
    Nav {
        name: &user.name,
        role: &user.role,
        csrf: token,
    }
}

/// A policy reason in the clinic's words: "clinic" where the library says
/// "organization", and always one sentence with one full stop.
fn reason_text(reason: &Reason) -> String {
    let text = match reason {
        Reason::EnrollmentRequiredNow => {
            "Your clinic requires two-factor authentication: set it up to continue.".to_string()
        }
        Reason::EnforcedForUser => {
            "Two-factor authentication is required by your clinic and cannot be disabled."
                .to_string()
        }
        Reason::MethodNotAllowed => {
            "Your clinic does not allow this sign-in method for your role.".to_string()
        }
        Reason::OtherOrganization => "That user belongs to another clinic.".to_string(),
        other => other.to_string().replace("organization", "clinic"),
    };
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}

/// A lock in words for the user who meets it.
fn lock_text(lock: Lock) -> String {
    match lock {
        Lock::RetryAfter { seconds } => {
            format!("Too many wrong codes. Try again in {}.", wait_text(seconds))
        }
        Lock::Until { at } => format!(
            "Too many wrong codes. Your account is locked until {}.",
            when(at.as_unix_seconds())
        ),
        _ => "Too many wrong codes. Your account is locked until an owner or admin \
              unlocks it (or resets your 2FA) from Settings → Staff."
            .to_string(),
    }
}

/// A lock in words for the Staff list.
fn lock_state(lock: Lock) -> String {
    match lock {
        Lock::RetryAfter { seconds } => {
            format!(
                "Waiting after wrong codes: next try in {}",
                wait_text(seconds)
            )
        }
        Lock::Until { at } => format!("Locked until {}", when(at.as_unix_seconds())),
        _ => "Locked until unlocked or reset".to_string(),
    }
}

fn when(seconds: u64) -> String {
    Timestamp::from_unix_seconds(seconds)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// The personal security panel: shown on My Profile → Security and Settings → Security.
async fn personal_security(app: &App, user: &User, token: &str) -> Result<String, Response> {
    let status = app
        .two_factor()
        .status(&account(user))
        .await
        .map_err(|error| internal(app, "status", &error))?;
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<p id="2fa-status">Two-factor authentication: <strong>{}</strong>{}</p>"#,
        if status.enabled { "On" } else { "Off" },
        if status.enforced {
            " · required by your clinic"
        } else {
            ""
        }
    );
    let _ = write!(
        body,
        r#"<section id="totp-setup"><h2>Authenticator app</h2>"#
    );
    if status.totp {
        body.push_str(r#"<p id="totp-state">Authenticator app: set up.</p>"#);
    }
    // Changing factors needs the password (unless entered in the last 5 minutes).
    let password_field = |id: &str| {
        format!(
            r#"<label>Your password (if you signed in more than 5 minutes ago) <input type="password" name="password" id="{id}" autocomplete="current-password"></label>"#
        )
    };
    let _ = write!(
        body,
        r#"<form method="post" action="/security/totp/begin">{}{}<button id="setup-totp">{}</button></form></section>"#,
        csrf_field(token),
        password_field("totp-password"),
        if status.totp {
            "Set up authenticator app again (new phone)"
        } else {
            "Set up authenticator app"
        }
    );
    body.push_str(r#"<section id="passkeys"><h2>Passkeys</h2>"#);
    if status.passkeys.is_empty() {
        body.push_str("<p>No passkeys yet.</p>");
    } else {
        body.push_str(
            r#"<table id="passkey-list"><tr><th>Name</th><th>Kind</th><th>Added</th><th>Last used</th><th></th></tr>"#,
        );
        for passkey in &status.passkeys {
            let _ = write!(
                body,
                r#"<tr class="passkey"><td class="passkey-name">{}</td><td class="passkey-kind">{}</td><td>{}</td><td class="passkey-last-used">{}</td>
<td><form method="post" action="/security/passkeys/remove">{}<input type="hidden" name="id" value="{}"><input type="password" name="password" class="remove-password" placeholder="Your password" autocomplete="current-password"><button class="remove-passkey">Remove</button></form></td></tr>"#,
                esc(&passkey.name),
                if passkey.backed_up {
                    "synced"
                } else {
                    "this device only"
                },
                when(passkey.created_at.as_unix_seconds()),
                passkey
                    .last_used_at
                    .map_or_else(|| "never".to_string(), |at| when(at.as_unix_seconds())),
                csrf_field(token),
                esc(&passkey.id.to_base64url()),
            );
        }
        body.push_str("</table>");
    }
    body.push_str(&passkey_setup(&password_field("passkey-password")));
    body.push_str("</section>");
    body.push_str(r#"<section id="backup-codes"><h2>Backup codes</h2>"#);
    match status.backup_codes_remaining {
        Some(remaining) => {
            let _ = write!(
                body,
                r#"<p id="backup-remaining">{remaining} unused backup codes.{}</p>
<form method="post" action="/security/backup-codes/regenerate">{}
<label>Re-enter your password <input type="password" name="password" id="regenerate-password" autocomplete="current-password" required></label>
<button id="regenerate-codes">Regenerate backup codes</button></form>"#,
                if status.backup_codes_low {
                    " Running low: generate new ones."
                } else {
                    ""
                },
                csrf_field(token)
            );
        }
        None => body.push_str("<p>Backup codes are created when you set up your first factor.</p>"),
    }
    body.push_str("</section>");
    let _ = write!(
        body,
        r#"<section id="sessions"><h2>Sessions</h2>
<p>Lost a phone, or signed in on a shared computer? End every other session of your account.</p>
<form method="post" action="/security/sessions/others">{}<button id="sign-out-others">Sign out other sessions</button></form></section>"#,
        csrf_field(token)
    );
    if status.enabled {
        let _ = write!(
            body,
            r#"<section id="disable"><h2>Disable 2FA</h2>
<p>Turning off 2FA reduces your account's security.{}</p>
<form method="post" action="/security/disable">{}
<label>Re-enter your password <input type="password" name="password" id="disable-password" autocomplete="current-password" required></label>
<button id="disable-2fa">Disable 2FA</button></form></section>"#,
            if status.enforced {
                " Your clinic requires 2FA, so it cannot be turned off while enforcement is on."
            } else {
                ""
            },
            csrf_field(token)
        );
    }
    Ok(body)
}

async fn profile_security(
    State(app): State<App>,
    session: Session,
    Member { user, .. }: Member,
) -> Response {
    let token = csrf::token(&session).await;
    let mut body = take_flash(&session).await;
    match personal_security(&app, &user, &token).await {
        Ok(panel) => body.push_str(&panel),
        Err(response) => return response,
    }
    // Staff see their own activity here; the clinic's log is for owners and admins.
    let mine = AuditQuery {
        user: Some(user.id.clone()),
        per_page: 20,
        ..AuditQuery::default()
    };
    match db::audit_page(app.pool(), &user.clinic, &mine).await {
        Ok((entries, _)) => {
            body.push_str(r#"<section id="my-activity"><h2>Your recent activity</h2>"#);
            body.push_str(&audit_table(&entries, &|_| user.name.clone()));
            body.push_str("</section>");
        }
        Err(error) => return internal(&app, "audit log", &error),
    }
    Page::bare("My Profile → Security")
        .nav(nav(&user, &token))
        .body(&body)
        .render()
        .into_response()
}

fn back_to(forced: bool) -> &'static str {
    if forced {
        "/signin/setup"
    } else {
        "/profile/security"
    }
}

#[derive(Deserialize)]
struct MaybePassword {
    #[serde(default)]
    password: String,
}

async fn totp_begin(
    State(app): State<App>,
    session: Session,
    client: Client,
    Form(form): Form<MaybePassword>,
) -> Response {
    let gate = Gate::Change(Some(form.password.as_str()));
    let (user, forced, password_at) = match enroller(&app, &session, gate, &client).await {
        Ok(enroller) => enroller,
        Err(refused) => return refused.response,
    };
    let enrollment = match app
        .two_factor()
        .begin_totp_enrollment(
            &account(&user),
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            done.value
        }
        Err(failure) => {
            return factor_failure(&app, &session, &user, failure, back_to(forced)).await;
        }
    };
    let token = csrf::token(&session).await;
    let body = format!(
        r#"<p>Open your authenticator app, tap <strong>+</strong> → <strong>Scan QR code</strong>, and scan this code.</p>
<div class="setup"><div class="qr" id="qr">{qr}</div>
<div><p>QR code won't scan? Enter this secret in the app instead (time-based, 6 digits):</p>
<p class="secret" id="manual-secret">{secret}</p></div></div>
{form}
<form method="post" action="/security/totp/begin">{csrf}<button id="restart-totp">Start again with a new QR code</button></form>"#,
        qr = enrollment.qr_svg,
        secret = esc(&enrollment.manual_entry_secret),
        form = confirm_form(&token),
        csrf = csrf_field(&token),
    );
    let page = setup_page(&body, forced, &user, &token);
    // The page holds a secret: never cache it.
    ([(header::CACHE_CONTROL, "no-store")], page.render()).into_response()
}

/// The authenticator-app setup page: in the site's frame when signed in, bare
/// during forced setup (nothing else is reachable yet).
fn setup_page<'a>(body: &str, forced: bool, user: &'a User, token: &'a str) -> Page<'a> {
    let page = Page::bare("Set up authenticator app").body(body);
    if forced {
        page.csrf(token)
    } else {
        page.nav(nav(user, token))
    }
}

fn confirm_form(token: &str) -> String {
    format!(
        r#"<form method="post" action="/security/totp/confirm" id="confirm-form">{}
<label>Type the 6-digit code the app shows <input type="text" name="code" id="verify-code" inputmode="numeric" autocomplete="one-time-code" maxlength="12" autofocus required></label>
<button type="submit" id="verify-submit">Verify and turn on</button></form>"#,
        csrf_field(token)
    )
}

async fn after_confirm(
    app: &App,
    session: &Session,
    user: &User,
    forced: bool,
    confirmed: FactorConfirmed,
) -> Result<&'static str, Response> {
    let codes = confirmed.backup_codes.is_some();
    if let Some(codes) = confirmed.backup_codes {
        stash_codes(app, session, user, &codes).await?;
    }
    if forced {
        let response = complete_sign_in(app, session, user, "/").await;
        if response.status().is_server_error() {
            return Err(response);
        }
    }
    Ok(if codes {
        "/security/backup-codes"
    } else {
        "/profile/security"
    })
}

/// Puts new codes in a one-time slot for the next page, and its id in the session.
async fn stash_codes(
    app: &App,
    session: &Session,
    user: &User,
    codes: &NewBackupCodes,
) -> Result<(), Response> {
    let list: Vec<&str> = codes.iter().collect();
    let slot = slots::put(app.pool(), app.slot_key(), &user.id, &list, app.now())
        .await
        .map_err(|error| internal(app, "backup-code slot", &error))?;
    session
        .insert(NEW_CODES, &slot)
        .await
        .map_err(|error| internal(app, "session", &error))
}

async fn totp_confirm(
    State(app): State<App>,
    session: Session,
    client: Client,
    Form(form): Form<CodeForm>,
) -> Response {
    let (user, forced, _) = match enroller(&app, &session, Gate::Finish, &client).await {
        Ok(enroller) => enroller,
        Err(refused) => return refused.response,
    };
    match app
        .two_factor()
        .confirm_totp_enrollment(&account(&user), &form.code)
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            match after_confirm(&app, &session, &user, forced, done.value).await {
                Ok(to) => {
                    flash(&session, "ok", "Authenticator app set up: 2FA is on.").await;
                    Redirect::to(to).into_response()
                }
                Err(response) => response,
            }
        }
        Err(failure) => {
            record(&app, &user.clinic, &failure.events).await;
            let retry = matches!(
                failure.error,
                TwoFactorError::WrongCode
                    | TwoFactorError::InvalidCode(_)
                    | TwoFactorError::CodeAlreadyUsed
            );
            if !retry {
                return factor_failure(&app, &session, &user, failure, back_to(forced)).await;
            }
            let token = csrf::token(&session).await;
            let body = format!(
                "{}{}<form method=\"post\" action=\"/security/totp/begin\">{}<button id=\"restart-totp\">Start again with a new QR code</button></form>",
                notice("error", &explain(&failure.error)),
                confirm_form(&token),
                csrf_field(&token)
            );
            let page = setup_page(&body, forced, &user, &token);
            (StatusCode::UNPROCESSABLE_ENTITY, page.render()).into_response()
        }
    }
}

async fn show_backup_codes(
    State(app): State<App>,
    session: Session,
    Member { user, .. }: Member,
) -> Response {
    let token = csrf::token(&session).await;
    // The slot is read once, by the user it was made for, in the session it was made in.
    let codes = match session.remove::<String>(NEW_CODES).await.ok().flatten() {
        Some(slot) => {
            match slots::take(app.pool(), app.slot_key(), &slot, &user.id, app.now()).await {
                Ok(codes) => codes,
                Err(error) => return internal(&app, "backup-code slot", &error),
            }
        }
        None => None,
    };
    let mut body = take_flash(&session).await;
    match codes {
        Some(codes) => {
            let text = codes
                .iter()
                .map(|code| code.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let _ = write!(
                body,
                r#"<p>Save these {n} backup codes in a secure place (a password manager or an encrypted note). Each can be used once if you lose your phone. <strong>They are shown only once.</strong></p>
<ol class="codes" id="backup-code-list">{items}</ol>
<pre id="codes-text" hidden>{text}</pre>
<button type="button" id="copy-codes">Copy</button>
<a class="button" id="download-codes" download="smile-dental-backup-codes.txt" href="data:text/plain;charset=utf-8,{href}">Download</a>
<span id="copied" hidden>Copied.</span>
<p class="notice error" id="passkey-error" hidden></p>
<p><a href="/profile/security" id="codes-saved">I have saved my backup codes</a></p>"#,
                n = codes.len(),
                items = codes
                    .iter()
                    .map(|code| format!(r#"<li class="backup-code">{}</li>"#, esc(code)))
                    .collect::<String>(),
                text = esc(&text),
                href = percent_encode(&(text.clone() + "\n")),
            );
        }
        None => body.push_str(
            r#"<p id="codes-gone">Backup codes are shown only once. If you did not save them, regenerate them on <a href="/profile/security">My Profile → Security</a>.</p>"#,
        ),
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        Page::bare("Save your backup codes")
            .nav(nav(&user, &token))
            .body(&body)
            .render(),
    )
        .into_response()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

async fn regenerate_codes(
    State(app): State<App>,
    session: Session,
    client: Client,
    Member { user, .. }: Member,
    Form(form): Form<PasswordForm>,
) -> Response {
    let at = match check_password(&app, Some(&user), &user.email, &form.password, &client).await {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text("That password is not correct; backup codes were not changed.");
            flash(&session, "error", &text).await;
            return Redirect::to("/profile/security").into_response();
        }
    };
    match app
        .two_factor()
        .regenerate_backup_codes(&account(&user), Some(Timestamp::from_unix_seconds(at)))
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            if let Err(response) = stash_codes(&app, &session, &user, &done.value).await {
                return response;
            }
            flash(
                &session,
                "ok",
                "New backup codes: the old ones no longer work.",
            )
            .await;
            Redirect::to("/security/backup-codes").into_response()
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, "/profile/security").await,
    }
}

async fn disable(
    State(app): State<App>,
    session: Session,
    client: Client,
    Member { user, .. }: Member,
    Form(form): Form<PasswordForm>,
) -> Response {
    let at = match check_password(&app, Some(&user), &user.email, &form.password, &client).await {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text("That password is not correct; 2FA is still on.");
            flash(&session, "error", &text).await;
            return Redirect::to("/settings/security").into_response();
        }
    };
    match app
        .two_factor()
        .disable(&account(&user), Some(Timestamp::from_unix_seconds(at)))
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            let ended = sign_out_elsewhere(&app, &session, &user).await;
            flash(
                &session,
                "ok",
                &format!("2FA is off for your account.{ended}"),
            )
            .await;
            Redirect::to("/settings/security").into_response()
        }
        Err(failure) => {
            let refused = match &failure.error {
                TwoFactorError::Denied(Reason::EnforcedForUser) => Some(
                    "2FA cannot be disabled: your clinic's owner requires 2FA for everyone \
                     (Settings → Security → 2FA enforcement: Required)."
                        .to_string(),
                ),
                TwoFactorError::Denied(reason) => {
                    Some(format!("2FA cannot be disabled: {}", reason_text(reason)))
                }
                _ => None,
            };
            match refused {
                Some(text) => {
                    record(&app, &user.clinic, &failure.events).await;
                    flash(&session, "error", &text).await;
                    Redirect::to("/settings/security").into_response()
                }
                None => factor_failure(&app, &session, &user, failure, "/settings/security").await,
            }
        }
    }
}

async fn passkey_begin(
    State(app): State<App>,
    session: Session,
    client: Client,
    Json(body): Json<MaybePassword>,
) -> Response {
    let gate = Gate::Change(Some(body.password.as_str()));
    let (user, _, password_at) = match enroller(&app, &session, gate, &client).await {
        Ok(enroller) => enroller,
        Err(refused) => return json_error(refused.status, &refused.message),
    };
    match app
        .two_factor()
        .begin_passkey_registration(
            &account(&user),
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            Json(done.value).into_response()
        }
        Err(failure) => {
            record(&app, &user.clinic, &failure.events).await;
            json_error(StatusCode::BAD_REQUEST, &explain(&failure.error))
        }
    }
}

async fn passkey_finish(
    State(app): State<App>,
    session: Session,
    client: Client,
    Json(body): Json<CredentialBody>,
) -> Response {
    let (user, forced, _) = match enroller(&app, &session, Gate::Finish, &client).await {
        Ok(enroller) => enroller,
        Err(refused) => return json_error(refused.status, &refused.message),
    };
    let name = match body.name.trim() {
        "" => "Passkey",
        name if name.chars().count() > MAX_NAME => {
            return json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "A passkey name has at most 64 characters.",
            );
        }
        name => name,
    };
    match app
        .two_factor()
        .finish_passkey_registration(&account(&user), &body.credential.to_string(), name)
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            match after_confirm(&app, &session, &user, forced, done.value).await {
                Ok(to) => {
                    flash(
                        &session,
                        "ok",
                        &format!("Passkey \u{201c}{name}\u{201d} added."),
                    )
                    .await;
                    Json(json!({ "redirect": to })).into_response()
                }
                Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again."),
            }
        }
        Err(failure) => {
            record(&app, &user.clinic, &failure.events).await;
            json_error(StatusCode::BAD_REQUEST, &explain(&failure.error))
        }
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    id: String,
    #[serde(default)]
    password: String,
}

/// The longest passkey name and admin-reset reason kept.
const MAX_NAME: usize = 64;
const MAX_REASON: usize = 200;

async fn passkey_remove(
    State(app): State<App>,
    session: Session,
    client: Client,
    Member { user, password_at }: Member,
    Form(form): Form<RemoveForm>,
) -> Response {
    let Some(id) = CredentialId::from_base64url(&form.id) else {
        flash(&session, "error", "That passkey id could not be read.").await;
        return Redirect::to("/profile/security").into_response();
    };
    let given = Some(form.password.as_str());
    let password_at =
        match recent_password(&app, &session, &user, password_at, given, &client).await {
            Ok(at) => at,
            Err(refusal) => {
                let text = refusal.text(
                "Re-enter your password to remove a passkey (the password was wrong or missing).",
            );
                flash(&session, "error", &text).await;
                return Redirect::to("/profile/security").into_response();
            }
        };
    match app
        .two_factor()
        .remove_passkey(
            &account(&user),
            &id,
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            let ended = sign_out_elsewhere(&app, &session, &user).await;
            flash(&session, "ok", &format!("Passkey removed.{ended}")).await;
            Redirect::to("/profile/security").into_response()
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, "/profile/security").await,
    }
}

// ---------------------------------------------------------------------------
// Settings

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Off => "Off",
        Mode::Optional => "Optional",
        Mode::Required => "Required",
    }
}

async fn settings_security(
    State(app): State<App>,
    session: Session,
    Member { user, .. }: Member,
) -> Response {
    let token = csrf::token(&session).await;
    let policy = match app.two_factor().policy(&user.clinic).await {
        Ok(policy) => policy,
        Err(error) => return internal(&app, "policy", &error),
    };
    let mode = policy.mode();
    let may_change = policy.may_change_enforcement(&user.role);
    let mut body = take_flash(&session).await;
    body.push_str(r#"<section id="enforcement"><h2>2FA enforcement</h2>"#);
    if may_change {
        let option = |m: Mode| {
            format!(
                r#"<option value="{v}"{s}>{v}</option>"#,
                v = mode_name(m),
                s = if m == mode { " selected" } else { "" }
            )
        };
        let _ = write!(
            body,
            r#"<form method="post" action="/settings/security/enforcement">{}
<label>2FA enforcement: <select name="mode" id="enforcement-mode">{}{}{}</select></label>
<label>Your password (if you signed in more than 5 minutes ago) <input type="password" name="password" id="enforcement-password" autocomplete="current-password"></label>
<button id="save-enforcement">Save</button></form>
<p>Required: after the change, every user must enable 2FA on their next sign-in.</p>"#,
            csrf_field(&token),
            option(Mode::Optional),
            option(Mode::Required),
            option(Mode::Off),
        );
    } else {
        let _ = write!(
            body,
            r#"<p>2FA enforcement: <strong id="enforcement-value">{}</strong></p><p id="enforcement-readonly">Only the clinic's owner can change this.</p>"#,
            mode_name(mode)
        );
    }
    body.push_str("</section><h2>Your two-factor authentication</h2>");
    match personal_security(&app, &user, &token).await {
        Ok(panel) => body.push_str(&panel),
        Err(response) => return response,
    }
    Page::bare("Settings → Security")
        .nav(nav(&user, &token))
        .body(&body)
        .render()
        .into_response()
}

#[derive(Deserialize)]
struct ModeForm {
    mode: String,
    #[serde(default)]
    password: String,
}

async fn set_enforcement(
    State(app): State<App>,
    session: Session,
    client: Client,
    Member { user, password_at }: Member,
    Form(form): Form<ModeForm>,
) -> Response {
    let given = Some(form.password.as_str());
    let password_at =
        match recent_password(&app, &session, &user, password_at, given, &client).await {
            Ok(at) => Some(at),
            Err(refusal @ (Refusal::Wait(_) | Refusal::Busy)) => {
                flash(&session, "error", &refusal.text("")).await;
                return Redirect::to("/settings/security").into_response();
            }
            Err(_) => None,
        };
    let mode = match form.mode.parse::<Mode>() {
        Ok(mode) => mode,
        Err(_) => {
            flash(&session, "error", "Choose Off, Optional or Required.").await;
            return Redirect::to("/settings/security").into_response();
        }
    };
    match app
        .two_factor()
        .change_enforcement(
            &account(&user),
            mode,
            password_at.map(Timestamp::from_unix_seconds),
        )
        .await
    {
        Ok(done) => {
            record(&app, &user.clinic, &done.events).await;
            flash(
                &session,
                "ok",
                &format!("2FA enforcement is now {}.", mode_name(mode)),
            )
            .await;
            Redirect::to("/settings/security").into_response()
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, "/settings/security").await,
    }
}

async fn settings_staff(
    State(app): State<App>,
    session: Session,
    Member { user, .. }: Member,
) -> Response {
    if !is_manager(&user) {
        return managers_only();
    }
    let token = csrf::token(&session).await;
    let staff = match db::users_of(app.pool(), &user.clinic).await {
        Ok(staff) => staff,
        Err(error) => return internal(&app, "staff", &error),
    };
    let policy = match app.two_factor().policy(&user.clinic).await {
        Ok(policy) => policy,
        Err(error) => return internal(&app, "policy", &error),
    };
    let may_reset =
        |target: &User| target.id != user.id && policy.may_reset(&user.role, &target.role);
    let may_unlock =
        |target: &User| target.id != user.id && policy.may_unlock(&user.role, &target.role);
    let mut body = take_flash(&session).await;
    body.push_str(
        r#"<table id="staff"><tr><th>Name</th><th>Role</th><th>2FA</th><th>Factors</th><th></th></tr>"#,
    );
    for member in &staff {
        let status = match app.two_factor().status(&account(member)).await {
            Ok(status) => status,
            Err(error) => return internal(&app, "status", &error),
        };
        let mut factors = Vec::new();
        if status.totp {
            factors.push("authenticator app".to_string());
        }
        if !status.passkeys.is_empty() {
            factors.push(format!("{} passkey(s)", status.passkeys.len()));
        }
        if let Some(n) = status.backup_codes_remaining {
            factors.push(format!("{n} backup codes"));
        }
        let state = match (status.enabled, status.locked) {
            (_, Some(lock)) => lock_state(lock),
            (true, None) => "On".to_string(),
            (false, None) if status.enforced => "Off (must set up at next sign-in)".to_string(),
            (false, None) => "Off".to_string(),
        };
        let staff_form = |action: &str, class: &str, button: &str, placeholder: &str| {
            format!(
                r#"<form method="post" action="/settings/staff/{action}" class="staff-{action}">{}<input type="hidden" name="user" value="{}">
<input type="text" name="reason" class="{class}-reason" placeholder="{placeholder}" maxlength="200" required>
<input type="password" name="password" class="{class}-password" placeholder="Your password (if signed in over 5 minutes ago)" autocomplete="current-password">
<button class="{button}">{}</button></form>"#,
                csrf_field(&token),
                esc(&member.id),
                if action == "unlock" {
                    "Unlock"
                } else {
                    "Disable 2FA"
                },
            )
        };
        let mut action = String::new();
        if may_unlock(member) && status.locked.is_some() {
            action.push_str(&staff_form(
                "unlock",
                "unlock",
                "unlock-user",
                "Reason (e.g. locked out by mistake)",
            ));
        }
        if may_reset(member) && (status.enabled || status.locked.is_some()) {
            action.push_str(&staff_form(
                "disable",
                "reset",
                "disable-user-2fa",
                "Reason (e.g. lost phone)",
            ));
        }
        let _ = write!(
            body,
            r#"<tr class="staff-row" data-email="{email}"><td>{name}<br><small>{email}</small></td><td>{role}</td><td class="status">{state}</td><td>{factors}</td><td>{action}</td></tr>"#,
            email = esc(&member.email),
            name = esc(&member.name),
            role = esc(&member.role),
            state = esc(&state),
            factors = esc(&factors.join(", ")),
        );
    }
    body.push_str("</table>");
    Page::bare("Settings → Staff")
        .nav(nav(&user, &token))
        .body(&body)
        .render()
        .into_response()
}

#[derive(Deserialize)]
struct StaffDisableForm {
    user: String,
    reason: String,
    #[serde(default)]
    password: String,
}

/// The staff member a Settings → Staff form names, in the actor's clinic, with
/// the actor's proof of a recent password; or the page to go back to.
async fn staff_target(
    app: &App,
    session: &Session,
    actor: &User,
    password_at: u64,
    form: &StaffDisableForm,
    client: &Client,
) -> Result<(User, Option<u64>), Response> {
    if !is_manager(actor) {
        return Err(managers_only());
    }
    let given = Some(form.password.as_str());
    let password_at = match recent_password(app, session, actor, password_at, given, client).await {
        Ok(at) => Some(at),
        Err(refusal @ (Refusal::Wait(_) | Refusal::Busy)) => {
            flash(session, "error", &refusal.text("")).await;
            return Err(Redirect::to("/settings/staff").into_response());
        }
        Err(_) => None,
    };
    if form.reason.trim().chars().count() > MAX_REASON {
        flash(session, "error", "A reason has at most 200 characters.").await;
        return Err(Redirect::to("/settings/staff").into_response());
    }
    match db::user_by_id(app.pool(), &form.user).await {
        Ok(Some(target)) if target.clinic == actor.clinic => Ok((target, password_at)),
        Ok(_) => {
            flash(session, "error", "No such user in your clinic.").await;
            Err(Redirect::to("/settings/staff").into_response())
        }
        Err(error) => Err(internal(app, "staff", &error)),
    }
}

async fn staff_disable(
    State(app): State<App>,
    session: Session,
    client: Client,
    Member {
        user: actor,
        password_at,
    }: Member,
    Form(form): Form<StaffDisableForm>,
) -> Response {
    let (target, password_at) =
        match staff_target(&app, &session, &actor, password_at, &form, &client).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    match app
        .two_factor()
        .admin_reset(
            &account(&actor),
            &account(&target),
            form.reason.trim(),
            password_at.map(Timestamp::from_unix_seconds),
        )
        .await
    {
        Ok(done) => {
            record(&app, &actor.clinic, &done.events).await;
            // Their sessions end with their factors: nobody stays signed in on the old ones.
            if let Err(error) = app.sessions().revoke_user(&target.id, None).await {
                return internal(&app, "sessions", &error);
            }
            flash(
                &session,
                "ok",
                &format!(
                    "2FA disabled for {}.{}",
                    target.name,
                    if done.value {
                        " They must set it up again at their next sign-in."
                    } else {
                        ""
                    }
                ),
            )
            .await;
            Redirect::to("/settings/staff").into_response()
        }
        Err(failure) => factor_failure(&app, &session, &actor, failure, "/settings/staff").await,
    }
}

/// Settings → Staff → Unlock: clears a lockout, keeping the user's factors.
async fn staff_unlock(
    State(app): State<App>,
    session: Session,
    client: Client,
    Member {
        user: actor,
        password_at,
    }: Member,
    Form(form): Form<StaffDisableForm>,
) -> Response {
    let (target, password_at) =
        match staff_target(&app, &session, &actor, password_at, &form, &client).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    match app
        .two_factor()
        .admin_unlock(
            &account(&actor),
            &account(&target),
            form.reason.trim(),
            password_at.map(Timestamp::from_unix_seconds),
        )
        .await
    {
        Ok(done) => {
            record(&app, &actor.clinic, &done.events).await;
            let text = format!("{} is unlocked; their 2FA is unchanged.", target.name);
            flash(&session, "ok", &text).await;
            Redirect::to("/settings/staff").into_response()
        }
        Err(failure) => factor_failure(&app, &session, &actor, failure, "/settings/staff").await,
    }
}

/// The audit page's query string.
#[derive(Deserialize, Default)]
struct AuditParams {
    #[serde(default)]
    user: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    page: u64,
}

/// An audit event's name in words a clinic owner reads.
fn event_words(kind: &str) -> &str {
    match kind {
        "sign_in_succeeded" => "Signed in",
        "sign_in_failed" => "Wrong code at sign-in",
        "locked_out" => "Locked out after wrong codes",
        "password_failed" => "Wrong password",
        "password_lockout" => "Password attempts paused",
        "enrollment_begun" => "Started setting up 2FA",
        "enrollment_confirmed" => "Confirmed 2FA setup",
        "factor_added" => "Added a sign-in method",
        "factor_removed" => "Removed a sign-in method",
        "backup_code_used" => "Signed in with a backup code",
        "backup_codes_created" => "Backup codes created",
        "backup_codes_regenerated" => "Backup codes regenerated",
        "two_factor_disabled" => "Turned off 2FA",
        "admin_reset" => "2FA reset by an owner or admin",
        "unlocked" => "Unlocked by an owner or admin",
        "user_forgotten" => "Account deleted",
        "enforcement_changed" => "2FA enforcement changed",
        other => other,
    }
}

/// The event names an owner can filter by.
const AUDIT_KINDS: [&str; 17] = [
    "sign_in_succeeded",
    "sign_in_failed",
    "locked_out",
    "password_failed",
    "password_lockout",
    "enrollment_begun",
    "enrollment_confirmed",
    "factor_added",
    "factor_removed",
    "backup_code_used",
    "backup_codes_created",
    "backup_codes_regenerated",
    "two_factor_disabled",
    "admin_reset",
    "unlocked",
    "enforcement_changed",
    "event",
];

/// Audit entries as a table; `name_of` turns user ids into names.
fn audit_table(entries: &[db::AuditEntry], name_of: &dyn Fn(&str) -> String) -> String {
    let mut body = String::from(
        r#"<table id="audit"><tr><th>When</th><th>Event</th><th>Who</th><th>Details</th></tr>"#,
    );
    for entry in entries {
        let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
        let mut details = Vec::new();
        if entry.subject != entry.actor && !entry.subject.is_empty() {
            details.push(format!("user: {}", name_of(&entry.subject)));
        }
        for key in [
            "reason",
            "factor",
            "name",
            "from",
            "to",
            "remaining",
            "failures",
            "address",
        ] {
            match &field(&detail, key) {
                Value::String(text) => details.push(format!("{key}: {text}")),
                Value::Number(n) => details.push(format!("{key}: {n}")),
                _ => {}
            }
        }
        let _ = write!(
            body,
            r#"<tr class="audit-entry" data-event="{event}"><td>{at}</td><td>{words}</td><td>{who}</td><td>{details}</td></tr>"#,
            at = when(entry.at),
            event = esc(&entry.event),
            words = esc(event_words(&entry.event)),
            who = esc(&name_of(&entry.actor)),
            details = esc(&details.join("; ")),
        );
    }
    body.push_str("</table>");
    body
}

/// Entries on one audit page.
const AUDIT_PAGE: u64 = 50;

async fn audit_page(
    State(app): State<App>,
    session: Session,
    Member { user, .. }: Member,
    Query(params): Query<AuditParams>,
) -> Response {
    if !is_manager(&user) {
        return managers_only();
    }
    let token = csrf::token(&session).await;
    let query = AuditQuery {
        user: Some(params.user.clone()).filter(|u| !u.is_empty()),
        kind: Some(params.kind.clone()).filter(|k| !k.is_empty()),
        page: params.page,
        per_page: AUDIT_PAGE,
    };
    let (page, staff) = match (
        db::audit_page(app.pool(), &user.clinic, &query).await,
        db::users_of(app.pool(), &user.clinic).await,
    ) {
        (Ok(page), Ok(staff)) => (page, staff),
        (Err(error), _) | (_, Err(error)) => return internal(&app, "audit log", &error),
    };
    let (entries, more) = page;
    let name_of = |id: &str| {
        staff
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_string(), |u| u.name.clone())
    };
    let option = |value: &str, label: &str, chosen: &str| {
        format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(value),
            if value == chosen { " selected" } else { "" },
            esc(label)
        )
    };
    let mut body =
        String::from(r#"<form method="get" action="/settings/audit" id="audit-filter">"#);
    body.push_str(r#"<label>User <select name="user" id="audit-user">"#);
    body.push_str(&option("", "everyone", &params.user));
    for member in &staff {
        body.push_str(&option(&member.id, &member.name, &params.user));
    }
    body.push_str(r#"</select></label><label>Event <select name="kind" id="audit-kind">"#);
    body.push_str(&option("", "every event", &params.kind));
    for kind in AUDIT_KINDS {
        body.push_str(&option(kind, event_words(kind), &params.kind));
    }
    body.push_str(r#"</select></label><button id="audit-apply">Show</button></form>"#);
    body.push_str(&audit_table(&entries, &name_of));
    let link = |page: u64, id: &str, label: &str| {
        format!(
            r#"<a href="/settings/audit?user={}&amp;kind={}&amp;page={page}" id="{id}">{label}</a> "#,
            esc(&params.user),
            esc(&params.kind)
        )
    };
    body.push_str(r#"<p class="pages">"#);
    if params.page > 0 {
        body.push_str(&link(params.page - 1, "audit-newer", "← Newer"));
    }
    if more {
        body.push_str(&link(params.page + 1, "audit-older", "Older →"));
    }
    body.push_str("</p>");
    Page::bare("Audit log")
        .nav(nav(&user, &token))
        .body(&body)
        .render()
        .into_response()
}
