//! Sweeping expired state, and re-sealing secrets under the current key.

use std::sync::atomic::Ordering;

use twofold_policy::Timestamp;

use crate::error::Failure;

use super::TwoFactor;
use super::record::*;
use super::types::*;

impl TwoFactor {
    /// Sweeps expired state: deletes expired username-less ceremonies, and
    /// rewrites the records of users whose setups or challenges have lapsed,
    /// without them. The facade also does this by itself, at most once per
    /// `sweep_interval_seconds` and a bounded batch at a time; call this to
    /// schedule maintenance yourself (it sweeps until nothing expired is left).
    pub async fn purge_expired(&self) -> Result<Purged, Failure> {
        let now = self.clock.now().as_unix_seconds();
        let mut purged = Purged {
            ceremonies: self
                .store
                .purge_expired(Timestamp::from_unix_seconds(now))
                .await?,
            users: 0,
        };
        loop {
            let batch = self.sweep_users(now, SWEEP_BATCH).await?;
            purged.users += batch;
            if batch < SWEEP_BATCH as u64 {
                return Ok(purged);
            }
        }
    }

    /// Rewrites up to `limit` records holding lapsed state; returns how many.
    pub(super) async fn sweep_users(&self, now: u64, limit: usize) -> Result<u64, Failure> {
        let mut swept = 0;
        for user in self
            .store
            .expired_users(Timestamp::from_unix_seconds(now), limit)
            .await?
        {
            // Rewritten only if something in it has still lapsed (another
            // request may have cleaned it meanwhile); `tidy` drops it.
            let rewritten = self
                .update_user(&user, |record| {
                    if record.expires_at().is_some_and(|at| at <= now) {
                        Ok(Change::Write(true))
                    } else {
                        Ok(Change::Keep(false))
                    }
                })
                .await?;
            swept += u64::from(rewritten);
        }
        Ok(swept)
    }

    /// The automatic sweep: at most once per interval, one bounded batch.
    /// Its failures never fail the request that triggered it; the next one retries.
    pub(super) async fn sweep_if_due(&self, now: u64) {
        let interval = self.config.sweep_interval_seconds;
        if interval == 0 {
            return;
        }
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now < last.saturating_add(interval)
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if self
            .store
            .purge_expired(Timestamp::from_unix_seconds(now))
            .await
            .is_ok()
        {
            let _ = self.sweep_users(now, SWEEP_BATCH).await;
        }
    }

    /// Rewrites every user record in its current form, so that an old key can
    /// be retired on purpose: TOTP secrets are re-sealed under the keyring's
    /// current key (records are re-sealed at their next write anyway), and
    /// passkeys registered before the credential index existed are bound in it.
    /// Pages through the store `batch` users at a time.
    pub async fn reseal_all(&self, batch: usize) -> Result<Resealed, Failure> {
        let batch = batch.max(1);
        let mut report = Resealed::default();
        let mut after: Option<String> = None;
        loop {
            let users = self.store.list_users(after.as_deref(), batch).await?;
            for user in &users {
                report.users += 1;
                let outcome = self
                    .write_user(user, Index::BindAll, None, |record| {
                        let sealed = [
                            record.totp.as_ref().map(|t| &t.secret),
                            record.pending_totp.as_ref().map(|p| &p.secret),
                        ];
                        let mut stale = false;
                        for secret in sealed.into_iter().flatten() {
                            if self.keyring.open(secret, user).is_err() {
                                return Ok(Change::Keep(Err(secret.key_id().to_string())));
                            }
                            stale |= self.keyring.needs_reseal(secret);
                        }
                        if stale || record.has_passkeys() {
                            Ok(Change::Write(Ok(true)))
                        } else {
                            Ok(Change::Keep(Ok(false)))
                        }
                    })
                    .await?;
                match outcome {
                    Ok(rewritten) => report.rewritten += u64::from(rewritten),
                    Err(key_id) => report.unreadable.push((user.clone(), key_id)),
                }
            }
            if users.len() < batch {
                return Ok(report);
            }
            after = users.last().cloned();
        }
    }
}
