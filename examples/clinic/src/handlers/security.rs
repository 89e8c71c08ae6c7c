//! My Profile → Security: the status panel, authenticator-app setup, backup
//! codes (shown once, regenerated), disabling 2FA, and signing out other
//! sessions. Passkeys are in `passkeys`.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;
use twofold::{ErrorKind, FactorConfirmed, NewBackupCodes, Reason, Timestamp, TwoFactorError};
use twofold_totp::ImportOutcome;

use super::sign_in::CodeForm;
use super::{account, back, factor_failure};
use crate::db::{self, AuditQuery, User};
use crate::error::{AppError, Context};
use crate::password::{self, Client};
use crate::session::{self, Enroller, SignedIn, complete_sign_in, take_flash};
use crate::views::security::{
    ActivityRow, BackupCodesPage, CheckupBox, HistoryRow, Panel, PasskeyRow, ProfilePage,
    TotpImportPage, TotpSetup, TotpSetupPage, TrustedBrowserRow,
};
use crate::views::{self, Layout, Notice, Tone};
use crate::{App, audit, csrf, slots, words};

/// The personal security panel of `user`, with its sections' headings at `heading`.
pub(crate) async fn security_panel(
    app: &App,
    user: &User,
    heading: &'static str,
) -> Result<Panel, AppError> {
    let status = app
        .two_factor()
        .status(&account(user))
        .await
        .context("status")?;
    let passkeys = status
        .passkeys
        .iter()
        .map(|passkey| PasskeyRow {
            id: passkey.id.to_base64url(),
            name: passkey.name.clone(),
            kind: if passkey.backed_up {
                "synced"
            } else {
                "this device only"
            },
            added: words::when(passkey.created_at.as_unix_seconds()),
            last_used: passkey.last_used_at.map_or_else(
                || "never".to_string(),
                |at| words::when(at.as_unix_seconds()),
            ),
        })
        .collect();
    let trusted_browsers = app
        .two_factor()
        .trusted_browsers(&account(user))
        .await
        .context("trusted browsers")?
        .into_iter()
        .map(|browser| TrustedBrowserRow {
            id: browser.id,
            label: browser.label,
            trusted: words::when(browser.created_at.as_unix_seconds()),
            last_used: browser.last_used_at.map_or_else(
                || "never".to_string(),
                |at| words::when(at.as_unix_seconds()),
            ),
            until: words::when(browser.expires_at.as_unix_seconds()),
        })
        .collect();
    Ok(Panel {
        trusted_browsers,
        enabled: status.enabled,
        enforced: status.enforced,
        totp: status.totp,
        passkeys,
        backup_codes_remaining: status.backup_codes_remaining,
        backup_codes_low: status.backup_codes_low,
        heading,
    })
}

/// `/profile/security`'s query: `?remind=1` after a sign-in that reminded
/// the user to set up a second factor.
#[derive(Deserialize, Default)]
pub(crate) struct ProfileQuery {
    #[serde(default)]
    remind: Option<String>,
}

pub(crate) async fn profile_security(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
    Query(query): Query<ProfileQuery>,
) -> Result<Response, AppError> {
    let token = csrf::token(&session).await;
    let notice = take_flash(&session).await;
    let panel = security_panel(&app, &user, "h2").await?;
    let checkup = app
        .two_factor()
        .checkup(&account(&user))
        .await
        .context("check-up")?
        .map(|checkup| CheckupBox {
            since: words::when(checkup.enrolled_at.as_unix_seconds()),
            remaining: checkup.backup_codes_remaining,
            low: checkup.backup_codes_low,
        });
    let remind_later = query.remind.is_some() && !panel.enabled;
    // Staff see their own activity here; the clinic's log is for owners and admins.
    let mine = AuditQuery {
        user: Some(user.id.clone()),
        per_page: 20,
        ..AuditQuery::default()
    };
    let (entries, _) = db::audit_page(app.pool(), &user.clinic, &mine)
        .await
        .context("audit log")?;
    // Entries name other people too (the admin who reset this user, say).
    let staff = db::users_of(app.pool(), &user.clinic)
        .await
        .context("audit log")?;
    let name_of = audit::name_in(&staff);
    let rows = audit::rows(&entries, &name_of);
    let activity = app
        .two_factor()
        .security_activity(&account(&user))
        .await
        .context("security activity")?
        .iter()
        .map(|entry| ActivityRow {
            when: words::when(entry.at.as_unix_seconds()),
            text: words::notice(&entry.notice, &name_of).1,
            state: if entry.delivered_at.is_some() {
                "emailed"
            } else {
                "sending"
            },
        })
        .collect();
    let history = history_rows(&app, &user, &name_of).await?;
    views::page(&ProfilePage {
        layout: Layout::signed_in("My Profile → Security", token, &user, "/profile/security")
            .notice(notice),
        panel,
        rows,
        activity,
        history,
        checkup,
        remind_later,
        signals: super::passkey_sign_in::take_signals(&session).await,
    })
}

