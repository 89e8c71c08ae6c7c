//! Self-service unlock (Rodauth's `otp_unlock`, stricter): a user whose
//! second step is under a timed lockout unlocks it with consecutive codes
//! from their authenticator app.
//!
//! Every code is spent (the factor's `last_step` moves to it), so that each
//! next one must come from a later time step, and none can sign in later. A
//! wrong or replayed code ends the sequence, counts as a failure of the
//! throttle (toward its ceiling too) and starts a cooldown: someone with the
//! password but without the phone gets one guess per cooldown, all counted.
//! An unlock lifts the lockout, never the ceiling: the throttle remembers the
//! failure count at the unlock (`ThrottleState::unlocked_at`) and keeps
//! counting from there toward the ceiling until a success.

use twofold_policy::{Permission, Timestamp};
use twofold_totp::{Code, Totp, Verification};

use crate::error::{Failure, SelfUnlockError, TwoFactorError};
use crate::events::{Event, Factor};
use crate::lock::Lock;
use crate::store::{SelfUnlockState, UserRecord};

use super::TwoFactor;
use super::record::*;
use super::types::*;

/// Where a self-service unlock stands after an accepted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnlockProgress {
    /// The code was accepted; more are needed, each from a later time step
    /// (the app's next code), before `deadline`.
    Continue {
        /// Codes accepted so far.
        entered: u32,
        /// Codes needed in all.
        needed: u32,
        /// When the sequence lapses.
        deadline: Timestamp,
    },
    /// Unlocked. The user signs in as usual, with a code from a later time
    /// step than the last one entered (those are spent).
    Unlocked,
}

/// What a locked page may offer: from [`TwoFactor::self_unlock_offer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelfUnlockOffer {
    /// Codes needed in all.
    pub needed: u32,
    /// Codes accepted so far in the sequence under way (0: none under way).
    pub entered: u32,
    /// When the sequence under way lapses, if one is.
    pub deadline: Option<Timestamp>,
    /// When the cooldown after a wrong code ends, if one runs.
    pub retry_at: Option<Timestamp>,
    /// When the lockout ends by itself.
    pub locked_until: Timestamp,
}

/// A record's self-service unlock, as it stands now.
enum Standing {
    /// Nothing under way: the next code starts a sequence.
    Idle,
    /// A sequence under way.
    Sequence { entered: u32, deadline: u64 },
    /// A sequence whose deadline has passed.
    Lapsed,
    /// A cooldown after a wrong code.
    Cooldown { until: u64 },
}

fn standing(record: &UserRecord, now: u64) -> Standing {
    match record.self_unlock {
        Some(SelfUnlockState::Cooldown { until }) if now < until => Standing::Cooldown { until },
        // A sequence belongs to the lockout it began in: a success, an
        // administrator's unlock or another failure since then ends it.
        Some(SelfUnlockState::Sequence {
            entered,
            deadline,
            failures,
            last_failure,
        }) if failures == record.throttle.failures
            && last_failure == record.throttle.last_failure =>
        {
            if now < deadline {
                Standing::Sequence { entered, deadline }
            } else {
                Standing::Lapsed
            }
        }
        _ => Standing::Idle,
    }
}

impl TwoFactor {
    /// Whether the locked page may offer self-service unlock to `account`,
    /// and how it stands: `None` unless the policy allows it for their role,
    /// they have an authenticator app, and their second step is under a
    /// timed lockout (not a back-off, not a lock that only an administrator
    /// lifts: the failure ceiling, or a policy whose lockouts last until reset).
    pub async fn self_unlock_offer(
        &self,
        account: &Account<'_>,
    ) -> Result<Option<SelfUnlockOffer>, Failure> {
        let (org, loaded) = self.organization_and_user(account).await?;
        let now = self.clock.now().as_unix_seconds();
        if org.policy.self_unlock(account.role).outcome == Permission::Denied {
            return Ok(None);
        }
        let Some(record) = loaded.map(|versioned| versioned.value) else {
            return Ok(None);
        };
        if record.totp.is_none() {
            return Ok(None);
        }
        let Some(Lock::Until { at: locked_until }) = Self::throttled(&org.policy, &record, now)
        else {
            return Ok(None);
        };
        let at = Timestamp::from_unix_seconds;
        let (entered, deadline, retry_at) = match standing(&record, now) {
            Standing::Sequence { entered, deadline } => (entered, Some(at(deadline)), None),
            Standing::Cooldown { until } => (0, None, Some(at(until))),
            Standing::Idle | Standing::Lapsed => (0, None, None),
        };
        Ok(Some(SelfUnlockOffer {
            needed: org.policy.self_unlock_rules().codes,
            entered,
            deadline,
            retry_at,
            locked_until,
        }))
    }

