//! Throttling of password entries (sign-in and every re-entry), per account
//! and per client address, in the database: it holds across restarts and
//! across instances.
//!
//! - An account may fail [`ACCOUNT_FREE`] times, an address [`ADDRESS_FREE`]
//!   times (a clinic's staff share one address behind its router); after that
//!   each further failure doubles the wait, from 5 seconds up to 15 minutes.
//! - A throttled attempt is refused before any hashing: the wait costs nothing.
//! - Unknown accounts are counted and hashed like known ones, so that neither
//!   timing nor throttling tells them apart.
//! - Counts end with a success (the account's, not the address's) or after a
//!   day without failures.

use sqlx::{AnyPool, Row};

/// Failures an account may have before it waits.
pub const ACCOUNT_FREE: u64 = 5;
/// Failures an address may have before it waits.
pub const ADDRESS_FREE: u64 = 30;
/// The first wait, doubled with each further failure.
const FIRST_WAIT_SECONDS: u64 = 5;
/// The longest wait.
pub const MAX_WAIT_SECONDS: u64 = 15 * 60;
/// Failures older than this are forgotten.
const MEMORY_SECONDS: u64 = 24 * 60 * 60;

/// What a password entry is counted against.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    account: String,
    address: String,
}

impl Keys {
    /// For `email` (known or not) from `address`.
    pub(crate) fn new(email: &str, address: &str) -> Keys {
        Keys {
            account: format!("account:{}", email.trim().to_lowercase()),
            address: format!("address:{address}"),
        }
    }

    fn all(&self) -> [(&str, u64); 2] {
        [(&self.account, ACCOUNT_FREE), (&self.address, ADDRESS_FREE)]
    }
}

/// The wait after `failures` failures of which `free` are free.
fn wait_after(failures: u64, free: u64) -> u64 {
    match failures.checked_sub(free) {
        None => 0,
        Some(beyond) => FIRST_WAIT_SECONDS
            .saturating_mul(1u64 << beyond.min(20))
            .min(MAX_WAIT_SECONDS),
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

async fn failures(pool: &AnyPool, key: &str, now: u64) -> Result<(u64, u64), sqlx::Error> {
    let row =
        sqlx::query("SELECT failures, last_failure FROM clinic_password_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    let Some(row) = row else { return Ok((0, 0)) };
    let failures = u64::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(0);
    let last = u64::try_from(row.try_get::<i64, _>("last_failure")?).unwrap_or(0);
    if now.saturating_sub(last) > MEMORY_SECONDS {
        return Ok((0, 0));
    }
    Ok((failures, last))
}

/// The wait for one key (0: go ahead): `failures` recorded, the last at
/// `last`, `free` of them free, and `others` attempts on the key that came
/// earlier and whose outcome is not recorded yet. Attempts in flight count against the free failures,
/// and past them only one attempt at a time goes ahead, so that parallel
/// guesses cannot stretch the budget.
fn decide(failures: u64, last: u64, free: u64, others: u64, now: u64) -> u64 {
    let until = last.saturating_add(wait_after(failures, free));
    if until > now {
        return until - now;
    }
    if others > 0 && failures.saturating_add(others) >= free {
        // Wait for the attempts in flight to be decided (a moment).
        return 1;
    }
    0
}

/// Password attempts in flight on this instance, per key: counted in the
/// process, never in the database, so that a request that dies halfway leaves
/// nothing behind (the count drops with its [`Admission`]).
#[derive(Debug, Default)]
pub(crate) struct InFlight(std::sync::Mutex<std::collections::HashMap<String, u64>>);

impl InFlight {
    fn with<T>(&self, f: impl FnOnce(&mut std::collections::HashMap<String, u64>) -> T) -> T {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut map)
    }

    fn leave(&self, keys: &[String; 2]) {
        self.with(|map| {
            for key in keys {
                if let Some(count) = map.get_mut(key) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        map.remove(key);
                    }
                }
            }
        });
    }

    /// Attempts in flight on `key` (the map holds only keys with some).
    #[cfg(test)]
    fn count(&self, key: &str) -> u64 {
        self.with(|map| map.get(key).copied().unwrap_or(0))
    }
}

/// One admitted attempt, in flight until dropped.
#[derive(Debug)]
pub(crate) struct Admission<'a> {
    in_flight: &'a InFlight,
    keys: [String; 2],
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.in_flight.leave(&self.keys);
    }
}

