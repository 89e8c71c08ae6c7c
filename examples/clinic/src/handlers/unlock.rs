//! Self-service unlock: the locked page, reached only after the password,
//! offers to unlock with consecutive codes from the authenticator app, one at
//! a time, when the clinic's policy allows it for the user's role.
//!
//! The browser's standing lives in the session under its own key
//! ([`PENDING`]): who, and when their password was entered. It is written only
//! by a sign-in whose password was right and whose second step is under a
//! timed lockout; a new sign-in empties the session, signing out deletes it,
//! and it lapses [`PENDING_SECONDS`] after the password.

use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use twofold::{
    ErrorKind, Failure, Lock, SelfUnlockError, Timestamp, TwoFactorError, UnlockProgress,
};
use twofold_axum::Stage;

use super::sign_in::CodeForm;
use super::{account, back};
use crate::db::User;
use crate::error::{AppError, Context};
use crate::session::{flash, forget_stage, load_user, stage, take_flash};
use crate::views::unlock::UnlockPage;
use crate::views::{self, Layout, Tone};
use crate::{App, csrf, words};

/// The session key of a locked sign-in that may unlock itself.
const PENDING: &str = "clinic.unlock";
/// How long after the password the locked page stays open: long enough for
/// a cooldown and a whole sequence, not a standing proof of the password.
const PENDING_SECONDS: u64 = 1_800;

#[derive(Serialize, Deserialize)]
struct Pending {
    user: String,
    password_at: u64,
}

/// After a locked answer (at sign-in, or a wrong code that locked the second
/// step): the locked page, if self-service unlock is offered to `user`, who
/// entered their password at `password_at`; `None` otherwise (the caller
/// says how long the lock lasts, as before).
pub(crate) async fn offer(
    app: &App,
    session: &Session,
    user: &User,
    password_at: u64,
    lock: Option<Lock>,
) -> Option<Response> {
    if !matches!(lock, Some(Lock::Until { .. })) {
        return None;
    }
    let offered = app.two_factor().self_unlock_offer(&account(user)).await;
    if !matches!(offered, Ok(Some(_))) {
        return None;
    }
    forget_stage(session).await;
    let pending = Pending {
        user: user.id.clone(),
        password_at,
    };
    session.insert(PENDING, pending).await.ok()?;
    Some(Redirect::to("/signin/unlock").into_response())
}

/// After a failed second step: the locked page if the failure locked it for
/// a while and unlocking is offered.
pub(crate) async fn offer_after_failure(
    app: &App,
    session: &Session,
    user: &User,
    failure: &Failure,
) -> Option<Response> {
    let lock = match &failure.error {
        TwoFactorError::Locked { lock } => Some(*lock),
        _ => failure.lock,
    };
    let password_at = match stage(session).await {
        Some(Stage::SecondStep { password_at, .. }) => password_at,
        _ => return None,
    };
    let locked = offer(app, session, user, password_at, lock).await?;
    // What the last answer was, above the lock that the page shows.
    if !matches!(failure.error, TwoFactorError::Locked { .. }) {
        flash(session, Tone::Error, &words::explain(&failure.error)).await;
    }
    Some(locked)
}

/// A browser whose password was right and whose second step is locked.
pub(crate) struct Unlocking {
    pub user: User,
    pub password_at: u64,
    pub session: Session,
}

impl FromRequestParts<App> for Unlocking {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Unlocking, AppError> {
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(|_| AppError::Redirect("/signin"))?;
        let pending: Option<Pending> = session.get(PENDING).await.ok().flatten();
        let Some(pending) = pending else {
            return Err(AppError::Redirect("/signin"));
        };
        if app.now() > pending.password_at.saturating_add(PENDING_SECONDS) {
            let _ = session.remove::<Pending>(PENDING).await;
            return Err(AppError::Redirect("/signin"));
        }
        Ok(Unlocking {
            user: load_user(app, &pending.user).await?,
            password_at: pending.password_at,
            session,
        })
    }
}

impl Unlocking {
    /// Ends the locked page: back to the sign-in page, with `text`.
    async fn leave(&self, text: &str) -> Response {
        let _ = self.session.remove::<Pending>(PENDING).await;
        back(&self.session, Tone::Error, text, "/signin").await
    }
}

