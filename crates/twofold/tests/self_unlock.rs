//! Self-service unlock: each rule, the ceiling it never lifts, and its races.
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{
    Call, Harness, Interpose, ORG, Wrapped, account, code, enroll_totp, harness, harness_with,
    register_passkey, wrong_code,
};
use twofold::factors::policy::{Lockout, ThrottleDocument};
use twofold::store::{SelfUnlockState, StoreError, StoreFuture};
use twofold::{
    Account, Clock, ErrorKind, Event, Lock, PolicyDocument, Reason, SelfUnlockError, SignInStep,
    Timestamp, TwoFactorError, UnlockProgress,
};

/// The clinic's roles, with a throttle that locks after `max_failures` wrong
/// codes (no back-off before) for an hour, and only an administrator past `ceiling`.
fn policy(max_failures: u32, ceiling: u32, lockout: Lockout) -> PolicyDocument {
    PolicyDocument {
        throttle: ThrottleDocument {
            max_failures,
            backoff_seconds: Vec::new(),
            lockout,
            ceiling,
        },
        ..PolicyDocument::example_clinic()
    }
}

const HOUR: Lockout = Lockout::ForSeconds(3600);

async fn with_policy(h: &Harness, document: PolicyDocument) {
    h.twofold.set_policy(ORG, document).await.unwrap();
}

fn now(h: &Harness) -> u64 {
    h.clock.now().as_unix_seconds()
}

/// Enters `count` wrong codes at the second step.
async fn fail_sign_in(h: &Harness, who: &Account<'_>, secret: &str, count: u32) {
    let SignInStep::Challenge { challenge_id, .. } =
        h.twofold.begin_sign_in(who).await.unwrap().value
    else {
        panic!("expected a challenge");
    };
    for _ in 0..count {
        let failure = h
            .twofold
            .verify_totp(who, &challenge_id, &wrong_code(secret, now(h)))
            .await
            .unwrap_err();
        assert!(
            matches!(failure.error, TwoFactorError::WrongCode),
            "{failure:?}"
        );
    }
}

/// Ana, with an authenticator app, locked out by three wrong codes (for an hour).
async fn locked_ana(h: &Harness, ceiling: u32) -> (Account<'static>, String) {
    with_policy(h, policy(3, ceiling, HOUR)).await;
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(h, &ana).await;
    fail_sign_in(h, &ana, &secret, 3).await;
    assert!(matches!(
        h.twofold.begin_sign_in(&ana).await.unwrap().value,
        SignInStep::Locked {
            lock: Lock::Until { .. }
        }
    ));
    (ana, secret)
}

async fn unlock_code(
    h: &Harness,
    who: &Account<'_>,
    typed: &str,
) -> Result<UnlockProgress, TwoFactorError> {
    h.twofold
        .self_unlock(who, typed)
        .await
        .map(|done| done.value)
        .map_err(|failure| failure.error)
}

async fn failures(h: &Harness, user: &str) -> (u32, u32) {
    let record = h.store.load_user(user).await.unwrap().unwrap().value;
    (record.throttle.failures, record.throttle.unlocked_at)
}

fn self_unlock_error(result: Result<UnlockProgress, TwoFactorError>) -> SelfUnlockError {
    match result {
        Err(TwoFactorError::SelfUnlock(error)) => error,
        other => panic!("expected a self-unlock refusal, got {other:?}"),
    }
}

/// Three codes from three successive steps, then a sign-in with the next.
async fn unlock(h: &Harness, who: &Account<'_>, secret: &str) {
    for _ in 0..3 {
        h.clock.advance(30);
        unlock_code(h, who, &code(secret, now(h))).await.unwrap();
    }
}

