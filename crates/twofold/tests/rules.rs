//! Rules of the facade that the guide's walk-through does not reach on its own,
//! each pinned because a mutation test showed that nothing else would notice
//! it breaking: grace periods, recovery, where passkeys are offered, what
//! removing a passkey leaves, and what `Debug` may show.
#![cfg(test)]

mod common;

use common::{ORG, account, code, enroll_totp, harness, register_passkey};
use twofold::{Clock, Event, Method, Mode, PolicyDocument, SecretKey, SignInStep, Timestamp};

const DAY: u64 = 86_400;

fn deadline(step: &SignInStep) -> Timestamp {
    match step {
        SignInStep::MustEnroll { deadline, .. } => *deadline,
        other => panic!("expected setup first, got {other:?}"),
    }
}

fn challenge(step: SignInStep) -> (String, bool, Option<serde_json::Value>) {
    match step {
        SignInStep::Challenge {
            challenge_id,
            recovery,
            passkey_options,
            ..
        } => (challenge_id, recovery, passkey_options),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The clinic policy with a week's grace period.
fn a_week_of_grace() -> PolicyDocument {
    let mut document = PolicyDocument::example_clinic();
    document.enforcement.grace_seconds = 7 * DAY;
    document
}

#[tokio::test]
async fn the_grace_period_counts_from_the_first_sign_in_after_enforcement_began() {
    let h = harness();
    let (olga, sam) = (account("olga", "owner"), account("sam", "staff"));
    enroll_totp(&h, &olga).await;
    h.twofold.set_policy(ORG, a_week_of_grace()).await.unwrap();
    let require = async |mode| {
        h.twofold
            .change_enforcement(&olga, mode, Some(h.clock.now()))
            .await
            .unwrap();
    };
    require(Mode::Required).await;
    h.clock.advance(DAY);
    let first = h.clock.now();
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert_eq!(deadline(&step), first.plus_seconds(7 * DAY));
    // Later sign-ins, and saving "Required" again, keep that deadline.
    h.clock.advance(DAY);
    require(Mode::Required).await;
    h.clock.advance(DAY);
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert_eq!(
        deadline(&step),
        first.plus_seconds(7 * DAY),
        "the grace period restarted"
    );
    // Enforcement off and on again: a new period, from the next sign-in.
    require(Mode::Optional).await;
    h.clock.advance(DAY);
    require(Mode::Required).await;
    h.clock.advance(DAY);
    let again = h.clock.now();
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert_eq!(
        deadline(&step),
        again.plus_seconds(7 * DAY),
        "the old sign-in still counted"
    );
}

#[tokio::test]
async fn recovery_is_offered_while_unused_codes_remain_and_new_factors_bring_codes_only_then() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, codes) = enroll_totp(&h, &ana).await;
    for (used, typed) in codes.iter().enumerate() {
        let (id, recovery, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        assert!(recovery, "{used} codes used, 10 - {used} left");
        h.twofold
            .verify_backup_code(&ana, &id, typed)
            .await
            .unwrap();
        if used == 8 {
            // One code left: a new factor brings no new codes.
            let (_, added) = register_passkey(&h, &ana, "first key").await;
            assert!(
                added.value.backup_codes.is_none(),
                "codes replaced while one was left"
            );
        }
    }
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let (_, recovery, _) = challenge(step);
    assert!(!recovery, "recovery offered with every code spent");
    // None left: the next factor brings a new set.
    let (_, added) = register_passkey(&h, &ana, "second key").await;
    assert_eq!(added.value.backup_codes.map(|c| c.len()), Some(10));
}

#[tokio::test]
async fn passkeys_are_offered_only_where_the_policy_allows_them() {
    let h = harness();
    let adam = account("adam", "admin");
    enroll_totp(&h, &adam).await;
    register_passkey(&h, &adam, "key").await;
    let (_, _, options) = challenge(h.twofold.begin_sign_in(&adam).await.unwrap().value);
    assert!(options.is_some());
    let mut document = PolicyDocument::example_clinic();
    document.roles.get_mut("admin").unwrap().methods = Some(vec![Method::Totp]);
    h.twofold.set_policy(ORG, document).await.unwrap();
    let step = h.twofold.begin_sign_in(&adam).await.unwrap().value;
    let SignInStep::Challenge { methods, .. } = &step else {
        panic!("{step:?}")
    };
    assert_eq!(*methods, Method::Totp.into());
    let (_, _, options) = challenge(step);
    assert!(
        options.is_none(),
        "a passkey ceremony was started for a TOTP-only role"
    );
}

#[tokio::test]
async fn removing_a_passkey_beside_an_authenticator_app_keeps_the_app_and_the_codes() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let (_, added) = register_passkey(&h, &ana, "key").await;
    let removed = h
        .twofold
        .remove_passkey(
            &ana,
            &added.value.credential_id.unwrap(),
            Some(h.clock.now()),
        )
        .await
        .unwrap();
    assert!(matches!(removed.events[..], [Event::FactorRemoved { .. }]));
    let status = h.twofold.status(&ana).await.unwrap();
    assert!(status.enabled && status.totp && status.passkeys.is_empty());
    assert_eq!(status.backup_codes_remaining, Some(10));
    let (id, _, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
}

#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    let h = harness();
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let shown = format!("{setup:?}");
    assert!(shown.starts_with("TotpEnrollment") && shown.contains("expires_at"));
    let secret: String = setup.manual_entry_secret.split_whitespace().collect();
    assert!(
        !shown.contains(&secret[..8]) && !shown.contains("otpauth"),
        "{shown}"
    );
    assert!(format!("{:?}", h.twofold).contains("Smile Dental"));
    let key = SecretKey::new("2026-11", [0x5a; 32]);
    assert_eq!(key.id(), "2026-11");
    assert_eq!(format!("{key:?}"), r#"SecretKey("2026-11", …)"#);
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    let sealed = record.pending_totp.unwrap().secret;
    assert_eq!(format!("{sealed:?}"), r#"SealedSecret(key "k1", …)"#);
}

#[test]
fn a_sealed_secret_with_a_short_nonce_does_not_read() {
    let good = r#"{"key_id":"k1","nonce":"AAAAAAAAAAAAAAAA","ciphertext":"AAAA"}"#;
    assert!(serde_json::from_str::<twofold::SealedSecret>(good).is_ok());
    // Eight bytes of valid base64 where twelve belong.
    let short = r#"{"key_id":"k1","nonce":"AAAAAAAAAAA","ciphertext":"AAAA"}"#;
    assert!(serde_json::from_str::<twofold::SealedSecret>(short).is_err());
}

#[tokio::test]
async fn purge_expired_cleans_every_record_however_many_batches_it_takes() {
    let h = harness();
    h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
    for i in 0..70 {
        h.twofold
            .begin_totp_enrollment(&account(&format!("u{i}"), "staff"), Some(h.clock.now()))
            .await
            .unwrap();
    }
    h.clock.advance(3600);
    let purged = h.twofold.purge_expired().await.unwrap();
    assert_eq!((purged.ceremonies, purged.users), (1, 70));
    let contents = common::memory(&h).contents();
    assert!(
        contents
            .users
            .values()
            .all(|u| u.value.pending_totp.is_none())
    );
    assert_eq!(
        h.twofold.purge_expired().await.unwrap(),
        twofold::Purged::default()
    );
}

#[tokio::test]
async fn the_automatic_sweep_runs_at_most_once_per_interval() {
    let mut config = common::config();
    config.challenge_ttl_seconds = 10;
    config.sweep_interval_seconds = 60;
    let memory = std::sync::Arc::new(twofold::MemoryStore::new());
    let h = common::harness_with_config(memory.clone(), common::keyring(), common::START, config);
    let start = async || h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
    let outstanding = || memory.contents().ceremonies.len();
    start().await; // sweeps (the first call), then stores ceremony A (expires at +10)
    h.clock.advance(30);
    start().await; // not due: A, though expired, stays
    assert_eq!(outstanding(), 2);
    h.clock.advance(30);
    start().await; // due at exactly the interval: A and B (expired at +40) go
    assert_eq!(outstanding(), 1);
}

/// An offload that is always full.
struct AlwaysBusy;

impl twofold::Offload for AlwaysBusy {
    fn run(&self, _job: twofold::Job) -> twofold::OffloadFuture {
        Box::pin(async { Err(twofold::OffloadError::Busy) })
    }
}

#[tokio::test]
async fn a_full_offload_is_a_busy_answer_and_changes_nothing() {
    let h = harness();
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    let (id, _, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let busy = common::harness_with_offload(
        h.store.clone(),
        common::keyring(),
        h.clock.now(),
        common::config(),
        Some(std::sync::Arc::new(AlwaysBusy)),
    );
    let before = h.store.load_user("ana").await.unwrap();
    let refused = busy
        .twofold
        .verify_backup_code(&ana, &id, "AAAAA-AAAAA")
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, twofold::TwoFactorError::Busy),
        "{refused:?}"
    );
    let refused = busy
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, twofold::TwoFactorError::Busy),
        "{refused:?}"
    );
    assert_eq!(h.store.load_user("ana").await.unwrap(), before);
}

