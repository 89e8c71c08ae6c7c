//! Where a browser stands in sign-in, kept in its server-side session, and one
//! extractor per stage, so that each handler names the stage it needs as an
//! argument: [`SignedIn`], [`SecondStep`] (password entered, a second factor
//! asked for), [`Enrolling`] (the clinic requires 2FA and the user has none:
//! setup only), and [`Enroller`] (either of the two that may set up a factor).
//!
//! A request at the wrong stage is sent where it belongs (sign-in, or back to
//! the forced setup); nothing past the password is reachable without it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::Session;

use crate::db::{self, User};
use crate::error::{AppError, Context};
use crate::password::{self, Client, Refusal};
use crate::views::{Notice, Tone};
use crate::{App, csrf};

/// The session key of the sign-in stage (the session store reads its `user`).
const AUTH: &str = "auth";
/// The session key of the one-time slot that holds new backup codes.
const NEW_CODES: &str = "new_codes";
/// The session key of the message for the next page.
const FLASH: &str = "flash";

/// Where the user stands in sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub(crate) enum Auth {
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

/// The session's sign-in stage, if any.
pub(crate) async fn auth(session: &Session) -> Option<Auth> {
    session.get::<Auth>(AUTH).await.ok().flatten()
}

/// Moves the session to `stage`.
pub(crate) async fn set_auth(session: &Session, stage: &Auth) -> Result<(), AppError> {
    session.insert(AUTH, stage).await.context("session")
}

/// Ends the sign-in in progress (the session itself, and its token, stay).
pub(crate) async fn forget_auth(session: &Session) {
    let _ = session.remove_value(AUTH).await;
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
    session.cycle_id().await.context("session")?;
    csrf::renew(session).await;
    let stage = Auth::SignedIn {
        user: user.id.clone(),
        password_at: app.now(),
    };
    set_auth(session, &stage).await?;
    app.log(&format!("sign-in: user {} signed in", user.id));
    Ok(())
}

async fn session_of(parts: &mut Parts, app: &App) -> Result<Session, AppError> {
    Session::from_request_parts(parts, app)
        .await
        .map_err(|(_, why)| AppError::internal("session", why))
}

/// The account a session names; gone accounts sign in again.
async fn load_user(app: &App, id: &str) -> Result<User, AppError> {
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
        let session = session_of(parts, app).await?;
        match auth(&session).await {
            Some(Auth::SignedIn { user, password_at }) => Ok(SignedIn {
                user: load_user(app, &user).await?,
                password_at,
                session,
            }),
            Some(Auth::MustEnroll { .. }) => Err(AppError::Redirect("/signin/setup")),
            _ => Err(AppError::Redirect("/signin")),
        }
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
            return if app.now().saturating_sub(self.password_at) <= password::REAUTH_SECONDS {
                Ok(self.password_at)
            } else {
                Err(Refusal::Missing)
            };
        }
        let at = password::check(app, Some(&self.user), &self.user.email, given, client).await?;
        let stage = Auth::SignedIn {
            user: self.user.id.clone(),
            password_at: at,
        };
        let _ = self.session.insert(AUTH, &stage).await;
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
        let session = session_of(parts, app).await?;
        let Some(Auth::SecondStep {
            user,
            challenge,
            totp,
            recovery,
            passkey,
        }) = auth(&session).await
        else {
            return Err(AppError::Redirect("/signin"));
        };
        Ok(SecondStep {
            user: load_user(app, &user).await?,
            challenge,
            totp,
            recovery,
            passkey,
            session,
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

impl FromRequestParts<App> for Enrolling {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Enrolling, AppError> {
        let session = session_of(parts, app).await?;
        let Some(Auth::MustEnroll {
            user,
            can_defer,
            reason,
            password_at,
        }) = auth(&session).await
        else {
            return Err(AppError::Redirect("/"));
        };
        Ok(Enrolling {
            user: load_user(app, &user).await?,
            can_defer,
            reason,
            password_at,
            session,
        })
    }
}

/// Whoever may set up a factor: a signed-in user, or one in the forced setup
/// (only while they still have no factor).
pub(crate) enum Enroller {
    /// Signed in: a change needs a recent password.
    SignedIn(SignedIn),
    /// In the forced setup: the sign-in's password counts.
    Forced(Enrolling),
}

impl FromRequestParts<App> for Enroller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Enroller, AppError> {
        let session = session_of(parts, app).await?;
        match auth(&session).await {
            Some(Auth::SignedIn { .. }) => Ok(Enroller::SignedIn(
                SignedIn::from_request_parts(parts, app).await?,
            )),
            Some(Auth::MustEnroll { .. }) => {
                let forced = Enrolling::from_request_parts(parts, app).await?;
                let status = app
                    .two_factor()
                    .status(&crate::handlers::account(&forced.user))
                    .await
                    .context("status")?;
                // A forced-setup session that outlived the user's own setup
                // elsewhere must not add another factor: sign in again, with it.
                if status.enabled {
                    let _ = forced.session.flush().await;
                    return Err(AppError::Redirect("/signin"));
                }
                Ok(Enroller::Forced(forced))
            }
            _ => Err(AppError::Redirect("/signin")),
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
