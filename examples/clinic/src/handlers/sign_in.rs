//! Signing in: the password, the second step (code, backup code, passkey),
//! the forced setup, and signing out.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use twofold::{NewTrustedBrowser, SignInStep};
use twofold_axum::{SignInError, Stage};

use super::{account, back, factor_failure, trusted_browsers, unlock};
use crate::db;
use crate::error::{AppError, Context};
use crate::password::{self, Client, Refusal};
use crate::session::{
    Enrolling, SecondStep, complete_sign_in, flash, forget_stage, signed_in, stage, take_flash,
};
use crate::views::sign_in::{ForcedSetupPage, SecondStepPage, SignInPage};
use crate::views::{self, Layout, Notice, Tone};
use crate::{App, csrf, words};

/// `/`: wherever the session stands.
pub(crate) async fn home(session: Session) -> Redirect {
    Redirect::to(match stage(&session).await {
        Some(Stage::SignedIn { .. }) => "/profile/security",
        Some(Stage::MustEnroll { .. }) => "/signin/setup",
        Some(Stage::SecondStep { .. }) => "/signin/second-step",
        _ => "/signin",
    })
}

pub(crate) async fn sign_in_page(session: Session) -> Result<Response, AppError> {
    let token = csrf::token(&session).await;
    let notice = take_flash(&session).await;
    views::page(&SignInPage {
        layout: Layout::signing_in("Sign in", token).notice(notice),
        email: super::passkey_sign_in::take_email(&session)
            .await
            .unwrap_or_default(),
    })
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    email: String,
    password: String,
}

pub(crate) async fn sign_in(
    State(app): State<App>,
    session: Session,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let user = db::user_by_email(app.pool(), &form.email)
        .await
        .context("sign-in")?;
    if let Err(refusal) =
        password::check(&app, user.as_ref(), &form.email, &form.password, &client).await
    {
        let (status, text) = match refusal {
            Refusal::Wait(_) => (StatusCode::TOO_MANY_REQUESTS, refusal.text("")),
            Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, refusal.text("")),
            Refusal::Missing | Refusal::Wrong => (
                StatusCode::UNAUTHORIZED,
                "Wrong email or password.".to_string(),
            ),
        };
        let page = SignInPage {
            layout: Layout::signing_in("Sign in", csrf::token(&session).await)
                .notice(Some(Notice::error(text))),
            email: form.email.clone(),
        };
        return Ok((status, views::html(&page)?).into_response());
    }
    let user =
        user.ok_or_else(|| AppError::internal("sign-in", "a password matched no account"))?;
    // Whoever this browser's session belonged to before, nothing of it is
    // carried over: no data, and a new session id (no fixation); the stage
    // that follows the password, from twofold-axum.
    // A trusted browser's token, if this browser has one: twofold checks it
    // against this user's record only.
    let presented = trusted_browsers::presented(&app, &headers);
    let signed = match twofold_axum::begin_sign_in_trusted(
        app.twofold(),
        &session,
        &account(&user),
        presented.as_deref(),
    )
    .await
    {
        Ok(signed) => signed,
        Err(SignInError::TwoFactor(failure)) => {
            csrf::renew(&session).await;
            return factor_failure(&app, &session, &user, *failure, "/signin").await;
        }
        Err(error) => return Err(AppError::internal("session", error)),
    };
    csrf::renew(&session).await;
    match signed.step {
        SignInStep::Allow { .. } => {
            signed_in(&app, &session, &user).await;
            let mut response = match &signed.renewed {
                Some(browser) => {
                    let text = format!(
                        "This browser is trusted: no code was needed. It asks again after {}.",
                        words::when(browser.expires_at.as_unix_seconds())
                    );
                    back(&session, Tone::Info, &text, "/profile/security").await
                }
                None => Redirect::to("/profile/security").into_response(),
            };
            // The presented token no longer works: its replacement.
            if let Some(browser) = &signed.renewed {
                trusted_browsers::remember(&app, &mut response, browser);
            }
            Ok(response)
        }
        SignInStep::Remind {
            remind_later_until, ..
        } => {
            signed_in(&app, &session, &user).await;
            let text = format!(
                "Your clinic recommends two-factor authentication: set it up below, or choose \
                 “Remind me later” (until {}).",
                words::when(remind_later_until.as_unix_seconds())
            );
            flash(&session, Tone::Info, &text).await;
            Ok(Redirect::to("/profile/security?remind=1").into_response())
        }
        SignInStep::Challenge { .. } => Ok(Redirect::to("/signin/second-step").into_response()),
        SignInStep::MustEnroll { reason, .. } => {
            // The forced setup shows why in the clinic's words.
            if let Some(Stage::MustEnroll {
                account,
                can_defer,
                password_at,
                ..
            }) = stage(&session).await
            {
                let stage = Stage::MustEnroll {
                    account,
                    can_defer,
                    reason: words::reason(&reason),
                    password_at,
                };
                twofold_axum::enter(&session, &stage)
                    .await
                    .context("session")?;
            }
            Ok(Redirect::to("/signin/setup").into_response())
        }
        SignInStep::Locked { lock } => {
            forget_stage(&session).await;
            // The password was right: the locked page may offer to unlock.
            if let Some(locked) = unlock::offer(&app, &session, &user, app.now(), Some(lock)).await
            {
                return Ok(locked);
            }
            Ok(back(&session, Tone::Error, &words::lock(lock), "/signin").await)
        }
        SignInStep::Blocked { reason } => {
            forget_stage(&session).await;
            let text = format!("You cannot sign in: {}", words::reason(&reason));
            Ok(back(&session, Tone::Error, &text, "/signin").await)
        }
    }
}

