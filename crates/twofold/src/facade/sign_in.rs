//! The second step of sign-in (and the status of a user's factors).

use twofold_policy::{Decision, Method, SignIn, Timestamp};
use twofold_totp::{Code, Totp, Verification};

use crate::env::random_id;
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, Factor};
use crate::store::{SignInChallenge, ThrottleState};

use super::TwoFactor;
use super::record::*;
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
        let (org, loaded) = self.organization_and_user(account).await?;
        let now = self.clock.now().as_unix_seconds();
        self.sweep_if_due(now).await;
        let step = self
            .update_loaded_user(account.user, loaded, |record| {
                if let Some(lock) = Self::throttled(&org.policy, record, now) {
                    return Ok(Change::Keep(SignInStep::Locked { lock }));
                }
                let low = self.config.backup_codes_low_threshold;
                let (mut facts, _, _) = Self::facts(account, record, &org, low);
                let at = Timestamp::from_unix_seconds(now);
                let mut changed = false;
                if org.policy.enforcement_applies(&facts, at)
                    && facts.first_sign_in_since_enforcement.is_none()
                {
                    // This sign-in starts the user's grace period.
                    record.first_sign_in_since_enforcement = Some(now);
                    facts.first_sign_in_since_enforcement = Some(at);
                    changed = true;
                }
                let decision: Decision<SignIn> = org.policy.sign_in(&facts, at);
                let step = match decision.outcome {
                    SignIn::Allow => SignInStep::Allow {
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
                        return Ok(Change::Write(SignInStep::Challenge {
                            challenge_id,
                            methods,
                            recovery,
                            passkey_options,
                            expires_at: Timestamp::from_unix_seconds(expires_at),
                        }));
                    }
                };
                if changed {
                    Ok(Change::Write(step))
                } else {
                    Ok(Change::Keep(step))
                }
            })
            .await?;
        Ok(self.done(step, Vec::new()).await)
    }

    /// Answers challenge `challenge_id` with a 6-digit code from the authenticator
    /// app; only if the challenge offered the authenticator app.
    pub async fn verify_totp(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let (org, loaded) = self.organization_and_user(account).await?;
        let now = self.clock.now().as_unix_seconds();
        let events = self
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
                let outcome =
                    Totp::new(&secret, factor.params).verify_code(&code, now, factor.last_step);
                match outcome {
                    Verification::Accepted { step, .. } => {
                        if let Some(factor) = record.totp.as_mut() {
                            factor.last_step = Some(step);
                        }
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        Ok(Change::Write(vec![Event::SignInSucceeded {
                            user: account.user.to_string(),
                            factor: Factor::Totp,
                            at: Timestamp::from_unix_seconds(now),
                        }]))
                    }
                    Verification::Replayed { .. } => {
                        Ok(Change::WriteThenFail(Self::count_failure(
                            &org.policy,
                            record,
                            account,
                            Factor::Totp,
                            TwoFactorError::CodeAlreadyUsed,
                            now,
                        )))
                    }
                    Verification::Rejected => Ok(Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::Totp,
                        TwoFactorError::WrongCode,
                        now,
                    ))),
                }
            })
            .await?;
        Ok(self
            .done(
                SignedIn {
                    factor: Factor::Totp,
                    backup_codes_remaining: None,
                },
                events,
            )
            .await)
    }
}
