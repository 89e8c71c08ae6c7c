//! The second step of sign-in (and the status of a user's factors).

use twofold_policy::{Decision, Method, Reason, SignIn, Timestamp};
use twofold_totp::{Code, Totp, Verification};

use crate::env::random_id;
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, Factor};
use crate::notify::Notice;
use crate::store::{SignInChallenge, ThrottleState, TotpFactor, TotpResync};

use super::TwoFactor;
use super::record::*;
use super::trusted::{Answered, TrustedSignIn};
use super::types::*;

impl TwoFactor {
    /// A user's second factors, for the Security page and the Staff list.
    pub async fn status(&self, account: &Account<'_>) -> Result<Status, Failure> {
        let org = self.organization(account.organization).await?;
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let now = self.clock.now().as_unix_seconds();
        backup_set(&record)?;
        let (facts, remaining, low) = Self::facts(
            account,
            &record,
            &org,
            self.config.backup_codes_low_threshold,
        );
        Ok(Status {
            totp: record.totp.is_some(),
            #[cfg(feature = "passkey")]
            passkeys: record
                .passkeys
                .iter()
                .map(|p| PasskeySummary {
                    id: p.id().clone(),
                    name: p.name().to_string(),
                    created_at: Timestamp::from_unix_seconds(p.created_at()),
                    last_used_at: p.last_used_at().map(Timestamp::from_unix_seconds),
                    backed_up: p.backed_up(),
                })
                .collect(),
            backup_codes_remaining: remaining,
            backup_codes_low: low,
            enforced: org
                .policy
                .enforcement_applies(&facts, Timestamp::from_unix_seconds(now)),
            enabled: !facts.enrolled.is_empty(),
            locked: Self::throttled(&org.policy, &record, now),
        })
    }

    /// The second step, after the application verified the password: allow, a
    /// challenge (single-use, expiring, bound to the methods it offers), setup
    /// first, or locked.
    pub async fn begin_sign_in(&self, account: &Account<'_>) -> Result<Done<SignInStep>, Failure> {
        let done = self.sign_in_step(account, None).await?;
        Ok(Done {
            value: done.value.step,
            events: done.events,
        })
    }

    /// [`begin_sign_in`](Self::begin_sign_in), with the token a browser
    /// presented, if any ([`begin_sign_in_trusted`](Self::begin_sign_in_trusted)).
    pub(super) async fn sign_in_step(
        &self,
        account: &Account<'_>,
        presented: Option<&str>,
    ) -> Result<Done<TrustedSignIn>, Failure> {
        let (org, loaded) = self.organization_and_user(account).await?;
        let now = self.clock.now().as_unix_seconds();
        self.sweep_if_due(now).await;
        let (step, events, renewed) = self
            .update_loaded_user(account.user, loaded, |record| {
                if let Some(lock) = Self::throttled(&org.policy, record, now) {
                    return Ok(Change::Keep((
                        SignInStep::Locked { lock },
                        Vec::new(),
                        None,
                    )));
                }
                let low = self.config.backup_codes_low_threshold;
                let (mut facts, _, _) = Self::facts(account, record, &org, low);
                let at = Timestamp::from_unix_seconds(now);
                let mut changed = false;
                if org.policy.enforcement_applies(&facts, at)
                    && facts.first_sign_in_since_enforcement.is_none()
                {
                    // This sign-in starts the user's grace period; a
                    // "remind me later" from before it does not carry over.
                    record.first_sign_in_since_enforcement = Some(now);
                    record.reminder_quiet_until = None;
                    facts.first_sign_in_since_enforcement = Some(at);
                    changed = true;
                }
                let decision: Decision<SignIn> = org.policy.sign_in(&facts, at);
                let quiet = record
                    .reminder_quiet_until
                    .map(Timestamp::from_unix_seconds);
                let remind = org
                    .policy
                    .reminder_due(&decision.outcome, &facts, quiet, at);
                let remind_later_until = org.policy.remind_later_until(&decision.outcome, at);
                if changed && let SignIn::MustEnroll { deadline, .. } = decision.outcome {
                    // Enforcement now reaches this user: told in the write
                    // that starts their grace period, once.
                    self.post(record, Notice::EnrollmentRequired { deadline }, now)?;
                }
                let step = match decision.outcome {
                    SignIn::Allow => match remind_later_until.filter(|_| remind) {
                        Some(remind_later_until) => SignInStep::Remind {
                            methods: org.policy.methods_for(account.role).unwrap_or_default(),
                            remind_later_until,
                        },
                        None => SignInStep::Allow {
                            reason: decision.reason,
                        },
                    },
                    // Within the grace period, quieted by "remind me later".
                    SignIn::MustEnroll {
                        can_defer: true, ..
                    } if !remind => SignInStep::Allow {
                        reason: decision.reason,
                    },
                    SignIn::Blocked => SignInStep::Blocked {
                        reason: decision.reason,
                    },
                    SignIn::MustEnroll {
                        deadline,
                        methods,
                        can_defer,
                    } => SignInStep::MustEnroll {
                        deadline,
                        methods,
                        can_defer,
                        reason: decision.reason,
                    },
                    SignIn::Challenge { methods, recovery } => {
                        let mut events = Vec::new();
                        if let Some(presented) = presented
                            && let Some(renewed) = self.use_trusted_browser(
                                record,
                                account,
                                &org.policy,
                                presented,
                                now,
                                &mut events,
                            )?
                        {
                            let step = SignInStep::Allow {
                                reason: Reason::TrustedBrowser,
                            };
                            return Ok(Change::Write((step, events, Some(renewed))));
                        }
                        let challenge_id = random_id(&*self.random)?;
                        #[cfg(feature = "passkey")]
                        let (passkey_options, passkey_state) = match &self.passkeys {
                            Some(passkeys)
                                if methods.contains(Method::Passkey)
                                    && !record.passkeys.is_empty() =>
                            {
                                match passkeys.start_authentication(&record.passkeys, now) {
                                    Ok((options, state)) => (Some(options), Some(state)),
                                    Err(error) => {
                                        return Err(Failure::from(TwoFactorError::Passkey(error)));
                                    }
                                }
                            }
                            _ => (None, None),
                        };
                        #[cfg(not(feature = "passkey"))]
                        let passkey_options = None;
                        let expires_at = now.saturating_add(self.config.challenge_ttl_seconds);
                        record.challenge = Some(SignInChallenge {
                            id: challenge_id.clone(),
                            expires_at,
                            #[cfg(feature = "passkey")]
                            passkey: passkey_state,
                            methods: methods.iter().collect(),
                            recovery,
                        });
                        let step = SignInStep::Challenge {
                            challenge_id,
                            methods,
                            recovery,
                            passkey_options,
                            expires_at: Timestamp::from_unix_seconds(expires_at),
                        };
                        return Ok(Change::Write((step, events, None)));
                    }
                };
                if changed {
                    Ok(Change::Write((step, Vec::new(), None)))
                } else {
                    Ok(Change::Keep((step, Vec::new(), None)))
                }
            })
            .await?;
        Ok(self.done(TrustedSignIn { step, renewed }, events).await)
    }

