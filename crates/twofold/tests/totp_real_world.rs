//! Authenticator apps as they are (issue 17): apps that ignore the offered
//! parameters, and phones whose clocks drift (RFC 6238 §6). Codes come from
//! totp-lite, never from twofold.
#![cfg(test)]

mod common;

use std::sync::Arc;

use common::{account, code, enroll_totp, harness, harness_with_config, wrong_code};
use twofold::{
    AppParameters, Clock, ConfigError, Event, MemoryStore, SignInStep, TotpParams, TwoFactor,
    TwoFactorError,
};
use twofold_totp::{Algorithm, Digits, Period, Secret};

fn challenge(step: SignInStep) -> String {
    match step {
        SignInStep::Challenge { challenge_id, .. } => challenge_id,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn strict_params() -> TotpParams {
    TotpParams {
        algorithm: Algorithm::Sha256,
        digits: Digits::new(8).unwrap(),
        period: Period::new(60).unwrap(),
        ..TotpParams::default()
    }
}

fn sha256_8_60(secret: &str, time: u64) -> String {
    let secret = Secret::from_base32_legacy(secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha256>(60, 8, secret.expose_bytes(), time)
}

/// Ana's authenticator app as stored.
async fn stored_totp(h: &common::Harness) -> twofold::store::TotpFactor {
    h.store
        .load_user("ana")
        .await
        .unwrap()
        .unwrap()
        .value
        .totp
        .unwrap()
}

fn facade_with(configure: impl FnOnce(&mut twofold::TwoFactorConfig)) -> common::Harness {
    let mut config = common::config();
    configure(&mut config);
    harness_with_config(
        Arc::new(MemoryStore::new()),
        common::keyring(),
        common::START,
        config,
    )
}

#[tokio::test]
async fn an_app_that_ignores_the_offered_parameters_is_set_up_with_the_ones_it_uses() {
    let h = facade_with(|config| config.totp = strict_params());
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    assert!(
        setup
            .otpauth_uri
            .contains("algorithm=SHA256&digits=8&period=60")
    );
    // The app shows SHA-1, 6 digits, 30 s codes whatever the QR code said.
    let now = h.clock.now().as_unix_seconds();
    let done = h
        .twofold
        .confirm_totp_enrollment(&ana, &code(&setup.manual_entry_secret, now))
        .await
        .unwrap();
    assert!(done.events.contains(&Event::TotpParametersAdjusted {
        user: "ana".into(),
        offered: AppParameters::of(&strict_params()),
        used: AppParameters::SHA1_6_30,
        at: h.clock.now(),
    }));
    let stored = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(
        AppParameters::of(&stored.totp.unwrap().params),
        AppParameters::SHA1_6_30
    );
    // Sign-in then takes the app's codes, and no longer the offered kind.
    h.clock.advance(60);
    let now = h.clock.now().as_unix_seconds();
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let offered_kind = h
        .twofold
        .verify_totp(&ana, &id, &sha256_8_60(&setup.manual_entry_secret, now))
        .await
        .unwrap_err();
    assert!(matches!(offered_kind.error, TwoFactorError::InvalidCode(_)));
    h.clock.advance(30);
    let now = h.clock.now().as_unix_seconds();
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&setup.manual_entry_secret, now))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_app_that_follows_the_offered_parameters_keeps_them_and_no_event_says_otherwise() {
    let h = facade_with(|config| config.totp = strict_params());
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let now = h.clock.now().as_unix_seconds();
    let done = h
        .twofold
        .confirm_totp_enrollment(&ana, &sha256_8_60(&setup.manual_entry_secret, now))
        .await
        .unwrap();
    assert!(
        !done
            .events
            .iter()
            .any(|event| matches!(event, Event::TotpParametersAdjusted { .. }))
    );
    let stored = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(stored.totp.unwrap().params, strict_params());
}

#[tokio::test]
async fn a_code_that_matches_no_listed_parameters_is_refused_and_the_list_is_short() {
    // Without fallbacks, the SHA-1 code of an app that ignores the QR code is
    // refused: the search never widens beyond the list.
    let h = facade_with(|config| {
        config.totp = strict_params();
        config.totp_fallbacks = Vec::new();
    });
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let now = h.clock.now().as_unix_seconds();
    let refused = h
        .twofold
        .confirm_totp_enrollment(&ana, &code(&setup.manual_entry_secret, now))
        .await
        .unwrap_err();
    assert!(matches!(refused.error, TwoFactorError::InvalidCode(_)));
    // With the default list, an 8-digit code that matches nothing is wrong.
    let h = facade_with(|config| config.totp = strict_params());
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let now = h.clock.now().as_unix_seconds();
    let right = sha256_8_60(&setup.manual_entry_secret, now);
    let wrong = format!("{:08}", (right.parse::<u32>().unwrap() + 1) % 100_000_000);
    let refused = h
        .twofold
        .confirm_totp_enrollment(&ana, &wrong)
        .await
        .unwrap_err();
    assert!(matches!(refused.error, TwoFactorError::WrongCode));
    assert!(
        h.store
            .load_user("ana")
            .await
            .unwrap()
            .unwrap()
            .value
            .totp
            .is_none()
    );

    // More than three fallbacks, or an invalid one, is a configuration error.
    let mut config = common::config();
    config.totp_fallbacks = vec![AppParameters::SHA1_6_30; 4];
    let error = TwoFactor::new(Arc::new(MemoryStore::new()), common::keyring(), config)
        .err()
        .unwrap();
    assert!(matches!(
        error,
        TwoFactorError::Config(ConfigError::TooManyTotpFallbacks { max: 3 })
    ));
    let mut config = common::config();
    config.totp_fallbacks = vec![AppParameters {
        digits: 5,
        ..AppParameters::SHA1_6_30
    }];
    assert!(matches!(
        TwoFactor::new(Arc::new(MemoryStore::new()), common::keyring(), config),
        Err(TwoFactorError::Config(ConfigError::InvalidTotpFallback(_)))
    ));
}

/// A phone 5 steps (150 s) ahead: its code says a resync is possible, is not
/// accepted and counts as a failure; its next code signs in and re-centres the
/// window, which then follows the phone, and the server's clock still works.
#[tokio::test]
async fn a_phone_whose_clock_is_off_is_resynchronised_with_two_consecutive_codes() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let phone = |h: &common::Harness| h.clock.now().as_unix_seconds() + 150;

    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let first = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap_err();
    assert!(matches!(
        first.error,
        TwoFactorError::ResyncNeeded { drift_steps: 5 }
    ));
    assert!(
        first
            .events
            .iter()
            .any(|event| matches!(event, Event::SignInFailed { failures: 1, .. }))
    );

    // The app's next code, half a minute later.
    h.clock.advance(30);
    let done = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap();
    assert!(done.events.contains(&Event::TotpResynchronized {
        user: "ana".into(),
        drift_steps: 5,
        at: h.clock.now(),
    }));
    let factor = stored_totp(&h).await;
    assert_eq!(factor.drift, 5);
    assert_eq!(factor.resync, None);

    // The window now follows the phone...
    h.clock.advance(90);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap();
    // ...and a phone put right signs in again once the server's clock has
    // passed the phone's last accepted step (before that its codes are for
    // spent steps), which brings the drift back to 0.
    h.clock.advance(30);
    let now = h.clock.now();
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let early = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, now))
        .await
        .unwrap_err();
    assert!(matches!(early.error, TwoFactorError::CodeAlreadyUsed));
    h.clock.advance(150);
    let now = h.clock.now();
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, now))
        .await
        .unwrap();
    let factor = stored_totp(&h).await;
    assert_eq!(factor.drift, 0);
}