pub(crate) async fn second_step_page(
    State(app): State<App>,
    pending: SecondStep,
) -> Result<Response, AppError> {
    let session = &pending.session;
    let token = csrf::token(session).await;
    let notice = take_flash(session).await;
    let trust_days = app
        .two_factor()
        .policy(&pending.user.clinic)
        .await
        .context("policy")?
        .trusted_browser_days(&pending.user.role);
    views::page(&SecondStepPage {
        layout: Layout::signing_in("Two-factor authentication", token).notice(notice),
        email: pending.user.email,
        totp: pending.totp,
        passkey_options: pending.passkey.map(|options| options.to_string()),
        recovery: pending.recovery,
        trust_days,
    })
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    pub(crate) code: String,
    /// "Don't ask again on this browser" (a checkbox: present when ticked).
    #[serde(default)]
    pub(crate) trust: Option<String>,
}

/// The browser's label, if "Don't ask again on this browser" was ticked.
fn trust_wish(form: &CodeForm, headers: &HeaderMap) -> Option<String> {
    form.trust
        .as_ref()
        .map(|_| trusted_browsers::label(headers))
}

/// Signs in after a second step, trusting the browser if it was asked and
/// allowed: the cookie on the answer, and a word on the next page.
async fn after_second_step(
    app: &App,
    session: &Session,
    user: &db::User,
    asked: bool,
    trusted: Option<NewTrustedBrowser>,
) -> Result<Response, AppError> {
    if asked {
        let (tone, text) = match &trusted {
            Some(browser) => (
                Tone::Ok,
                format!(
                    "This browser will not ask for a code until {}.",
                    words::when(browser.expires_at.as_unix_seconds())
                ),
            ),
            None => (
                Tone::Info,
                "Your clinic does not allow trusted browsers for your role: \
                 this browser will ask for a code next time."
                    .to_string(),
            ),
        };
        flash(session, tone, &text).await;
    }
    // complete_sign_in cycles the session id; the flash survives it.
    complete_sign_in(app, session, user).await?;
    let mut response = Redirect::to("/profile/security").into_response();
    if let Some(browser) = &trusted {
        trusted_browsers::remember(app, &mut response, browser);
    }
    Ok(response)
}

