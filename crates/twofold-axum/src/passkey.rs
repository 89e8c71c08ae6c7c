//! The JSON endpoints of the passkey ceremonies, as a `Router` to mount under
//! a prefix of the application's choosing.
//!
//! | route | stage | body | answer |
//! |---|---|---|---|
//! | `POST /register/begin` | [`Enroller`], fresh password | `{"password": "…"}` (optional) | the options for `parseCreationOptionsFromJSON` |
//! | `POST /register/finish` | [`Enroller`] | `{"credential": credential.toJSON(), "name": "…"}` | [`PasskeyHooks::registered`] |
//! | `POST /sign-in` | [`SecondStep`] | `{"credential": credential.toJSON(), "trust_browser": false}` | [`PasskeyHooks::signed_in`] (and [`PasskeyHooks::remember_browser`] when the browser was trusted) |
//!
//! **CSRF.** Every endpoint reads its body with axum's `Json`, which refuses
//! any content type but `application/json` (415): an HTML form on another
//! site cannot send that without a CORS preflight, which the application does
//! not grant. Sessions should still use `SameSite=Lax` or `Strict` cookies,
//! and an application with its own CSRF tokens keeps them in front of the
//! router.
//!
//! **Size.** Bodies over [`MAX_BODY`] are refused (413) before they are read
//! whole; the facade bounds the response JSON again.
//!
//! **Replays.** The ceremony state lives in the facade's store, not in the
//! browser: each registration and each challenge is single-use and expires,
//! so a replayed or abandoned ceremony fails there.

use std::future::Future;

use axum::Router;
use axum::extract::{
    DefaultBodyLimit, FromRef, FromRequest, FromRequestParts, Json, Request, State,
};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;
use twofold::{ErrorKind, FactorConfirmed, Failure, NewTrustedBrowser, Timestamp};

use crate::extract::{Enroller, SecondStep, StageRejection};
use crate::stage::{SessionAccount, complete_sign_in, password_confirmed};
use crate::state::TwoFactorState;

/// The largest request body the passkey endpoints read.
pub const MAX_BODY: usize = 64 * 1024;

/// The longest passkey name kept, in characters.
pub const MAX_NAME: usize = 64;

/// What the application adds to the ceremonies: each method has a default,
/// so `impl PasskeyHooks for AppState {}` is a complete implementation.
pub trait PasskeyHooks: Clone + Send + Sync + 'static {
    /// Checks a password re-entered in the body of `/register/begin` for
    /// `account` (the request's parts are given for the client's address),
    /// returning when it was entered (now) if right. The default refuses it:
    /// only the session's own fresh password counts.
    fn reenter_password(
        &self,
        parts: &mut Parts,
        account: &SessionAccount,
        password: &str,
    ) -> impl Future<Output = Result<Timestamp, Response>> + Send {
        let _ = (parts, account, password);
        async {
            Err(json_error(
                StatusCode::FORBIDDEN,
                "Sign in again to change how you sign in.",
            ))
        }
    }

    /// The answer to a finished registration of the passkey named `name`
    /// (`forced`: it ended the forced setup, and the session is now signed
    /// in). The default is
    /// `{"backup_codes": [...] | null}`: the codes, if the user's first
    /// factor created them, to be shown this once.
    fn registered(
        &self,
        session: &Session,
        account: &SessionAccount,
        name: &str,
        confirmed: FactorConfirmed,
        forced: bool,
    ) -> impl Future<Output = Response> + Send {
        let _ = (session, account, name, forced);
        let codes = confirmed
            .backup_codes
            .map(|codes| codes.iter().map(str::to_string).collect::<Vec<_>>());
        async move { Json(json!({ "backup_codes": codes })).into_response() }
    }

    /// The answer to a second step passed with a passkey (the session is now
    /// signed in). The default is `{"redirect": home}`.
    fn signed_in(
        &self,
        session: &Session,
        account: &SessionAccount,
        home: &'static str,
    ) -> impl Future<Output = Response> + Send {
        let _ = (session, account);
        async move { Json(json!({ "redirect": home })).into_response() }
    }

    /// The label of the browser (from its User-Agent, say: "Chrome on
    /// Windows") when the body of `/sign-in` asks to trust it
    /// (`"trust_browser": true`, "Don't ask again on this browser"). The
    /// default, `None`, offers no trusted browsers: the wish is ignored and no
    /// token is issued. An application that returns a label also implements
    /// [`remember_browser`](Self::remember_browser).
    fn browser_label(&self, parts: &Parts) -> Option<String> {
        let _ = parts;
        None
    }

    /// Sets the trusted browser's token (issued with a passkey answer) in
    /// the application's cookie on `response`, until `browser.expires_at`.
    /// The default does nothing (the default [`browser_label`](Self::browser_label)
    /// never asks for one).
    fn remember_browser(&self, response: &mut Response, browser: &NewTrustedBrowser) {
        let _ = (response, browser);
    }

    /// The answer to a failed ceremony. The default is `{"error": text}` with
    /// a status by the failure's kind.
    fn failed(&self, session: &Session, failure: Failure) -> impl Future<Output = Response> + Send {
        let _ = session;
        async move { failure_response(&failure) }
    }

    /// The answer to a request at the wrong stage. The default is
    /// `{"error": text}` with [`StageRejection::status`].
    fn rejected(&self, rejection: StageRejection) -> Response {
        json_error(rejection.status(), &rejection.to_string())
    }
}