/// The check-up's "Yes, they're saved".
pub(crate) async fn confirm_checkup(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
) -> Result<Response, AppError> {
    let to = "/profile/security";
    match app.two_factor().confirm_checkup(&account(&user)).await {
        Ok(_) => Ok(back(
            &session,
            Tone::Ok,
            "Thank you: your backup codes are saved.",
            to,
        )
        .await),
        Err(failure) => factor_failure(&app, &session, &user, failure, to).await,
    }
}

/// "Remind me later" for a user who has not set up a second factor.
pub(crate) async fn remind_later(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
) -> Result<Response, AppError> {
    let to = "/profile/security";
    match app.two_factor().remind_me_later(&account(&user)).await {
        Ok(done) => {
            let text = format!(
                "We will remind you again after {}.",
                words::when(done.value.as_unix_seconds())
            );
            Ok(back(&session, Tone::Ok, &text, to).await)
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, to).await,
    }
}

/// Every factor `user` has or had, for their Security page and the staff view.
pub(crate) async fn history_rows(
    app: &App,
    user: &User,
    name_of: &(dyn Fn(&str) -> String + Sync),
) -> Result<Vec<HistoryRow>, AppError> {
    let history = app
        .two_factor()
        .authenticator_history(&account(user))
        .await
        .context("authenticator history")?;
    Ok(history
        .iter()
        .map(|factor| HistoryRow {
            kind: match (factor.factor, &factor.name) {
                (twofold::Factor::Passkey, Some(name)) => format!("Passkey “{name}”"),
                (twofold::Factor::Passkey, None) => "Passkey".to_string(),
                (twofold::Factor::Totp, _) => "Authenticator app".to_string(),
                (twofold::Factor::BackupCode, _) => "Backup codes".to_string(),
            },
            added: words::when(factor.added_at.as_unix_seconds()),
            last_used: factor.last_used_at.map_or_else(
                || "never".to_string(),
                |at| words::when(at.as_unix_seconds()),
            ),
            removed: match (&factor.removed_at, &factor.removed_by) {
                (None, _) => "in use".to_string(),
                (Some(at), Some(twofold::RemovedBy::Administrator { actor })) => {
                    format!(
                        "{} by {}",
                        words::when(at.as_unix_seconds()),
                        name_of(actor)
                    )
                }
                (Some(at), _) => format!("{} by you", words::when(at.as_unix_seconds())),
            },
            current: factor.removed_at.is_none(),
        })
        .collect())
}

/// The authenticator-app setup page: in the site's frame when signed in,
/// bare during the forced setup (nothing else is reachable yet).
async fn setup_page(
    enroller: &Enroller,
    setup: Option<TotpSetup>,
    notice: Option<Notice>,
) -> TotpSetupPage {
    let token = csrf::token(enroller.session()).await;
    let title = "Set up authenticator app";
    let layout = if enroller.forced() {
        Layout::signing_in(title, token)
    } else {
        Layout::signed_in(title, token, enroller.user(), "/profile/security")
    };
    TotpSetupPage {
        layout: layout.notice(notice),
        setup,
    }
}

/// A password, where one may be left empty (entered recently enough).
#[derive(Deserialize)]
pub(crate) struct MaybePassword {
    #[serde(default)]
    pub(crate) password: String,
}

pub(crate) async fn totp_begin(
    State(app): State<App>,
    client: Client,
    enroller: Enroller,
    Form(form): Form<MaybePassword>,
) -> Result<Response, AppError> {
    let session = enroller.session();
    let password_at = match enroller
        .password_for_change(&app, &form.password, &client)
        .await
    {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text("Re-enter your password to change how you sign in.");
            return Ok(back(session, Tone::Error, &text, "/profile/security").await);
        }
    };
    let user = enroller.user();
    let enrollment = match app
        .two_factor()
        .begin_totp_enrollment(
            &account(user),
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => done.value,
        Err(failure) => {
            return factor_failure(&app, session, user, failure, enroller.back()).await;
        }
    };
    let setup = TotpSetup::new(enrollment);
    // The page holds a secret: never cached (see `assets::headers`).
    views::page(&setup_page(&enroller, Some(setup), None).await)
}