/// The same for a phone whose clock is behind: the drift is negative.
#[tokio::test]
async fn a_phone_whose_clock_is_behind_is_resynchronised_too() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    h.clock.advance(600);
    let phone = |h: &common::Harness| h.clock.now().as_unix_seconds() - 150;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let first = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap_err();
    assert!(matches!(
        first.error,
        TwoFactorError::ResyncNeeded { drift_steps: -5 }
    ));
    h.clock.advance(30);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap();
    let factor = stored_totp(&h).await;
    assert_eq!(factor.drift, -5);
    // And the window follows it.
    h.clock.advance(90);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap();
}

/// Drift beyond `max_steps` is remembered only up to it.
#[tokio::test]
async fn the_remembered_drift_is_bounded() {
    let h = facade_with(|config| config.totp_drift.max_steps = 3);
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let phone = |h: &common::Harness| h.clock.now().as_unix_seconds() + 180;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap_err();
    h.clock.advance(30);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, phone(&h)))
        .await
        .unwrap();
    let factor = stored_totp(&h).await;
    assert_eq!(factor.drift, 3);
}

#[tokio::test]
async fn no_code_of_a_resync_is_ever_accepted_twice() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let ahead = |h: &common::Harness| h.clock.now().as_unix_seconds() + 240;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let first_code = code(&secret, ahead(&h));
    h.twofold
        .verify_totp(&ana, &id, &first_code)
        .await
        .unwrap_err();
    // The same first code again: still only a resync's first code, never a sign-in.
    let again = h
        .twofold
        .verify_totp(&ana, &id, &first_code)
        .await
        .unwrap_err();
    assert!(matches!(again.error, TwoFactorError::ResyncNeeded { .. }));
    h.clock.advance(30);
    let second_code = code(&secret, ahead(&h));
    h.twofold
        .verify_totp(&ana, &id, &second_code)
        .await
        .unwrap();
    // Both codes are spent.
    for spent in [&second_code, &first_code] {
        let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let error = h.twofold.verify_totp(&ana, &id, spent).await.unwrap_err();
        assert!(
            matches!(
                error.error,
                TwoFactorError::CodeAlreadyUsed | TwoFactorError::WrongCode
            ),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_code_a_lapse_or_a_code_beyond_the_range_ends_a_resync_without_signing_in() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let ahead = |h: &common::Harness, steps: u64| h.clock.now().as_unix_seconds() + 30 * steps;

    // A wrong code between the two.
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, ahead(&h, 4)))
        .await
        .unwrap_err();
    let wrong = wrong_code(&secret, ahead(&h, 4));
    let error = h.twofold.verify_totp(&ana, &id, &wrong).await.unwrap_err();
    assert!(matches!(error.error, TwoFactorError::WrongCode));
    h.clock.advance(30);
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, ahead(&h, 4)))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::ResyncNeeded { .. }));

    // The next code after the resync lapsed (5 minutes) starts a new one.
    h.clock.advance(301);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, ahead(&h, 4)))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::ResyncNeeded { .. }));

    // Eleven steps off is beyond the range: just wrong, and no resync begins.
    h.clock.advance(301);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, ahead(&h, 11)))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::WrongCode));
    let factor = stored_totp(&h).await;
    assert_eq!(factor.resync, None);
    assert_eq!(factor.drift, 0);
}