/// The erasure path: an application deleting an account calls `forget_user`,
/// and nothing of the user stays: no record, no bound credential id (another
/// user may now register it), an event for the audit log; forgetting again
/// succeeds with no event.
#[tokio::test]
async fn forget_user_leaves_nothing_of_the_user_in_the_store() {
    let h = common::harness();
    let ana = common::account("ana", "staff");
    let bob = common::account("bob", "staff");
    common::enroll_totp(&h, &ana).await;
    let (_, added) = common::register_passkey(&h, &ana, "key").await;
    let id = added.value.credential_id.unwrap();
    common::enroll_totp(&h, &bob).await;
    let memory = h.memory.clone().unwrap();
    assert_eq!(
        memory.contents().credentials.get(&id).map(String::as_str),
        Some("ana")
    );

    let done = h.twofold.forget_user(&ana).await.unwrap();
    assert!(
        matches!(&done.events[..], [twofold::Event::UserForgotten { user, .. }] if user == "ana"),
        "{:?}",
        done.events
    );
    let contents = memory.contents();
    assert!(!contents.users.contains_key("ana"), "Ana's record stayed");
    assert!(
        !contents.credentials.values().any(|owner| owner == "ana"),
        "Ana's credential id stayed bound"
    );
    assert!(contents.users.contains_key("bob"), "Bob was forgotten too");
    let status = h.twofold.status(&ana).await.unwrap();
    assert!(!status.enabled && !status.totp && status.passkeys.is_empty());

    let again = h.twofold.forget_user(&ana).await.unwrap();
    assert!(again.events.is_empty(), "{:?}", again.events);
}
