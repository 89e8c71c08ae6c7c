//! Security notifications (the outbox in each user record, delivered at least
//! once) and the history of every factor a user has had.

use twofold_policy::Timestamp;

use crate::env::random_id;
use crate::error::Failure;
use crate::events::{Event, Factor};
use crate::notify::{Activity, Delivered, Notice, Notification, NotificationSender};
use crate::store::{RemovedBy, RetiredFactor, StoredNotification, TotpFactor, UserRecord};

use super::TwoFactor;
use super::record::*;
use super::types::*;

/// The most notifications one record keeps (undelivered and delivered).
pub(super) const MAX_NOTIFICATIONS: usize = 32;
/// The most delivered notifications one record keeps, for its security activity.
pub(super) const MAX_DELIVERED: usize = 20;
/// The most retired factors one record keeps.
pub(super) const MAX_RETIRED: usize = 100;
/// The most user records one delivery round visits.
pub(super) const DELIVERY_BATCH: usize = 64;
/// The most notifications of one record a delivery round claims.
pub(super) const CLAIM_BATCH: usize = 4;
/// The first retry's back-off, in seconds; it doubles with each failed attempt.
const FIRST_BACKOFF: u64 = 30;
/// The longest back-off, in seconds.
const MAX_BACKOFF: u64 = 3600;

/// The notice an event carries to its user, if any.
fn notice_of(event: &Event, low_threshold: usize) -> Option<Notice> {
    match event {
        Event::FactorAdded { factor, name, .. } => Some(Notice::FactorAdded {
            factor: *factor,
            name: name.clone(),
        }),
        Event::FactorRemoved { factor, name, .. } => Some(Notice::FactorRemoved {
            factor: *factor,
            name: name.clone(),
        }),
        Event::TwoFactorDisabled { .. } => Some(Notice::TwoFactorDisabled),
        Event::BackupCodesRegenerated { .. } => Some(Notice::BackupCodesRegenerated),
        Event::BackupCodeUsed { remaining, .. } => Some(Notice::BackupCodeUsed {
            remaining: *remaining,
            low: *remaining <= low_threshold,
        }),
        Event::LockedOut { until, .. } => Some(Notice::LockedOut { until: *until }),
        Event::AdminReset { actor, .. } => Some(Notice::AdminReset {
            actor: actor.clone(),
        }),
        Event::Unlocked { actor, .. } => Some(Notice::AdminUnlocked {
            actor: actor.clone(),
        }),
        Event::SelfUnlocked { .. } => Some(Notice::SelfUnlocked),
        Event::BrowserTrusted { label, .. } => Some(Notice::BrowserTrusted {
            label: label.clone(),
        }),
        _ => None,
    }
}

