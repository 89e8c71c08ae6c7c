//! The handlers, one module per area of the guide: signing in, My Profile →
//! Security, and Settings. Each takes the sign-in stage it needs as an
//! extractor (see `session`) and returns `Result<Response, AppError>`.

pub(crate) mod passkey_sign_in;
pub(crate) mod passkeys;
pub(crate) mod security;
pub(crate) mod settings;
pub(crate) mod sign_in;
pub(crate) mod trusted_browsers;
pub(crate) mod unlock;

use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use twofold::{Account, ErrorKind, Failure, TwoFactorError};

use crate::db::User;
use crate::error::AppError;
use crate::session::{flash, forget_stage};
use crate::views::Tone;
use crate::{App, words};

/// The user as twofold's account.
pub(crate) fn account(user: &User) -> Account<'_> {
    Account {
        user: &user.id,
        organization: &user.clinic,
        role: &user.role,
        name: &user.email,
    }
}

/// The answer to most forms: a message for the next page, and that page.
pub(crate) async fn back(session: &Session, tone: Tone, text: &str, to: &str) -> Response {
    flash(session, tone, text).await;
    Redirect::to(to).into_response()
}

/// Shows a failure's explanation on `back`; server faults and a missing key
/// get their own pages. (Its events reached the audit log through the sink.)
/// `_app` is unused since the log became `tracing` events; it goes when every
/// caller is next touched.
pub(crate) async fn factor_failure(
    _app: &App,
    session: &Session,
    user: &User,
    failure: Failure,
    back_to: &str,
) -> Result<Response, AppError> {
    match &failure.error {
        TwoFactorError::UnknownKey { key_id } => {
            // The operator's fault, not the user's: say what to do, and tell the log.
            tracing::error!(
                user = %user.id,
                key_id = %key_id,
                "a TOTP secret is sealed under a key that the keyring lacks: \
                 add that key back as a previous key"
            );
            return Err(AppError::Unavailable {
                text: "Your authenticator app cannot be checked right now: the server is \
                       missing the key your setup was stored with. Your clinic's \
                       administrator has been told. Use a passkey or a backup code meanwhile.",
                retry_after: None,
            });
        }
        // The sign-in's challenge is gone: only a new sign-in makes another.
        TwoFactorError::NoChallenge | TwoFactorError::Expired if back_to.starts_with("/signin") => {
            forget_stage(session).await;
            let text = "This sign-in has expired. Sign in again.";
            return Ok(back(session, Tone::Error, text, "/signin").await);
        }
        _ => {}
    }
    match failure.kind() {
        ErrorKind::Unavailable => {
            return Err(AppError::Unavailable {
                text: "The server is busy checking codes. Try again in a few seconds.",
                retry_after: Some(5),
            });
        }
        ErrorKind::Server => {
            return Err(AppError::internal("two-factor operation", &failure.error));
        }
        _ => {}
    }
    let mut text = words::explain(&failure.error);
    // A wrong answer may start a back-off: the failure says how long to wait.
    if failure.kind() != ErrorKind::Locked
        && let Some(lock) = failure.lock
    {
        text.push(' ');
        text.push_str(&words::lock(lock));
    }
    Ok(back(session, Tone::Error, &text, back_to).await)
}
