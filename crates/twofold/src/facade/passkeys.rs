//! Passkeys: registration, renaming and removal, the second step, and username-less sign-in.

use serde_json::Value;
use twofold_passkey::{AuthenticationResponse, CredentialId, PasskeyError, PasskeyUser, Passkeys};
use twofold_policy::{Method, Permission, Timestamp};

use crate::env::random_id;
use crate::error::{Failure, TwoFactorError};
use crate::events::{Event, Factor, TrustRevocation};
use crate::store::{CeremonyRecord, PendingPasskey, RemovedBy, ThrottleState};

use super::TwoFactor;
use super::notifications::{retire, retired_passkey};
use super::passkey_first::{AllAcceptedCredentials, all_accepted};
use super::record::*;
use super::trusted::{Answered, revoke_browsers};
use super::types::*;

impl TwoFactor {
    /// The passkey ceremonies, or `PasskeysOff` when the configuration has none.
    pub(super) fn ceremonies(&self) -> Result<&Passkeys, Failure> {
        self.passkeys
            .as_ref()
            .ok_or(Failure::from(TwoFactorError::PasskeysOff))
    }

    /// Answers challenge `challenge_id` with a passkey (the JSON of
    /// `credential.toJSON()`). A response whose user handle names another user
    /// is refused.
    pub async fn verify_passkey(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        response_json: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let done = self
            .verify_passkey_trusting(account, challenge_id, response_json, None)
            .await?;
        Ok(Done {
            value: done.value.signed_in,
            events: done.events,
        })
    }

