//! Backup codes: answering a challenge with one, regenerating the set, and
//! the set that comes with a user's first factor (Argon2id on the offload, in
//! working memory kept per thread).

use std::sync::Arc;

use twofold_backup::{
    BackupCodeSet, BackupVerification, HashMemory, InputError, NewBackupCodes, NormalizedCode,
};
use twofold_policy::Timestamp;

use crate::env::RngAdapter;
use crate::error::{Corrupt, Failure, TwoFactorError};
use crate::events::{Event, Factor, TrustRevocation};
use crate::store::{ThrottleState, UserRecord};

use super::TwoFactor;
use super::record::*;
use super::trusted::{Answered, revoke_browsers};
use super::types::*;

std::thread_local! {
    /// Argon2id's working memory, kept per thread: on the offload's threads,
    /// the process holds one block per thread, however many codes it hashes.
    static HASH_MEMORY: std::cell::RefCell<HashMemory> =
        std::cell::RefCell::new(HashMemory::new());
}

/// Runs `hash` with this thread's kept Argon2id memory.
pub(super) fn with_hash_memory<T>(hash: impl FnOnce(&mut HashMemory) -> T) -> T {
    HASH_MEMORY.with(|memory| match memory.try_borrow_mut() {
        Ok(mut memory) => hash(&mut memory),
        // Never re-entered; if it were, fresh memory is correct, only slower.
        Err(_) => hash(&mut HashMemory::new()),
    })
}

/// Whether a user needs a new backup-code set with their next factor: they have
/// no unused codes.
pub(super) fn needs_backup_codes(record: &UserRecord) -> Result<bool, TwoFactorError> {
    Ok(backup_set(record)?.is_none_or(|set| set.remaining() == 0))
}

impl TwoFactor {
    /// Answers challenge `challenge_id` with a backup code ("use a backup code").
    ///
    /// The code is hashed once (Argon2id, on the offload), before the
    /// conditional write, which then only compares digests however often it
    /// retries. A request that would be refused anyway (no such challenge,
    /// throttled, unreadable input) is refused before any hashing.
    pub async fn verify_backup_code(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
    ) -> Result<Done<SignedIn>, Failure> {
        let done = self
            .verify_backup_code_trusting(account, challenge_id, input, None)
            .await?;
        Ok(Done {
            value: done.value.signed_in,
            events: done.events,
        })
    }