/// The back-off after failed attempt `attempt` (from 1): 30 s, doubling, at most an hour.
fn backoff(attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// Keeps a record's notifications bounded: at most [`MAX_DELIVERED`]
/// delivered ones, and [`MAX_NOTIFICATIONS`] in all, dropping the oldest
/// delivered ones first. Undelivered ones are dropped (oldest first) only when
/// that many pile up, which takes a worker that never runs.
fn trim_notifications(record: &mut UserRecord) {
    let delivered = |n: &StoredNotification| n.delivered_at.is_some();
    let mut excess_delivered = record
        .notifications
        .iter()
        .filter(|n| delivered(n))
        .count()
        .saturating_sub(MAX_DELIVERED);
    let mut excess = record.notifications.len().saturating_sub(MAX_NOTIFICATIONS);
    // Kept in order of writing, oldest first.
    record.notifications.retain(|n| {
        if delivered(n) && (excess_delivered > 0 || excess > 0) {
            excess_delivered = excess_delivered.saturating_sub(1);
            excess = excess.saturating_sub(1);
            false
        } else {
            true
        }
    });
    let excess = record.notifications.len().saturating_sub(MAX_NOTIFICATIONS);
    record.notifications.drain(..excess);
}

/// Records a factor the user no longer has.
pub(super) fn retire(record: &mut UserRecord, retired: RetiredFactor) {
    record.retired_factors.push(retired);
    let excess = record.retired_factors.len().saturating_sub(MAX_RETIRED);
    record.retired_factors.drain(..excess);
}

/// The authenticator app as history, removed at `now` by `by`.
pub(super) fn retired_totp(totp: &TotpFactor, by: RemovedBy, now: u64) -> RetiredFactor {
    RetiredFactor {
        factor: Factor::Totp,
        name: None,
        added_at: totp.enrolled_at,
        last_used_at: totp_last_used(totp),
        removed_at: now,
        removed_by: by,
    }
}

/// When an authenticator app's last accepted code was current.
fn totp_last_used(totp: &TotpFactor) -> Option<u64> {
    totp.last_step.map(|step| {
        step.saturating_mul(totp.params.period.seconds())
            .saturating_add(totp.params.t0)
    })
}

/// A passkey as history, removed at `now` by `by`.
#[cfg(feature = "passkey")]
pub(super) fn retired_passkey(
    passkey: &twofold_passkey::PasskeyCredential,
    by: RemovedBy,
    now: u64,
) -> RetiredFactor {
    RetiredFactor {
        factor: Factor::Passkey,
        name: Some(passkey.name().to_string()),
        added_at: passkey.created_at(),
        last_used_at: passkey.last_used_at(),
        removed_at: now,
        removed_by: by,
    }
}

/// One factor a user has, or had: for the Security page's history and the
/// administrator's staff view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FactorHistory {
    /// Which kind.
    pub factor: Factor,
    /// A passkey's name.
    pub name: Option<String>,
    /// When it was bound.
    pub added_at: Timestamp,
    /// When it was last used, if known.
    pub last_used_at: Option<Timestamp>,
    /// When it was removed; `None`: bound now.
    pub removed_at: Option<Timestamp>,
    /// Who removed it.
    pub removed_by: Option<RemovedBy>,
}

impl FactorHistory {
    fn retired(retired: &RetiredFactor) -> FactorHistory {
        FactorHistory {
            factor: retired.factor,
            name: retired.name.clone(),
            added_at: Timestamp::from_unix_seconds(retired.added_at),
            last_used_at: retired.last_used_at.map(Timestamp::from_unix_seconds),
            removed_at: Some(Timestamp::from_unix_seconds(retired.removed_at)),
            removed_by: Some(retired.removed_by.clone()),
        }
    }
}

impl TwoFactor {
    /// Puts the notices that `events` carry into the record's outbox: called
    /// by a change before it writes, so that the notification is stored by the
    /// same conditional write as the change (and by no write that lost).
    pub(super) fn announce(
        &self,
        record: &mut UserRecord,
        events: &[Event],
        now: u64,
    ) -> Result<(), Failure> {
        for event in events {
            if let Some(notice) = notice_of(event, self.config.backup_codes_low_threshold) {
                self.post(record, notice, now)?;
            }
        }
        Ok(())
    }

    /// Puts one notice into the record's outbox, due now.
    pub(super) fn post(
        &self,
        record: &mut UserRecord,
        notice: Notice,
        now: u64,
    ) -> Result<(), Failure> {
        record.notifications.push(StoredNotification {
            id: random_id(&*self.random)?,
            notice,
            at: now,
            attempts: 0,
            next_attempt_at: Some(now),
            delivered_at: None,
        });
        trim_notifications(record);
        Ok(())
    }

