//! 64 tasks race with the same TOTP code, the same backup code and the same
//! passkey ceremony; in each of 200 trials exactly one wins.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{
    account, code, enrol_totp, harness, register_passkey, use_passkey, username_less_response,
};
use twofold::{Clock, SignInStep, TwoFactorError};

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
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enrol_totp(&h, &ana).await;
    for trial in 0..TRIALS {
        h.clock.advance(30);
        let (id, _) = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let typed = code(&secret, h.clock.now());
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_backup_code_wins_once() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, mut codes) = enrol_totp(&h, &ana).await;
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
            h.twofold.status(&ana).await.unwrap().backup_codes_remaining,
            Some(9 - trial % 10),
            "trial {trial}: exactly one slot spent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_passkey_ceremony_wins_once() {
    let h = harness();
    let ana = account("ana", "staff");
    let (mut authenticator, _) = register_passkey(&h, &ana, "key").await;
    for trial in 0..TRIALS {
        let (id, options) = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let posted = use_passkey(&mut authenticator, options.unwrap());
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_username_less_ceremony_wins_once() {
    let h = harness();
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
                twofold
                    .finish_passkey_sign_in(&ceremony, &posted)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.error)
            }
        })
        .await;
        assert_eq!(wins, 1, "trial {trial}");
    }
}
