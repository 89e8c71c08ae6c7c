//! Passkeys: "Set up passkey" and the second step with one are the JSON
//! endpoints of `twofold-axum` (two `fetch` calls from `app.js`), answered in
//! the clinic's words through [`PasskeyHooks`]; Remove is a form here.

use axum::extract::{Form, FromRequestParts, Json, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use twofold::{CredentialId, FactorConfirmed, Failure, NewTrustedBrowser, Timestamp};
use twofold_axum::{PasskeyHooks, SessionAccount, StageRejection};

use super::security::{sign_out_elsewhere, stash_codes};
use super::{account, back, factor_failure, passkey_sign_in, trusted_browsers};
use crate::error::AppError;
use crate::password::Client;
use crate::session::{SignedIn, flash, load_user, rejected, signed_in};
use crate::views::Tone;
use crate::{App, words};

impl PasskeyHooks for App {
    /// The password re-entered in the setup dialog, checked as every
    /// password is (throttled, on the offload, audited when wrong).
    async fn reenter_password(
        &self,
        parts: &mut Parts,
        account: &SessionAccount,
        password: &str,
    ) -> Result<Timestamp, Response> {
        let Ok(client) = Client::from_request_parts(parts, self).await;
        let user = load_user(self, &account.user)
            .await
            .map_err(|error| error.for_fetch().into_response())?;
        crate::password::check(self, Some(&user), &user.email, password, &client)
            .await
            .map(Timestamp::from_unix_seconds)
            .map_err(|refusal| {
                let message = refusal.text("Re-enter your password to change how you sign in.");
                AppError::json(StatusCode::FORBIDDEN, message).into_response()
            })
    }

    /// New backup codes go to their one-time page; the forced setup ends
    /// signed in (with a new CSRF token).
    async fn registered(
        &self,
        session: &Session,
        account: &SessionAccount,
        name: &str,
        confirmed: FactorConfirmed,
        forced: bool,
    ) -> Response {
        let result: Result<&'static str, AppError> = async {
            let user = load_user(self, &account.user).await?;
            let codes = confirmed.backup_codes.is_some();
            if let Some(codes) = confirmed.backup_codes {
                stash_codes(self, session, &user, &codes).await?;
            }
            if forced {
                signed_in(self, session, &user).await;
            }
            Ok(if codes {
                "/security/backup-codes"
            } else {
                "/profile/security"
            })
        }
        .await;
        match result {
            Ok(to) => {
                let text = format!("Passkey \u{201c}{name}\u{201d} added.");
                flash(session, Tone::Ok, &text).await;
                Json(json!({ "redirect": to })).into_response()
            }
            Err(error) => error.for_fetch().into_response(),
        }
    }

    async fn signed_in(
        &self,
        session: &Session,
        account: &SessionAccount,
        home: &'static str,
    ) -> Response {
        match load_user(self, &account.user).await {
            Ok(user) => {
                signed_in(self, session, &user).await;
                Json(json!({ "redirect": home })).into_response()
            }
            Err(error) => error.for_fetch().into_response(),
        }
    }

    /// "Don't ask again on this browser" with a passkey: the browser's name
    /// as the Security page lists it.
    fn browser_label(&self, parts: &Parts) -> Option<String> {
        Some(trusted_browsers::label(&parts.headers))
    }

    /// The trusted-browser cookie, as after a code.
    fn remember_browser(&self, response: &mut Response, browser: &NewTrustedBrowser) {
        trusted_browsers::remember(self, response, browser);
    }

    async fn failed(&self, _session: &Session, failure: Failure) -> Response {
        AppError::json(StatusCode::BAD_REQUEST, words::explain(&failure.error)).into_response()
    }

    fn rejected(&self, rejection: StageRejection) -> Response {
        rejected(rejection).for_fetch().into_response()
    }
}

#[derive(Deserialize)]
pub(crate) struct RemoveForm {
    id: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn passkey_remove(
    State(app): State<App>,
    client: Client,
    signed_in: SignedIn,
    Form(form): Form<RemoveForm>,
) -> Result<Response, AppError> {
    let to = "/profile/security";
    let session = &signed_in.session;
    let Some(id) = CredentialId::from_base64url(&form.id) else {
        let text = "That passkey id could not be read.";
        return Ok(back(session, Tone::Error, text, to).await);
    };
    let password_at = match signed_in
        .recent_password(&app, &form.password, &client)
        .await
    {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text(
                "Re-enter your password to remove a passkey (the password was wrong or missing).",
            );
            return Ok(back(session, Tone::Error, &text, to).await);
        }
    };
    let user = &signed_in.user;
    match app
        .two_factor()
        .remove_passkey(
            &account(user),
            &id,
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => {
            // The password manager stops offering the removed passkey.
            if let Some(accepted) = done.value {
                let signals = passkey_sign_in::Signal::all_accepted(&accepted);
                passkey_sign_in::stash_signals(session, signals).await;
            }
            let ended = sign_out_elsewhere(&app, session, user).await;
            Ok(back(session, Tone::Ok, &format!("Passkey removed.{ended}"), to).await)
        }
        Err(failure) => factor_failure(&app, session, user, failure, to).await,
    }
}
