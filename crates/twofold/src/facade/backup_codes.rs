//! Backup codes: answering a challenge with one, and regenerating the set.

use twofold_backup::{BackupVerification, InputError, NewBackupCodes, NormalizedCode};

use crate::error::{Corrupt, Failure, TwoFactorError};
use crate::events::{Event, Factor};
use crate::store::ThrottleState;

use super::TwoFactor;
use super::record::*;
use super::types::*;

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
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
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
        let (remaining, events) = self
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
                        Ok(Change::Write((
                            remaining,
                            vec![
                                Event::BackupCodeUsed {
                                    user: account.user.to_string(),
                                    remaining,
                                    at: now,
                                },
                                Event::SignInSucceeded {
                                    user: account.user.to_string(),
                                    factor: Factor::BackupCode,
                                    at: now,
                                },
                            ],
                        )))
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
        Ok(self
            .done(
                SignedIn {
                    factor: Factor::BackupCode,
                    backup_codes_remaining: Some(remaining),
                },
                events,
            )
            .await)
    }

    /// Replaces the backup codes (after a fresh password re-entry); the old set is then worthless.
    pub async fn regenerate_backup_codes(
        &self,
        account: &Account<'_>,
        reauthenticated_at: Option<u64>,
    ) -> Result<Done<NewBackupCodes>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now();
        require_fresh(&org.policy, reauthenticated_at, now)?;
        let (stored, codes) = self.generate_backup_codes().await?;
        let events = self
            .update_user(account.user, |record| {
                if record.totp.is_none() && record.passkeys.is_empty() {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "a second factor",
                    )));
                }
                record.backup_codes = Some(stored.clone());
                Ok(Change::Write(vec![Event::BackupCodesRegenerated {
                    user: account.user.to_string(),
                    at: now,
                }]))
            })
            .await?;
        Ok(self.done(codes, events).await)
    }
}
