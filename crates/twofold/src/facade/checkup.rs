//! After enrolment: the check-up (are the backup codes saved?) and "remind
//! me later" for a user who has not set up a second factor yet.

use twofold_policy::Timestamp;

use crate::error::{Failure, TwoFactorError};
use crate::events::Event;
use crate::store::UserRecord;

use super::TwoFactor;
use super::record::*;
use super::types::*;

/// When the user's first factor of those bound now was added.
fn enrolled_at(record: &UserRecord) -> Option<u64> {
    let totp = record.totp.as_ref().map(|totp| totp.enrolled_at);
    #[cfg(feature = "passkey")]
    let passkeys = record.passkeys.iter().map(|p| p.created_at()).min();
    #[cfg(not(feature = "passkey"))]
    let passkeys = None;
    [totp, passkeys].into_iter().flatten().min()
}

impl TwoFactor {
    /// The check-up, if it is due for the user (the policy's
    /// `checkup.after_days` after their first factor, and not confirmed since):
    /// call it when a sign-in completes, and ask them to confirm that their
    /// backup codes are saved ([`confirm_checkup`](Self::confirm_checkup)),
    /// showing how many remain, or to make new ones.
    pub async fn checkup(&self, account: &Account<'_>) -> Result<Option<Checkup>, Failure> {
        let (org, loaded) = self.organization_and_user(account).await?;
        let record = loaded.map(|v| v.value).unwrap_or_default();
        let now = Timestamp::from_unix_seconds(self.clock.now().as_unix_seconds());
        let Some(enrolled) = enrolled_at(&record).map(Timestamp::from_unix_seconds) else {
            return Ok(None);
        };
        let confirmed = record
            .checkup_confirmed_at
            .map(Timestamp::from_unix_seconds);
        if !org.policy.checkup_due(enrolled, confirmed, now) {
            return Ok(None);
        }
        let (_, remaining, low) = Self::facts(
            account,
            &record,
            &org,
            self.config.backup_codes_low_threshold,
        );
        Ok(Some(Checkup {
            enrolled_at: enrolled,
            backup_codes_remaining: remaining,
            backup_codes_low: low,
        }))
    }

    /// The user confirmed the check-up: their backup codes are saved. It is
    /// not asked again until they enrol anew (after a reset, say).
    pub async fn confirm_checkup(&self, account: &Account<'_>) -> Result<Done<()>, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let events = self
            .update_user(account.user, |record| {
                if enrolled_at(record).is_none() {
                    return Err(Failure::from(TwoFactorError::NotEnrolled(
                        "a second factor",
                    )));
                }
                record.checkup_confirmed_at = Some(now);
                Ok(Change::Write(vec![Event::CheckupConfirmed {
                    user: account.user.to_string(),
                    at: Timestamp::from_unix_seconds(now),
                }]))
            })
            .await?;
        Ok(self.done((), events).await)
    }

    /// "Remind me later": quiets the reminder to set up a second factor for
    /// the policy's `reminders.skip_days`, never past the end of the user's
    /// grace period; returns until when. Refused (with the policy's reason)
    /// when setup is due now, or there is nothing to put off.
    pub async fn remind_me_later(&self, account: &Account<'_>) -> Result<Done<Timestamp>, Failure> {
        let org = self.organization(account.organization).await?;
        let now = self.clock.now().as_unix_seconds();
        let at = Timestamp::from_unix_seconds(now);
        let until = self
            .update_user(account.user, |record| {
                let (facts, _, _) = Self::facts(account, record, &org, 0);
                let decision = org.policy.sign_in(&facts, at);
                // Only a reminder the policy would give can be put off.
                let quietable = org.policy.reminder_due(&decision.outcome, &facts, None, at);
                let Some(until) = org
                    .policy
                    .remind_later_until(&decision.outcome, at)
                    .filter(|_| quietable)
                else {
                    return Err(Failure::from(TwoFactorError::Denied(decision.reason)));
                };
                record.reminder_quiet_until = Some(until.as_unix_seconds());
                Ok(Change::Write(until))
            })
            .await?;
        Ok(self.done(until, Vec::new()).await)
    }
}
