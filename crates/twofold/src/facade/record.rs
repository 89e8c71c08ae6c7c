//! What every flow shares: the one conditional-write loop over user records,
//! the throttle, and the policy facts of a record.

use std::sync::Arc;

use twofold_backup::BackupCodeSet;
use twofold_passkey::CredentialId;
#[cfg(feature = "passkey")]
use twofold_passkey::PasskeyError;
use twofold_policy::{Method, Methods, Permission, Policy, Reason, Throttle, Timestamp, UserFacts};

use crate::crypto::SealedSecret;
use crate::error::{Corrupt, Failure, TwoFactorError};
use crate::events::{Event, Factor};
use crate::lock::Lock;
use crate::store::{
    CredentialChanges, RemovedBy, SignInChallenge, StoreError, UserRecord, Versioned,
};

use super::TwoFactor;
#[cfg(feature = "passkey")]
use super::notifications::retired_passkey;
use super::notifications::{retire, retired_totp};
use super::types::*;

/// How many times an operation re-reads and retries after losing a conditional write.
pub(super) const MAX_ATTEMPTS: usize = 16;
/// The most user records one automatic sweep rewrites.
pub(super) const SWEEP_BATCH: usize = 64;

/// What a record-update closure decided. The closure returns
/// `Result<Change<T>, Failure>`: `Err` fails without writing, so that `?`
/// works inside it.
pub(super) enum Change<T> {
    /// Nothing to write.
    Keep(T),
    /// Write the record, then succeed.
    Write(T),
    /// Write the record (a failure count), then fail.
    WriteThenFail(Failure),
}

/// One attempt at a conditional write: settled (with its outcome), or lost to
/// a concurrent writer, so that [`retry`] reads again and retries.
pub(super) enum Attempt<T> {
    /// The write happened, or nothing needed writing.
    Settled(T),
    /// The record changed since it was read (`StoreError::Conflict`).
    Lost,
}

/// The one retry loop behind every conditional write of the facade: evaluates
/// `$attempt` (an `async` body yielding `Result<Attempt<T>, Failure>`) until it
/// settles, at most [`MAX_ATTEMPTS`] times, then gives up with
/// [`TwoFactorError::Contended`]; evaluates to `Result<T, Failure>`.
///
/// A macro rather than a function taking an async closure: the futures of an
/// `AsyncFnMut` cannot yet be proved `Send` for every borrow, and the facade's
/// futures must be `Send` (axum, `tokio::spawn`).
macro_rules! retry {
    ($attempt:block) => {
        async {
            for _ in 0..$crate::facade::record::MAX_ATTEMPTS {
                let attempt: Result<$crate::facade::record::Attempt<_>, $crate::error::Failure> =
                    async { $attempt }.await;
                match attempt {
                    Ok($crate::facade::record::Attempt::Settled(value)) => return Ok(value),
                    Ok($crate::facade::record::Attempt::Lost) => {}
                    Err(failure) => return Err(failure),
                }
            }
            Err($crate::error::Failure::from(
                $crate::error::TwoFactorError::Contended,
            ))
        }
        .await
    };
}
pub(super) use retry;

impl<T> Attempt<T> {
    /// The settled value, mapped.
    pub(super) fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Settled(value) => Attempt::Settled(f(value)),
            Attempt::Lost => Attempt::Lost,
        }
    }
}

/// A store result as an attempt: a conflict is a lost attempt.
pub(super) fn attempted<T>(result: Result<T, StoreError>) -> Result<Attempt<T>, Failure> {
    match result {
        Ok(value) => Ok(Attempt::Settled(value)),
        Err(StoreError::Conflict) => Ok(Attempt::Lost),
        Err(error) => Err(Failure::from(error)),
    }
}

pub(super) struct OrgPolicy {
    pub(super) policy: Arc<Policy>,
    pub(super) enforcement_since: Option<u64>,
}

/// What a user write does to the credential index besides the record's own changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Index {
    /// Bind what the write added, unbind what it removed.
    Changes,
    /// Also (re)bind every credential of the record: for records written
    /// before the index existed.
    BindAll,
}

/// The error for a credential id that another user holds.
#[cfg(feature = "passkey")]
pub(super) fn credential_in_use() -> TwoFactorError {
    TwoFactorError::Passkey(PasskeyError::CredentialNotAllowed {
        reason: "it is already registered",
    })
}

