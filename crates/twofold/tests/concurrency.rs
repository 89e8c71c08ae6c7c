//! 64 tasks race with the same TOTP code, the same backup code and the same
//! passkey ceremony; in each of 200 trials exactly one wins.
//!
//! The races contend by construction, not by luck: the store holds each load
//! of the racers at a barrier until all 64 have read the record, so that they
//! all hold the same version and 63 conditional writes must lose. The conflicts
//! are counted and asserted.
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{
    Call, Harness, Interpose, Wrapped, account, code, enroll_totp, harness_with, register_passkey,
    use_passkey, username_less_response,
};
use twofold::store::{Store, StoreError, StoreFuture};
use twofold::{Clock, SignInStep, TwoFactorError};

/// Holds user loads after `arm` until `TASKS` of them have loaded, and counts
/// lost conditional writes.
struct Contention {
    held: AtomicUsize,
    barrier: tokio::sync::Barrier,
    conflicts: AtomicUsize,
}

type ContendedStore = Wrapped<Contention>;

impl Contention {
    /// Holds the next `loads` user loads, `TASKS` at a time, and starts
    /// counting conflicts afresh.
    fn arm(&self, loads: usize) {
        self.held.store(loads, Ordering::SeqCst);
        self.conflicts.store(0, Ordering::SeqCst);
    }

