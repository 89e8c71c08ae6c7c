//! The router: every page and action, with sessions (in the database), CSRF
//! protection, the fault log and the security headers.

use axum::Router;
use axum::routing::{get, post};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::handlers::{
    passkey_sign_in, passkeys, security, settings, sign_in, trusted_browsers, unlock,
};
use crate::{App, assets, csrf, error};

/// The application's routes.
pub fn router(app: App) -> Router {
    // The cookie lasts the browser session; the server ends sessions that are
    // idle or too old (see `session_store`).
    let sessions = SessionManagerLayer::new(app.sessions().clone())
        .with_name("clinic_session")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(app.secure_cookies())
        .with_expiry(Expiry::OnSessionEnd);
    Router::new()
        .route("/", get(sign_in::home))
        .route("/signin", get(sign_in::sign_in_page).post(sign_in::sign_in))
        // Passkey-first sign-in (JSON, from app.js).
        .route("/signin/passkey/begin", post(passkey_sign_in::begin))
        .route("/signin/passkey/finish", post(passkey_sign_in::finish))
        .route("/signin/second-step", get(sign_in::second_step_page))
        .route("/signin/second-step/code", post(sign_in::second_step_code))
        .route(
            "/signin/second-step/backup",
            post(sign_in::second_step_backup),
        )
        .route("/signin/unlock", get(unlock::unlock_page))
        .route("/signin/unlock/code", post(unlock::unlock_code))
        .route("/signin/setup", get(sign_in::forced_setup_page))
        .route("/signin/setup/skip", post(sign_in::skip_setup))
        .route("/signout", post(sign_in::sign_out))
        .route("/profile/security", get(security::profile_security))
        .route("/security/totp/begin", post(security::totp_begin))
        .route("/security/totp/confirm", post(security::totp_confirm))
        .route("/security/totp/import", post(security::totp_import))
        .route("/security/backup-codes", get(security::show_backup_codes))
        .route(
            "/security/backup-codes/regenerate",
            post(security::regenerate_codes),
        )
        // Set up a passkey, and the second step with one (JSON, from app.js).
        .nest("/passkeys", twofold_axum::passkey_router())
        .route("/security/passkeys/remove", post(passkeys::passkey_remove))
        .route("/security/disable", post(security::disable))
        .route("/security/checkup", post(security::confirm_checkup))
        .route("/security/remind-later", post(security::remind_later))
        .route(
            "/security/trusted-browsers/forget",
            post(trusted_browsers::forget),
        )
        .route(
            "/security/trusted-browsers/forget-all",
            post(trusted_browsers::forget_all),
        )
        .route("/settings/security", get(settings::settings_security))
        .route(
            "/settings/security/enforcement",
            post(settings::set_enforcement),
        )
        .route(
            "/settings/security/trusted-browsers",
            post(settings::set_trusted_browser_days),
        )
        .route("/settings/staff", get(settings::settings_staff))
        .route("/settings/staff/disable", post(settings::staff_disable))
        .route("/settings/staff/unlock", post(settings::staff_unlock))
        .route("/settings/audit", get(settings::audit_page))
        .route("/security/sessions/others", post(security::sign_out_others))
        .route("/assets/app.css", get(assets::style))
        .route("/assets/app.js", get(assets::script))
        .layer(axum::middleware::from_fn(csrf::guard))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            error::log_faults,
        ))
        .layer(axum::middleware::from_fn(assets::headers))
        .with_state(app)
}