#[tokio::test]
async fn three_codes_from_successive_steps_unlock_and_are_spent() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 100).await;
    let offer = h.twofold.self_unlock_offer(&ana).await.unwrap().unwrap();
    assert_eq!((offer.needed, offer.entered), (3, 0));
    assert_eq!((offer.deadline, offer.retry_at), (None, None));
    assert_eq!(
        offer.locked_until,
        Timestamp::from_unix_seconds(now(&h) + 3600)
    );

    let started = now(&h);
    let first = unlock_code(&h, &ana, &code(&secret, started))
        .await
        .unwrap();
    let deadline = Timestamp::from_unix_seconds(started + 600);
    assert_eq!(
        first,
        UnlockProgress::Continue {
            entered: 1,
            needed: 3,
            deadline
        }
    );
    let offer = h.twofold.self_unlock_offer(&ana).await.unwrap().unwrap();
    assert_eq!((offer.entered, offer.deadline), (1, Some(deadline)));
    h.clock.advance(30);
    let second = unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    assert_eq!(
        second,
        UnlockProgress::Continue {
            entered: 2,
            needed: 3,
            deadline
        }
    );
    // Still locked before the last code.
    assert!(h.twofold.status(&ana).await.unwrap().locked.is_some());
    h.clock.advance(30);
    let last_code = code(&secret, now(&h));
    let done = h.twofold.self_unlock(&ana, &last_code).await.unwrap();
    assert_eq!(done.value, UnlockProgress::Unlocked);
    assert!(matches!(done.events.as_slice(), [Event::SelfUnlocked { user, .. }] if user == "ana"));
    assert_eq!(h.twofold.status(&ana).await.unwrap().locked, None);
    assert_eq!(h.twofold.self_unlock_offer(&ana).await.unwrap(), None);
    // The failures still count toward the ceiling; the lockout is lifted.
    assert_eq!(failures(&h, "ana").await, (3, 3));
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(record.self_unlock, None);
    // Unlocked is not signed in: the spent code does not sign in, the next one does.
    let SignInStep::Challenge { challenge_id, .. } =
        h.twofold.begin_sign_in(&ana).await.unwrap().value
    else {
        panic!("the unlocked user is challenged");
    };
    let spent = h
        .twofold
        .verify_totp(&ana, &challenge_id, &last_code)
        .await
        .unwrap_err();
    assert!(matches!(spent.error, TwoFactorError::CodeAlreadyUsed));
    h.clock.advance(30);
    h.twofold
        .verify_totp(&ana, &challenge_id, &code(&secret, now(&h)))
        .await
        .unwrap();
    // A success clears the whole count.
    assert_eq!(failures(&h, "ana").await, (0, 0));
}

#[tokio::test]
async fn a_code_of_the_same_step_waits_for_the_next_without_counting() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 100).await;
    let typed = code(&secret, now(&h));
    unlock_code(&h, &ana, &typed).await.unwrap();
    // Entered again (a double submission): refused, not counted, the sequence kept.
    let again = unlock_code(&h, &ana, &typed).await;
    assert_eq!(self_unlock_error(again), SelfUnlockError::SameStep);
    assert_eq!(failures(&h, "ana").await, (3, 0));
    h.clock.advance(10);
    let again = unlock_code(&h, &ana, &typed).await;
    assert_eq!(self_unlock_error(again), SelfUnlockError::SameStep);
    h.clock.advance(20);
    let next = unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    assert!(matches!(next, UnlockProgress::Continue { entered: 2, .. }));
}

#[tokio::test]
async fn an_older_code_is_a_replay_counted_and_ends_the_sequence() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 100).await;
    // The phone's next code (the window looks one step ahead)...
    let ahead = unlock_code(&h, &ana, &code(&secret, now(&h) + 30)).await;
    assert!(matches!(
        ahead,
        Ok(UnlockProgress::Continue { entered: 1, .. })
    ));
    // ... makes the current one spent: a replay, counted.
    let failure = h
        .twofold
        .self_unlock(&ana, &code(&secret, now(&h)))
        .await
        .unwrap_err();
    assert!(matches!(failure.error, TwoFactorError::CodeAlreadyUsed));
    assert!(matches!(
        failure.events.as_slice(),
        [
            Event::SelfUnlockFailed { .. },
            Event::SignInFailed { failures: 4, .. },
        ]
    ));
    // Still locked (for longer), but the lockout was told already.
    assert!(matches!(failure.lock, Some(Lock::Until { .. })));
    assert_eq!(failures(&h, "ana").await, (4, 0));
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(
        record.self_unlock,
        Some(SelfUnlockState::Cooldown {
            until: now(&h) + 300
        })
    );
}