    /// One code of a self-service unlock, for a user whose password the
    /// application has verified and whose second step is under a timed
    /// lockout. After the policy's number of consecutive valid codes
    /// (`self_unlock.codes`), each from a later time step than the one before
    /// and all within `self_unlock.deadline_seconds` of the first, the lockout
    /// is lifted ([`UnlockProgress::Unlocked`]); the user then signs in as usual.
    ///
    /// Refused without counting: a role the policy does not allow
    /// ([`TwoFactorError::Denied`]), a user without an authenticator app
    /// ([`TwoFactorError::NotEnrolled`]; backup codes do not unlock), a lock at
    /// the failure ceiling or until an administrator acts
    /// ([`TwoFactorError::Locked`]), and each [`SelfUnlockError`]. A wrong
    /// code ([`TwoFactorError::WrongCode`]) or a spent one
    /// ([`TwoFactorError::CodeAlreadyUsed`]) ends the sequence, starts the
    /// cooldown (`self_unlock.cooldown_seconds`) and counts as a failure,
    /// toward the ceiling too. Races are settled by the conditional write: a
    /// code advances the sequence at most once, and it unlocks at most once.
    pub async fn self_unlock(
        &self,
        account: &Account<'_>,
        input: &str,
    ) -> Result<Done<UnlockProgress>, Failure> {
        let (org, loaded) = self.organization_and_user(account).await?;
        let now = self.clock.now().as_unix_seconds();
        let decision = org.policy.self_unlock(account.role);
        if decision.outcome == Permission::Denied {
            return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
        }
        let rules = org.policy.self_unlock_rules();
        let at = Timestamp::from_unix_seconds(now);
        let (progress, events) = self
            .update_loaded_user(account.user, loaded, |record| {
                let Some(factor) = &record.totp else {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "an authenticator app",
                    )));
                };
                match Self::throttled(&org.policy, record, now) {
                    Some(Lock::Until { .. }) => {}
                    Some(Lock::UntilReset) => {
                        return Err(Failure::from(TwoFactorError::Locked {
                            lock: Lock::UntilReset,
                        }));
                    }
                    None | Some(Lock::RetryAfter { .. }) => {
                        return Err(Failure::from(TwoFactorError::SelfUnlock(
                            SelfUnlockError::NotLocked,
                        )));
                    }
                }
                let under_way = match standing(record, now) {
                    Standing::Cooldown { until } => {
                        return Err(Failure::from(TwoFactorError::SelfUnlock(
                            SelfUnlockError::CoolingDown {
                                retry_after: until.saturating_sub(now),
                            },
                        )));
                    }
                    Standing::Lapsed => {
                        // Dropped; the code is not looked at (nor spent).
                        record.self_unlock = None;
                        return Ok(Change::WriteThenFail(Failure::from(
                            TwoFactorError::SelfUnlock(SelfUnlockError::DeadlinePassed),
                        )));
                    }
                    Standing::Sequence { entered, deadline } => Some((entered, deadline)),
                    Standing::Idle => None,
                };
                let secret = self.keyring.open(&factor.secret, account.user)?;
                let code = Code::parse(input, factor.params.digits)
                    .map_err(|error| TwoFactorError::InvalidCode(error.into()))?;
                let totp = Totp::new(&secret, factor.params);
                let bound = i64::from(self.config.totp_drift.max_steps);
                let verification = totp.verify_code_with_drift(
                    &code,
                    now,
                    factor.last_step,
                    factor.drift.clamp(-bound, bound),
                );
                let error = match verification {
                    Verification::Accepted { step, .. } if !factor.burned_steps.contains(&step) => {
                        let (entered, deadline) = match under_way {
                            Some((entered, deadline)) => (entered.saturating_add(1), deadline),
                            None => (1, now.saturating_add(rules.deadline_seconds)),
                        };
                        if let Some(factor) = record.totp.as_mut() {
                            factor.last_step = Some(step);
                        }
                        if entered >= rules.codes {
                            record.self_unlock = None;
                            record.throttle.unlocked_at = record.throttle.failures;
                            let events = vec![Event::SelfUnlocked {
                                user: account.user.to_string(),
                                at,
                            }];
                            self.announce(record, &events, now)?;
                            return Ok(Change::Write((UnlockProgress::Unlocked, events)));
                        }
                        record.self_unlock = Some(SelfUnlockState::Sequence {
                            entered,
                            deadline,
                            failures: record.throttle.failures,
                            last_failure: record.throttle.last_failure,
                        });
                        let events = vec![Event::SelfUnlockProgress {
                            user: account.user.to_string(),
                            entered,
                            needed: rules.codes,
                            at,
                        }];
                        let progress = UnlockProgress::Continue {
                            entered,
                            needed: rules.codes,
                            deadline: Timestamp::from_unix_seconds(deadline),
                        };
                        return Ok(Change::Write((progress, events)));
                    }
                    // The code just accepted, again (a double submission):
                    // nothing is guessed by it, so nothing is counted.
                    Verification::Replayed { step }
                        if under_way.is_some() && factor.last_step == Some(step) =>
                    {
                        return Err(Failure::from(TwoFactorError::SelfUnlock(
                            SelfUnlockError::SameStep,
                        )));
                    }
                    Verification::Accepted { .. } | Verification::Replayed { .. } => {
                        TwoFactorError::CodeAlreadyUsed
                    }
                    Verification::Rejected => TwoFactorError::WrongCode,
                };
                record.self_unlock = Some(SelfUnlockState::Cooldown {
                    until: now.saturating_add(rules.cooldown_seconds),
                });
                let reason = error.to_string();
                let mut failure =
                    Self::count_failure(&org.policy, record, account, Factor::Totp, error, now);
                failure.events.insert(
                    0,
                    Event::SelfUnlockFailed {
                        user: account.user.to_string(),
                        reason,
                        at,
                    },
                );
                Ok(Change::WriteThenFail(failure))
            })
            .await?;
        Ok(self.done(progress, events).await)
    }
}