/// `{"error": text}` with `status`.
pub fn json_error(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

/// The default answer to a failure: its text, with 400 (wrong, expired or
/// denied), 403 (a fresh password is needed), 429 (locked), 503 (busy) or 500
/// (the server's fault, whose details stay out of the answer).
pub fn failure_response(failure: &Failure) -> Response {
    let status = match failure.kind() {
        ErrorKind::Reauthenticate => StatusCode::FORBIDDEN,
        ErrorKind::Locked => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Server => {
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "server error");
        }
        _ => StatusCode::BAD_REQUEST,
    };
    json_error(status, &failure.error.to_string())
}

/// The passkey endpoints (see the [module docs](self)), for
/// `Router::nest("/passkeys", passkey_router())`.
///
/// ```
/// # use axum::Router;
/// # use twofold_axum::{PasskeyHooks, TwoFactorState, passkey_router};
/// #[derive(Clone)]
/// struct AppState(TwoFactorState);
/// impl axum::extract::FromRef<AppState> for TwoFactorState {
///     fn from_ref(state: &AppState) -> TwoFactorState { state.0.clone() }
/// }
/// impl PasskeyHooks for AppState {}
///
/// let app: Router<AppState> = Router::new().nest("/passkeys", passkey_router());
/// ```
pub fn passkey_router<S>() -> Router<S>
where
    S: PasskeyHooks,
    TwoFactorState: FromRef<S>,
{
    Router::new()
        .route("/register/begin", post(register_begin::<S>))
        .route("/register/finish", post(register_finish::<S>))
        .route("/sign-in", post(sign_in::<S>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Reads the stage extractor `E`, then the JSON body `B`.
async fn stage_and_body<S, E, B>(request: Request, app: &S) -> Result<(E, Parts, Json<B>), Response>
where
    S: PasskeyHooks,
    E: FromRequestParts<S, Rejection = StageRejection>,
    Json<B>: FromRequest<()>,
{
    let (mut parts, body) = request.into_parts();
    let stage = E::from_request_parts(&mut parts, app)
        .await
        .map_err(|rejection| app.rejected(rejection))?;
    let json = Json::<B>::from_request(Request::from_parts(parts.clone(), body), &())
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((stage, parts, json))
}

#[derive(Deserialize)]
struct BeginBody {
    #[serde(default)]
    password: String,
}

async fn register_begin<S>(State(app): State<S>, request: Request) -> Response
where
    S: PasskeyHooks,
    TwoFactorState: FromRef<S>,
{
    let twofold = TwoFactorState::from_ref(&app);
    let (enroller, mut parts, Json(body)) =
        match stage_and_body::<S, Enroller, BeginBody>(request, &app).await {
            Ok(read) => read,
            Err(response) => return response,
        };
    let password_at = match &enroller {
        // The forced setup follows the sign-in's own password.
        Enroller::Forced(forced) => forced.password_at,
        Enroller::SignedIn(signed_in) if body.password.is_empty() => {
            if !twofold.is_fresh(signed_in.password_at) {
                return json_error(
                    StatusCode::FORBIDDEN,
                    "Re-enter your password to change how you sign in.",
                );
            }
            signed_in.password_at
        }
        Enroller::SignedIn(signed_in) => {
            let at = match app
                .reenter_password(&mut parts, &signed_in.account, &body.password)
                .await
            {
                Ok(at) => at,
                Err(response) => return response,
            };
            if password_confirmed(&signed_in.session, at).await.is_err() {
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, "session unavailable");
            }
            at
        }
    };
    match twofold
        .two_factor()
        .begin_passkey_registration(&enroller.account().account(), Some(password_at))
        .await
    {
        Ok(done) => Json(done.value).into_response(),
        Err(failure) => app.failed(enroller.session(), failure).await,
    }
}

#[derive(Deserialize)]
struct FinishBody {
    credential: Value,
    #[serde(default)]
    name: String,
}

async fn register_finish<S>(State(app): State<S>, request: Request) -> Response
where
    S: PasskeyHooks,
    TwoFactorState: FromRef<S>,
{
    let twofold = TwoFactorState::from_ref(&app);
    let (enroller, _, Json(body)) =
        match stage_and_body::<S, Enroller, FinishBody>(request, &app).await {
            Ok(read) => read,
            Err(response) => return response,
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
    let account = enroller.account();
    let session = enroller.session();
    match twofold
        .two_factor()
        .finish_passkey_registration(&account.account(), &body.credential.to_string(), name)
        .await
    {
        Ok(done) => {
            if let Enroller::Forced(forced) = &enroller
                && complete_sign_in(session, account, forced.password_at)
                    .await
                    .is_err()
            {
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, "session unavailable");
            }
            app.registered(session, account, name, done.value, enroller.is_forced())
                .await
        }
        Err(failure) => app.failed(session, failure).await,
    }
}

#[derive(Deserialize)]
struct SignInBody {
    credential: Value,
    /// "Don't ask again on this browser".
    #[serde(default)]
    trust_browser: bool,
}

async fn sign_in<S>(State(app): State<S>, request: Request) -> Response
where
    S: PasskeyHooks,
    TwoFactorState: FromRef<S>,
{
    let twofold = TwoFactorState::from_ref(&app);
    let (pending, parts, Json(body)) =
        match stage_and_body::<S, SecondStep, SignInBody>(request, &app).await {
            Ok(read) => read,
            Err(response) => return response,
        };
    let account = &pending.account;
    let label = body
        .trust_browser
        .then(|| app.browser_label(&parts))
        .flatten();
    match twofold
        .two_factor()
        .verify_passkey_trusting(
            &account.account(),
            &pending.challenge,
            &body.credential.to_string(),
            label.as_deref(),
        )
        .await
    {
        Ok(done) => {
            if complete_sign_in(&pending.session, account, pending.password_at)
                .await
                .is_err()
            {
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, "session unavailable");
            }
            let mut response = app
                .signed_in(&pending.session, account, twofold.paths().home)
                .await;
            if let Some(browser) = &done.value.trusted_browser {
                app.remember_browser(&mut response, browser);
            }
            response
        }
        Err(failure) => app.failed(&pending.session, failure).await,
    }
}