#[tokio::test]
async fn a_code_used_to_sign_in_before_the_lockout_is_a_replay() {
    let h = harness();
    with_policy(&h, policy(3, 100, HOUR)).await;
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let SignInStep::Challenge { challenge_id, .. } =
        h.twofold.begin_sign_in(&ana).await.unwrap().value
    else {
        panic!("expected a challenge");
    };
    let used = code(&secret, now(&h));
    h.twofold
        .verify_totp(&ana, &challenge_id, &used)
        .await
        .unwrap();
    fail_sign_in(&h, &ana, &secret, 3).await;
    let replay = unlock_code(&h, &ana, &used).await;
    assert!(
        matches!(replay, Err(TwoFactorError::CodeAlreadyUsed)),
        "{replay:?}"
    );
    assert_eq!(failures(&h, "ana").await, (4, 0));
}

#[tokio::test]
async fn a_wrong_code_counts_ends_the_sequence_and_starts_the_cooldown() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 100).await;
    unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    h.clock.advance(30);
    let failure = h
        .twofold
        .self_unlock(&ana, &wrong_code(&secret, now(&h)))
        .await
        .unwrap_err();
    assert!(matches!(failure.error, TwoFactorError::WrongCode));
    assert_eq!(failure.kind(), ErrorKind::Wrong);
    assert!(matches!(
        failure.events.first(),
        Some(Event::SelfUnlockFailed { user, .. }) if user == "ana"
    ));
    // Counted like any failure: the lockout runs from it.
    assert_eq!(failures(&h, "ana").await, (4, 0));
    assert_eq!(
        failure.lock,
        Some(Lock::Until {
            at: Timestamp::from_unix_seconds(now(&h) + 3600)
        })
    );
    // Cooling down: even the right code is not looked at (nor spent, nor counted).
    h.clock.advance(30);
    let offer = h.twofold.self_unlock_offer(&ana).await.unwrap().unwrap();
    assert_eq!(
        offer.retry_at,
        Some(Timestamp::from_unix_seconds(now(&h) + 270))
    );
    assert_eq!(offer.entered, 0);
    let right = code(&secret, now(&h));
    let cooling = h.twofold.self_unlock(&ana, &right).await.unwrap_err();
    assert_eq!(cooling.kind(), ErrorKind::Locked);
    assert_eq!(
        self_unlock_error(Err(cooling.error)),
        SelfUnlockError::CoolingDown { retry_after: 270 }
    );
    assert_eq!(failures(&h, "ana").await, (4, 0));
    h.clock.advance(269);
    assert!(matches!(
        unlock_code(&h, &ana, &code(&secret, now(&h))).await,
        Err(TwoFactorError::SelfUnlock(SelfUnlockError::CoolingDown {
            retry_after: 1
        }))
    ));
    // After it, a new sequence starts from the first code.
    h.clock.advance(1);
    let restarted = unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    assert!(matches!(
        restarted,
        UnlockProgress::Continue { entered: 1, .. }
    ));
}