    /// One delivery round, the outbox worker's step: finds up to 64 records
    /// with notifications due, and hands each due notification to `sender`.
    /// Call it on a schedule (every few seconds) from one or more workers.
    ///
    /// Delivery is at least once. A notification is first **claimed** by a
    /// conditional write that moves its next attempt a lease
    /// ([`TwoFactorConfig::notification_lease_seconds`]) ahead, so that
    /// concurrent workers leave it alone; then sent; then marked delivered, or
    /// given a back-off (30 s, doubling, at most an hour) if the sender failed.
    /// A worker that dies after the claim leaves the notification to be sent
    /// again once the lease is over, with the same [`Notification::id`].
    ///
    /// A record that cannot be read or written is skipped (and counted), so
    /// that one bad record never stops the others' notifications.
    pub async fn deliver_notifications(
        &self,
        sender: &dyn NotificationSender,
    ) -> Result<Delivered, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let users = self
            .store
            .users_to_notify(Timestamp::from_unix_seconds(now), DELIVERY_BATCH)
            .await?;
        let mut delivered = Delivered::default();
        for user in users {
            match self.deliver_to(&user, sender, &mut delivered).await {
                Ok(()) => {}
                Err(_) => delivered.skipped = delivered.skipped.saturating_add(1),
            }
        }
        Ok(delivered)
    }

    /// Claims, sends and records the due notifications of one user.
    async fn deliver_to(
        &self,
        user: &str,
        sender: &dyn NotificationSender,
        delivered: &mut Delivered,
    ) -> Result<(), Failure> {
        let now = self.clock.now().as_unix_seconds();
        let lease = self.config.notification_lease_seconds;
        let claimed = self
            .update_user(user, |record| {
                let mut claimed = Vec::new();
                // A few at a time: sent one after another, they must all
                // go well within the lease.
                for stored in record
                    .notifications
                    .iter_mut()
                    .filter(|n| n.next_attempt_at.is_some_and(|at| at <= now))
                    .take(CLAIM_BATCH)
                {
                    stored.attempts = stored.attempts.saturating_add(1);
                    stored.next_attempt_at = Some(now.saturating_add(lease));
                    claimed.push(Notification {
                        id: stored.id.clone(),
                        user: user.to_string(),
                        notice: stored.notice.clone(),
                        at: Timestamp::from_unix_seconds(stored.at),
                        attempt: stored.attempts,
                    });
                }
                if claimed.is_empty() {
                    Ok(Change::Keep(claimed))
                } else {
                    Ok(Change::Write(claimed))
                }
            })
            .await?;
        let mut outcomes = Vec::with_capacity(claimed.len());
        for notification in &claimed {
            let sent = sender.send(notification).await.is_ok();
            outcomes.push((notification, sent));
        }
        let now = self.clock.now().as_unix_seconds();
        self.update_user(user, |record| {
            let mut changed = false;
            for (notification, sent) in &outcomes {
                let Some(stored) = record
                    .notifications
                    .iter_mut()
                    .find(|n| n.id == notification.id && n.delivered_at.is_none())
                else {
                    continue;
                };
                if *sent {
                    // Delivered, even if another worker has claimed it since:
                    // it would only send a duplicate.
                    stored.delivered_at = Some(now);
                    stored.next_attempt_at = None;
                    changed = true;
                } else if stored.attempts == notification.attempt {
                    // Still this attempt's: back off. (Another worker's claim
                    // since then is left alone.)
                    stored.next_attempt_at = Some(now.saturating_add(backoff(stored.attempts)));
                    changed = true;
                }
            }
            if changed {
                trim_notifications(record);
                Ok(Change::Write(()))
            } else {
                Ok(Change::Keep(()))
            }
        })
        .await?;
        for (_, sent) in outcomes {
            if sent {
                delivered.sent = delivered.sent.saturating_add(1);
            } else {
                delivered.failed = delivered.failed.saturating_add(1);
            }
        }
        Ok(())
    }

    /// The user's security activity, newest first: the notifications their
    /// record keeps (every undelivered one, and the latest delivered ones).
    pub async fn security_activity(&self, account: &Account<'_>) -> Result<Vec<Activity>, Failure> {
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        Ok(record
            .notifications
            .iter()
            .rev()
            .map(|n| Activity {
                id: n.id.clone(),
                notice: n.notice.clone(),
                at: Timestamp::from_unix_seconds(n.at),
                delivered_at: n.delivered_at.map(Timestamp::from_unix_seconds),
            })
            .collect())
    }

    /// Every factor the user has or had (NIST SP 800-63B rev. 4 §4.1): the
    /// bound ones first, then the removed ones, most recently removed first;
    /// the latest 100 removed ones are kept.
    pub async fn authenticator_history(
        &self,
        account: &Account<'_>,
    ) -> Result<Vec<FactorHistory>, Failure> {
        let record = self
            .store
            .load_user(account.user)
            .await?
            .map(|v| v.value)
            .unwrap_or_default();
        let mut history = Vec::new();
        if let Some(totp) = &record.totp {
            history.push(FactorHistory {
                factor: Factor::Totp,
                name: None,
                added_at: Timestamp::from_unix_seconds(totp.enrolled_at),
                last_used_at: totp_last_used(totp).map(Timestamp::from_unix_seconds),
                removed_at: None,
                removed_by: None,
            });
        }
        #[cfg(feature = "passkey")]
        for passkey in &record.passkeys {
            history.push(FactorHistory {
                factor: Factor::Passkey,
                name: Some(passkey.name().to_string()),
                added_at: Timestamp::from_unix_seconds(passkey.created_at()),
                last_used_at: passkey.last_used_at().map(Timestamp::from_unix_seconds),
                removed_at: None,
                removed_by: None,
            });
        }
        history.extend(
            record
                .retired_factors
                .iter()
                .rev()
                .map(FactorHistory::retired),
        );
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(backoff).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(0), 30);
        assert_eq!(backoff(u32::MAX), 3600);
    }

    fn stored(id: usize, delivered: bool) -> StoredNotification {
        StoredNotification {
            id: id.to_string(),
            notice: Notice::TwoFactorDisabled,
            at: id as u64,
            attempts: 1,
            next_attempt_at: (!delivered).then_some(id as u64),
            delivered_at: delivered.then_some(id as u64),
        }
    }

    fn ids(record: &UserRecord) -> Vec<usize> {
        record
            .notifications
            .iter()
            .map(|n| n.id.parse().unwrap())
            .collect()
    }

    #[test]
    fn trimming_drops_the_oldest_delivered_first_and_keeps_undelivered() {
        let mut record = UserRecord {
            notifications: (0..30).map(|i| stored(i, i < 25)).collect(),
            ..UserRecord::default()
        };
        // 25 delivered (0..25), then 5 undelivered (25..30): 30 in all.
        trim_notifications(&mut record);
        // At most 20 delivered: the 5 oldest go; every undelivered stays.
        assert_eq!(ids(&record), (5..30).collect::<Vec<_>>());

        // Beyond 32 in all, with few delivered: the delivered go first.
        let mut record = UserRecord {
            notifications: (0..34).map(|i| stored(i, i % 10 == 0)).collect(),
            ..UserRecord::default()
        };
        trim_notifications(&mut record);
        assert_eq!(record.notifications.len(), MAX_NOTIFICATIONS);
        assert_eq!(
            ids(&record),
            (0..34).filter(|i| ![0, 10].contains(i)).collect::<Vec<_>>()
        );

        // Only undelivered, beyond 32: the oldest go.
        let mut record = UserRecord {
            notifications: (0..35).map(|i| stored(i, false)).collect(),
            ..UserRecord::default()
        };
        trim_notifications(&mut record);
        assert_eq!(ids(&record), (3..35).collect::<Vec<_>>());

        // Within bounds: untouched.
        let mut record = UserRecord {
            notifications: (0..32).map(|i| stored(i, i < 20)).collect(),
            ..UserRecord::default()
        };
        trim_notifications(&mut record);
        assert_eq!(ids(&record), (0..32).collect::<Vec<_>>());
    }

    #[test]
    fn retiring_keeps_the_latest_hundred() {
        let mut record = UserRecord::default();
        for i in 0..105 {
            retire(
                &mut record,
                RetiredFactor {
                    factor: Factor::Totp,
                    name: None,
                    added_at: i,
                    last_used_at: None,
                    removed_at: i,
                    removed_by: RemovedBy::User,
                },
            );
        }
        assert_eq!(record.retired_factors.len(), MAX_RETIRED);
        assert_eq!(record.retired_factors[0].added_at, 5);
        assert_eq!(record.retired_factors[99].added_at, 104);
    }
}
