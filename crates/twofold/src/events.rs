//! Typed audit events, returned from each operation and delivered to an optional sink.

use serde::Serialize;
use twofold_policy::Mode;

/// A second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// An authenticator app.
    Totp,
    /// A passkey.
    Passkey,
    /// A backup code (recovery).
    BackupCode,
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
        at: u64,
    },
    /// Setup of a factor was confirmed.
    EnrollmentConfirmed {
        /// The user.
        user: String,
        /// The factor.
        factor: Factor,
        /// When.
        at: u64,
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
        at: u64,
    },
    /// A factor was removed by the user.
    FactorRemoved {
        /// The user.
        user: String,
        /// The factor.
        factor: Factor,
        /// When.
        at: u64,
    },
    /// A backup code was used.
    BackupCodeUsed {
        /// The user.
        user: String,
        /// Unused codes left.
        remaining: usize,
        /// When.
        at: u64,
    },
    /// A new backup-code set replaced the old one.
    BackupCodesRegenerated {
        /// The user.
        user: String,
        /// When.
        at: u64,
    },
    /// A second step succeeded.
    SignInSucceeded {
        /// The user.
        user: String,
        /// With which factor.
        factor: Factor,
        /// When.
        at: u64,
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
        at: u64,
    },
    /// Too many failures locked the account's second step.
    LockedOut {
        /// The user.
        user: String,
        /// Until when (`None`: until an administrator resets it).
        until: Option<u64>,
        /// When.
        at: u64,
    },
    /// The user turned off their own 2FA.
    TwoFactorDisabled {
        /// The user.
        user: String,
        /// When.
        at: u64,
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
        at: u64,
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
        at: u64,
    },
    /// The application deleted the user, and twofold forgot everything about
    /// them ([`TwoFactor::forget_user`](crate::TwoFactor::forget_user)).
    UserForgotten {
        /// The user.
        user: String,
        /// When.
        at: u64,
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
        at: u64,
    },
}

/// Receives every event as it happens (an audit log, metrics).
pub trait EventSink: Send + Sync {
    /// Records one event. Must not block for long; it runs on the request path.
    fn record(&self, event: &Event);
}