/// `/signin/unlock`: the lock, and the form for the codes.
pub(crate) async fn unlock_page(
    State(app): State<App>,
    unlocking: Unlocking,
) -> Result<Response, AppError> {
    let offer = app
        .two_factor()
        .self_unlock_offer(&account(&unlocking.user))
        .await
        .map_err(|failure| AppError::internal("self-service unlock", &failure.error))?;
    let Some(offer) = offer else {
        // Locked still (at the ceiling, say), or not any more.
        let locked = app
            .two_factor()
            .status(&account(&unlocking.user))
            .await
            .ok()
            .and_then(|status| status.locked);
        let text = locked.map_or_else(|| words::UNLOCK_GONE.to_string(), words::lock);
        return Ok(unlocking.leave(&text).await);
    };
    let now = app.now();
    let session = &unlocking.session;
    let token = csrf::token(session).await;
    let notice = take_flash(session).await;
    let seconds = |at: Timestamp| at.as_unix_seconds().saturating_sub(now);
    views::page(&UnlockPage {
        layout: Layout::signing_in("Account locked", token).notice(notice),
        email: unlocking.user.email.clone(),
        locked: words::lock(Lock::Until {
            at: offer.locked_until,
        }),
        needed: offer.needed,
        entered: offer.entered,
        progress: (offer.entered > 0).then(|| words::unlock_progress(offer.entered, offer.needed)),
        deadline: offer.deadline.map(|at| words::unlock_deadline(seconds(at))),
        cooldown: offer.retry_at.map(|at| words::unlock_cooldown(seconds(at))),
    })
}

/// One code of the unlock.
pub(crate) async fn unlock_code(
    State(app): State<App>,
    unlocking: Unlocking,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let user = &unlocking.user;
    let session = &unlocking.session;
    match app
        .two_factor()
        .self_unlock(&account(user), &form.code)
        .await
    {
        Ok(done) => match done.value {
            UnlockProgress::Continue {
                entered, needed, ..
            } => {
                let text = format!(
                    "Code accepted. {} Wait for the next code in your app and enter it.",
                    words::unlock_progress(entered, needed)
                );
                Ok(back(session, Tone::Ok, &text, "/signin/unlock").await)
            }
            _ => unlocked(&app, &unlocking).await,
        },
        Err(failure) => {
            match failure.kind() {
                ErrorKind::Unavailable => {
                    return Err(AppError::Unavailable {
                        text: "The server is busy checking codes. Try again in a few seconds.",
                        retry_after: Some(5),
                    });
                }
                ErrorKind::Server => {
                    return Err(AppError::internal("self-service unlock", &failure.error));
                }
                _ => {}
            }
            match &failure.error {
                TwoFactorError::SelfUnlock(SelfUnlockError::NotLocked) => {
                    return Ok(unlocking.leave(words::UNLOCK_GONE).await);
                }
                TwoFactorError::Denied(_) | TwoFactorError::NotEnrolled(_) => {
                    return Ok(unlocking.leave(&words::explain(&failure.error)).await);
                }
                TwoFactorError::Locked { lock } => {
                    return Ok(unlocking.leave(&words::lock(*lock)).await);
                }
                _ => {}
            }
            // A wrong code that reached the ceiling: only an administrator now.
            if let Some(lock @ Lock::UntilReset) = failure.lock {
                return Ok(unlocking.leave(&words::lock(lock)).await);
            }
            let text = words::unlock_refused(&failure.error);
            Ok(back(session, Tone::Error, &text, "/signin/unlock").await)
        }
    }
}

/// The last code: the second step again, in a new stage from the same
/// password (the facade decides what it is: the code, or setup).
async fn unlocked(app: &App, unlocking: &Unlocking) -> Result<Response, AppError> {
    let session = &unlocking.session;
    let _ = session.remove::<Pending>(PENDING).await;
    let account = account(&unlocking.user);
    let step = app
        .two_factor()
        .begin_sign_in(&account)
        .await
        .map_err(|failure| AppError::internal("sign-in after an unlock", &failure.error))?
        .value;
    let password_at = Timestamp::from_unix_seconds(unlocking.password_at);
    let Some(next) = Stage::after_password(&account, &step, password_at) else {
        return Ok(back(session, Tone::Error, words::UNLOCK_GONE, "/signin").await);
    };
    twofold_axum::enter(session, &next)
        .await
        .context("session")?;
    csrf::renew(session).await;
    let text = "Your account is unlocked. Enter the next code from your authenticator app to \
                sign in.";
    Ok(back(session, Tone::Ok, text, "/").await)
}
