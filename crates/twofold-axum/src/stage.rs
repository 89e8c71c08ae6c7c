//! Where a browser stands in sign-in, kept in its server-side session under
//! one namespaced key ([`STAGE_KEY`]), and the moves between stages.
//!
//! Every move to a new stage cycles the session id first, so that an id
//! planted before the password (session fixation) never reaches a signed-in
//! session; signing in starts from an emptied session, so nothing of the
//! browser's previous user is carried over.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::Session;
use twofold::{Account, Failure, Method, SignInStep, Timestamp, TrustedSignIn};

use crate::state::TwoFactorState;

/// The session key of the sign-in stage. The namespace keeps it clear of the
/// application's own keys; a session store that needs the signed-in user
/// finds it at `twofold.stage` → `account` → `user`.
pub const STAGE_KEY: &str = "twofold.stage";

/// The account a stage is for, as it was when the password was entered: the
/// application's [`Account`], owned, so that it can live in the session.
///
/// It is written by the server at sign-in and never read from a request, so a
/// caller cannot name another user or another organisation's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAccount {
    /// The application's stable user id.
    pub user: String,
    /// The user's organisation.
    pub organization: String,
    /// The user's role, as the policy names roles.
    pub role: String,
    /// The account name shown in authenticator apps and passkey prompts.
    pub name: String,
}

impl SessionAccount {
    /// An owned copy of `account`.
    pub fn from_account(account: &Account<'_>) -> SessionAccount {
        SessionAccount {
            user: account.user.to_string(),
            organization: account.organization.to_string(),
            role: account.role.to_string(),
            name: account.name.to_string(),
        }
    }

    /// The facade's view of it.
    pub fn account(&self) -> Account<'_> {
        Account {
            user: &self.user,
            organization: &self.organization,
            role: &self.role,
            name: &self.name,
        }
    }
}

/// Where the browser stands in sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Password verified; a second factor is asked for.
    SecondStep {
        /// Who.
        account: SessionAccount,
        /// The facade's single-use challenge id.
        challenge: String,
        /// Whether the authenticator app may answer.
        totp: bool,
        /// Whether a backup code may answer.
        recovery: bool,
        /// The passkey request options (WebAuthn JSON), if passkeys may answer.
        passkey: Option<Value>,
        /// When the password was entered (Unix seconds).
        password_at: u64,
    },
    /// Password verified; the policy requires a factor and the user has none:
    /// setup only.
    MustEnroll {
        /// Who.
        account: SessionAccount,
        /// Whether "skip for now" may be offered (a grace period runs).
        can_defer: bool,
        /// Why, as UI text (the policy's `Reason`; the application may write its own).
        reason: String,
        /// When the password was entered (Unix seconds): setup right after it counts as fresh.
        password_at: u64,
    },
    /// Fully signed in.
    SignedIn {
        /// Who.
        account: SessionAccount,
        /// When the password was last entered (Unix seconds).
        password_at: u64,
    },
}

impl Stage {
    /// Whom the stage is for.
    pub fn account(&self) -> &SessionAccount {
        match self {
            Stage::SecondStep { account, .. }
            | Stage::MustEnroll { account, .. }
            | Stage::SignedIn { account, .. } => account,
        }
    }

    /// When the password was last entered.
    pub fn password_at(&self) -> Timestamp {
        let at = match self {
            Stage::SecondStep { password_at, .. }
            | Stage::MustEnroll { password_at, .. }
            | Stage::SignedIn { password_at, .. } => *password_at,
        };
        Timestamp::from_unix_seconds(at)
    }

    /// The stage that follows a password entered at `password_at` and the
    /// facade's answer `step`; `None` when sign-in cannot continue (locked or
    /// blocked).
    pub fn after_password(
        account: &Account<'_>,
        step: &SignInStep,
        password_at: Timestamp,
    ) -> Option<Stage> {
        let account = SessionAccount::from_account(account);
        let password_at = password_at.as_unix_seconds();
        match step {
            // A reminder to set up a factor is advice: the user is signed in.
            SignInStep::Allow { .. } | SignInStep::Remind { .. } => Some(Stage::SignedIn {
                account,
                password_at,
            }),
            SignInStep::Challenge {
                challenge_id,
                methods,
                recovery,
                passkey_options,
                ..
            } => Some(Stage::SecondStep {
                account,
                challenge: challenge_id.clone(),
                totp: methods.contains(Method::Totp),
                recovery: *recovery,
                passkey: passkey_options.clone(),
                password_at,
            }),
            SignInStep::MustEnroll {
                can_defer, reason, ..
            } => Some(Stage::MustEnroll {
                account,
                can_defer: *can_defer,
                reason: reason.to_string(),
                password_at,
            }),
            _ => None,
        }
    }
}

/// Why the session could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No `SessionManagerLayer` runs in front of this route.
    #[error("no session: the SessionManagerLayer is missing")]
    Missing,
    /// The session store failed.
    #[error("session store error")]
    Store(#[source] tower_sessions::session::Error),
}

