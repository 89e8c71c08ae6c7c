//! Settings: Security (the owner's 2FA enforcement, and everyone's own 2FA),
//! Staff (an owner or admin disables or unlocks a user's 2FA), and the audit
//! log. Staff and the audit log are for owners and admins.

use axum::extract::{Form, Query, State};
use axum::response::Response;
use serde::Deserialize;
use twofold::{Mode, Reason, SignIn, Timestamp, TwoFactorError};

use super::security::{history_rows, security_panel};
use super::{account, back, factor_failure};
use crate::db::{self, AuditQuery, User};
use crate::error::{AppError, Context};
use crate::password::Client;
use crate::session::{SignedIn, take_flash};
use crate::views::settings::{
    AuditPage, Choice, EnforcementPreview, PreviewRow, RoleDays, SettingsSecurityPage, StaffPage,
    StaffRow, StaffState,
};
use crate::views::{self, Layout, Tone, is_manager};
use crate::{App, audit, csrf, words};

/// `/settings/security?mode=required`: the owner chose a mode and asks what
/// it would do before confirming it.
#[derive(Deserialize)]
pub(crate) struct SecurityQuery {
    #[serde(default)]
    mode: Option<String>,
}

pub(crate) async fn settings_security(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, AppError> {
    let token = csrf::token(&session).await;
    let policy = app
        .two_factor()
        .policy(&user.clinic)
        .await
        .context("policy")?;
    let mode = words::mode_name(policy.mode());
    let mut modes = policy.may_change_enforcement(&user.role).then(|| {
        [Mode::Optional, Mode::Required, Mode::Off]
            .map(words::mode_name)
            .into_iter()
            .map(|name| Choice {
                value: name.to_string(),
                label: name.to_string(),
                chosen: name == mode,
            })
            .collect::<Vec<_>>()
    });
    // The dry run of the chosen mode, for whoever may change it; a mode that
    // does not parse, or the current one, shows none.
    let chosen = query
        .mode
        .as_deref()
        .and_then(|mode| mode.parse::<Mode>().ok())
        .filter(|chosen| *chosen != policy.mode() && modes.is_some());
    if let (Some(chosen), Some(modes)) = (chosen, modes.as_mut()) {
        for choice in modes {
            choice.chosen = choice.value == words::mode_name(chosen);
        }
    }
    let preview = match chosen {
        Some(chosen) => Some(enforcement_preview(&app, &user, policy.mode(), chosen).await?),
        None => None,
    };
    let notice = take_flash(&session).await;
    let trusted_roles = policy
        .document()
        .roles
        .keys()
        .map(|role| RoleDays {
            role: role.clone(),
            days: policy.trusted_browser_days(role),
        })
        .collect();
    views::page(&SettingsSecurityPage {
        layout: Layout::signed_in("Settings → Security", token, &user, "/settings/security")
            .notice(notice),
        mode,
        modes,
        trusted_days: policy.document().trusted_browsers.max_days,
        trusted_roles,
        trusted_editable: policy.may_change_enforcement(&user.role),
        preview,
        panel: security_panel(&app, &user, "h3").await?,
    })
}

/// What changing enforcement from `from` to `to` would do to the clinic's
/// staff at their next sign-in: twofold's dry run over their records, now
/// and after the change. The summary counts whom the change itself affects;
/// the table also lists who is blocked already, and who is exempt.
async fn enforcement_preview(
    app: &App,
    owner: &User,
    from: Mode,
    to: Mode,
) -> Result<EnforcementPreview, AppError> {
    let members = db::users_of(app.pool(), &owner.clinic)
        .await
        .context("staff")?;
    let accounts: Vec<_> = members.iter().map(account).collect();
    let mut view = EnforcementPreview {
        from: words::mode_name(from),
        to: words::mode_name(to),
        summary: String::new(),
        refused: None,
        blocks: false,
        rows: Vec::new(),
    };
    let preview = match app
        .two_factor()
        .preview_enforcement(&account(owner), to, &accounts)
        .await
    {
        Ok(preview) => preview,
        // Refused as the change would be (the owner has no second factor
        // of their own): said here, with no button to confirm.
        Err(failure) => match failure.error {
            TwoFactorError::Denied(reason) => {
                view.refused = Some(words::reason(&reason));
                return Ok(view);
            }
            _ => return Err(failure).context("enforcement preview"),
        },
    };
    let member = |id: &str| members.iter().find(|member| member.id == id);
    let newly_enroll = preview.newly_must_enroll();
    let newly_blocked = preview.newly_blocked();
    let mut rows = Vec::new();
    for (id, decision) in &newly_enroll {
        let what = match decision.outcome {
            SignIn::MustEnroll {
                deadline,
                can_defer: true,
                ..
            } => format!(
                "Must set up 2FA by {}",
                words::when(deadline.as_unix_seconds())
            ),
            _ => "Must set up 2FA before continuing".to_string(),
        };
        rows.extend(member(id).map(|m| (m, "enroll", what)));
    }
    for (id, decision) in &preview.proposed.blocked {
        let Some(m) = member(id) else { continue };
        let why = match decision.reason {
            Reason::UnknownRole => format!(
                "the role \u{201c}{}\u{201d} is not in the clinic's security policy",
                m.role
            ),
            other => words::reason(&other).trim_end_matches('.').to_string(),
        };
        let already = !newly_blocked.iter().any(|(user, _)| user == id);
        let what = if already {
            format!("Cannot sign in now either: {why}")
        } else {
            format!("Cannot sign in: {why}")
        };
        rows.push((
            m,
            if already {
                "blocked already"
            } else {
                "blocked"
            },
            what,
        ));
    }
    for (id, decision) in &preview.proposed.unaffected {
        if decision.reason == Reason::Exempt {
            let what = "Exempt: no change".to_string();
            rows.extend(member(id).map(|m| (m, "exempt", what)));
        }
    }
    let already = preview
        .proposed
        .blocked
        .len()
        .saturating_sub(newly_blocked.len());
    view.summary = words::dry_run_summary(newly_enroll.len(), newly_blocked.len(), already);
    view.blocks = !newly_blocked.is_empty();
    view.rows = rows
        .into_iter()
        .map(|(member, kind, what)| PreviewRow {
            name: member.name.clone(),
            role: member.role.clone(),
            kind,
            what,
        })
        .collect();
    Ok(view)
}

#[derive(Deserialize)]
pub(crate) struct TrustedDaysForm {
    role: String,
    days: String,
    #[serde(default)]
    password: String,
}

/// The owner caps or forbids trusted browsers for a role ("Settings →
/// Security → Trusted browsers"), after re-entering their password: the
/// clinic's policy, stored through twofold. A role can only shorten the
/// clinic's days; 0 forbids them, and that role's browsers ask again at once.
pub(crate) async fn set_trusted_browser_days(
    State(app): State<App>,
    client: Client,
    signed_in: SignedIn,
    Form(form): Form<TrustedDaysForm>,
) -> Result<Response, AppError> {
    let to = "/settings/security";
    let session = &signed_in.session;
    let user = &signed_in.user;
    let policy = app
        .two_factor()
        .policy(&user.clinic)
        .await
        .context("policy")?;
    if !policy.may_change_enforcement(&user.role) {
        let text = "Only the clinic's owner can change this.";
        return Ok(back(session, Tone::Error, text, to).await);
    }
    if let Err(refusal) = signed_in
        .recent_password(&app, &form.password, &client)
        .await
    {
        let text = refusal.text("Re-enter your password to change this.");
        return Ok(back(session, Tone::Error, &text, to).await);
    }
    let max = policy.document().trusted_browsers.max_days;
    let days = match form.days.trim().parse::<u32>() {
        Ok(days) if days <= max => days,
        _ => {
            let text = format!("Choose a number of days from 0 to {max}.");
            return Ok(back(session, Tone::Error, &text, to).await);
        }
    };
    let mut document = policy.document().clone();
    let Some(role) = document.roles.get_mut(&form.role) else {
        return Ok(back(
            session,
            Tone::Error,
            "Choose one of the clinic's roles.",
            to,
        )
        .await);
    };
    role.trusted_browser_days = Some(days);
    if let Err(failure) = app.two_factor().set_policy(&user.clinic, document).await {
        return factor_failure(&app, session, user, failure, to).await;
    }
    let detail = serde_json::json!({ "role": form.role, "days": days });
    app.audit()
        .append(
            &user.clinic,
            app.now(),
            "trusted_browsers_changed",
            &user.id,
            &user.id,
            &detail,
        )
        .await;
    let text = if days == 0 {
        format!("Trusted browsers are now off for {}.", form.role)
    } else {
        format!("A {} may now trust a browser for {days} days.", form.role)
    };
    Ok(back(session, Tone::Ok, &text, to).await)
}

#[derive(Deserialize)]
pub(crate) struct ModeForm {
    mode: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn set_enforcement(
    State(app): State<App>,
    client: Client,
    signed_in: SignedIn,
    Form(form): Form<ModeForm>,
) -> Result<Response, AppError> {
    let to = "/settings/security";
    let session = &signed_in.session;
    // A missing or wrong password is for twofold to judge (it may not be
    // needed); a throttled or busy check stops here.
    let password_at = match signed_in
        .recent_password(&app, &form.password, &client)
        .await
    {
        Ok(at) => Some(at),
        Err(refusal) if refusal.unchecked() => {
            return Ok(back(session, Tone::Error, &refusal.text(""), to).await);
        }
        Err(_) => None,
    };
    let Ok(mode) = form.mode.parse::<Mode>() else {
        let text = "Choose Off, Optional or Required.";
        return Ok(back(session, Tone::Error, text, to).await);
    };
    let user = &signed_in.user;
    match app
        .two_factor()
        .change_enforcement(
            &account(user),
            mode,
            password_at.map(Timestamp::from_unix_seconds),
        )
        .await
    {
        Ok(_) => {
            let text = format!("2FA enforcement is now {}.", words::mode_name(mode));
            Ok(back(session, Tone::Ok, &text, to).await)
        }
        Err(failure) => factor_failure(&app, session, user, failure, to).await,
    }
}

pub(crate) async fn settings_staff(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
) -> Result<Response, AppError> {
    if !is_manager(&user) {
        return Err(AppError::ManagersOnly);
    }
    let token = csrf::token(&session).await;
    let members = db::users_of(app.pool(), &user.clinic)
        .await
        .context("staff")?;
    let policy = app
        .two_factor()
        .policy(&user.clinic)
        .await
        .context("policy")?;
    let name_of = audit::name_in(&members);
    let mut staff = Vec::with_capacity(members.len());
    for member in &members {
        let status = app
            .two_factor()
            .status(&account(member))
            .await
            .context("status")?;
        let mut factors = Vec::new();
        if status.totp {
            factors.push("authenticator app".to_string());
        }
        if !status.passkeys.is_empty() {
            factors.push(format!("{} passkey(s)", status.passkeys.len()));
        }
        if let Some(n) = status.backup_codes_remaining {
            factors.push(format!("{n} backup codes"));
        }
        let state = match (status.enabled, status.locked) {
            (_, Some(lock)) => StaffState {
                badge: "locked",
                label: words::lock_state(lock),
                note: None,
            },
            (true, None) => StaffState {
                badge: "on",
                label: "On".into(),
                note: None,
            },
            (false, None) if status.enforced => StaffState {
                badge: "warn",
                label: "Off".into(),
                note: Some("(must set up at next sign-in)"),
            },
            (false, None) => StaffState {
                badge: "off",
                label: "Off".into(),
                note: None,
            },
        };
        let other = member.id != user.id;
        staff.push(StaffRow {
            unlock: other && status.locked.is_some() && policy.may_unlock(&user.role, &member.role),
            reset: other
                && (status.enabled || status.locked.is_some())
                && policy.may_reset(&user.role, &member.role),
            history: history_rows(&app, member, &name_of).await?,
            id: member.id.clone(),
            name: member.name.clone(),
            email: member.email.clone(),
            role: member.role.clone(),
            state,
            factors: factors.join(", "),
        });
    }
    let notice = take_flash(&session).await;
    views::page(&StaffPage {
        layout: Layout::signed_in("Settings → Staff", token, &user, "/settings/staff")
            .notice(notice),
        staff,
    })
}

/// A Settings → Staff form: whom, why, and the actor's password if not recent.
#[derive(Deserialize)]
pub(crate) struct StaffForm {
    user: String,
    reason: String,
    #[serde(default)]
    password: String,
}

/// The longest admin-reset reason kept.
const MAX_REASON: usize = 200;

/// The staff member a Settings → Staff form names, in the actor's clinic, with
/// the actor's proof of a recent password; or the page to go back to.
async fn staff_target(
    app: &App,
    actor: &SignedIn,
    form: &StaffForm,
    client: &Client,
) -> Result<Result<(User, Option<u64>), Response>, AppError> {
    let (to, session) = ("/settings/staff", &actor.session);
    if !is_manager(&actor.user) {
        return Err(AppError::ManagersOnly);
    }
    let password_at = match actor.recent_password(app, &form.password, client).await {
        Ok(at) => Some(at),
        Err(refusal) if refusal.unchecked() => {
            return Ok(Err(back(session, Tone::Error, &refusal.text(""), to).await));
        }
        Err(_) => None,
    };
    if form.reason.trim().chars().count() > MAX_REASON {
        let text = "A reason has at most 200 characters.";
        return Ok(Err(back(session, Tone::Error, text, to).await));
    }
    match db::user_by_id(app.pool(), &form.user)
        .await
        .context("staff")?
    {
        Some(target) if target.clinic == actor.user.clinic => Ok(Ok((target, password_at))),
        _ => {
            let text = "No such user in your clinic.";
            Ok(Err(back(session, Tone::Error, text, to).await))
        }
    }
}

pub(crate) async fn staff_disable(
    State(app): State<App>,
    client: Client,
    actor: SignedIn,
    Form(form): Form<StaffForm>,
) -> Result<Response, AppError> {
    let (target, password_at) = match staff_target(&app, &actor, &form, &client).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let (to, session) = ("/settings/staff", &actor.session);
    match app
        .two_factor()
        .admin_reset(
            &account(&actor.user),
            &account(&target),
            form.reason.trim(),
            password_at.map(Timestamp::from_unix_seconds),
        )
        .await
    {
        Ok(done) => {
            // Their sessions end with their factors: nobody stays signed in on the old ones.
            app.sessions()
                .revoke_user(&target.id, None)
                .await
                .context("sessions")?;
            let again = if done.value {
                " They must set it up again at their next sign-in."
            } else {
                ""
            };
            let text = format!("2FA disabled for {}.{again}", target.name);
            Ok(back(session, Tone::Ok, &text, to).await)
        }
        Err(failure) => factor_failure(&app, session, &actor.user, failure, to).await,
    }
}

/// Settings → Staff → Unlock: clears a lockout, keeping the user's factors.
pub(crate) async fn staff_unlock(
    State(app): State<App>,
    client: Client,
    actor: SignedIn,
    Form(form): Form<StaffForm>,
) -> Result<Response, AppError> {
    let (target, password_at) = match staff_target(&app, &actor, &form, &client).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let (to, session) = ("/settings/staff", &actor.session);
    match app
        .two_factor()
        .admin_unlock(
            &account(&actor.user),
            &account(&target),
            form.reason.trim(),
            password_at.map(Timestamp::from_unix_seconds),
        )
        .await
    {
        Ok(_) => {
            let text = format!("{} is unlocked; their 2FA is unchanged.", target.name);
            Ok(back(session, Tone::Ok, &text, to).await)
        }
        Err(failure) => factor_failure(&app, session, &actor.user, failure, to).await,
    }
}

/// The audit page's query string.
#[derive(Deserialize, Default)]
pub(crate) struct AuditParams {
    #[serde(default)]
    user: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    page: u64,
}

/// Entries on one audit page.
const AUDIT_PAGE: u64 = 50;

pub(crate) async fn audit_page(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
    Query(params): Query<AuditParams>,
) -> Result<Response, AppError> {
    if !is_manager(&user) {
        return Err(AppError::ManagersOnly);
    }
    let token = csrf::token(&session).await;
    let query = AuditQuery {
        user: Some(params.user.clone()).filter(|u| !u.is_empty()),
        kind: Some(params.kind.clone()).filter(|k| !k.is_empty()),
        page: params.page,
        per_page: AUDIT_PAGE,
    };
    let (entries, more) = db::audit_page(app.pool(), &user.clinic, &query)
        .await
        .context("audit log")?;
    let staff = db::users_of(app.pool(), &user.clinic)
        .await
        .context("audit log")?;
    let choice = |value: &str, label: &str, chosen: &str| Choice {
        value: value.to_string(),
        label: label.to_string(),
        chosen: value == chosen,
    };
    let users = std::iter::once(choice("", "everyone", &params.user))
        .chain(
            staff
                .iter()
                .map(|member| choice(&member.id, &member.name, &params.user)),
        )
        .collect();
    let kinds = std::iter::once(choice("", "every event", &params.kind))
        .chain(
            audit::KINDS
                .iter()
                .map(|kind| choice(kind, audit::event_words(kind), &params.kind)),
        )
        .collect();
    views::page(&AuditPage {
        layout: Layout::signed_in("Audit log", token, &user, "/settings/audit"),
        users,
        kinds,
        rows: audit::rows(&entries, &audit::name_in(&staff)),
        newer: params.page.checked_sub(1),
        older: more.then_some(params.page + 1),
        user: params.user,
        kind: params.kind,
    })
}