    /// [`verify_passkey`](Self::verify_passkey), trusting the browser on
    /// success as [`verify_totp_trusting`](Self::verify_totp_trusting) does.
    pub async fn verify_passkey_trusting(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        response_json: &str,
        trust_browser: Option<&str>,
    ) -> Result<Done<Answered>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        let response = AuthenticationResponse::from_json(response_json)
            .map_err(|error| Failure::from(TwoFactorError::Passkey(error)))?;
        if response
            .user_handle()
            .is_some_and(|handle| handle != account.user.as_bytes())
        {
            return Err(Failure::from(another_users_handle()));
        }
        let (events, trusted_browser) = self
            .update_user(account.user, |record| {
                let passkey_state = match Self::answerable(
                    &org.policy,
                    record,
                    challenge_id,
                    Some(Method::Passkey),
                    now,
                ) {
                    Ok(challenge) => challenge.passkey.clone(),
                    Err(error) => return Err(Failure::from(error)),
                };
                let Some(state) = passkey_state else {
                    return Err(Failure::from(TwoFactorError::NotEnrolled("a passkey")));
                };
                match self.ceremonies()?.finish_authentication(
                    &response,
                    &state,
                    &mut record.passkeys,
                    now,
                ) {
                    Ok(_) => {
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        let mut events = vec![Event::SignInSucceeded {
                            user: account.user.to_string(),
                            factor: Factor::Passkey,
                            at: Timestamp::from_unix_seconds(now),
                        }];
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
                    Err(
                        error @ (PasskeyError::MalformedResponse(_)
                        | PasskeyError::ResponseTooLarge { .. }
                        | PasskeyError::Expired),
                    ) => Err(Failure::from(TwoFactorError::Passkey(error))),
                    Err(error) => Ok(Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::Passkey,
                        TwoFactorError::Passkey(error),
                        now,
                    ))),
                }
            })
            .await?;
        let answered = Answered {
            signed_in: SignedIn {
                factor: Factor::Passkey,
                backup_codes_remaining: None,
            },
            trusted_browser,
        };
        Ok(self.done(answered, events).await)
    }

    /// Starts a username-less passkey sign-in for `organization`'s sign-in page.
    ///
    /// Anyone can open that page, so ceremonies are bounded: single use, expiring,
    /// swept, and at most `max_outstanding_ceremonies` per organization (beyond
    /// it: [`TwoFactorError::Busy`]).
    pub async fn begin_passkey_sign_in(
        &self,
        organization: &str,
    ) -> Result<Done<PasskeySignInStart>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        self.sweep_if_due(now).await;
        let cap = self.config.max_outstanding_ceremonies;
        if self.store.count_ceremonies(organization).await? >= cap {
            self.store
                .purge_expired(Timestamp::from_unix_seconds(now))
                .await?;
            if self.store.count_ceremonies(organization).await? >= cap {
                return Err(Failure::from(TwoFactorError::Busy));
            }
        }
        let (options, state) = self
            .ceremonies()?
            .start_discoverable_authentication(now)
            .map_err(|error| Failure::from(TwoFactorError::Passkey(error)))?;
        let record = CeremonyRecord {
            organization: organization.to_string(),
            state,
            expires_at: now.saturating_add(self.config.challenge_ttl_seconds),
        };
        // A conflict means the id is taken (never, with 128 random bits, unless a
        // store reports a lost race): draw another.
        let ceremony_id = retry!({
            let ceremony_id = random_id(&*self.random)?;
            let inserted = self.store.insert_ceremony(&ceremony_id, &record).await;
            Ok(attempted(inserted)?.map(|()| ceremony_id))
        })?;
        let start = PasskeySignInStart {
            ceremony_id,
            options,
        };
        Ok(self.done(start, Vec::new()).await)
    }

    /// "Set up passkey": the options for `parseCreationOptionsFromJSON`, excluding
    /// the user's existing passkeys. Needs a fresh password re-entry and a
    /// policy that allows passkeys for the user's role, as
    /// [`begin_totp_enrollment`](Self::begin_totp_enrollment) does.
    pub async fn begin_passkey_registration(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<Value>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        self.check_enrollment(account, Method::Passkey, reauthenticated_at, now)
            .await?;
        self.sweep_if_due(now).await;
        let user = PasskeyUser {
            id: account.user.as_bytes(),
            name: account.name,
            display_name: account.name,
        };
        let (options, events) = self
            .update_user(account.user, |record| {
                match self
                    .ceremonies()?
                    .start_registration(&user, &record.passkeys, now)
                {
                    Ok((options, state)) => {
                        record.pending_passkey = Some(PendingPasskey {
                            state,
                            expires_at: now
                                .saturating_add(self.ceremonies()?.config().ceremony_ttl_seconds()),
                        });
                        Ok(Change::Write((
                            options,
                            vec![Event::EnrollmentBegun {
                                user: account.user.to_string(),
                                factor: Factor::Passkey,
                                at: Timestamp::from_unix_seconds(now),
                            }],
                        )))
                    }
                    Err(error) => Err(Failure::from(TwoFactorError::Passkey(error))),
                }
            })
            .await?;
        Ok(self.done(options, events).await)
    }

    /// Finishes "Set up passkey" with the browser's `credential.toJSON()`, naming
    /// it `name`. The registration state is used once, whatever the outcome. A
    /// credential id already registered to anyone is refused (WebAuthn §7.1
    /// step 22), atomically with the write, through the store's credential index.
    pub async fn finish_passkey_registration(
        &self,
        account: &Account<'_>,
        response_json: &str,
        name: &str,
    ) -> Result<Done<FactorConfirmed>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let org = self.organization(account.organization).await?;
        offered(&org.policy, account.role, Method::Passkey)?;
        let generated = self.backup_codes_if_needed(account.user).await?;
        let (confirmed, events) = self
            .update_user(account.user, |record| {
                let Some(pending) = record.pending_passkey.take() else {
                    return Err(Failure::from(TwoFactorError::NoPendingEnrollment));
                };
                let existing: Vec<CredentialId> = record.credential_ids();
                let credential = match self.ceremonies()?.finish_registration(
                    response_json,
                    &pending.state,
                    name,
                    now,
                    |id| existing.contains(id),
                ) {
                    Ok(credential) => credential,
                    Err(error) => {
                        return Ok(Change::WriteThenFail(Failure::from(
                            TwoFactorError::Passkey(error),
                        )));
                    }
                };
                let credential_id = credential.id().clone();
                record.passkeys.push(credential);
                let mut events = vec![
                    Event::EnrollmentConfirmed {
                        user: account.user.to_string(),
                        factor: Factor::Passkey,
                        at: Timestamp::from_unix_seconds(now),
                    },
                    Event::FactorAdded {
                        user: account.user.to_string(),
                        factor: Factor::Passkey,
                        name: Some(name.to_string()),
                        at: Timestamp::from_unix_seconds(now),
                    },
                ];
                let codes_installed = Self::backup_codes_for_first_factor(
                    record,
                    generated.as_ref().map(|(stored, _)| stored.as_str()),
                    account,
                    now,
                    &mut events,
                )?;
                revoke_browsers(
                    record,
                    account.user,
                    TrustRevocation::FactorChanged,
                    now,
                    &mut events,
                );
                self.announce(record, &events, now)?;
                Ok(Change::Write(((credential_id, codes_installed), events)))
            })
            .await?;
        let (credential_id, codes_installed) = confirmed;
        let confirmed = FactorConfirmed {
            credential_id: Some(credential_id),
            backup_codes: generated
                .filter(|_| codes_installed)
                .map(|(_, codes)| codes),
        };
        Ok(self.done(confirmed, events).await)
    }

    /// Renames one of the user's passkeys.
    pub async fn rename_passkey(
        &self,
        account: &Account<'_>,
        id: &CredentialId,
        name: &str,
    ) -> Result<Done<()>, Failure> {
        self.update_user(account.user, |record| {
            match record.passkeys.iter_mut().find(|p| p.id() == id) {
                Some(passkey) => {
                    passkey.rename(name);
                    Ok(Change::Write(()))
                }
                None => Err(Failure::from(TwoFactorError::NotEnrolled("that passkey"))),
            }
        })
        .await?;
        Ok(self.done((), Vec::new()).await)
    }

    /// Removes one of the user's passkeys, after a fresh password re-entry.
    /// Removing the last factor turns 2FA off, so it also follows the
    /// self-disable rules, and deletes the backup codes with it. Returns the
    /// `signalAllAcceptedCredentials` options without it, for the page, so
    /// that the password manager stops offering it (`None` while passkeys are
    /// off in the configuration: a passkey registered before can still be removed).
    pub async fn remove_passkey(
        &self,
        account: &Account<'_>,
        id: &CredentialId,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<Option<AllAcceptedCredentials>>, Failure> {
        let rp_id = self
            .passkeys
            .as_ref()
            .map(|passkeys| passkeys.config().relying_party().id().to_string());
        let org = self.organization(account.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let events = self
            .update_user(account.user, |record| {
                let Some(index) = record.passkeys.iter().position(|p| p.id() == id) else {
                    return Err(Failure::from(TwoFactorError::NotEnrolled("that passkey")));
                };
                let last_factor = record.totp.is_none() && record.passkeys.len() == 1;
                let mut events = vec![Event::FactorRemoved {
                    user: account.user.to_string(),
                    factor: Factor::Passkey,
                    name: record.passkeys.get(index).map(|p| p.name().to_string()),
                    at: Timestamp::from_unix_seconds(now),
                }];
                revoke_browsers(
                    record,
                    account.user,
                    TrustRevocation::FactorChanged,
                    now,
                    &mut events,
                );
                if last_factor {
                    let (facts, _, _) = Self::facts(account, record, &org, 0);
                    let decision = org.policy.self_disable(
                        &facts,
                        reauthenticated_at,
                        Timestamp::from_unix_seconds(now),
                    );
                    if decision.outcome == Permission::Denied {
                        return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
                    }
                    clear_factors(record, &RemovedBy::User, now);
                    events.push(Event::TwoFactorDisabled {
                        user: account.user.to_string(),
                        at: Timestamp::from_unix_seconds(now),
                    });
                } else {
                    let removed = record.passkeys.remove(index);
                    retire(record, retired_passkey(&removed, RemovedBy::User, now));
                }
                self.announce(record, &events, now)?;
                let accepted = rp_id
                    .as_deref()
                    .map(|rp_id| all_accepted(rp_id, account, record));
                Ok(Change::Write((accepted, events)))
            })
            .await?;
        let (accepted, events) = events;
        Ok(self.done(accepted, events).await)
    }
}