/// Why [`begin_sign_in`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// The session failed.
    #[error("session error")]
    Session(#[from] SessionError),
    /// The facade failed (its events are in the failure).
    #[error("two-factor error")]
    TwoFactor(#[source] Box<Failure>),
}

/// The session's sign-in stage, if any. A stored value that no longer reads
/// (an older format) counts as none: the browser signs in again.
pub async fn stage(session: &Session) -> Result<Option<Stage>, SessionError> {
    match session.get_value(STAGE_KEY).await {
        Ok(Some(value)) => Ok(serde_json::from_value(value).ok()),
        Ok(None) => Ok(None),
        Err(error) => Err(SessionError::Store(error)),
    }
}

/// Moves the session to `stage`, under a new session id.
pub async fn enter(session: &Session, stage: &Stage) -> Result<(), SessionError> {
    session.cycle_id().await.map_err(SessionError::Store)?;
    session
        .insert(STAGE_KEY, stage)
        .await
        .map_err(SessionError::Store)
}

/// Ends any sign-in in progress, keeping the rest of the session (a failed
/// sign-in's message, say).
pub async fn forget(session: &Session) -> Result<(), SessionError> {
    session
        .remove_value(STAGE_KEY)
        .await
        .map(drop)
        .map_err(SessionError::Store)
}

/// Signs out: deletes the session and everything in it, so that the cookie
/// names nothing and the next user of the browser starts empty.
pub async fn sign_out(session: &Session) -> Result<(), SessionError> {
    session.flush().await.map_err(SessionError::Store)
}

/// Records a password re-entered now (it was just checked by the
/// application), for the fresh-password rule. Only a signed-in or
/// must-enrol stage keeps it; other stages are left as they are.
pub async fn password_confirmed(
    session: &Session,
    at: Timestamp,
) -> Result<Option<Stage>, SessionError> {
    let Some(mut stage) = stage(session).await? else {
        return Ok(None);
    };
    match &mut stage {
        Stage::SignedIn { password_at, .. } | Stage::MustEnroll { password_at, .. } => {
            *password_at = at.as_unix_seconds();
        }
        Stage::SecondStep { .. } => return Ok(Some(stage)),
    }
    session
        .insert(STAGE_KEY, &stage)
        .await
        .map_err(SessionError::Store)?;
    Ok(Some(stage))
}

/// The sign-in, once the application has verified `account`'s password:
/// empties the session (nothing of its previous user stays), asks the facade
/// for the next step, and moves the session to the stage that follows, under
/// a new id. Returns the facade's step, for the page to show.
///
/// A locked or blocked account gets no stage.
pub async fn begin_sign_in(
    state: &TwoFactorState,
    session: &Session,
    account: &Account<'_>,
) -> Result<SignInStep, SignInError> {
    Ok(begin_sign_in_trusted(state, session, account, None)
        .await?
        .step)
}

/// [`begin_sign_in`], for a browser that presents a trusted browser's token
/// (`presented`: the application's cookie, if any; see
/// [`TwoFactor::begin_sign_in_trusted`](twofold::TwoFactor::begin_sign_in_trusted)).
/// A token that skips the challenge signs the session in; set
/// [`TrustedSignIn::renewed`] in the cookie, since the presented token no
/// longer works.
pub async fn begin_sign_in_trusted(
    state: &TwoFactorState,
    session: &Session,
    account: &Account<'_>,
    presented: Option<&str>,
) -> Result<TrustedSignIn, SignInError> {
    session.clear().await;
    // A new id whatever comes next: the password was right.
    session.cycle_id().await.map_err(SessionError::Store)?;
    let password_at = state.now();
    let signed = state
        .two_factor()
        .begin_sign_in_trusted(account, presented)
        .await
        .map_err(|failure| SignInError::TwoFactor(Box::new(failure)))?
        .value;
    if let Some(next) = Stage::after_password(account, &signed.step, password_at) {
        session
            .insert(STAGE_KEY, &next)
            .await
            .map_err(SessionError::Store)?;
    }
    Ok(signed)
}

/// Completes sign-in after a second step (or a setup): the session becomes
/// [`Stage::SignedIn`] under a new id, keeping when the password was entered.
pub async fn complete_sign_in(
    session: &Session,
    account: &SessionAccount,
    password_at: Timestamp,
) -> Result<(), SessionError> {
    let stage = Stage::SignedIn {
        account: account.clone(),
        password_at: password_at.as_unix_seconds(),
    };
    enter(session, &stage).await
}

/// "Skip for now" in the forced setup: asks the facade again, now, and moves
/// the session to what it answers, keeping when the password was entered. The
/// setup is deferred (the session signed in without a factor) only while the
/// policy still allows it; a user who set up a factor meanwhile gets the
/// second step instead, one whose grace period has ended stays in the forced
/// setup, and a locked or blocked one loses the stage. Returns the facade's
/// step, for the page to show.
pub async fn defer_enrollment(
    state: &TwoFactorState,
    session: &Session,
    account: &SessionAccount,
    password_at: Timestamp,
) -> Result<SignInStep, SignInError> {
    let step = state
        .two_factor()
        .begin_sign_in(&account.account())
        .await
        .map_err(|failure| SignInError::TwoFactor(Box::new(failure)))?
        .value;
    let next = match &step {
        SignInStep::MustEnroll {
            can_defer: true, ..
        } => Some(Stage::SignedIn {
            account: account.clone(),
            password_at: password_at.as_unix_seconds(),
        }),
        other => Stage::after_password(&account.account(), other, password_at),
    };
    match next {
        Some(next) => enter(session, &next).await?,
        None => forget(session).await?,
    }
    Ok(step)
}
