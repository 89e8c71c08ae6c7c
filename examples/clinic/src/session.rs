//! Where a browser stands in sign-in: the stages and their extractors come
//! from `twofold-axum` (the stage lives in the session under
//! `twofold.stage`); the clinic's extractors here add only its own `User`,
//! loaded fresh on each request, and its own password re-entry. Each handler
//! names the stage it needs as an argument: [`SignedIn`], [`SecondStep`],
//! [`Enrolling`] (the clinic requires 2FA and the user has none: setup only),
//! and [`Enroller`] (either of the two that may set up a factor).
//!
//! A request at the wrong stage is sent where it belongs (sign-in, or back to
//! the forced setup); nothing past the password is reachable without it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;
use tower_sessions::Session;
use twofold::Timestamp;
use twofold_axum::{SessionAccount, StageRejection};

use crate::db::{self, User};
use crate::error::{AppError, Context};
use crate::handlers::account;
use crate::password::{self, Client, Refusal};
use crate::views::{Notice, Tone};
use crate::{App, csrf};

pub(crate) use twofold_axum::Stage;

/// The session key of the one-time slot that holds new backup codes.
const NEW_CODES: &str = "new_codes";
/// The session key of the message for the next page.
const FLASH: &str = "flash";

/// The session's sign-in stage, if any.
pub(crate) async fn stage(session: &Session) -> Option<Stage> {
    twofold_axum::stage(session).await.ok().flatten()
}

/// Ends the sign-in in progress (the session itself, and its token, stay).
pub(crate) async fn forget_stage(session: &Session) {
    let _ = twofold_axum::forget(session).await;
}

/// Leaves a message for the next page.
pub(crate) async fn flash(session: &Session, tone: Tone, text: &str) {
    let _ = session.insert(FLASH, (tone.as_str(), text)).await;
}

/// The message left for this page, once.
pub(crate) async fn take_flash(session: &Session) -> Option<Notice> {
    match session.remove::<(String, String)>(FLASH).await {
        Ok(Some((tone, text))) => Some(Notice {
            tone: Tone::parse(&tone),
            text,
        }),
        _ => None,
    }
}

/// Remembers the one-time slot of new backup codes for the next page.
pub(crate) async fn stash_slot(session: &Session, slot: &str) -> Result<(), AppError> {
    session.insert(NEW_CODES, slot).await.context("session")
}

/// The one-time slot of new backup codes, once.
pub(crate) async fn take_slot(session: &Session) -> Option<String> {
    session.remove::<String>(NEW_CODES).await.ok().flatten()
}

/// Signs `user` in fully: a new session id and token (no fixation), and the
/// password counted as entered now.
pub(crate) async fn complete_sign_in(
    app: &App,
    session: &Session,
    user: &User,
) -> Result<(), AppError> {
    let account = SessionAccount::from_account(&account(user));
    let now = Timestamp::from_unix_seconds(app.now());
    twofold_axum::complete_sign_in(session, &account, now)
        .await
        .context("session")?;
    signed_in(app, session, user).await;
    Ok(())
}

/// What follows every full sign-in, however it came: a new CSRF token (the
/// session id is new already) and the log line.
pub(crate) async fn signed_in(app: &App, session: &Session, user: &User) {
    csrf::renew(session).await;
    // The password manager learns which passkeys are still good, and the name.
    crate::handlers::passkey_sign_in::stash_signals_for(app, session, user).await;
    app.log(&format!("sign-in: user {} signed in", user.id));
}

/// A stage rejection as the clinic answers it: the page it redirects to.
pub(crate) fn rejected(rejection: StageRejection) -> AppError {
    match rejection.redirect_to() {
        Some(to) => AppError::Redirect(to),
        None => AppError::internal("session", rejection),
    }
}

/// The account a session names; gone accounts sign in again.
pub(crate) async fn load_user(app: &App, id: &str) -> Result<User, AppError> {
    db::user_by_id(app.pool(), id)
        .await
        .context("loading a user")?
        .ok_or(AppError::Redirect("/signin"))
}

/// A fully signed-in user.
pub(crate) struct SignedIn {
    pub user: User,
    /// When they last entered their password.
    pub password_at: u64,
    pub session: Session,
}

impl FromRequestParts<App> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<SignedIn, AppError> {
        let signed_in = twofold_axum::SignedIn::from_request_parts(parts, app)
            .await
            .map_err(rejected)?;
        Ok(SignedIn {
            user: load_user(app, &signed_in.account.user).await?,
            password_at: signed_in.password_at.as_unix_seconds(),
            session: signed_in.session,
        })
    }
}

