//! Security notifications: what a user must hear about their second factors,
//! written to an outbox in the same conditional write as the change itself,
//! and delivered at least once, with a stable id, by
//! [`TwoFactor::deliver_notifications`](crate::TwoFactor::deliver_notifications).

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use twofold_policy::Timestamp;

use crate::events::Factor;

/// What a security notification tells the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Notice {
    /// A factor was added to the account (NIST SP 800-63B rev. 4 §4.1.2.1).
    FactorAdded {
        /// The factor.
        factor: Factor,
        /// A passkey's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A factor was removed by the user.
    FactorRemoved {
        /// The factor.
        factor: Factor,
        /// A passkey's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The user turned off two-factor authentication.
    TwoFactorDisabled,
    /// A new set of backup codes replaced the old one.
    BackupCodesRegenerated,
    /// A backup code was used to sign in.
    BackupCodeUsed {
        /// Unused codes left.
        remaining: usize,
        /// Whether that is at or below the low threshold: time to make new ones.
        low: bool,
    },
    /// Too many wrong codes locked the account's second step.
    LockedOut {
        /// Until when; `None`: until an administrator unlocks it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
    },
    /// An administrator reset the user's two-factor authentication.
    AdminReset {
        /// Who did it.
        actor: String,
    },
    /// An administrator unlocked the user's second step.
    AdminUnlocked {
        /// Who did it.
        actor: String,
    },
    /// The user unlocked their own second step with codes from their app.
    SelfUnlocked,
    /// A browser was trusted to skip the second step.
    BrowserTrusted {
        /// Its label ("Chrome on Linux").
        label: String,
    },
    /// The organization's enforcement now requires a second factor of this
    /// user: written when their grace period starts (their first sign-in after
    /// the change), in that sign-in's write.
    EnrollmentRequired {
        /// The end of their grace period.
        deadline: Timestamp,
    },
}

impl Notice {
    /// The notice's name, as in its JSON form's `notice` field (`factor_added`).
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::FactorAdded { .. } => "factor_added",
            Notice::FactorRemoved { .. } => "factor_removed",
            Notice::TwoFactorDisabled => "two_factor_disabled",
            Notice::BackupCodesRegenerated => "backup_codes_regenerated",
            Notice::BackupCodeUsed { .. } => "backup_code_used",
            Notice::LockedOut { .. } => "locked_out",
            Notice::AdminReset { .. } => "admin_reset",
            Notice::AdminUnlocked { .. } => "admin_unlocked",
            Notice::EnrollmentRequired { .. } => "enrollment_required",
            Notice::BrowserTrusted { .. } => "browser_trusted",
            Notice::SelfUnlocked => "self_unlocked",
        }
    }
}

/// One notification to send: hand it to the mailer. Its `id` is the same on
/// every attempt, so that a mailer that saw it already (an earlier attempt
/// whose success was not recorded) can drop the duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Stable across attempts: the deduplication key.
    pub id: String,
    /// The user it is for (the application knows their address).
    pub user: String,
    /// What happened.
    pub notice: Notice,
    /// When it happened.
    pub at: Timestamp,
    /// This delivery's attempt, from 1.
    pub attempt: u32,
}

/// A user's security activity, for their profile page: the notifications of
/// their record, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// The notification's id.
    pub id: String,
    /// What happened.
    pub notice: Notice,
    /// When it happened.
    pub at: Timestamp,
    /// When it was delivered; `None`: not yet.
    pub delivered_at: Option<Timestamp>,
}

/// A mailer refused or failed a notification: it is tried again later.
#[derive(Debug, thiserror::Error)]
#[error("the notification could not be sent")]
#[non_exhaustive]
pub struct SendError {
    /// The mailer's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl SendError {
    /// Wraps the mailer's error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SendError {
        SendError {
            source: source.into(),
        }
    }
}

/// The future a [`NotificationSender`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Sends security notifications (by email, say): the application's mailer.
/// Called by [`TwoFactor::deliver_notifications`](crate::TwoFactor::deliver_notifications)
/// at least once per notification; an `Ok` is final, an `Err` is retried with
/// back-off.
pub trait NotificationSender: Send + Sync {
    /// Sends one notification.
    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a>;
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Delivered {
    /// Notifications the sender accepted.
    pub sent: u64,
    /// Notifications the sender failed: tried again after a back-off.
    pub failed: u64,
    /// Records that could not be read or written this round (tried again next round).
    pub skipped: u64,
}