#[tokio::test]
async fn a_sequence_lapses_at_its_deadline_and_is_swept() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 100).await;
    unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    h.clock.advance(30);
    unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    // 600 s after the first code, the third is too late.
    h.clock.advance(570);
    let late = code(&secret, now(&h));
    let lapsed = h.twofold.self_unlock(&ana, &late).await.unwrap_err();
    assert_eq!(lapsed.kind(), ErrorKind::Expired);
    assert_eq!(
        self_unlock_error(Err(lapsed.error)),
        SelfUnlockError::DeadlinePassed
    );
    assert_eq!(failures(&h, "ana").await, (3, 0), "not counted");
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(record.self_unlock, None);
    // The late code was not spent: it starts a new sequence.
    let again = unlock_code(&h, &ana, &late).await.unwrap();
    assert!(matches!(again, UnlockProgress::Continue { entered: 1, .. }));
    // A lapsed sequence is swept from the store like any expired state.
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(record.expires_at(), Some(now(&h) + 600));
    h.clock.advance(599);
    assert_eq!(h.twofold.purge_expired().await.unwrap().users, 0);
    h.clock.advance(1);
    assert_eq!(h.twofold.purge_expired().await.unwrap().users, 1);
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!((record.self_unlock, record.expires_at()), (None, None));
}

#[tokio::test]
async fn unlocking_never_lifts_the_ceiling_and_wrong_codes_count_toward_it() {
    let h = harness();
    // Locked after 3, only an administrator past 7.
    let (ana, secret) = locked_ana(&h, 7).await;
    unlock(&h, &ana, &secret).await;
    assert_eq!(failures(&h, "ana").await, (3, 3));
    // Three more wrong codes lock again: 6 failures without a success.
    h.clock.advance(30);
    fail_sign_in(&h, &ana, &secret, 3).await;
    assert_eq!(failures(&h, "ana").await, (6, 3));
    let offer = h.twofold.self_unlock_offer(&ana).await.unwrap();
    assert!(offer.is_some());
    // A wrong unlock code is the seventh: the ceiling.
    let failure = h
        .twofold
        .self_unlock(&ana, &wrong_code(&secret, now(&h)))
        .await
        .unwrap_err();
    assert_eq!(failure.lock, Some(Lock::UntilReset));
    assert!(
        failure
            .events
            .iter()
            .any(|event| matches!(event, Event::LockedOut { until: None, .. }))
    );
    // At the ceiling, not offered and refused, with the right codes too, after any wait.
    h.clock.advance(7200);
    assert_eq!(h.twofold.self_unlock_offer(&ana).await.unwrap(), None);
    let refused = unlock_code(&h, &ana, &code(&secret, now(&h))).await;
    assert!(
        matches!(
            refused,
            Err(TwoFactorError::Locked {
                lock: Lock::UntilReset
            })
        ),
        "{refused:?}"
    );
    assert_eq!(failures(&h, "ana").await, (7, 3));
    assert!(matches!(
        h.twofold.begin_sign_in(&ana).await.unwrap().value,
        SignInStep::Locked {
            lock: Lock::UntilReset
        }
    ));
}

#[tokio::test]
async fn unlocks_cannot_add_up_past_the_ceiling() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 9).await;
    // Unlock, fail, unlock, fail: 9 failures without a success is the ceiling.
    unlock(&h, &ana, &secret).await;
    h.clock.advance(30);
    fail_sign_in(&h, &ana, &secret, 3).await;
    unlock(&h, &ana, &secret).await;
    assert_eq!(failures(&h, "ana").await, (6, 6));
    h.clock.advance(30);
    fail_sign_in(&h, &ana, &secret, 3).await;
    assert!(matches!(
        h.twofold.begin_sign_in(&ana).await.unwrap().value,
        SignInStep::Locked {
            lock: Lock::UntilReset
        }
    ));
    h.clock.advance(30);
    let refused = unlock_code(&h, &ana, &code(&secret, now(&h))).await;
    assert!(matches!(
        refused,
        Err(TwoFactorError::Locked {
            lock: Lock::UntilReset
        })
    ));
}

