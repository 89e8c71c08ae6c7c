//! The facade's error type.

use std::fmt;

use twofold_policy::Reason;

use crate::events::Event;
use crate::store::StoreError;

/// Why an operation failed. Each variant says what the caller can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TwoFactorError {
    /// The store failed; nothing was changed by this operation (retry later).
    #[error("the store failed")]
    Store(#[source] StoreError),
    /// The record kept changing under this operation; it gave up (retry).
    #[error("the record was changed concurrently too often; try again")]
    Contended,
    /// The input could not be read: wrong length, not digits, too long.
    #[error("the code could not be read: {0}")]
    InvalidCode(String),
    /// The code or passkey did not match.
    #[error("that code is not correct")]
    WrongCode,
    /// The code was already used (a replayed TOTP code or a used backup code).
    #[error("that code was already used")]
    CodeAlreadyUsed,
    /// Too many failures: wait `retry_after_seconds`, or (if `None`) ask an administrator.
    #[error("too many attempts")]
    Locked {
        /// Seconds to wait, or `None` until an administrator resets it.
        retry_after_seconds: Option<u64>,
    },
    /// There is no such open challenge (never issued, already used, or replaced).
    #[error("there is no open sign-in challenge with that id; sign in again")]
    NoChallenge,
    /// The challenge or setup has expired.
    #[error("the challenge or setup expired; start again")]
    Expired,
    /// The user has no such factor.
    #[error("the user has not set up {0}")]
    NotEnrolled(&'static str),
    /// There is no setup in progress to confirm.
    #[error("there is no setup in progress; start again")]
    NoPendingEnrollment,
    /// The policy does not permit it; the reason is UI text.
    #[error("not permitted: {0}")]
    Denied(Reason),
    /// A passkey ceremony failed.
    #[error("the passkey was not accepted")]
    Passkey(#[source] twofold_passkey::PasskeyError),
    /// A stored secret is sealed under a key id the keyring does not have.
    #[error("the stored secret is sealed under an unknown key {key_id:?}")]
    UnknownKey {
        /// The key id in the record.
        key_id: String,
    },
    /// A stored secret could not be opened (tampered with, or under the wrong key).
    #[error("the stored secret could not be opened")]
    SecretUnreadable,
    /// A stored record could not be read (corrupt or tampered with).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The stored policy is invalid.
    #[error("the organisation's policy is invalid")]
    Policy(#[source] twofold_policy::PolicyError),
    /// The randomness source failed.
    #[error("the randomness source is unavailable")]
    RandomnessUnavailable,
    /// Setup could not build the QR code or URI.
    #[error("the enrolment could not be prepared: {0}")]
    Enrollment(String),
    /// Too much is in flight: too many costly checks waiting for the offload,
    /// or too many username-less sign-ins outstanding. Nothing was changed;
    /// try again shortly.
    #[error("too many requests are in flight; try again shortly")]
    Busy,
    /// Offloaded work did not complete (it panicked, or its thread was lost).
    #[error("a background computation did not complete")]
    OffloadLost,
}

impl From<StoreError> for TwoFactorError {
    fn from(error: StoreError) -> TwoFactorError {
        match error {
            StoreError::Corrupt { what, reason } => {
                TwoFactorError::Corrupt(format!("{what}: {reason}"))
            }
            other => TwoFactorError::Store(other),
        }
    }
}

/// A failed operation: the error, and the audit events it produced (a failed
/// sign-in is an event too). The events were also given to the `EventSink`.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: TwoFactorError,
    /// What happened all the same.
    pub events: Vec<Event>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<TwoFactorError> for Failure {
    fn from(error: TwoFactorError) -> Failure {
        Failure {
            error,
            events: Vec::new(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::from(TwoFactorError::from(error))
    }
}