impl SignedIn {
    /// Re-checks the password when one is given (and then counts it as
    /// fresh), or accepts one entered in the last five minutes ("sudo mode").
    /// Returns when it was entered.
    pub(crate) async fn recent_password(
        &self,
        app: &App,
        given: &str,
        client: &Client,
    ) -> Result<u64, Refusal> {
        if given.is_empty() {
            let at = Timestamp::from_unix_seconds(self.password_at);
            return if app.twofold().is_fresh(at) {
                Ok(self.password_at)
            } else {
                Err(Refusal::Missing)
            };
        }
        let at = password::check(app, Some(&self.user), &self.user.email, given, client).await?;
        let _ =
            twofold_axum::password_confirmed(&self.session, Timestamp::from_unix_seconds(at)).await;
        Ok(at)
    }
}

/// Password entered; a second factor is asked for.
pub(crate) struct SecondStep {
    pub user: User,
    pub challenge: String,
    /// Whether the user has an authenticator app.
    pub totp: bool,
    /// Whether backup codes may be used.
    pub recovery: bool,
    /// The passkey request options (WebAuthn JSON), if the user has passkeys.
    pub passkey: Option<Value>,
    pub session: Session,
}

impl FromRequestParts<App> for SecondStep {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<SecondStep, AppError> {
        let pending = twofold_axum::SecondStep::from_request_parts(parts, app)
            .await
            .map_err(rejected)?;
        Ok(SecondStep {
            user: load_user(app, &pending.account.user).await?,
            challenge: pending.challenge,
            totp: pending.totp,
            recovery: pending.recovery,
            passkey: pending.passkey,
            session: pending.session,
        })
    }
}

/// Password entered; the clinic requires 2FA and the user has none: the
/// forced setup, and nothing else.
pub(crate) struct Enrolling {
    pub user: User,
    /// Whether "Skip for now" is offered (a grace period).
    pub can_defer: bool,
    /// Why, in the clinic's words.
    pub reason: String,
    /// When the password was entered (the proof twofold asks for to add a factor).
    pub password_at: u64,
    pub session: Session,
}

impl Enrolling {
    async fn load(app: &App, forced: twofold_axum::Enrolling) -> Result<Enrolling, AppError> {
        Ok(Enrolling {
            user: load_user(app, &forced.account.user).await?,
            can_defer: forced.can_defer,
            reason: forced.reason,
            password_at: forced.password_at.as_unix_seconds(),
            session: forced.session,
        })
    }
}

impl FromRequestParts<App> for Enrolling {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Enrolling, AppError> {
        let forced = twofold_axum::Enrolling::from_request_parts(parts, app)
            .await
            .map_err(rejected)?;
        Enrolling::load(app, forced).await
    }
}

/// Whoever may set up a factor: a signed-in user, or one in the forced setup
/// (only while they still have no factor: `twofold-axum` checks).
pub(crate) enum Enroller {
    /// Signed in: a change needs a recent password.
    SignedIn(SignedIn),
    /// In the forced setup: the sign-in's password counts.
    Forced(Enrolling),
}

impl FromRequestParts<App> for Enroller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Enroller, AppError> {
        match twofold_axum::Enroller::from_request_parts(parts, app)
            .await
            .map_err(rejected)?
        {
            twofold_axum::Enroller::SignedIn(signed_in) => Ok(Enroller::SignedIn(SignedIn {
                user: load_user(app, &signed_in.account.user).await?,
                password_at: signed_in.password_at.as_unix_seconds(),
                session: signed_in.session,
            })),
            twofold_axum::Enroller::Forced(forced) => {
                Ok(Enroller::Forced(Enrolling::load(app, forced).await?))
            }
        }
    }
}
impl Enroller {
    pub(crate) fn user(&self) -> &User {
        match self {
            Enroller::SignedIn(signed_in) => &signed_in.user,
            Enroller::Forced(forced) => &forced.user,
        }
    }

    pub(crate) fn session(&self) -> &Session {
        match self {
            Enroller::SignedIn(signed_in) => &signed_in.session,
            Enroller::Forced(forced) => &forced.session,
        }
    }

    /// Whether this is the forced setup (which has its own pages).
    pub(crate) fn forced(&self) -> bool {
        matches!(self, Enroller::Forced(_))
    }

    /// When the password was last entered in this session (the proof that
    /// showing a setup's secret again needs).
    pub(crate) fn password_at(&self) -> u64 {
        match self {
            Enroller::SignedIn(signed_in) => signed_in.password_at,
            Enroller::Forced(forced) => forced.password_at,
        }
    }

    /// Where a failed step goes back to.
    pub(crate) fn back(&self) -> &'static str {
        if self.forced() {
            "/signin/setup"
        } else {
            "/profile/security"
        }
    }

    /// The proof of a recent password that starting a change needs: the
    /// sign-in's own in the forced setup; otherwise a recent or given one.
    pub(crate) async fn password_for_change(
        &self,
        app: &App,
        given: &str,
        client: &Client,
    ) -> Result<u64, Refusal> {
        match self {
            Enroller::SignedIn(signed_in) => signed_in.recent_password(app, given, client).await,
            Enroller::Forced(forced) => Ok(forced.password_at),
        }
    }
}