#[tokio::test]
async fn only_a_timed_lockout_is_lifted() {
    let h = harness();
    with_policy(
        &h,
        PolicyDocument {
            throttle: ThrottleDocument {
                max_failures: 3,
                backoff_seconds: vec![0, 60],
                lockout: HOUR,
                ceiling: 100,
            },
            ..PolicyDocument::example_clinic()
        },
    )
    .await;
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    // Not locked at all.
    let free = unlock_code(&h, &ana, &code(&secret, now(&h))).await;
    assert_eq!(self_unlock_error(free), SelfUnlockError::NotLocked);
    assert_eq!(h.twofold.self_unlock_offer(&ana).await.unwrap(), None);
    // Backing off (a minute after the second wrong code) is not a lockout.
    fail_sign_in(&h, &ana, &secret, 2).await;
    let waiting = h
        .twofold
        .self_unlock(&ana, &code(&secret, now(&h)))
        .await
        .unwrap_err();
    assert_eq!(waiting.kind(), ErrorKind::Expired);
    assert_eq!(
        self_unlock_error(Err(waiting.error)),
        SelfUnlockError::NotLocked
    );
    assert_eq!(h.twofold.self_unlock_offer(&ana).await.unwrap(), None);
    assert_eq!(failures(&h, "ana").await, (2, 0));

    // A policy whose lockouts last until an administrator acts.
    let h = harness();
    with_policy(&h, policy(3, 100, Lockout::UntilReset)).await;
    let (secret, _) = enroll_totp(&h, &ana).await;
    fail_sign_in(&h, &ana, &secret, 3).await;
    assert_eq!(h.twofold.self_unlock_offer(&ana).await.unwrap(), None);
    let refused = unlock_code(&h, &ana, &code(&secret, now(&h))).await;
    assert!(matches!(
        refused,
        Err(TwoFactorError::Locked {
            lock: Lock::UntilReset
        })
    ));
    assert_eq!(failures(&h, "ana").await, (3, 0));
}

#[tokio::test]
async fn the_policy_may_forbid_it_for_a_role_or_everyone() {
    let h = harness();
    let mut document = policy(3, 100, HOUR);
    document.roles.get_mut("staff").unwrap().self_unlock = Some(false);
    with_policy(&h, document.clone()).await;
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    fail_sign_in(&h, &ana, &secret, 3).await;
    assert_eq!(h.twofold.self_unlock_offer(&ana).await.unwrap(), None);
    let refused = unlock_code(&h, &ana, &code(&secret, now(&h))).await;
    assert!(
        matches!(
            refused,
            Err(TwoFactorError::Denied(Reason::SelfUnlockNotAllowed))
        ),
        "{refused:?}"
    );
    // Another role of the same policy may.
    let olga = account("olga", "owner");
    let (olga_secret, _) = enroll_totp(&h, &olga).await;
    fail_sign_in(&h, &olga, &olga_secret, 3).await;
    assert!(h.twofold.self_unlock_offer(&olga).await.unwrap().is_some());
    // Forbidden organization-wide.
    document.roles.get_mut("staff").unwrap().self_unlock = None;
    document.self_unlock.allowed = false;
    with_policy(&h, document).await;
    assert_eq!(h.twofold.self_unlock_offer(&olga).await.unwrap(), None);
    let refused = unlock_code(&h, &olga, &code(&olga_secret, now(&h))).await;
    assert!(matches!(
        refused,
        Err(TwoFactorError::Denied(Reason::SelfUnlockNotAllowed))
    ));
    assert_eq!(failures(&h, "ana").await, (3, 0));
    assert_eq!(failures(&h, "olga").await, (3, 0));
}