    /// The conflicts since `arm`.
    fn conflicts(&self) -> usize {
        self.conflicts.load(Ordering::SeqCst)
    }
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

fn contended() -> (Harness, Arc<ContendedStore>) {
    let store = Arc::new(Wrapped::new(Contention {
        held: AtomicUsize::new(0),
        barrier: tokio::sync::Barrier::new(TASKS),
        conflicts: AtomicUsize::new(0),
    }));
    (harness_with(store.clone()), store)
}

const TASKS: usize = 64;
const TRIALS: usize = 200;

fn challenge_id(step: SignInStep) -> (String, Option<serde_json::Value>) {
    match step {
        SignInStep::Challenge {
            challenge_id,
            passkey_options,
            ..
        } => (challenge_id, passkey_options),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// Runs `attempt` on 64 tasks at once; returns how many succeeded, and checks
/// that every loser got a clean, typed refusal.
async fn race<F, Fut>(attempt: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), TwoFactorError>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let future = attempt();
            tokio::spawn(async move {
                barrier.wait().await;
                future.await
            })
        })
        .collect();
    let mut wins = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Ok(()) => wins += 1,
            Err(TwoFactorError::NoChallenge | TwoFactorError::CodeAlreadyUsed) => {}
            Err(other) => panic!("a loser failed with {other:?}"),
        }
    }
    wins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_totp_code_wins_once() {
    let (h, store) = contended();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    for trial in 0..TRIALS {
        h.clock.advance(30);
        let (id, _) = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let typed = code(&secret, h.clock.now());
        store.hook.arm(TASKS);
        let wins = race(|| {
            let twofold = Arc::clone(&h.twofold);
            let (id, typed) = (id.clone(), typed.clone());
            async move {
                twofold
                    .verify_totp(&account("ana", "staff"), &id, &typed)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.error)
            }
        })
        .await;
        assert_eq!(wins, 1, "trial {trial}");
        assert_eq!(
            store.hook.conflicts(),
            TASKS - 1,
            "trial {trial}: every loser lost a write"
        );
        let stored = store.load_user("ana").await.unwrap().unwrap().value;
        assert_eq!(
            stored.totp.unwrap().last_step,
            Some(h.clock.now().as_unix_seconds() / 30),
            "trial {trial}: the step of the winning code is spent"
        );
        assert!(stored.challenge.is_none(), "trial {trial}");
        assert_eq!(stored.throttle.failures, 0, "trial {trial}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_backup_code_wins_once() {
    let (h, store) = contended();
    let ana = account("ana", "staff");
    let (_, mut codes) = enroll_totp(&h, &ana).await;
    for trial in 0..TRIALS {
        if trial % 10 == 0 && trial > 0 {
            codes = h
                .twofold
                .regenerate_backup_codes(&ana, Some(h.clock.now()))
                .await
                .unwrap()
                .value
                .iter()
                .map(str::to_string)
                .collect();
        }
        let backup = codes[trial % 10].clone();
        let (id, _) = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        // Each racer reads twice: before hashing its code, and in the write loop.
        store.hook.arm(2 * TASKS);
        let wins = race(|| {
            let twofold = Arc::clone(&h.twofold);
            let (id, backup) = (id.clone(), backup.clone());
            async move {
                twofold
                    .verify_backup_code(&account("ana", "staff"), &id, &backup)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.error)
            }
        })
        .await;
        assert_eq!(wins, 1, "trial {trial}");
        assert_eq!(
            store.hook.conflicts(),
            TASKS - 1,
            "trial {trial}: every loser lost a write"
        );
        assert_eq!(
            h.twofold.status(&ana).await.unwrap().backup_codes_remaining,
            Some(9 - trial % 10),
            "trial {trial}: exactly one slot spent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_passkey_ceremony_wins_once() {
    let (h, store) = contended();
    let ana = account("ana", "staff");
    let (mut authenticator, _) = register_passkey(&h, &ana, "key").await;
    for trial in 0..TRIALS {
        let (id, options) = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let posted = use_passkey(&mut authenticator, options.unwrap());
        store.hook.arm(TASKS);
        let wins = race(|| {
            let twofold = Arc::clone(&h.twofold);
            let (id, posted) = (id.clone(), posted.clone());
            async move {
                twofold
                    .verify_passkey(&account("ana", "staff"), &id, &posted)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.error)
            }
        })
        .await;
        assert_eq!(wins, 1, "trial {trial}");
        assert_eq!(
            store.hook.conflicts(),
            TASKS - 1,
            "trial {trial}: every loser lost a write"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_username_less_ceremony_wins_once() {
    let h = common::harness();
    let ana = account("ana", "staff");
    let (mut authenticator, added) = register_passkey(&h, &ana, "key").await;
    let id = added.value.credential_id.unwrap();
    for trial in 0..TRIALS / 4 {
        let start = h
            .twofold
            .begin_passkey_sign_in(common::ORG)
            .await
            .unwrap()
            .value;
        let posted = username_less_response(&mut authenticator, &start.options, &id, "ana");
        let wins = race(|| {
            let twofold = Arc::clone(&h.twofold);
            let (ceremony, posted) = (start.ceremony_id.clone(), posted.clone());
            async move {
                common::passkey_first(&twofold, &ceremony, &posted)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.error)
            }
        })
        .await;
        assert_eq!(wins, 1, "trial {trial}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_credential_id_registered_by_two_users_at_once_goes_to_exactly_one() {
    let h = common::harness();
    for trial in 0..50u32 {
        let id = format!("race-credential-{trial}").into_bytes();
        let users = [format!("ana-{trial}"), format!("bob-{trial}")];
        let mut posted = Vec::new();
        for user in &users {
            let account = account(user, "staff");
            let options = h
                .twofold
                .begin_passkey_registration(&account, Some(h.clock.now()))
                .await
                .unwrap()
                .value;
            let mut authenticator = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
            posted.push(common::with_credential_id(
                &common::create_passkey(&mut authenticator, options),
                &id,
            ));
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let racers: Vec<_> = users
            .iter()
            .zip(posted)
            .map(|(user, json)| {
                let (twofold, barrier, user) =
                    (Arc::clone(&h.twofold), Arc::clone(&barrier), user.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    twofold
                        .finish_passkey_registration(&account(&user, "staff"), &json, "key")
                        .await
                        .map(|_| user)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            match racer.await.unwrap() {
                Ok(user) => winners.push(user),
                Err(failure) => assert!(
                    matches!(failure.error, TwoFactorError::Passkey(_)),
                    "trial {trial}: {failure:?}"
                ),
            }
        }
        assert_eq!(winners.len(), 1, "trial {trial}: {winners:?}");
        let owner = h
            .store
            .credential_owner(&twofold::CredentialId::from_bytes(&id))
            .await
            .unwrap();
        assert_eq!(owner.as_ref(), winners.first(), "trial {trial}");
        for user in &users {
            let passkeys = h
                .twofold
                .status(&account(user, "staff"))
                .await
                .unwrap()
                .passkeys;
            assert_eq!(
                passkeys.len(),
                usize::from(winners.contains(user)),
                "trial {trial}"
            );
        }
    }
}