/// Requires a password re-entry within the policy's freshness window.
pub(super) fn require_fresh(
    policy: &Policy,
    reauthenticated_at: Option<Timestamp>,
    now: u64,
) -> Result<(), TwoFactorError> {
    if policy.reauthentication_is_fresh(reauthenticated_at, Timestamp::from_unix_seconds(now)) {
        Ok(())
    } else {
        Err(TwoFactorError::Denied(Reason::ReauthenticationRequired))
    }
}

/// Refuses an action by one account on another of a different organization.
pub(super) fn same_organization(
    actor: &Account<'_>,
    target: &Account<'_>,
) -> Result<(), TwoFactorError> {
    if actor.organization == target.organization {
        Ok(())
    } else {
        Err(TwoFactorError::Denied(Reason::OtherOrganization))
    }
}

/// The stored backup-code set, if any; a set that does not decode is corrupt.
pub(super) fn backup_set(record: &UserRecord) -> Result<Option<BackupCodeSet>, TwoFactorError> {
    record
        .backup_codes
        .as_deref()
        .map(|text| {
            BackupCodeSet::decode(text)
                .map_err(|error| TwoFactorError::Corrupt(Corrupt::BackupCodes(error.into())))
        })
        .transpose()
}

#[cfg(not(feature = "passkey"))]
pub(super) use crate::error::credential_in_use;

/// The error for a passkey response whose user handle names another user.
#[cfg(feature = "passkey")]
pub(super) fn another_users_handle() -> TwoFactorError {
    TwoFactorError::Passkey(PasskeyError::CredentialNotAllowed {
        reason: "its user handle names another user",
    })
}

/// Turns 2FA off in a record: every factor, the backup codes, anything
/// pending. The factors are kept as history, removed by `by` at `now`.
pub(super) fn clear_factors(record: &mut UserRecord, by: &RemovedBy, now: u64) {
    if let Some(totp) = record.totp.take() {
        retire(record, retired_totp(&totp, by.clone(), now));
    }
    #[cfg(feature = "passkey")]
    for passkey in std::mem::take(&mut record.passkeys) {
        retire(record, retired_passkey(&passkey, by.clone(), now));
    }
    record.pending_totp = None;
    record.backup_codes = None;
    record.reminder_quiet_until = None;
    // Also the passkeys a build without the feature keeps as stored.
    record.passkeys.clear();
    #[cfg(feature = "passkey")]
    {
        record.pending_passkey = None;
    }
    record.challenge = None;
    // The callers revoke them with their reason first; none may outlive 2FA.
    record.trusted_browsers.clear();
}

impl TwoFactor {
    pub(super) async fn update_user<T>(
        &self,
        user: &str,
        change: impl FnMut(&mut UserRecord) -> Result<Change<T>, Failure>,
    ) -> Result<T, Failure> {
        self.write_user(user, Index::Changes, None, change).await
    }

    /// [`update_user`](Self::update_user), starting from `loaded`, the record
    /// as just read: the first attempt needs no read of its own.
    pub(super) async fn update_loaded_user<T>(
        &self,
        user: &str,
        loaded: Option<Versioned<UserRecord>>,
        change: impl FnMut(&mut UserRecord) -> Result<Change<T>, Failure>,
    ) -> Result<T, Failure> {
        self.write_user(user, Index::Changes, Some(loaded), change)
            .await
    }

