//! Typed audit events, returned from each operation and delivered to an optional sink.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use twofold_policy::{Mode, Timestamp};

/// A second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// An authenticator app.
    Totp,
    /// A passkey.
    Passkey,
    /// A backup code (recovery).
    BackupCode,
}

/// Why a trusted browser stopped being trusted ([`Event::TrustedBrowserRevoked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrustRevocation {
    /// The user added or removed a factor, or replaced their backup codes.
    FactorChanged,
    /// The user turned 2FA off.
    TwoFactorDisabled,
    /// An administrator reset the user's 2FA.
    AdminReset,
    /// The user forgot this browser.
    Removed,
    /// The user forgot every browser.
    ForgetAll,
    /// Its previous token was presented again after it had been replaced: a
    /// copy of the browser's cookie is in use elsewhere.
    ReuseDetected,
    /// The user trusted more browsers than are kept; this one was the least
    /// recently used.
    Evicted,
}

/// Something that happened to a user's second factors or the organization's
/// enforcement. Serializes to JSON for an audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Setup of a factor began (for TOTP: a new secret and QR code).
    EnrollmentBegun {
        /// The user.
        user: String,
        /// The factor.
        factor: Factor,
        /// When.
        at: Timestamp,
    },
    /// Setup of a factor was confirmed.
    EnrollmentConfirmed {
        /// The user.
        user: String,
        /// The factor.
        factor: Factor,
        /// When.
        at: Timestamp,
    },
    /// A factor was added (a confirmed authenticator app, a registered passkey).
    FactorAdded {
        /// The user.
        user: String,
        /// The factor.
        factor: Factor,
        /// A passkey's name.
        name: Option<String>,
        /// When.
        at: Timestamp,
    },
    /// A factor was removed by the user.
    FactorRemoved {
        /// The user.
        user: String,
        /// The factor.
        factor: Factor,
        /// A passkey's name.
        name: Option<String>,
        /// When.
        at: Timestamp,
    },
    /// A backup code was used.
    BackupCodeUsed {
        /// The user.
        user: String,
        /// Unused codes left.
        remaining: usize,
        /// When.
        at: Timestamp,
    },
    /// The user's first backup-code set was created, with their first factor
    /// (or their next factor after every code was spent).
    BackupCodesCreated {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// A new backup-code set replaced the old one, at the user's request.
    BackupCodesRegenerated {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// An authenticator app's confirming code matched not the parameters it was
    /// offered but a fallback ([`TwoFactorConfig::totp_fallbacks`](crate::TwoFactorConfig::totp_fallbacks)):
    /// the app ignores them, and the ones it uses were stored.
    TotpParametersAdjusted {
        /// The user.
        user: String,
        /// What the QR code said.
        offered: crate::AppParameters,
        /// What the app uses, and what is now stored.
        used: crate::AppParameters,
        /// When.
        at: Timestamp,
    },
    /// An authenticator app whose clock is off was brought back in step with
    /// two consecutive codes (RFC 6238 §6); its window is now centred on it.
    TotpResynchronized {
        /// The user.
        user: String,
        /// Where the app's clock is, in time steps from the server's.
        drift_steps: i64,
        /// When.
        at: Timestamp,
    },
    /// A second step succeeded.
    SignInSucceeded {
        /// The user.
        user: String,
        /// With which factor.
        factor: Factor,
        /// When.
        at: Timestamp,
    },
    /// A second step failed.
    SignInFailed {
        /// The user.
        user: String,
        /// With which factor.
        factor: Factor,
        /// Why, in words (never the code).
        reason: String,
        /// Consecutive failures now.
        failures: u32,
        /// When.
        at: Timestamp,
    },
    /// Too many failures locked the account's second step.
    LockedOut {
        /// The user.
        user: String,
        /// Until when (`None`: until an administrator resets it).
        until: Option<Timestamp>,
        /// When.
        at: Timestamp,
    },
    /// The user turned off their own 2FA.
    TwoFactorDisabled {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// An administrator reset another user's 2FA.
    AdminReset {
        /// Who did it.
        actor: String,
        /// Whose.
        target: String,
        /// Why, as the actor wrote it.
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// An administrator unlocked another user's second step, keeping their factors.
    Unlocked {
        /// Who did it.
        actor: String,
        /// Whose.
        target: String,
        /// Why, as the actor wrote it.
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// A code of a self-service unlock was accepted; more are needed.
    SelfUnlockProgress {
        /// The user.
        user: String,
        /// Codes accepted in this sequence.
        entered: u32,
        /// Codes needed.
        needed: u32,
        /// When.
        at: Timestamp,
    },
    /// A self-service unlock code was wrong or replayed: the sequence ended,
    /// the cooldown began, and the failure counted (a `SignInFailed` follows
    /// with the count).
    SelfUnlockFailed {
        /// The user.
        user: String,
        /// Why, in words (never the code).
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// The user unlocked their own second step with consecutive codes from
    /// their authenticator app (the failure count toward the ceiling stays).
    SelfUnlocked {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// The application deleted the user, and twofold forgot everything about
    /// them ([`TwoFactor::forget_user`](crate::TwoFactor::forget_user)).
    UserForgotten {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// The user confirmed the check-up after enrolment (their backup codes are saved).
    CheckupConfirmed {
        /// The user.
        user: String,
        /// When.
        at: Timestamp,
    },
    /// After a second step, the user trusted a browser to skip it until `expires_at`.
    BrowserTrusted {
        /// The user.
        user: String,
        /// The trusted browser's id.
        browser: String,
        /// Its label.
        label: String,
        /// Until when.
        expires_at: Timestamp,
        /// When.
        at: Timestamp,
    },
    /// A trusted browser skipped the second step (its token was replaced).
    TrustedBrowserUsed {
        /// The user.
        user: String,
        /// The trusted browser's id.
        browser: String,
        /// When.
        at: Timestamp,
    },
    /// A browser is no longer trusted.
    TrustedBrowserRevoked {
        /// The user.
        user: String,
        /// The trusted browser's id.
        browser: String,
        /// Why.
        reason: TrustRevocation,
        /// When.
        at: Timestamp,
    },
    /// The organization's enforcement changed.
    EnforcementChanged {
        /// Who changed it.
        actor: String,
        /// The organization.
        organization: String,
        /// Before.
        from: Mode,
        /// After.
        to: Mode,
        /// When.
        at: Timestamp,
    },
}

impl Event {
    /// The event's name, as in its JSON form's `event` field (`admin_reset`).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::EnrollmentBegun { .. } => "enrollment_begun",
            Event::EnrollmentConfirmed { .. } => "enrollment_confirmed",
            Event::FactorAdded { .. } => "factor_added",
            Event::FactorRemoved { .. } => "factor_removed",
            Event::BackupCodeUsed { .. } => "backup_code_used",
            Event::BackupCodesCreated { .. } => "backup_codes_created",
            Event::BackupCodesRegenerated { .. } => "backup_codes_regenerated",
            Event::TotpParametersAdjusted { .. } => "totp_parameters_adjusted",
            Event::TotpResynchronized { .. } => "totp_resynchronized",
            Event::SignInSucceeded { .. } => "sign_in_succeeded",
            Event::SignInFailed { .. } => "sign_in_failed",
            Event::LockedOut { .. } => "locked_out",
            Event::TwoFactorDisabled { .. } => "two_factor_disabled",
            Event::AdminReset { .. } => "admin_reset",
            Event::Unlocked { .. } => "unlocked",
            Event::SelfUnlockProgress { .. } => "self_unlock_progress",
            Event::SelfUnlockFailed { .. } => "self_unlock_failed",
            Event::SelfUnlocked { .. } => "self_unlocked",
            Event::UserForgotten { .. } => "user_forgotten",
            Event::CheckupConfirmed { .. } => "checkup_confirmed",
            Event::EnforcementChanged { .. } => "enforcement_changed",
            Event::BrowserTrusted { .. } => "browser_trusted",
            Event::TrustedBrowserUsed { .. } => "trusted_browser_used",
            Event::TrustedBrowserRevoked { .. } => "trusted_browser_revoked",
        }
    }

    /// When it happened.
    pub fn at(&self) -> Timestamp {
        match self {
            Event::EnrollmentBegun { at, .. }
            | Event::EnrollmentConfirmed { at, .. }
            | Event::FactorAdded { at, .. }
            | Event::FactorRemoved { at, .. }
            | Event::BackupCodeUsed { at, .. }
            | Event::BackupCodesCreated { at, .. }
            | Event::BackupCodesRegenerated { at, .. }
            | Event::TotpParametersAdjusted { at, .. }
            | Event::TotpResynchronized { at, .. }
            | Event::SignInSucceeded { at, .. }
            | Event::SignInFailed { at, .. }
            | Event::LockedOut { at, .. }
            | Event::TwoFactorDisabled { at, .. }
            | Event::AdminReset { at, .. }
            | Event::Unlocked { at, .. }
            | Event::SelfUnlockProgress { at, .. }
            | Event::SelfUnlockFailed { at, .. }
            | Event::SelfUnlocked { at, .. }
            | Event::UserForgotten { at, .. }
            | Event::CheckupConfirmed { at, .. }
            | Event::EnforcementChanged { at, .. }
            | Event::BrowserTrusted { at, .. }
            | Event::TrustedBrowserUsed { at, .. }
            | Event::TrustedBrowserRevoked { at, .. } => *at,
        }
    }

    /// Who acted: the administrator or owner for their actions, otherwise the
    /// user themself.
    pub fn actor(&self) -> &str {
        match self {
            Event::AdminReset { actor, .. }
            | Event::Unlocked { actor, .. }
            | Event::EnforcementChanged { actor, .. } => actor,
            Event::EnrollmentBegun { user, .. }
            | Event::EnrollmentConfirmed { user, .. }
            | Event::FactorAdded { user, .. }
            | Event::FactorRemoved { user, .. }
            | Event::BackupCodeUsed { user, .. }
            | Event::BackupCodesCreated { user, .. }
            | Event::BackupCodesRegenerated { user, .. }
            | Event::TotpParametersAdjusted { user, .. }
            | Event::TotpResynchronized { user, .. }
            | Event::SignInSucceeded { user, .. }
            | Event::SignInFailed { user, .. }
            | Event::LockedOut { user, .. }
            | Event::TwoFactorDisabled { user, .. }
            | Event::SelfUnlockProgress { user, .. }
            | Event::SelfUnlockFailed { user, .. }
            | Event::SelfUnlocked { user, .. }
            | Event::UserForgotten { user, .. }
            | Event::CheckupConfirmed { user, .. }
            | Event::BrowserTrusted { user, .. }
            | Event::TrustedBrowserUsed { user, .. }
            | Event::TrustedBrowserRevoked { user, .. } => user,
        }
    }

    /// Whose second factors it concerns: the user, or an administrator's
    /// target (`None` for an organization-wide change).
    pub fn subject(&self) -> Option<&str> {
        match self {
            Event::AdminReset { target, .. } | Event::Unlocked { target, .. } => Some(target),
            Event::EnforcementChanged { .. } => None,
            _ => Some(self.actor()),
        }
    }

    /// The other account an administrator acted on (`None` for the user's own
    /// events and organization-wide ones).
    pub fn target(&self) -> Option<&str> {
        match self {
            Event::AdminReset { target, .. } | Event::Unlocked { target, .. } => Some(target),
            _ => None,
        }
    }
}

/// The future an [`EventSink`] returns.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Receives every event as it happens (an audit log, metrics), asynchronously:
/// the facade awaits each event's future, in order, after the change is stored
/// and before the operation returns. So a sink may write to a database (the
/// audit log in the same database as the application), and an event is never
/// lost between a stored change and the response. A sink that must not slow
/// requests down can push into a queue of its own and return at once.
///
/// ```
/// use twofold::{Event, EventSink, SinkFuture};
///
/// struct Log;
///
/// impl EventSink for Log {
///     fn record<'a>(&'a self, event: &'a Event) -> SinkFuture<'a> {
///         Box::pin(async move { println!("{} {}", event.kind(), event.subject().unwrap_or("")) })
///     }
/// }
/// ```
pub trait EventSink: Send + Sync {
    /// Records one event. It runs on the request path: keep it short, and
    /// never block the executor (await I/O instead).
    fn record<'a>(&'a self, event: &'a Event) -> SinkFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_event() -> Vec<Event> {
        let user = || "ana".to_string();
        vec![
            Event::EnrollmentBegun {
                user: user(),
                factor: Factor::Totp,
                at: Timestamp::from_unix_seconds(1),
            },
            Event::EnrollmentConfirmed {
                user: user(),
                factor: Factor::Totp,
                at: Timestamp::from_unix_seconds(2),
            },
            Event::FactorAdded {
                user: user(),
                factor: Factor::Passkey,
                name: None,
                at: Timestamp::from_unix_seconds(3),
            },
            Event::FactorRemoved {
                user: user(),
                factor: Factor::Passkey,
                name: Some("Phone".into()),
                at: Timestamp::from_unix_seconds(4),
            },
            Event::BackupCodeUsed {
                user: user(),
                remaining: 9,
                at: Timestamp::from_unix_seconds(5),
            },
            Event::BackupCodesRegenerated {
                user: user(),
                at: Timestamp::from_unix_seconds(6),
            },
            Event::SignInSucceeded {
                user: user(),
                factor: Factor::Totp,
                at: Timestamp::from_unix_seconds(7),
            },
            Event::SignInFailed {
                user: user(),
                factor: Factor::Totp,
                reason: "wrong".into(),
                failures: 1,
                at: Timestamp::from_unix_seconds(8),
            },
            Event::LockedOut {
                user: user(),
                until: None,
                at: Timestamp::from_unix_seconds(9),
            },
            Event::TwoFactorDisabled {
                user: user(),
                at: Timestamp::from_unix_seconds(10),
            },
            Event::AdminReset {
                actor: "olivia".into(),
                target: user(),
                reason: "r".into(),
                at: Timestamp::from_unix_seconds(11),
            },
            Event::Unlocked {
                actor: "olivia".into(),
                target: user(),
                reason: "r".into(),
                at: Timestamp::from_unix_seconds(12),
            },
            Event::UserForgotten {
                user: user(),
                at: Timestamp::from_unix_seconds(13),
            },
            Event::SelfUnlockProgress {
                user: user(),
                entered: 1,
                needed: 3,
                at: Timestamp::from_unix_seconds(15),
            },
            Event::SelfUnlockFailed {
                user: user(),
                reason: "wrong".into(),
                at: Timestamp::from_unix_seconds(16),
            },
            Event::SelfUnlocked {
                user: user(),
                at: Timestamp::from_unix_seconds(17),
            },
            Event::EnforcementChanged {
                actor: "olivia".into(),
                organization: "smile".into(),
                from: Mode::Optional,
                to: Mode::Required,
                at: Timestamp::from_unix_seconds(14),
            },
            Event::BrowserTrusted {
                user: user(),
                browser: "b1".into(),
                label: "Chrome on Linux".into(),
                expires_at: Timestamp::from_unix_seconds(99),
                at: Timestamp::from_unix_seconds(15),
            },
            Event::TrustedBrowserUsed {
                user: user(),
                browser: "b1".into(),
                at: Timestamp::from_unix_seconds(16),
            },
            Event::TrustedBrowserRevoked {
                user: user(),
                browser: "b1".into(),
                reason: TrustRevocation::ReuseDetected,
                at: Timestamp::from_unix_seconds(17),
            },
        ]
    }

    /// The accessors agree with the JSON form (the serde derive is the oracle).
    #[test]
    fn accessors_agree_with_the_json_form() {
        for event in every_event() {
            let json = serde_json::to_value(&event).unwrap_or_default();
            assert_eq!(Some(event.kind()), json["event"].as_str(), "{event:?}");
            assert_eq!(
                Some(event.at().to_string().as_str()),
                json["at"].as_str(),
                "{event:?}"
            );
            let actor = json["actor"].as_str().or(json["user"].as_str());
            assert_eq!(Some(event.actor()), actor, "{event:?}");
            let subject = json["target"].as_str().or(json["user"].as_str());
            assert_eq!(event.subject(), subject, "{event:?}");
            assert_eq!(event.target(), json["target"].as_str(), "{event:?}");
        }
    }
}