pub(crate) async fn totp_confirm(
    State(app): State<App>,
    enroller: Enroller,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let (user, session) = (enroller.user(), enroller.session());
    let failure = match app
        .two_factor()
        .confirm_totp_enrollment(&account(user), &form.code)
        .await
    {
        Ok(done) => {
            let to = after_confirm(&app, &enroller, done.value).await?;
            let text = "Authenticator app set up: 2FA is on.";
            return Ok(back(session, Tone::Ok, text, to).await);
        }
        Err(failure) => failure,
    };
    let retry = failure.kind() == ErrorKind::Wrong;
    if !retry {
        return factor_failure(&app, session, user, failure, enroller.back()).await;
    }
    // The same QR code and secret again, beside the error: a mistyped code
    // must not cost the user a new secret. (Read back from twofold's pending
    // setup, never kept in the session.) Only while the password entered for
    // it is fresh: whoever holds just the session must not read the secret.
    let proof = Some(Timestamp::from_unix_seconds(enroller.password_at()));
    let (setup, stale) = match app
        .two_factor()
        .pending_totp_enrollment(&account(user), proof)
        .await
    {
        Ok(pending) => (pending.map(TotpSetup::new), false),
        Err(refused) if refused.kind() == ErrorKind::Reauthenticate => (None, true),
        Err(refused) => return Err(AppError::internal("pending setup", &refused.error)),
    };
    let mut text = words::explain(&failure.error);
    if let Some(lock) = failure.lock {
        text.push(' ');
        text.push_str(&words::lock(lock));
    }
    if stale {
        text.push_str(" To see the QR code again, re-enter your password and start again.");
    }
    let page = setup_page(&enroller, setup, Some(Notice::error(text))).await;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, views::html(&page)?).into_response())
}

/// "Move an authenticator from another system": a pasted export.
#[derive(Deserialize)]
pub(crate) struct ImportForm {
    #[serde(default)]
    pub(crate) password: String,
    /// An `otpauth://` link, a Google Authenticator export, or the URI of
    /// the entry chosen on the list of a several-entry export.
    pub(crate) export: String,
}

pub(crate) async fn totp_import(
    State(app): State<App>,
    client: Client,
    enroller: Enroller,
    Form(form): Form<ImportForm>,
) -> Result<Response, AppError> {
    let (user, session) = (enroller.user(), enroller.session());
    let password_at = match enroller
        .password_for_change(&app, &form.password, &client)
        .await
    {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text("Re-enter your password to change how you sign in.");
            return Ok(back(session, Tone::Error, &text, "/profile/security").await);
        }
    };
    let entries = match twofold_totp::read_import(&form.export) {
        Ok(entries) => entries,
        Err(error) => {
            let text = format!("That link could not be read: {error}.");
            return Ok(back(session, Tone::Error, &text, "/profile/security").await);
        }
    };
    // One entry that can move: moved. Otherwise each is listed, and each
    // that can move is offered as its own URI (the clinic's own entries only,
    // if the export has any).
    let [
        twofold_totp::ImportEntry {
            outcome: ImportOutcome::Importable { uri, .. },
            ..
        },
    ] = entries.as_slice()
    else {
        let ours = |entry: &twofold_totp::ImportEntry| {
            matches!(entry.outcome, ImportOutcome::Importable { .. })
                && entry
                    .issuer
                    .as_deref()
                    .is_some_and(|issuer| issuer.eq_ignore_ascii_case(crate::CLINIC_NAME))
        };
        let any_ours = entries.iter().any(ours);
        let rows = entries
            .iter()
            .map(|entry| words::import_row(entry, !any_ours || ours(entry)))
            .collect();
        let token = csrf::token(session).await;
        let layout = Layout::signed_in("Move an authenticator", token, user, "/profile/security");
        return views::page(&TotpImportPage {
            layout,
            entries: rows,
        });
    };
    match app
        .two_factor()
        .import_totp(
            &account(user),
            uri,
            Some(Timestamp::from_unix_seconds(password_at)),
        )
        .await
    {
        Ok(done) => {
            let to = after_confirm(&app, &enroller, done.value).await?;
            let text = "Authenticator app moved here: 2FA is on. Your app's codes for it work now.";
            Ok(back(session, Tone::Ok, text, to).await)
        }
        Err(failure) => factor_failure(&app, session, user, failure, enroller.back()).await,
    }
}

/// After a first factor: stash the new backup codes for the next page, and
/// finish a forced setup's sign-in. Returns where to go next.
pub(crate) async fn after_confirm(
    app: &App,
    enroller: &Enroller,
    confirmed: FactorConfirmed,
) -> Result<&'static str, AppError> {
    let (user, session) = (enroller.user(), enroller.session());
    let codes = confirmed.backup_codes.is_some();
    if let Some(codes) = confirmed.backup_codes {
        stash_codes(app, session, user, &codes).await?;
    }
    if enroller.forced() {
        complete_sign_in(app, session, user).await?;
    }
    Ok(if codes {
        "/security/backup-codes"
    } else {
        "/profile/security"
    })
}