#[tokio::test]
async fn a_user_without_an_authenticator_app_cannot() {
    let h = harness();
    with_policy(&h, policy(3, 100, HOUR)).await;
    let sam = account("sam", "staff");
    let (_passkey, added) = register_passkey(&h, &sam, "Sam's key").await;
    let codes = added.value.backup_codes.unwrap();
    let SignInStep::Challenge { challenge_id, .. } =
        h.twofold.begin_sign_in(&sam).await.unwrap().value
    else {
        panic!("expected a challenge");
    };
    // A code of the right form that is none of Sam's.
    let real = codes.iter().next().unwrap().to_string();
    let wrong_backup: String = real
        .chars()
        .map(|c| match c {
            '0' => '1',
            c if c.is_ascii_alphanumeric() => '0',
            c => c,
        })
        .collect();
    for _ in 0..3 {
        let wrong = h
            .twofold
            .verify_backup_code(&sam, &challenge_id, &wrong_backup)
            .await
            .unwrap_err();
        assert!(
            matches!(wrong.error, TwoFactorError::WrongCode),
            "{wrong:?}"
        );
    }
    assert!(h.twofold.status(&sam).await.unwrap().locked.is_some());
    assert_eq!(h.twofold.self_unlock_offer(&sam).await.unwrap(), None);
    // Neither a code nor a backup code unlocks.
    for typed in ["123456", codes.iter().next().unwrap()] {
        let refused = unlock_code(&h, &sam, typed).await;
        assert!(
            matches!(refused, Err(TwoFactorError::NotEnrolled(_))),
            "{refused:?}"
        );
    }
    assert_eq!(failures(&h, "sam").await, (3, 0));
}

/// Holds user loads after `arm` until `TASKS` of them have loaded, so that
/// every racer reads the same version and all but one conditional write lose.
struct Contention {
    held: AtomicUsize,
    barrier: tokio::sync::Barrier,
    conflicts: AtomicUsize,
}

impl Interpose for Contention {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call,
        start: impl FnOnce() -> StoreFuture<'a, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let hold = call == Call::LoadUser
            && self
                .held
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let started = start();
        Box::pin(async move {
            let result = started.await;
            if hold {
                self.barrier.wait().await;
            }
            if call == Call::SaveUser && matches!(result, Err(StoreError::Conflict)) {
                self.conflicts.fetch_add(1, Ordering::SeqCst);
            }
            result
        })
    }
}

const TASKS: usize = 16;

fn contended() -> (Harness, Arc<Wrapped<Contention>>) {
    let store = Arc::new(Wrapped::new(Contention {
        held: AtomicUsize::new(0),
        barrier: tokio::sync::Barrier::new(TASKS),
        conflicts: AtomicUsize::new(0),
    }));
    (harness_with(store.clone()), store)
}

/// `TASKS` submissions of `typed` at once, each reading the same version.
async fn race(
    h: &Harness,
    store: &Wrapped<Contention>,
    typed: &str,
) -> Vec<Result<UnlockProgress, TwoFactorError>> {
    store.hook.held.store(TASKS, Ordering::SeqCst);
    store.hook.conflicts.store(0, Ordering::SeqCst);
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let twofold = Arc::clone(&h.twofold);
            let typed = typed.to_string();
            tokio::spawn(async move {
                twofold
                    .self_unlock(&account("ana", "staff"), &typed)
                    .await
                    .map(|done| done.value)
                    .map_err(|failure| failure.error)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    assert_eq!(
        store.hook.conflicts.load(Ordering::SeqCst),
        TASKS - 1,
        "every racer but one lost its write: {outcomes:?}"
    );
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_submissions_advance_once_and_unlock_once() {
    let (h, store) = contended();
    let (ana, secret) = locked_ana(&h, 100).await;
    for entered in 1..=3u32 {
        let outcomes = race(&h, &store, &code(&secret, now(&h))).await;
        let advanced: Vec<UnlockProgress> = outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().ok().copied())
            .collect();
        assert_eq!(advanced.len(), 1, "{outcomes:?}");
        let expected_refusal = if entered < 3 {
            SelfUnlockError::SameStep
        } else {
            SelfUnlockError::NotLocked
        };
        for outcome in outcomes.into_iter().filter(Result::is_err) {
            assert_eq!(self_unlock_error(outcome), expected_refusal);
        }
        match advanced[0] {
            UnlockProgress::Continue { entered: e, .. } => assert_eq!(e, entered),
            UnlockProgress::Unlocked => assert_eq!(entered, 3),
            other => panic!("{other:?}"),
        }
        h.clock.advance(30);
    }
    assert_eq!(failures(&h, "ana").await, (3, 3));
    let unlocked = h
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|event| matches!(event, Event::SelfUnlocked { .. }))
        .count();
    assert_eq!(unlocked, 1);
    let _ = ana;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_are_one_guess_per_cooldown() {
    let (h, store) = contended();
    let (_, secret) = locked_ana(&h, 100).await;
    let outcomes = race(&h, &store, &wrong_code(&secret, now(&h))).await;
    let wrong = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(TwoFactorError::WrongCode)))
        .count();
    assert_eq!(wrong, 1, "{outcomes:?}");
    for outcome in outcomes
        .into_iter()
        .filter(|outcome| !matches!(outcome, Err(TwoFactorError::WrongCode)))
    {
        assert!(matches!(
            self_unlock_error(outcome),
            SelfUnlockError::CoolingDown { .. }
        ));
    }
    assert_eq!(failures(&h, "ana").await, (4, 0));
}

