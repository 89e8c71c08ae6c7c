//! My Profile → Security → Passkeys: "Set up passkey" (two `fetch` calls from
//! `app.js`, answered in JSON) and Remove (a form).

use axum::extract::{Form, Json, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use twofold::{CredentialId, Timestamp};

use super::security::{MaybePassword, after_confirm, sign_out_elsewhere};
use super::sign_in::CredentialBody;
use super::{account, back, factor_failure};
use crate::error::AppError;
use crate::password::Client;
use crate::session::{Enroller, SignedIn, flash};
use crate::views::Tone;
use crate::{App, words};

/// The longest passkey name kept.
const MAX_NAME: usize = 64;

pub(crate) async fn passkey_begin(
    State(app): State<App>,
    client: Client,
    enroller: Result<Enroller, AppError>,
    Json(body): Json<MaybePassword>,
) -> Result<Response, AppError> {
    let enroller = enroller.map_err(AppError::for_fetch)?;
    let password_at = enroller
        .password_for_change(&app, &body.password, &client)
        .await
        .map_err(|refusal| {
            let message = refusal.text("Re-enter your password to change how you sign in.");
            AppError::json(StatusCode::FORBIDDEN, message)
        })?;
    match app
        .two_factor()
        .begin_passkey_registration(
            &account(enroller.user()),
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => Ok(Json(done.value).into_response()),
        Err(failure) => {
            let message = words::explain(&failure.error);
            Err(AppError::json(StatusCode::BAD_REQUEST, message))
        }
    }
}

pub(crate) async fn passkey_finish(
    State(app): State<App>,
    enroller: Result<Enroller, AppError>,
    Json(body): Json<CredentialBody>,
) -> Result<Response, AppError> {
    let enroller = enroller.map_err(AppError::for_fetch)?;
    let name = match body.name.trim() {
        "" => "Passkey",
        name if name.chars().count() > MAX_NAME => {
            return Err(AppError::json(
                StatusCode::UNPROCESSABLE_ENTITY,
                "A passkey name has at most 64 characters.",
            ));
        }
        name => name,
    };
    let user = enroller.user();
    match app
        .two_factor()
        .finish_passkey_registration(&account(user), &body.credential.to_string(), name)
        .await
    {
        Ok(done) => {
            let to = after_confirm(&app, &enroller, done.value)
                .await
                .map_err(AppError::for_fetch)?;
            let text = format!("Passkey \u{201c}{name}\u{201d} added.");
            flash(enroller.session(), Tone::Ok, &text).await;
            Ok(Json(json!({ "redirect": to })).into_response())
        }
        Err(failure) => {
            let message = words::explain(&failure.error);
            Err(AppError::json(StatusCode::BAD_REQUEST, message))
        }
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
        Ok(_) => {
            let ended = sign_out_elsewhere(&app, session, user).await;
            Ok(back(session, Tone::Ok, &format!("Passkey removed.{ended}"), to).await)
        }
        Err(failure) => factor_failure(&app, session, user, failure, to).await,
    }
}