/// Admits one password attempt for `keys`, or says how long to wait. The
/// attempt is registered in flight *before* the recorded failures are read, so
/// that of two parallel attempts the later always sees the earlier: its
/// recorded failure or its place in flight (or, conservatively, both). (Several instances each admit
/// their own in-flight attempts: the budget is per instance while attempts are
/// in flight, and shared once their failures are recorded.)
pub(crate) async fn admit<'a>(
    pool: &AnyPool,
    in_flight: &'a InFlight,
    keys: &Keys,
    now: u64,
) -> Result<Result<Admission<'a>, u64>, sqlx::Error> {
    let admission = Admission {
        in_flight,
        keys: [keys.account.clone(), keys.address.clone()],
    };
    // How many attempts on each key came earlier and are still in flight.
    let earlier: [u64; 2] = in_flight.with(|map| {
        admission.keys.clone().map(|key| {
            let count = map.entry(key).or_insert(0);
            *count += 1;
            *count - 1
        })
    });
    let mut longest = 0;
    for ((key, free), others) in keys.all().into_iter().zip(earlier) {
        let (failures, last) = failures(pool, key, now).await?;
        longest = longest.max(decide(failures, last, free, others, now));
    }
    if longest > 0 {
        return Ok(Err(longest));
    }
    Ok(Ok(admission))
}

/// Counts a failure against both keys; returns the account's failures now.
pub(crate) async fn fail(pool: &AnyPool, keys: &Keys, now: u64) -> Result<u64, sqlx::Error> {
    let mut account = 0;
    for (key, _) in keys.all() {
        let count: i64 = sqlx::query(
            "INSERT INTO clinic_password_failures (key, failures, last_failure) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN clinic_password_failures.last_failure < $3 THEN 1 \
                             ELSE clinic_password_failures.failures + 1 END, \
             last_failure = $2 \
             RETURNING failures",
        )
        .bind(key)
        .bind(to_i64(now))
        .bind(to_i64(now.saturating_sub(MEMORY_SECONDS)))
        .fetch_one(pool)
        .await?
        .try_get("failures")?;
        if key == keys.account {
            account = u64::try_from(count).unwrap_or(0);
        }
    }
    // Forget old failures now and then (here: whenever one is counted).
    sqlx::query("DELETE FROM clinic_password_failures WHERE last_failure < $1")
        .bind(to_i64(now.saturating_sub(MEMORY_SECONDS)))
        .execute(pool)
        .await?;
    Ok(account)
}

/// A success: the account's failures end (the address's stay).
pub(crate) async fn succeed(pool: &AnyPool, keys: &Keys) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM clinic_password_failures WHERE key = $1")
        .bind(&keys.account)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether this failure count is the one that starts an account's back-off.
pub(crate) fn starts_back_off(account_failures: u64) -> bool {
    account_failures == ACCOUNT_FREE
}

/// The wait an account's failure count imposes.
pub(crate) fn account_wait(account_failures: u64) -> u64 {
    wait_after(account_failures, ACCOUNT_FREE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gate: `free` attempts at once, then one at a time and only after
    /// each doubled wait; attempts in flight count against the free ones.
    #[test]
    fn the_gate_counts_attempts_in_flight() {
        let now = 1_000_000;
        // Nothing recorded: up to `free` go ahead together, the next waits.
        for others in 0..5 {
            assert_eq!(decide(0, 0, 5, others, now), 0, "{others} in flight");
        }
        assert_eq!(decide(0, 0, 5, 5, now), 1);
        assert_eq!(decide(3, now, 5, 2, now), 1);
        assert_eq!(decide(3, now, 5, 1, now), 0);
        // Past the free failures: the wait first, then one at a time.
        assert_eq!(decide(5, now, 5, 0, now), 5);
        assert_eq!(decide(5, now, 5, 0, now + 5), 0);
        assert_eq!(decide(5, now, 5, 1, now + 5), 1);
        assert_eq!(decide(6, now, 5, 0, now + 9), 1);
        assert_eq!(decide(6, now, 5, 0, now + 10), 0);
    }

    #[test]
    fn in_flight_attempts_leave_nothing_behind() {
        let in_flight = InFlight::default();
        let keys = [String::from("account:a"), String::from("address:x")];
        let one = Admission {
            in_flight: &in_flight,
            keys: keys.clone(),
        };
        in_flight.with(|map| {
            for key in &keys {
                *map.entry(key.clone()).or_insert(0) += 2;
            }
        });
        assert_eq!(in_flight.count("address:x"), 2);
        drop(one);
        assert_eq!(in_flight.count("address:x"), 1);
        in_flight.leave(&keys);
        assert_eq!(in_flight.count("account:a"), 0);
        assert!(in_flight.with(|map| map.is_empty()));
    }

    #[test]
    fn waits_start_after_the_free_failures_double_and_are_capped() {
        assert_eq!(wait_after(0, 5), 0);
        assert_eq!(wait_after(4, 5), 0);
        assert_eq!(wait_after(5, 5), 5);
        assert_eq!(wait_after(6, 5), 10);
        assert_eq!(wait_after(9, 5), 80);
        assert_eq!(wait_after(12, 5), 640);
        assert_eq!(wait_after(13, 5), MAX_WAIT_SECONDS);
        assert_eq!(wait_after(u64::MAX, 5), MAX_WAIT_SECONDS);
    }
}