    /// Answers challenge `challenge_id` with a 6-digit code from the authenticator
    /// app; only if the challenge offered the authenticator app.
    pub async fn verify_totp(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let done = self
            .verify_totp_trusting(account, challenge_id, input, None)
            .await?;
        Ok(Done {
            value: done.value.signed_in,
            events: done.events,
        })
    }

    /// [`verify_totp`](Self::verify_totp), and "Don't ask again on this
    /// browser" when `trust_browser` names the browser (its label, such as
    /// "Chrome on Windows"): on success, and if the policy allows it for the
    /// user's role, the browser is trusted in the same conditional write that
    /// records the success, and [`Answered::trusted_browser`] holds its token.
    /// A wrong code trusts nothing.
    pub async fn verify_totp_trusting(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
        trust_browser: Option<&str>,
    ) -> Result<Done<Answered>, Failure> {
        let (org, loaded) = self.organization_and_user(account).await?;
        let now = self.clock.now().as_unix_seconds();
        let (events, trusted_browser) = self
            .update_loaded_user(account.user, loaded, |record| {
                if let Err(error) =
                    Self::answerable(&org.policy, record, challenge_id, Some(Method::Totp), now)
                {
                    return Err(Failure::from(error));
                }
                let Some(factor) = &record.totp else {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "an authenticator app",
                    )));
                };
                let secret = self.keyring.open(&factor.secret, account.user)?;
                let code = Code::parse(input, factor.params.digits)
                    .map_err(|error| TwoFactorError::InvalidCode(error.into()))?;
                let totp = Totp::new(&secret, factor.params);
                let drift = self.config.totp_drift;
                let bound = i64::from(drift.max_steps);
                let at = Timestamp::from_unix_seconds(now);
                let answer = match totp.verify_code_with_drift(
                    &code,
                    now,
                    factor.last_step,
                    // Within the configured bound, even if stored under a wider one.
                    factor.drift.clamp(-bound, bound),
                ) {
                    // A step a resync's answer revealed is never taken.
                    Verification::Accepted { step, .. } if factor.burned_steps.contains(&step) => {
                        Answer::Failed(TwoFactorError::CodeAlreadyUsed)
                    }
                    Verification::Accepted {
                        step,
                        drift: offset,
                    } => Answer::Accepted {
                        step,
                        drift: offset,
                        resynchronized: false,
                    },
                    Verification::Replayed { .. } => {
                        Answer::Failed(TwoFactorError::CodeAlreadyUsed)
                    }
                    Verification::Rejected => Self::resync_answer(&totp, &code, factor, drift, now),
                };
                let Some(factor) = record.totp.as_mut() else {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "an authenticator app",
                    )));
                };
                let window = factor.params.window;
                let current = totp.step_at(now).unwrap_or_default();
                factor
                    .burned_steps
                    .retain(|&step| step.saturating_add(u64::from(window.back())) >= current);
                match answer {
                    Answer::Accepted {
                        step,
                        drift: offset,
                        resynchronized,
                    } => {
                        // Remembered only beyond the plain window: a phone
                        // within it needs no shift, and the window stays as
                        // wide as configured.
                        let window = factor.params.window;
                        let plain = -i64::from(window.back())..=i64::from(window.ahead());
                        factor.last_step = Some(step);
                        factor.drift = if plain.contains(&offset) {
                            0
                        } else {
                            offset.clamp(-bound, bound)
                        };
                        factor.resync = None;
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        let mut events = Vec::new();
                        if resynchronized {
                            events.push(Event::TotpResynchronized {
                                user: account.user.to_string(),
                                drift_steps: offset,
                                at,
                            });
                        }
                        events.push(Event::SignInSucceeded {
                            user: account.user.to_string(),
                            factor: Factor::Totp,
                            at,
                        });
                        let browser = match trust_browser {
                            Some(label) => self.trust_browser(
                                record,
                                account,
                                &org.policy,
                                label,
                                now,
                                &mut events,
                            )?,
                            None => None,
                        };
                        self.announce(record, &events, now)?;
                        Ok(Change::Write((events, browser)))
                    }
                    Answer::ResyncStarted(resync, drift_steps) => {
                        // Its code is now known to be the app's at that step:
                        // burned. (A step before the window's end cannot start
                        // a resync, and a past one is dropped on the next call.)
                        if !factor.burned_steps.contains(&resync.step) {
                            factor.burned_steps.push(resync.step);
                        }
                        factor.resync = Some(resync);
                        Ok(Change::WriteThenFail(Self::count_failure(
                            &org.policy,
                            record,
                            account,
                            Factor::Totp,
                            TwoFactorError::ResyncNeeded { drift_steps },
                            now,
                        )))
                    }
                    Answer::Failed(error) => {
                        // A wrong code between the two of a resync ends it.
                        factor.resync = None;
                        Ok(Change::WriteThenFail(Self::count_failure(
                            &org.policy,
                            record,
                            account,
                            Factor::Totp,
                            error,
                            now,
                        )))
                    }
                }
            })
            .await?;
        let answered = Answered {
            signed_in: SignedIn {
                factor: Factor::Totp,
                backup_codes_remaining: None,
            },
            trusted_browser,
        };
        Ok(self.done(answered, events).await)
    }

    /// A code outside the window (RFC 6238 §6): the second code of a resync
    /// under way, if it is the app's code for a later step than the first (as
    /// many steps later as the server's clock moved, give or take one); else
    /// the first code of a new one, if it matches within the resync range; else
    /// wrong. Never a step at or before the last accepted one.
    fn resync_answer(
        totp: &Totp,
        code: &Code,
        factor: &TotpFactor,
        drift: TotpDrift,
        now: u64,
    ) -> Answer {
        let Some(current) = totp.step_at(now) else {
            return Answer::Failed(TwoFactorError::WrongCode);
        };
        let fresh = |step: u64| factor.last_step.is_none_or(|last| step > last);
        if let Some(resync) = factor.resync.filter(|resync| now < resync.expires_at) {
            let elapsed = current.saturating_sub(resync.server_step);
            // The app's step now, give or take one, and always later than the first.
            let first = resync.step.saturating_add(elapsed.saturating_sub(1).max(1));
            let last = resync
                .step
                .saturating_add(elapsed.saturating_add(1))
                .min(resync.step.saturating_add(u64::from(drift.resync_steps)));
            // Every candidate is compared, in constant time each.
            let matched = (first..=last)
                .filter(|&step| totp.matches_step(code, step))
                .max();
            if let Some(step) = matched.filter(|&step| fresh(step)) {
                return Answer::Accepted {
                    step,
                    drift: signed_steps(step, current),
                    resynchronized: true,
                };
            }
        }
        if drift.resync_steps != 0
            && let Some(step) = totp
                .find_step(code, now, drift.resync_steps)
                .filter(|&step| fresh(step))
        {
            let resync = TotpResync {
                step,
                server_step: current,
                expires_at: now.saturating_add(drift.resync_ttl_seconds),
            };
            return Answer::ResyncStarted(resync, signed_steps(step, current));
        }
        Answer::Failed(TwoFactorError::WrongCode)
    }
}

/// What an authenticator-app code comes to.
enum Answer {
    /// Accepted at `step`, `drift` steps from the server's; by a resync's second code or not.
    Accepted {
        step: u64,
        drift: i64,
        resynchronized: bool,
    },
    /// Outside the window but inside the resync range: the first code of a resync.
    ResyncStarted(TotpResync, i64),
    /// Not accepted.
    Failed(TwoFactorError),
}

/// `a - b` for steps at most a resync range apart.
fn signed_steps(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |difference| -difference)
    }
}