#[tokio::test]
async fn a_sequence_belongs_to_its_lockout() {
    let h = harness();
    let (ana, secret) = locked_ana(&h, 100).await;
    for _ in 0..2 {
        unlock_code(&h, &ana, &code(&secret, now(&h)))
            .await
            .unwrap();
        h.clock.advance(30);
    }
    // An administrator unlocks Ana; she is locked again, within the deadline.
    let olga = account("olga", "owner");
    h.twofold
        .admin_unlock(&olga, &ana, "called the front desk", Some(h.clock.now()))
        .await
        .unwrap();
    fail_sign_in(&h, &ana, &secret, 3).await;
    assert_eq!(failures(&h, "ana").await, (3, 0));
    let offer = h.twofold.self_unlock_offer(&ana).await.unwrap().unwrap();
    assert_eq!((offer.entered, offer.deadline), (0, None));
    // The old sequence's two codes do not count for this lockout.
    let first = unlock_code(&h, &ana, &code(&secret, now(&h)))
        .await
        .unwrap();
    assert!(
        matches!(first, UnlockProgress::Continue { entered: 1, .. }),
        "{first:?}"
    );
}

#[tokio::test]
async fn only_codes_of_the_window_count_and_never_a_burned_step() {
    let h = harness();
    with_policy(&h, policy(3, 100, HOUR)).await;
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let SignInStep::Challenge { challenge_id, .. } =
        h.twofold.begin_sign_in(&ana).await.unwrap().value
    else {
        panic!("expected a challenge");
    };
    // A code five steps ahead starts a resync: its step is burned.
    let revealed = code(&secret, now(&h) + 150);
    let resync = h
        .twofold
        .verify_totp(&ana, &challenge_id, &revealed)
        .await
        .unwrap_err();
    assert!(matches!(resync.error, TwoFactorError::ResyncNeeded { .. }));
    fail_sign_in(&h, &ana, &secret, 2).await;
    assert!(h.twofold.self_unlock_offer(&ana).await.unwrap().is_some());
    // When its time comes, the burned step's code does not unlock: spent, and counted.
    h.clock.advance(150);
    let burned = unlock_code(&h, &ana, &revealed).await;
    assert!(
        matches!(burned, Err(TwoFactorError::CodeAlreadyUsed)),
        "{burned:?}"
    );
    assert_eq!(failures(&h, "ana").await, (4, 0));
    // Ten steps ahead is no unlock code (no resync here): wrong, and counted.
    h.clock.advance(300);
    let far = unlock_code(&h, &ana, &code(&secret, now(&h) + 300)).await;
    assert!(matches!(far, Err(TwoFactorError::WrongCode)), "{far:?}");
    assert_eq!(failures(&h, "ana").await, (5, 0));
}