    /// The conditional write of a user record: read, change, write if still at
    /// the version read, else again ([`retry`]). Every write also drops what
    /// has lapsed, re-seals secrets under the current key, and updates the
    /// credential index in the same atomic step. `first`: the record as the
    /// caller just read it, for the first attempt (the retries read again).
    pub(super) async fn write_user<T>(
        &self,
        user: &str,
        index: Index,
        mut first: Option<Option<Versioned<UserRecord>>>,
        mut change: impl FnMut(&mut UserRecord) -> Result<Change<T>, Failure>,
    ) -> Result<T, Failure> {
        let outcome = retry!({
            let loaded = match first.take() {
                Some(loaded) => loaded,
                None => self.store.load_user(user).await?,
            };
            let (mut record, version) = match loaded {
                Some(versioned) => (versioned.value, Some(versioned.version)),
                None => (UserRecord::default(), None),
            };
            let before = record.credential_ids();
            let outcome = match change(&mut record)? {
                Change::Keep(value) => return Ok(Attempt::Settled(Ok(value))),
                Change::Write(value) => Ok(value),
                Change::WriteThenFail(failure) => {
                    // What the failure tells the user (a lockout) is written with it.
                    self.announce(
                        &mut record,
                        &failure.events,
                        self.clock.now().as_unix_seconds(),
                    )?;
                    Err(failure)
                }
            };
            self.tidy(&mut record, user, self.clock.now().as_unix_seconds());
            let after = record.credential_ids();
            let bind: Vec<CredentialId> = match index {
                Index::BindAll => after.clone(),
                Index::Changes => after
                    .iter()
                    .filter(|id| !before.contains(id))
                    .cloned()
                    .collect(),
            };
            let unbind: Vec<CredentialId> = before
                .iter()
                .filter(|id| !after.contains(id))
                .cloned()
                .collect();
            let changes = CredentialChanges {
                bind: &bind,
                unbind: &unbind,
            };
            match self.store.save_user(user, &record, version, changes).await {
                Err(StoreError::CredentialInUse) => Err(Failure::from(credential_in_use())),
                saved => Ok(attempted(saved)?.map(|_| outcome)),
            }
        })?;
        match outcome {
            Ok(value) => Ok(value),
            // The write that counted the failure happened: report it.
            Err(failure) => {
                self.emit(&failure.events).await;
                Err(failure)
            }
        }
    }

    /// Before a record is written: drops lapsed setups and challenges, and
    /// re-seals secrets sealed under an older key of the keyring. A secret under
    /// a key the keyring lacks is left as it is (opening it reports the key id).
    pub(super) fn tidy(&self, record: &mut UserRecord, user: &str, now: u64) {
        if record
            .pending_totp
            .as_ref()
            .is_some_and(|p| now >= p.expires_at)
        {
            record.pending_totp = None;
        }
        #[cfg(feature = "passkey")]
        if record
            .pending_passkey
            .as_ref()
            .is_some_and(|p| now >= p.expires_at)
        {
            record.pending_passkey = None;
        }
        if record
            .challenge
            .as_ref()
            .is_some_and(|c| now >= c.expires_at)
        {
            record.challenge = None;
        }
        if record
            .self_unlock
            .as_ref()
            .is_some_and(|state| now >= state.expires_at())
        {
            record.self_unlock = None;
        }
        record.trusted_browsers.retain(|b| now < b.expires_at);
        let reseal = |sealed: &mut SealedSecret| {
            if self.keyring.needs_reseal(sealed)
                && let Ok(Some(fresh)) = self.keyring.reseal(sealed, user, &*self.random)
            {
                *sealed = fresh;
            }
        };
        if let Some(totp) = record.totp.as_mut() {
            reseal(&mut totp.secret);
        }
        if let Some(pending) = record.pending_totp.as_mut() {
            reseal(&mut pending.secret);
        }
    }