#[tokio::test]
async fn resync_attempts_are_throttled_like_any_failure() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    // Each first code of a resync counts; soon the second step is locked, and
    // then not even a right code is looked at.
    let mut locked = false;
    for _ in 0..50 {
        let ahead = h.clock.now().as_unix_seconds() + 300;
        let failure = h
            .twofold
            .verify_totp(&ana, &id, &code(&secret, ahead))
            .await
            .unwrap_err();
        if matches!(failure.error, TwoFactorError::Locked { .. }) {
            locked = true;
            break;
        }
        assert!(matches!(failure.error, TwoFactorError::ResyncNeeded { .. }));
    }
    assert!(locked, "resync attempts never locked the second step");
    let now = h.clock.now();
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, now))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::Locked { .. }));
}

#[tokio::test]
async fn a_phone_within_the_plain_window_leaves_no_drift_behind() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    // One step behind, then one step ahead: both within the window.
    for offset in [-30i64, 30] {
        h.clock.advance(90);
        let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let phone = h
            .clock
            .now()
            .as_unix_seconds()
            .checked_add_signed(offset)
            .unwrap();
        h.twofold
            .verify_totp(&ana, &id, &code(&secret, phone))
            .await
            .unwrap();
        let factor = stored_totp(&h).await;
        assert_eq!(factor.drift, 0, "phone {offset:+} s");
    }
    // So two steps off is still outside the window, as the guide says.
    h.clock.advance(120);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let two_ahead = h.clock.now().as_unix_seconds() + 60;
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, two_ahead))
        .await
        .unwrap_err();
    assert!(matches!(
        error.error,
        TwoFactorError::ResyncNeeded { drift_steps: 2 }
    ));
}