    /// [`verify_backup_code`](Self::verify_backup_code), trusting the browser
    /// on success as [`verify_totp_trusting`](Self::verify_totp_trusting) does.
    pub async fn verify_backup_code_trusting(
        &self,
        account: &Account<'_>,
        challenge_id: &str,
        input: &str,
        trust_browser: Option<&str>,
    ) -> Result<Done<Answered>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let set = backup_set(&record)?;
        Self::answerable(&org.policy, &record, challenge_id, None, now)?;
        let set = set.ok_or(TwoFactorError::NotEnrolled("backup codes"))?;
        let typed = NormalizedCode::parse(input)
            .map_err(|error| TwoFactorError::InvalidCode(error.into()))?;
        if typed.len() != set.code_length() {
            return Err(Failure::from(TwoFactorError::InvalidCode(
                InputError::WrongLength {
                    expected: set.code_length(),
                    found: typed.len(),
                }
                .into(),
            )));
        }
        let input = input.to_string();
        let hashed = self
            .offload(move || with_hash_memory(|memory| set.hash_input_in(&input, memory)))
            .await?
            .map_err(|error| match error {
                twofold_backup::Error::Input(error) => TwoFactorError::InvalidCode(error.into()),
                other => TwoFactorError::Corrupt(Corrupt::BackupCodes(other)),
            })?;
        let (remaining, events, trusted_browser) = self
            .update_user(account.user, |record| {
                if let Err(error) = Self::answerable(&org.policy, record, challenge_id, None, now) {
                    return Err(Failure::from(error));
                }
                let mut set = match backup_set(record) {
                    Ok(Some(set)) => set,
                    Ok(None) => {
                        return Err(Failure::from(TwoFactorError::NotEnrolled("backup codes")));
                    }
                    Err(error) => return Err(Failure::from(error)),
                };
                let outcome = match set.consume_hashed(&hashed) {
                    Ok(outcome) => outcome,
                    // The set was regenerated since the code was hashed.
                    Err(twofold_backup::Error::OtherSet) => {
                        return Err(Failure::from(TwoFactorError::Contended));
                    }
                    Err(error) => {
                        return Err(TwoFactorError::Corrupt(Corrupt::BackupCodes(error)).into());
                    }
                };
                match outcome {
                    BackupVerification::Matched { .. } => {
                        let remaining = set.remaining();
                        record.backup_codes = Some(set.encode());
                        record.challenge = None;
                        record.throttle = ThrottleState::default();
                        let mut events = vec![
                            Event::BackupCodeUsed {
                                user: account.user.to_string(),
                                remaining,
                                at: Timestamp::from_unix_seconds(now),
                            },
                            Event::SignInSucceeded {
                                user: account.user.to_string(),
                                factor: Factor::BackupCode,
                                at: Timestamp::from_unix_seconds(now),
                            },
                        ];
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
                        Ok(Change::Write((remaining, events, browser)))
                    }
                    BackupVerification::AlreadyUsed { .. } => {
                        Ok(Change::WriteThenFail(Self::count_failure(
                            &org.policy,
                            record,
                            account,
                            Factor::BackupCode,
                            TwoFactorError::CodeAlreadyUsed,
                            now,
                        )))
                    }
                    BackupVerification::NoMatch => Ok(Change::WriteThenFail(Self::count_failure(
                        &org.policy,
                        record,
                        account,
                        Factor::BackupCode,
                        TwoFactorError::WrongCode,
                        now,
                    ))),
                }
            })
            .await?;
        let answered = Answered {
            signed_in: SignedIn {
                factor: Factor::BackupCode,
                backup_codes_remaining: Some(remaining),
            },
            trusted_browser,
        };
        Ok(self.done(answered, events).await)
    }

    /// Replaces the backup codes (after a fresh password re-entry); the old set is then worthless.
    pub async fn regenerate_backup_codes(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<Timestamp>,
    ) -> Result<Done<NewBackupCodes>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let (stored, codes) = self.generate_backup_codes().await?;
        let events = self
            .update_user(account.user, |record| {
                if record.totp.is_none() && !record.has_passkeys() {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "a second factor",
                    )));
                }
                record.backup_codes = Some(stored.clone());
                let mut events = vec![Event::BackupCodesRegenerated {
                    user: account.user.to_string(),
                    at: Timestamp::from_unix_seconds(now),
                }];
                revoke_browsers(
                    record,
                    account.user,
                    TrustRevocation::FactorChanged,
                    now,
                    &mut events,
                );
                self.announce(record, &events, now)?;
                Ok(Change::Write(events))
            })
            .await?;
        Ok(self.done(codes, events).await)
    }

    /// A new backup-code set, generated on the offload (one Argon2id evaluation
    /// per code): its stored form and the codes to show once.
    pub(super) async fn generate_backup_codes(
        &self,
    ) -> Result<(String, NewBackupCodes), TwoFactorError> {
        let config = self.config.backup_codes;
        let random = Arc::clone(&self.random);
        self.offload(move || {
            with_hash_memory(|memory| {
                BackupCodeSet::generate_in(&config, &mut RngAdapter(&*random), memory)
            })
            .map(|(set, codes)| (set.encode(), codes))
            .map_err(|error| match error {
                twofold_backup::Error::Random => TwoFactorError::RandomnessUnavailable,
                other => TwoFactorError::Enrollment(other.into()),
            })
        })
        .await?
    }

    /// Puts the pre-generated backup-code set (its stored form) into `record` if
    /// the user has no unused codes (their first factor, or all codes spent);
    /// returns whether it did, so that the caller shows the codes once.
    /// Generation is costly, so it happens before the write loop; if a
    /// concurrent change made new codes necessary after all, the write gives up.
    pub(super) fn backup_codes_for_first_factor(
        record: &mut UserRecord,
        generated: Option<&str>,
        account: &Account<'_>,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<bool, TwoFactorError> {
        if !needs_backup_codes(record)? {
            return Ok(false);
        }
        let stored = generated.ok_or(TwoFactorError::Contended)?;
        record.backup_codes = Some(stored.to_string());
        events.push(Event::BackupCodesCreated {
            user: account.user.to_string(),
            at: Timestamp::from_unix_seconds(now),
        });
        Ok(true)
    }

    /// Backup codes for a user's next factor, generated only if they will need them.
    pub(super) async fn backup_codes_if_needed(
        &self,
        user: &str,
    ) -> Result<Option<(String, NewBackupCodes)>, TwoFactorError> {
        let record = self
            .store
            .load_user(user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        if needs_backup_codes(&record)? {
            Ok(Some(self.generate_backup_codes().await?))
        } else {
            Ok(None)
        }
    }
}