    /// What the policy needs to know about a user. A backup-code set that does
    /// not decode counts as none here, so that it never blocks signing in with
    /// a factor; [`status`](Self::status) and
    /// [`verify_backup_code`](Self::verify_backup_code) report it as corrupt.
    pub(super) fn facts<'a>(
        account: &Account<'a>,
        record: &UserRecord,
        org: &OrgPolicy,
        low: usize,
    ) -> (UserFacts<'a>, Option<usize>, bool) {
        let mut enrolled = Methods::NONE;
        if record.totp.is_some() {
            enrolled = enrolled.with(Method::Totp);
        }
        if record.has_passkeys() {
            enrolled = enrolled.with(Method::Passkey);
        }
        let remaining = backup_set(record).ok().flatten().map(|set| set.remaining());
        let first = record
            .first_sign_in_since_enforcement
            .filter(|first| org.enforcement_since.is_none_or(|since| *first >= since))
            .map(Timestamp::from_unix_seconds);
        let facts = UserFacts {
            user: account.user,
            role: account.role,
            enrolled,
            has_backup_codes: remaining.is_some_and(|r| r > 0),
            first_sign_in_since_enforcement: first,
            exempt: false,
        };
        (facts, remaining, remaining.is_some_and(|r| r <= low))
    }

    pub(super) fn throttled(policy: &Policy, record: &UserRecord, now: u64) -> Option<Lock> {
        let decision = policy.throttle_since_unlock(
            record.throttle.failures,
            record.throttle.since_unlock(),
            record
                .throttle
                .last_failure
                .map(Timestamp::from_unix_seconds),
            Timestamp::from_unix_seconds(now),
        );
        Self::lock_of(decision.outcome)
    }

    /// The lock a throttle decision imposes, if any.
    pub(super) fn lock_of(outcome: Throttle) -> Option<Lock> {
        match outcome {
            Throttle::Allowed => None,
            Throttle::RetryAfter { seconds } => Some(Lock::RetryAfter { seconds }),
            Throttle::Locked { until: Some(at) } => Some(Lock::Until { at }),
            Throttle::Locked { until: None } => Some(Lock::UntilReset),
        }
    }

    /// Counts a failed second step; returns the failure to report after the write.
    pub(super) fn count_failure(
        policy: &Policy,
        record: &mut UserRecord,
        account: &Account<'_>,
        factor: Factor,
        error: TwoFactorError,
        now: u64,
    ) -> Failure {
        // Told once per lockout: a failure counted while already locked (a
        // wrong self-unlock code) is told only if it makes the lock one that
        // only an administrator lifts.
        let before = Self::throttled(policy, record, now);
        record.throttle.failures = record.throttle.failures.saturating_add(1);
        record.throttle.last_failure = Some(now);
        let mut events = vec![Event::SignInFailed {
            user: account.user.to_string(),
            factor,
            reason: error.to_string(),
            failures: record.throttle.failures,
            at: Timestamp::from_unix_seconds(now),
        }];
        let after = policy.throttle_since_unlock(
            record.throttle.failures,
            record.throttle.since_unlock(),
            Some(Timestamp::from_unix_seconds(now)),
            Timestamp::from_unix_seconds(now),
        );
        // (A failure is never counted under a lock only an administrator
        // lifts: every path refuses before.)
        let told_already = matches!(
            (before, after.outcome),
            (
                Some(Lock::Until { .. }),
                Throttle::Locked { until: Some(_) }
            )
        );
        if let Throttle::Locked { until } = after.outcome
            && !told_already
        {
            events.push(Event::LockedOut {
                user: account.user.to_string(),
                until,
                at: Timestamp::from_unix_seconds(now),
            });
        }
        Failure {
            error,
            events,
            lock: Self::lock_of(after.outcome),
        }
    }

    /// The open challenge `challenge_id`, if it exists, has not expired, offered
    /// `method` (`None`: a backup code, offered as recovery), and the throttle
    /// lets the user answer now. Borrowed, not cloned: it is on the hot path.
    pub(super) fn answerable<'r>(
        policy: &Policy,
        record: &'r UserRecord,
        challenge_id: &str,
        method: Option<Method>,
        now: u64,
    ) -> Result<&'r SignInChallenge, TwoFactorError> {
        let challenge = record
            .challenge
            .as_ref()
            .filter(|c| c.id == challenge_id)
            .ok_or(TwoFactorError::NoChallenge)?;
        if now >= challenge.expires_at {
            return Err(TwoFactorError::Expired);
        }
        let offered = match method {
            Some(method) => challenge.methods.contains(&method),
            None => challenge.recovery,
        };
        if !offered {
            return Err(TwoFactorError::Denied(Reason::MethodNotAllowed));
        }
        if let Some(lock) = Self::throttled(policy, record, now) {
            return Err(TwoFactorError::Locked { lock });
        }
        Ok(challenge)
    }

    /// Adding a factor needs the policy to offer `method` to the user's role,
    /// and (when `fresh` says so) a recent password re-entry.
    pub(super) async fn check_enrollment(
        &self,
        account: &Account<'_>,
        method: Method,
        reauthenticated_at: Option<Timestamp>,
        now: u64,
    ) -> Result<(), Failure> {
        let org = self.organization(account.organization).await?;
        offered(&org.policy, account.role, method)?;
        require_fresh(&org.policy, reauthenticated_at, now)?;
        Ok(())
    }
}

/// Whether the policy offers `method` to `role`, or its reason why not: the
/// role is refused, second factors are off, or the method does not count.
pub(super) fn offered(policy: &Policy, role: &str, method: Method) -> Result<(), Failure> {
    let decision = policy.enrollment(role, method);
    match decision.outcome {
        Permission::Allowed => Ok(()),
        Permission::Denied => Err(Failure::from(TwoFactorError::Denied(decision.reason))),
    }
}