pub(crate) async fn second_step_code(
    State(app): State<App>,
    pending: SecondStep,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let SecondStep {
        user,
        challenge,
        session,
        ..
    } = pending;
    let wish = trust_wish(&form, &headers);
    match app
        .two_factor()
        .verify_totp_trusting(&account(&user), &challenge, &form.code, wish.as_deref())
        .await
    {
        Ok(done) => {
            let trusted = done.value.trusted_browser;
            after_second_step(&app, &session, &user, wish.is_some(), trusted).await
        }
        Err(failure) => {
            if let Some(locked) = unlock::offer_after_failure(&app, &session, &user, &failure).await
            {
                return Ok(locked);
            }
            factor_failure(&app, &session, &user, failure, "/signin/second-step").await
        }
    }
}

pub(crate) async fn second_step_backup(
    State(app): State<App>,
    client: Client,
    pending: SecondStep,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let SecondStep {
        user,
        challenge,
        session,
        ..
    } = pending;
    // A backup code costs one Argon2: in the address's lane, like a password.
    let _turn = app.hash_turn(&client.0).await;
    let wish = trust_wish(&form, &headers);
    match app
        .two_factor()
        .verify_backup_code_trusting(&account(&user), &challenge, &form.code, wish.as_deref())
        .await
    {
        Ok(done) => {
            let remaining = done.value.signed_in.backup_codes_remaining.unwrap_or(0);
            let (tone, advice) = if remaining <= 3 {
                (Tone::Error, " Generate new ones below.")
            } else {
                (Tone::Info, "")
            };
            let text = format!(
                "You signed in with a backup code; {remaining} backup codes remain.{advice}"
            );
            flash(&session, tone, &text).await;
            let trusted = done.value.trusted_browser;
            after_second_step(&app, &session, &user, wish.is_some(), trusted).await
        }
        Err(failure) => {
            if let Some(locked) = unlock::offer_after_failure(&app, &session, &user, &failure).await
            {
                return Ok(locked);
            }
            factor_failure(&app, &session, &user, failure, "/signin/second-step").await
        }
    }
}

pub(crate) async fn forced_setup_page(forced: Enrolling) -> Result<Response, AppError> {
    let session = &forced.session;
    let token = csrf::token(session).await;
    let flash = take_flash(session).await;
    let required = Notice::info(format!("2FA required: {}", forced.reason));
    views::page(&ForcedSetupPage {
        layout: Layout::signing_in("Set up two-factor authentication", token)
            .notice(flash)
            .notice(Some(required)),
        email: forced.user.email,
        can_defer: forced.can_defer,
    })
}

pub(crate) async fn skip_setup(
    State(app): State<App>,
    forced: Enrolling,
) -> Result<Response, AppError> {
    if !forced.can_defer {
        return Ok(Redirect::to("/").into_response());
    }
    // Asked again, now: a grace period that ended, or a factor set up in
    // another browser meanwhile, must not be skipped with this old answer.
    let session = &forced.session;
    let account = twofold_axum::SessionAccount::from_account(&account(&forced.user));
    let password_at = twofold::Timestamp::from_unix_seconds(forced.password_at);
    let deferred =
        twofold_axum::defer_enrollment(app.twofold(), session, &account, password_at).await;
    csrf::renew(session).await;
    match deferred {
        Ok(SignInStep::MustEnroll {
            can_defer: true, ..
        }) => {
            signed_in(&app, session, &forced.user).await;
            Ok(Redirect::to("/profile/security").into_response())
        }
        // Wherever the new answer leads: the second step, or the setup.
        Ok(_) => Ok(home(session.clone()).await.into_response()),
        Err(SignInError::TwoFactor(failure)) => {
            factor_failure(&app, session, &forced.user, *failure, "/signin").await
        }
        Err(error) => Err(AppError::internal("session", error)),
    }
}

pub(crate) async fn sign_out(session: Session) -> Result<Response, AppError> {
    twofold_axum::sign_out(&session).await.context("session")?;
    Ok(Redirect::to("/signin").into_response())
}
