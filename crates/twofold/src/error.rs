//! The facade's error type.

use std::fmt;

use twofold_policy::Reason;

use crate::events::Event;
use crate::lock::Lock;
use crate::store::StoreError;

/// What is wrong with a [`TwoFactorConfig`](crate::TwoFactorConfig).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// More TOTP fallbacks than [`MAX_TOTP_FALLBACKS`](crate::MAX_TOTP_FALLBACKS).
    #[error("at most {max} TOTP fallbacks")]
    TooManyTotpFallbacks {
        /// The most there may be.
        max: usize,
    },
    /// A TOTP fallback that is not valid TOTP (digits not 6 to 8, period 0).
    #[error("the TOTP fallback {0:?} is not valid")]
    InvalidTotpFallback(crate::AppParameters),
    /// A drift or resync range beyond [`MAX_TOTP_DRIFT_STEPS`](crate::MAX_TOTP_DRIFT_STEPS).
    #[error("TOTP drift and resync ranges are at most {max} steps")]
    TotpDriftTooLarge {
        /// The largest allowed.
        max: u8,
    },
}

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
    #[error("the code could not be read")]
    InvalidCode(#[source] InvalidCode),
    /// The code or passkey did not match.
    #[error("that code is not correct")]
    WrongCode,
    /// The code was already used (a replayed TOTP code or a used backup code).
    #[error("that code was already used")]
    CodeAlreadyUsed,
    /// The authenticator-app code is not valid now, but is the app's code for a
    /// time `drift_steps` steps away (negative: the phone's clock is behind):
    /// its clock is off. It was not accepted, and counted as a failure; the
    /// app's next code, entered next, brings it back in step and signs in.
    /// Or set the phone's clock to automatic and try again.
    #[error(
        "that code is from an authenticator whose clock is {drift_steps} time steps off; enter its next code to resynchronise, or set the phone's time to automatic"
    )]
    ResyncNeeded {
        /// Where the app's clock is, in time steps from the server's.
        drift_steps: i64,
    },
    /// Too many failures: the second step is locked (see the [`Lock`]).
    #[error("too many attempts: {lock}")]
    Locked {
        /// How long, or until whom.
        lock: Lock,
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
    /// The user already has this factor (an import never replaces one: remove
    /// it first).
    #[error("the user has already set up {0}")]
    AlreadyEnrolled(&'static str),
    /// An imported secret is not one this facade can use as an authenticator
    /// app (an HOTP entry: its counter cannot be turned into a time step).
    #[error("that entry is not a time-based (TOTP) authenticator")]
    NotTotp,
    /// Self-service unlock refused this code or this moment, without
    /// counting a failure (see [`SelfUnlockError`]).
    #[error(transparent)]
    SelfUnlock(SelfUnlockError),
    /// There is no setup in progress to confirm.
    #[error("there is no setup in progress; start again")]
    NoPendingEnrollment,
    /// The policy does not permit it; the reason is UI text.
    #[error("not permitted: {0}")]
    Denied(Reason),
    /// A passkey ceremony failed.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[error("the passkey was not accepted")]
    Passkey(#[source] twofold_passkey::PasskeyError),
    /// Passkeys are not configured ([`TwoFactorConfig::passkeys`](crate::TwoFactorConfig::passkeys) is `None`).
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[error("passkeys are not set up on this server")]
    PasskeysOff,
    /// A username-less sign-in was answered with a passkey that is not
    /// registered here (removed, or never registered): the page may pass the
    /// `signalUnknownCredential` options it carries to the browser, so that
    /// the password manager stops offering it.
    #[cfg(feature = "passkey")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkey")))]
    #[error("that passkey is not registered here")]
    UnknownCredential(crate::UnknownCredential),
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
    #[error("stored data is corrupt")]
    Corrupt(#[source] Corrupt),
    /// The stored policy is invalid.
    #[error("the organization's policy is invalid")]
    Policy(#[source] twofold_policy::PolicyError),
    /// The facade's configuration is invalid.
    #[error("the configuration is invalid")]
    Config(#[source] ConfigError),
    /// The randomness source failed.
    #[error("the randomness source is unavailable")]
    RandomnessUnavailable,
    /// Setup could not be prepared: the URI, the QR code or the backup codes.
    #[error("the enrollment could not be prepared")]
    Enrollment(#[source] EnrollmentError),
    /// Too much is in flight: too many costly checks waiting for the offload,
    /// or too many username-less sign-ins outstanding. Nothing was changed;
    /// try again shortly.
    #[error("too many requests are in flight; try again shortly")]
    Busy,
    /// Offloaded work did not complete (it panicked, or its thread was lost).
    #[error("a background computation did not complete")]
    OffloadLost,
}

/// Why [`TwoFactor::self_unlock`](crate::TwoFactor::self_unlock) took no code
/// now ([`TwoFactorError::SelfUnlock`]). None of these counts as a failure: no
/// code was compared, or the code was the one just accepted. A wrong or
/// replayed code is [`TwoFactorError::WrongCode`] or
/// [`TwoFactorError::CodeAlreadyUsed`], counted, and starts the cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelfUnlockError {
    /// The second step is not under a timed lockout (not locked, or only
    /// waiting out a short back-off): sign in as usual.
    #[error("the account is not locked; sign in as usual")]
    NotLocked,
    /// A wrong unlock code started a cooldown: no code is taken before it ends.
    #[error("unlocking is paused after a wrong code; try again in {retry_after} s")]
    CoolingDown {
        /// Seconds until the cooldown ends.
        retry_after: u64,
    },
    /// The sequence took longer than the policy's deadline: it was dropped,
    /// and the next code starts a new one.
    #[error("the unlock sequence took too long; start again")]
    DeadlinePassed,
    /// The code is the one just accepted (the same time step): wait for the
    /// app's next code.
    #[error("that code was just used; wait for the next code")]
    SameStep,
}

/// Why a typed code could not be read ([`TwoFactorError::InvalidCode`]). It
/// never repeats the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCode {
    /// An authenticator-app code: not the configured number of digits.
    #[error(transparent)]
    Totp(#[from] twofold_totp::CodeError),
    /// A backup code: the wrong length or characters.
    #[error(transparent)]
    BackupCode(#[from] twofold_backup::InputError),
}

/// What stored data could not be read ([`TwoFactorError::Corrupt`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Corrupt {
    /// The stored backup-code set does not decode.
    #[error("the backup-code set does not decode")]
    BackupCodes(#[source] twofold_backup::Error),
    /// A stored record does not decode ([`StoreError::Corrupt`]).
    #[error("the stored {what} does not decode")]
    Record {
        /// Which record.
        what: &'static str,
        /// What is wrong with it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a setup could not be prepared ([`TwoFactorError::Enrollment`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollmentError {
    /// The `otpauth://` URI could not be built (the issuer or account name).
    #[error(transparent)]
    Uri(#[from] twofold_totp::UriError),
    /// The QR code could not be rendered.
    #[error(transparent)]
    Qr(#[from] twofold_totp::QrError),
    /// The backup codes could not be generated (Argon2 failed, say).
    #[error(transparent)]
    BackupCodes(#[from] twofold_backup::Error),
}

/// What kind of failure an error is: what the user can fix, and what is the
/// server's. Apps decide their answer (a message, a status code, a log line)
/// from this, never by matching variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The answer was wrong, already used or unreadable: try again.
    Wrong,
    /// The challenge, setup or ceremony is gone or expired: start again.
    Expired,
    /// Too many failures: wait, or ask an administrator (see the [`Lock`]).
    Locked,
    /// The policy does not allow it, or the factor is not set up.
    Denied,
    /// A recent password entry is needed first.
    Reauthenticate,
    /// Too much in flight, or too much contention: nothing changed; retry shortly.
    Unavailable,
    /// The server's fault (storage, keys, stored data, configuration): log it.
    Server,
}

impl ErrorKind {
    /// Whether the user can fix it (the first five kinds).
    pub fn is_user_fixable(self) -> bool {
        matches!(
            self,
            ErrorKind::Wrong
                | ErrorKind::Expired
                | ErrorKind::Locked
                | ErrorKind::Denied
                | ErrorKind::Reauthenticate
        )
    }
}

impl TwoFactorError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TwoFactorError::InvalidCode(_)
            | TwoFactorError::WrongCode
            | TwoFactorError::ResyncNeeded { .. }
            | TwoFactorError::CodeAlreadyUsed => ErrorKind::Wrong,
            #[cfg(feature = "passkey")]
            TwoFactorError::Passkey(twofold_passkey::PasskeyError::Expired) => ErrorKind::Expired,
            #[cfg(feature = "passkey")]
            TwoFactorError::Passkey(_) | TwoFactorError::UnknownCredential(_) => ErrorKind::Wrong,
            TwoFactorError::Locked { .. }
            | TwoFactorError::SelfUnlock(SelfUnlockError::CoolingDown { .. }) => ErrorKind::Locked,
            TwoFactorError::SelfUnlock(SelfUnlockError::SameStep) => ErrorKind::Wrong,
            TwoFactorError::SelfUnlock(_) => ErrorKind::Expired,
            TwoFactorError::NoChallenge
            | TwoFactorError::Expired
            | TwoFactorError::NoPendingEnrollment => ErrorKind::Expired,
            TwoFactorError::Denied(Reason::ReauthenticationRequired) => ErrorKind::Reauthenticate,
            TwoFactorError::Denied(_)
            | TwoFactorError::NotEnrolled(_)
            | TwoFactorError::AlreadyEnrolled(_)
            | TwoFactorError::NotTotp => ErrorKind::Denied,
            #[cfg(feature = "passkey")]
            TwoFactorError::PasskeysOff => ErrorKind::Denied,
            TwoFactorError::Busy | TwoFactorError::Contended => ErrorKind::Unavailable,
            TwoFactorError::Store(_)
            | TwoFactorError::UnknownKey { .. }
            | TwoFactorError::SecretUnreadable
            | TwoFactorError::Corrupt(_)
            | TwoFactorError::Policy(_)
            | TwoFactorError::Config(_)
            | TwoFactorError::RandomnessUnavailable
            | TwoFactorError::Enrollment(_)
            | TwoFactorError::OffloadLost => ErrorKind::Server,
        }
    }
}

impl Failure {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }
}

/// The error for a credential id that another user holds: without the
/// `passkey` feature no write binds one, so only a misbehaving store says so.
#[cfg(not(feature = "passkey"))]
pub(crate) fn credential_in_use() -> TwoFactorError {
    TwoFactorError::Store(StoreError::CredentialInUse)
}

impl From<StoreError> for TwoFactorError {
    fn from(error: StoreError) -> TwoFactorError {
        match error {
            StoreError::Corrupt { what, source } => {
                TwoFactorError::Corrupt(Corrupt::Record { what, source })
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
    /// The lock this failure started (a wrong answer that begins a back-off or a
    /// lockout), or met ([`TwoFactorError::Locked`]): the wait comes with the
    /// failure, so that an app needs no second `status()` call.
    pub lock: Option<Lock>,
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
        let lock = match &error {
            TwoFactorError::Locked { lock } => Some(*lock),
            _ => None,
        };
        Failure {
            error,
            events: Vec::new(),
            lock,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::from(TwoFactorError::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_the_kind_an_app_acts_on() {
        #[cfg(feature = "passkey")]
        use twofold_passkey::PasskeyError;
        let table = [
            (
                TwoFactorError::InvalidCode(InvalidCode::BackupCode(
                    twofold_backup::InputError::TooLong { max_bytes: 64 },
                )),
                ErrorKind::Wrong,
            ),
            (TwoFactorError::WrongCode, ErrorKind::Wrong),
            (TwoFactorError::CodeAlreadyUsed, ErrorKind::Wrong),
            #[cfg(feature = "passkey")]
            (
                TwoFactorError::Passkey(PasskeyError::InvalidRequest("x")),
                ErrorKind::Wrong,
            ),
            #[cfg(feature = "passkey")]
            (
                TwoFactorError::Passkey(PasskeyError::Expired),
                ErrorKind::Expired,
            ),
            (
                TwoFactorError::Locked {
                    lock: Lock::UntilReset,
                },
                ErrorKind::Locked,
            ),
            (TwoFactorError::NoChallenge, ErrorKind::Expired),
            (TwoFactorError::Expired, ErrorKind::Expired),
            (TwoFactorError::NoPendingEnrollment, ErrorKind::Expired),
            (
                TwoFactorError::Denied(Reason::ReauthenticationRequired),
                ErrorKind::Reauthenticate,
            ),
            (
                TwoFactorError::Denied(Reason::MethodNotAllowed),
                ErrorKind::Denied,
            ),
            (TwoFactorError::NotEnrolled("passkeys"), ErrorKind::Denied),
            (TwoFactorError::Busy, ErrorKind::Unavailable),
            (TwoFactorError::Contended, ErrorKind::Unavailable),
            (
                TwoFactorError::UnknownKey { key_id: "k".into() },
                ErrorKind::Server,
            ),
            (TwoFactorError::SecretUnreadable, ErrorKind::Server),
            (
                TwoFactorError::Corrupt(Corrupt::BackupCodes(twofold_backup::Error::Random)),
                ErrorKind::Server,
            ),
            (TwoFactorError::RandomnessUnavailable, ErrorKind::Server),
            (
                TwoFactorError::Enrollment(EnrollmentError::BackupCodes(
                    twofold_backup::Error::Random,
                )),
                ErrorKind::Server,
            ),
            (TwoFactorError::OffloadLost, ErrorKind::Server),
        ];
        for (error, kind) in table {
            assert_eq!(error.kind(), kind, "{error:?}");
            assert_eq!(
                kind.is_user_fixable(),
                !matches!(kind, ErrorKind::Unavailable | ErrorKind::Server),
                "{kind:?}"
            );
            assert_eq!(Failure::from(error).kind(), kind);
        }
        // A failure built from a lock carries it.
        let locked = Failure::from(TwoFactorError::Locked {
            lock: Lock::RetryAfter { seconds: 5 },
        });
        assert_eq!(locked.lock, Some(Lock::RetryAfter { seconds: 5 }));
        assert_eq!(Failure::from(TwoFactorError::WrongCode).lock, None);
    }

    /// The typed causes keep the chain: an app can walk `source()` down to the
    /// decoder's or the parser's own error.
    #[test]
    fn typed_causes_keep_their_source() {
        use std::error::Error as _;
        let decode = serde_json::from_str::<u8>("x").unwrap_err();
        let error = TwoFactorError::from(StoreError::Corrupt {
            what: "user record",
            source: Box::new(decode),
        });
        let failure = Failure::from(error);
        let corrupt = failure.source().and_then(|e| e.source());
        assert!(corrupt.is_some_and(|e| e.to_string().starts_with("the stored user record")));
        let decoder = corrupt.and_then(|e| e.source());
        assert!(
            decoder.is_some_and(|e| e.is::<serde_json::Error>()),
            "{decoder:?}"
        );

        let code = twofold_totp::Code::parse("12", twofold_totp::Digits::SIX).unwrap_err();
        let error = TwoFactorError::InvalidCode(code.clone().into());
        let cause = error.source().and_then(|e| e.downcast_ref::<InvalidCode>());
        assert_eq!(cause, Some(&InvalidCode::Totp(code)));
    }
}