/// Staff moving to the platform keep the authenticator they have: its URI is
/// imported with its own parameters, and an 80-bit secret (Google
/// Authenticator's usual) is accepted through `parse_legacy`.
#[tokio::test]
async fn an_existing_authenticator_is_imported_with_its_own_parameters() {
    let h = harness();
    let ana = account("ana", "staff");
    let secret = "JBSWY3DPEHPK3PXP"; // 80 bits
    let uri = twofold_totp::OtpAuthUri::parse_legacy(&format!(
        "otpauth://totp/Old%20System:ana?secret={secret}&issuer=Old%20System&algorithm=SHA256&digits=8&period=60"
    ))
    .unwrap();

    // A password re-entry is needed, as for any setup.
    let stale = h.twofold.import_totp(&ana, &uri, None).await.unwrap_err();
    assert_eq!(stale.kind(), twofold::ErrorKind::Reauthenticate);

    let done = h
        .twofold
        .import_totp(&ana, &uri, Some(h.clock.now()))
        .await
        .unwrap();
    assert_eq!(
        done.value.backup_codes.map(|codes| codes.iter().count()),
        Some(10)
    );
    assert!(done.events.iter().any(|event| matches!(
        event,
        Event::FactorAdded {
            factor: twofold::Factor::Totp,
            ..
        }
    )));
    let stored = stored_totp(&h).await;
    assert_eq!(AppParameters::of(&stored.params).digits, 8);
    assert_eq!(AppParameters::of(&stored.params).period, 60);

    // The step of the import and the one the window looks ahead to are spent
    // (the old system may just have taken their codes); the step after them
    // signs in.
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    for ahead in [0, 60] {
        let now = h.clock.now().as_unix_seconds() + ahead;
        let spent = h
            .twofold
            .verify_totp(&ana, &id, &sha256_8_60(secret, now))
            .await
            .unwrap_err();
        assert!(matches!(spent.error, TwoFactorError::CodeAlreadyUsed));
    }
    h.clock.advance(120);
    let now = h.clock.now().as_unix_seconds();
    h.twofold
        .verify_totp(&ana, &id, &sha256_8_60(secret, now))
        .await
        .unwrap();

    // Never over an existing authenticator, and never an HOTP entry.
    let again = h
        .twofold
        .import_totp(&ana, &uri, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(again.error, TwoFactorError::AlreadyEnrolled(_)));
    let after = stored_totp(&h).await;
    assert_eq!(after.secret, stored.secret);
    let hotp = twofold_totp::OtpAuthUri::parse_legacy(&format!(
        "otpauth://hotp/Old:sam?secret={secret}&counter=5"
    ))
    .unwrap();
    let sam = account("sam", "staff");
    let refused = h
        .twofold
        .import_totp(&sam, &hotp, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(refused.error, TwoFactorError::NotTotp));
    assert!(
        h.store
            .load_user("sam")
            .await
            .unwrap()
            .is_none_or(|user| user.value.totp.is_none())
    );
}

/// A code already accepted, entered again once it has left the window (but
/// is still within the resync range), is wrong: a spent step never starts a
/// resync.
#[tokio::test]
async fn a_spent_code_never_starts_a_resync() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let now = h.clock.now();
    let spent = code(&secret, now);
    h.twofold.verify_totp(&ana, &id, &spent).await.unwrap();
    h.clock.advance(90);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let error = h.twofold.verify_totp(&ana, &id, &spent).await.unwrap_err();
    assert!(
        matches!(error.error, TwoFactorError::WrongCode),
        "{:?}",
        error.error
    );
    let factor = stored_totp(&h).await;
    assert_eq!(factor.resync, None);
}

/// The next code must come before the resync lapses: at its deadline it is
/// only the first code of a new resync.
#[tokio::test]
async fn a_resync_lapses_at_its_deadline() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let ahead = |h: &common::Harness| h.clock.now().as_unix_seconds() + 120;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, ahead(&h)))
        .await
        .unwrap_err();
    h.clock.advance(300); // resync_ttl_seconds: exactly at the deadline
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, ahead(&h)))
        .await
        .unwrap_err();
    assert!(
        matches!(error.error, TwoFactorError::ResyncNeeded { drift_steps: 4 }),
        "{:?}",
        error.error
    );
}

/// A guess that matches a future step says `ResyncNeeded`: so that answer can
/// never make the same code work when its time comes, that step is burned.
#[tokio::test]
async fn a_code_revealed_by_a_resync_answer_never_works_later() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let future = code(&secret, h.clock.now().as_unix_seconds() + 120);
    let first = h.twofold.verify_totp(&ana, &id, &future).await.unwrap_err();
    assert!(matches!(
        first.error,
        TwoFactorError::ResyncNeeded { drift_steps: 4 }
    ));
    // No second code, but another attempt meanwhile (which must not forget
    // the burned step); four steps later that code is the current one.
    h.clock.advance(60);
    let wrong = wrong_code(&secret, h.clock.now());
    h.twofold.verify_totp(&ana, &id, &wrong).await.unwrap_err();
    h.clock.advance(60);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let later = h.twofold.verify_totp(&ana, &id, &future).await.unwrap_err();
    assert!(
        matches!(later.error, TwoFactorError::CodeAlreadyUsed),
        "{:?}",
        later.error
    );
    // The next step's code works, and the burned step is forgotten once past.
    h.clock.advance(30);
    let now = h.clock.now();
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, now))
        .await
        .unwrap();
    h.clock.advance(90);
    let id = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let now = h.clock.now();
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, now))
        .await
        .unwrap();
    assert!(stored_totp(&h).await.burned_steps.is_empty());
}
