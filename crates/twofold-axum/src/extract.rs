//! One extractor per sign-in stage, so that each handler names the stage it
//! needs as an argument: [`SignedIn`], [`SecondStep`], [`Enrolling`], and
//! [`Enroller`] (either of the two that may set up a factor).
//!
//! A request at the wrong stage is rejected with a [`StageRejection`], which
//! redirects (303) to where the browser belongs; JSON endpoints map it to a
//! status with [`StageRejection::status`].

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use tower_sessions::Session;
use twofold::Timestamp;

use crate::stage::{SessionAccount, SessionError, Stage, stage};
use crate::state::{Paths, TwoFactorState};

/// Why a request did not get the stage it asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageRejection {
    /// No sign-in in progress (or it ended): go to the password form.
    #[error("not signed in")]
    SignIn(&'static str),
    /// The second step is still pending.
    #[error("the second step is pending")]
    SecondStep(&'static str),
    /// The user must set up a factor first.
    #[error("two-factor setup is required first")]
    Enroll(&'static str),
    /// Signed in already: the setup-only pages are over.
    #[error("already signed in")]
    SignedIn(&'static str),
    /// The session could not be read or written.
    #[error("session unavailable")]
    Session(#[source] SessionError),
    /// Checking the user's factors (for the forced setup) failed.
    #[error("two-factor check failed")]
    TwoFactor(#[source] twofold::TwoFactorError),
}

impl StageRejection {
    /// Where the browser belongs, if anywhere.
    pub fn redirect_to(&self) -> Option<&'static str> {
        match self {
            StageRejection::SignIn(to)
            | StageRejection::SecondStep(to)
            | StageRejection::Enroll(to)
            | StageRejection::SignedIn(to) => Some(to),
            StageRejection::Session(_) | StageRejection::TwoFactor(_) => None,
        }
    }

    /// The status for a JSON caller: 401 without a finished sign-in, 403 at a
    /// stage that may not do this, 500 when the session failed.
    pub fn status(&self) -> StatusCode {
        match self {
            StageRejection::SignIn(_) | StageRejection::SecondStep(_) => StatusCode::UNAUTHORIZED,
            StageRejection::Enroll(_) | StageRejection::SignedIn(_) => StatusCode::FORBIDDEN,
            StageRejection::Session(_) | StageRejection::TwoFactor(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn from_session(error: SessionError) -> StageRejection {
        StageRejection::Session(error)
    }
}

impl IntoResponse for StageRejection {
    /// A redirect (303) to where the browser belongs; 500 if the session failed.
    fn into_response(self) -> Response {
        match self.redirect_to() {
            Some(to) => Redirect::to(to).into_response(),
            None => (self.status(), "session unavailable").into_response(),
        }
    }
}

/// The session and its stage.
async fn session_stage<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(Session, Option<Stage>), StageRejection> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|_| StageRejection::from_session(SessionError::Missing))?;
    let stage = stage(&session)
        .await
        .map_err(StageRejection::from_session)?;
    Ok((session, stage))
}

/// A fully signed-in user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedIn {
    /// Who.
    pub account: SessionAccount,
    /// When they last entered their password.
    pub password_at: Timestamp,
    /// The session.
    pub session: Session,
}

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    TwoFactorState: FromRef<S>,
{
    type Rejection = StageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<SignedIn, StageRejection> {
        let paths = TwoFactorState::from_ref(state).paths();
        match session_stage(parts, state).await? {
            (
                session,
                Some(Stage::SignedIn {
                    account,
                    password_at,
                }),
            ) => Ok(SignedIn {
                account,
                password_at: Timestamp::from_unix_seconds(password_at),
                session,
            }),
            (_, other) => Err(elsewhere(other, paths)),
        }
    }
}

/// Password entered; a second factor is asked for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SecondStep {
    /// Who.
    pub account: SessionAccount,
    /// The facade's challenge id, to answer.
    pub challenge: String,
    /// Whether the authenticator app may answer.
    pub totp: bool,
    /// Whether a backup code may answer.
    pub recovery: bool,
    /// The passkey request options (WebAuthn JSON), if passkeys may answer.
    pub passkey: Option<Value>,
    /// When the password was entered.
    pub password_at: Timestamp,
    /// The session.
    pub session: Session,
}

impl<S> FromRequestParts<S> for SecondStep
where
    S: Send + Sync,
    TwoFactorState: FromRef<S>,
{
    type Rejection = StageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<SecondStep, StageRejection> {
        let paths = TwoFactorState::from_ref(state).paths();
        match session_stage(parts, state).await? {
            (
                session,
                Some(Stage::SecondStep {
                    account,
                    challenge,
                    totp,
                    recovery,
                    passkey,
                    password_at,
                }),
            ) => Ok(SecondStep {
                account,
                challenge,
                totp,
                recovery,
                passkey,
                password_at: Timestamp::from_unix_seconds(password_at),
                session,
            }),
            (_, other) => Err(elsewhere(other, paths)),
        }
    }
}

/// Password entered; the policy requires a factor and the user has none: the
/// forced setup, and nothing else.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Enrolling {
    /// Who.
    pub account: SessionAccount,
    /// Whether "skip for now" may be offered.
    pub can_defer: bool,
    /// Why, as UI text.
    pub reason: String,
    /// When the password was entered (the proof the facade asks for to add a factor).
    pub password_at: Timestamp,
    /// The session.
    pub session: Session,
}

impl<S> FromRequestParts<S> for Enrolling
where
    S: Send + Sync,
    TwoFactorState: FromRef<S>,
{
    type Rejection = StageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Enrolling, StageRejection> {
        let paths = TwoFactorState::from_ref(state).paths();
        match session_stage(parts, state).await? {
            (
                session,
                Some(Stage::MustEnroll {
                    account,
                    can_defer,
                    reason,
                    password_at,
                }),
            ) => Ok(Enrolling {
                account,
                can_defer,
                reason,
                password_at: Timestamp::from_unix_seconds(password_at),
                session,
            }),
            (_, other) => Err(elsewhere(other, paths)),
        }
    }
}

/// Whoever may set up a factor: a signed-in user, or one in the forced setup
/// while they still have no factor.
#[derive(Debug, Clone)]
pub enum Enroller {
    /// Signed in: a change needs a fresh password.
    SignedIn(SignedIn),
    /// In the forced setup: the sign-in's password counts.
    Forced(Enrolling),
}

impl<S> FromRequestParts<S> for Enroller
where
    S: Send + Sync,
    TwoFactorState: FromRef<S>,
{
    type Rejection = StageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Enroller, StageRejection> {
        let twofold = TwoFactorState::from_ref(state);
        let paths = twofold.paths();
        match session_stage(parts, state).await? {
            (
                session,
                Some(Stage::SignedIn {
                    account,
                    password_at,
                }),
            ) => Ok(Enroller::SignedIn(SignedIn {
                account,
                password_at: Timestamp::from_unix_seconds(password_at),
                session,
            })),
            (
                session,
                Some(Stage::MustEnroll {
                    account,
                    can_defer,
                    reason,
                    password_at,
                }),
            ) => {
                let status = twofold
                    .two_factor()
                    .status(&account.account())
                    .await
                    .map_err(|failure| StageRejection::TwoFactor(failure.error))?;
                // A forced-setup session that outlived the user's own setup
                // elsewhere must not add another factor: sign in again, with it.
                if status.enabled {
                    crate::stage::sign_out(&session)
                        .await
                        .map_err(StageRejection::from_session)?;
                    return Err(StageRejection::SignIn(paths.sign_in));
                }
                Ok(Enroller::Forced(Enrolling {
                    account,
                    can_defer,
                    reason,
                    password_at: Timestamp::from_unix_seconds(password_at),
                    session,
                }))
            }
            (_, other) => Err(elsewhere(other, paths)),
        }
    }
}

impl Enroller {
    /// Who.
    pub fn account(&self) -> &SessionAccount {
        match self {
            Enroller::SignedIn(signed_in) => &signed_in.account,
            Enroller::Forced(forced) => &forced.account,
        }
    }

    /// The session.
    pub fn session(&self) -> &Session {
        match self {
            Enroller::SignedIn(signed_in) => &signed_in.session,
            Enroller::Forced(forced) => &forced.session,
        }
    }

    /// Whether this is the forced setup.
    pub fn is_forced(&self) -> bool {
        matches!(self, Enroller::Forced(_))
    }

    /// When the password was last entered in this session.
    pub fn password_at(&self) -> Timestamp {
        match self {
            Enroller::SignedIn(signed_in) => signed_in.password_at,
            Enroller::Forced(forced) => forced.password_at,
        }
    }
}

/// The rejection of an extractor whose stage the session is not in: where the
/// session's own stage (or none) belongs.
fn elsewhere(stage: Option<Stage>, paths: Paths) -> StageRejection {
    match stage {
        Some(Stage::SignedIn { .. }) => StageRejection::SignedIn(paths.home),
        Some(Stage::SecondStep { .. }) => StageRejection::SecondStep(paths.second_step),
        Some(Stage::MustEnroll { .. }) => StageRejection::Enroll(paths.enroll),
        None => StageRejection::SignIn(paths.sign_in),
    }
}
