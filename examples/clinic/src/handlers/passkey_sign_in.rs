//! Passkey-first sign-in on the sign-in page: "Sign in with a passkey" and
//! the browser's autofill (conditional mediation) both post their answer to
//! `/signin/passkey/finish` (JSON, from `app.js`). And the WebAuthn Signal API
//! calls that follow a sign-in or a removed passkey, handed to the page.
//!
//! Where the policy lets a verified passkey replace the password (the
//! default), the answer signs in. Where it does not, the passkey only said who
//! the user is: the sign-in page comes back with their email filled in, and
//! the password and the usual second step follow. Nothing of the passkey is
//! carried over as a proof, so that path is exactly the password sign-in.

use axum::extract::{Json, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_sessions::Session;
use twofold::{ErrorKind, PasskeySignIn, PasskeySignals, Timestamp, TwoFactorError};
use twofold_axum::SessionAccount;

use super::account;
use crate::db::{self, User};
use crate::error::AppError;
use crate::session::{flash, signed_in};
use crate::views::Tone;
use crate::{App, CLINIC, words};

/// The session key of the Signal API calls the next page makes.
const SIGNALS_KEY: &str = "passkey_signals";
/// The session key of the email the sign-in page fills in.
const EMAIL_KEY: &str = "signin_email";

/// One Signal API call for the page: `PublicKeyCredential[method](options)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Signal {
    /// `signalUnknownCredential`, `signalAllAcceptedCredentials` or `signalCurrentUserDetails`.
    pub method: String,
    /// The options, as WebAuthn names their members.
    pub options: Value,
}

impl Signal {
    fn new(method: &str, options: &impl Serialize) -> Option<Signal> {
        Some(Signal {
            method: method.to_string(),
            options: serde_json::to_value(options).ok()?,
        })
    }
}

impl Signal {
    /// `signalAllAcceptedCredentials` alone (after a removal).
    pub(crate) fn all_accepted(accepted: &twofold::AllAcceptedCredentials) -> Vec<Signal> {
        Signal::new("signalAllAcceptedCredentials", accepted)
            .into_iter()
            .collect()
    }
}

/// The calls after a sign-in.
pub(crate) fn after_sign_in(signals: &PasskeySignals) -> Vec<Signal> {
    [
        Signal::new(
            "signalAllAcceptedCredentials",
            &signals.all_accepted_credentials,
        ),
        Signal::new("signalCurrentUserDetails", &signals.current_user_details),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Keeps `signals` for the next page that shows them (My Profile → Security).
pub(crate) async fn stash_signals(session: &Session, signals: Vec<Signal>) {
    if !signals.is_empty() {
        let _ = session.insert(SIGNALS_KEY, &signals).await;
    }
}

/// The signals kept for this page, as JSON for a data attribute; once.
pub(crate) async fn take_signals(session: &Session) -> Option<String> {
    let signals: Vec<Signal> = session.remove(SIGNALS_KEY).await.ok().flatten()?;
    serde_json::to_string(&signals).ok()
}

/// The email the passkey identified, for the sign-in page to fill in; once.
pub(crate) async fn take_email(session: &Session) -> Option<String> {
    session.remove(EMAIL_KEY).await.ok().flatten()
}

/// The signals after any sign-in, from the user's record as it is now.
pub(crate) async fn stash_signals_for(app: &App, session: &Session, user: &User) {
    if let Ok(signals) = app.two_factor().passkey_signals(&account(user)).await {
        stash_signals(session, after_sign_in(&signals)).await;
    }
}

fn json_error(status: StatusCode, text: &str, signals: Vec<Signal>) -> Response {
    (status, Json(json!({ "error": text, "signals": signals }))).into_response()
}

/// `POST /signin/passkey/begin`: a username-less ceremony of the clinic's
/// sign-in page. Anyone can ask, so the facade bounds them (single use,
/// expiring, swept, capped per clinic).
pub(crate) async fn begin(State(app): State<App>) -> Response {
    match app.two_factor().begin_passkey_sign_in(CLINIC).await {
        Ok(done) => Json(json!({
            "ceremony": done.value.ceremony_id,
            "options": done.value.options,
        }))
        .into_response(),
        Err(failure) if failure.kind() == ErrorKind::Unavailable => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Passkey sign-in is busy right now. Sign in with your email and password.",
            Vec::new(),
        ),
        Err(failure) => AppError::internal("passkey sign-in", &failure.error)
            .for_fetch()
            .into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct FinishBody {
    ceremony: String,
    credential: Value,
}

/// `POST /signin/passkey/finish`: `{"redirect": …}` when signed in or when
/// the password is still needed; `{"error": …, "signals": […]}` otherwise.
pub(crate) async fn finish(
    State(app): State<App>,
    session: Session,
    Json(body): Json<FinishBody>,
) -> Response {
    let twofold = app.two_factor();
    let claim = match twofold
        .identify_passkey_sign_in(&body.ceremony, &body.credential.to_string())
        .await
    {
        Ok(claim) => claim,
        Err(failure) => return refused(&failure.error),
    };
    // The facade's index names the user; the clinic knows their role and clinic.
    let user = match db::user_by_id(app.pool(), claim.user()).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "This passkey's account no longer exists.",
                Vec::new(),
            );
        }
        Err(error) => {
            return AppError::internal("passkey sign-in", error)
                .for_fetch()
                .into_response();
        }
    };
    let done = match twofold.finish_passkey_sign_in(claim, &account(&user)).await {
        Ok(done) => done,
        Err(failure) => return refused(&failure.error),
    };
    match done.value {
        PasskeySignIn::SignedIn { signals } => {
            // As after a password: nothing of the session's past stays, and
            // it gets a new id. No password was entered, so changing a factor
            // still asks for one (password_at: never).
            session.clear().await;
            if session.cycle_id().await.is_err() {
                return session_unavailable();
            }
            let stage_account = SessionAccount::from_account(&account(&user));
            if twofold_axum::complete_sign_in(
                &session,
                &stage_account,
                Timestamp::from_unix_seconds(0),
            )
            .await
            .is_err()
            {
                return session_unavailable();
            }
            signed_in(&app, &session, &user).await;
            stash_signals(&session, after_sign_in(&signals)).await;
            Json(json!({ "redirect": "/profile/security" })).into_response()
        }
        PasskeySignIn::PasswordRequired { reason } => {
            let _ = session.insert(EMAIL_KEY, &user.email).await;
            flash(&session, Tone::Info, &words::reason(&reason)).await;
            Json(json!({ "redirect": "/signin" })).into_response()
        }
        _ => AppError::internal("passkey sign-in", "an outcome this clinic does not know")
            .for_fetch()
            .into_response(),
    }
}

fn session_unavailable() -> Response {
    AppError::internal("session", "the session could not be written")
        .for_fetch()
        .into_response()
}

/// A refused answer: the words, and for a passkey this server does not know,
/// `signalUnknownCredential` so that the password manager stops offering it.
fn refused(error: &TwoFactorError) -> Response {
    let status = match error.kind() {
        ErrorKind::Locked => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Server => {
            return AppError::internal("passkey sign-in", error)
                .for_fetch()
                .into_response();
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let signals = match error {
        TwoFactorError::UnknownCredential(unknown) => {
            Signal::new("signalUnknownCredential", unknown)
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    };
    json_error(status, &words::explain(error), signals)
}