/// Puts new codes in a one-time slot for the next page, and its id in the session.
pub(crate) async fn stash_codes(
    app: &App,
    session: &Session,
    user: &User,
    codes: &NewBackupCodes,
) -> Result<(), AppError> {
    let list: Vec<&str> = codes.iter().collect();
    let slot = slots::put(app.pool(), app.slot_key(), &user.id, &list, app.now())
        .await
        .context("backup-code slot")?;
    session::stash_slot(session, &slot).await
}

pub(crate) async fn show_backup_codes(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
) -> Result<Response, AppError> {
    let token = csrf::token(&session).await;
    // The slot is read once, by the user it was made for, in the session it was made in.
    let codes = match session::take_slot(&session).await {
        Some(slot) => slots::take(app.pool(), app.slot_key(), &slot, &user.id, app.now())
            .await
            .context("backup-code slot")?,
        None => None,
    };
    let notice = take_flash(&session).await;
    views::page(&BackupCodesPage {
        layout: Layout::signed_in("Save your backup codes", token, &user, "/profile/security")
            .notice(notice),
        codes: codes.map(|codes| codes.iter().map(|code| code.to_string()).collect()),
    })
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    password: String,
}

pub(crate) async fn regenerate_codes(
    State(app): State<App>,
    client: Client,
    SignedIn { user, session, .. }: SignedIn,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let at = match password::check(&app, Some(&user), &user.email, &form.password, &client).await {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text("That password is not correct; backup codes were not changed.");
            return Ok(back(&session, Tone::Error, &text, "/profile/security").await);
        }
    };
    match app
        .two_factor()
        .regenerate_backup_codes(&account(&user), Some(Timestamp::from_unix_seconds(at)))
        .await
    {
        Ok(done) => {
            stash_codes(&app, &session, &user, &done.value).await?;
            let text = "New backup codes: the old ones no longer work.";
            Ok(back(&session, Tone::Ok, text, "/security/backup-codes").await)
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, "/profile/security").await,
    }
}

pub(crate) async fn disable(
    State(app): State<App>,
    client: Client,
    SignedIn { user, session, .. }: SignedIn,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let to = "/settings/security";
    let at = match password::check(&app, Some(&user), &user.email, &form.password, &client).await {
        Ok(at) => at,
        Err(refusal) => {
            let text = refusal.text("That password is not correct; 2FA is still on.");
            return Ok(back(&session, Tone::Error, &text, to).await);
        }
    };
    match app
        .two_factor()
        .disable(&account(&user), Some(Timestamp::from_unix_seconds(at)))
        .await
    {
        Ok(_) => {
            let ended = sign_out_elsewhere(&app, &session, &user).await;
            let text = format!("2FA is off for your account.{ended}");
            Ok(back(&session, Tone::Ok, &text, to).await)
        }
        Err(failure) => {
            let text = match &failure.error {
                TwoFactorError::Denied(Reason::EnforcedForUser) => {
                    "2FA cannot be disabled: your clinic's owner requires 2FA for everyone \
                     (Settings → Security → 2FA enforcement: Required)."
                        .to_string()
                }
                TwoFactorError::Denied(reason) => {
                    format!("2FA cannot be disabled: {}", words::reason(reason))
                }
                _ => return factor_failure(&app, &session, &user, failure, to).await,
            };
            Ok(back(&session, Tone::Error, &text, to).await)
        }
    }
}

/// Ends the user's other sessions (keeping this one); says how many, for a flash.
pub(crate) async fn sign_out_elsewhere(app: &App, session: &Session, user: &User) -> String {
    match app
        .sessions()
        .revoke_user(&user.id, session.id().as_ref())
        .await
    {
        Ok(0) => String::new(),
        Ok(1) => " You were signed out of 1 other session.".into(),
        Ok(n) => format!(" You were signed out of {n} other sessions."),
        Err(error) => {
            tracing::error!(user = %user.id, %error, "ending other sessions failed");
            String::new()
        }
    }
}

/// "Sign out other sessions" (My Profile → Security): after a lost phone or a
/// shared computer.
pub(crate) async fn sign_out_others(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
) -> Response {
    let ended = sign_out_elsewhere(&app, &session, &user).await;
    let text = if ended.is_empty() {
        "You had no other sessions.".to_string()
    } else {
        ended.trim().to_string()
    };
    back(&session, Tone::Ok, &text, "/profile/security").await
}
