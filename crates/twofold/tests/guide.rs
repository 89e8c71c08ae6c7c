//! The clinic's 2FA guide (`shared/guide/two-factor-authentication.md`) as an
//! executable scenario suite: every step, expected outcome and troubleshooting row.
#![cfg(test)]

mod common;

use common::{
    account, code, enroll_totp, harness, register_passkey, use_passkey, username_less_response,
    wrong_code,
};
use twofold::{
    Clock, Event, Factor, Lock, Method, Mode, Reason, SignInStep, Timestamp, TwoFactorError,
};

fn challenge_id(step: &SignInStep) -> String {
    match step {
        SignInStep::Challenge { challenge_id, .. } => challenge_id.clone(),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn step_2_set_up_authenticator_app_shows_a_qr_code_with_the_manual_entry_secret_beside_it() {
    let h = harness();
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    let setup_value = &setup.value;
    assert!(setup_value.qr_svg.starts_with("<?xml") || setup_value.qr_svg.contains("<svg"));
    assert!(
        setup_value
            .otpauth_uri
            .starts_with("otpauth://totp/Smile%20Dental:ana?secret=")
    );
    let uri_secret = setup_value
        .otpauth_uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_eq!(
        setup_value.manual_entry_secret.replace(' ', ""),
        uri_secret,
        "the same secret both ways"
    );
    assert!(
        setup_value
            .manual_entry_secret
            .split(' ')
            .all(|group| group.len() == 4)
    );
    assert_eq!(
        setup_value.expires_at,
        Timestamp::from_unix_seconds(common::START + 600)
    );
    assert!(
        !format!("{setup_value:?}").contains(uri_secret),
        "Debug never shows the secret"
    );
    assert!(matches!(
        setup.events[..],
        [Event::EnrollmentBegun {
            factor: Factor::Totp,
            ..
        }]
    ));
    // Nothing in the store holds the plaintext secret.
    let stored = h.store.load_user("ana").await.unwrap().unwrap();
    let json = serde_json::to_string(&stored.value).unwrap();
    assert!(!json.contains(uri_secret) && !json.contains(&setup_value.manual_entry_secret));
}

#[tokio::test]
async fn steps_3_to_5_scan_confirm_with_the_6_digit_code_and_save_10_backup_codes() {
    let h = harness();
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let confirmed = h
        .twofold
        .confirm_totp_enrollment(&ana, &code(&setup.manual_entry_secret, h.clock.now()))
        .await
        .unwrap();
    let codes: Vec<String> = confirmed
        .value
        .backup_codes
        .as_ref()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "a list of 10 one-time-use codes");
    assert!(matches!(
        confirmed.events[..],
        [
            Event::EnrollmentConfirmed { .. },
            Event::FactorAdded {
                factor: Factor::Totp,
                ..
            },
            Event::BackupCodesCreated { .. }
        ]
    ));
    let status = h.twofold.status(&ana).await.unwrap();
    assert!(status.totp && status.enabled);
    assert_eq!(status.backup_codes_remaining, Some(10));
    // The codes are shown once: there is nothing left to confirm, and the store has no plaintext.
    assert!(matches!(
        h.twofold
            .confirm_totp_enrollment(&ana, "123456")
            .await
            .unwrap_err()
            .error,
        TwoFactorError::NoPendingEnrollment
    ));
    let stored =
        serde_json::to_string(&h.store.load_user("ana").await.unwrap().unwrap().value).unwrap();
    for backup in &codes {
        assert!(!stored.contains(backup) && !stored.contains(&backup.replace('-', "")));
    }
}

#[tokio::test]
async fn step_4_the_confirming_code_can_never_be_reused_to_sign_in() {
    let h = harness();
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let confirming = code(&setup.manual_entry_secret, h.clock.now());
    h.twofold
        .confirm_totp_enrollment(&ana, &confirming)
        .await
        .unwrap();
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let error = h
        .twofold
        .verify_totp(&ana, &challenge_id(&step), &confirming)
        .await
        .unwrap_err();
    assert!(
        matches!(error.error, TwoFactorError::CodeAlreadyUsed),
        "{error:?}"
    );
}

#[tokio::test]
async fn step_6_sign_out_and_in_the_platform_asks_for_the_6_digit_code() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let SignInStep::Challenge {
        methods,
        recovery,
        passkey_options,
        ..
    } = &step
    else {
        panic!("{step:?}")
    };
    assert!(methods.contains(Method::Totp) && *recovery && passkey_options.is_none());
    let signed_in = h
        .twofold
        .verify_totp(&ana, &challenge_id(&step), &code(&secret, h.clock.now()))
        .await
        .unwrap();
    assert_eq!(signed_in.value.factor, Factor::Totp);
    assert!(matches!(
        signed_in.events[..],
        [Event::SignInSucceeded {
            factor: Factor::Totp,
            ..
        }]
    ));
}

#[tokio::test]
async fn step_6_a_code_that_signed_in_is_refused_for_the_rest_of_its_step() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let stored_step = |record: Option<twofold::Versioned<twofold::store::UserRecord>>| {
        record.unwrap().value.totp.unwrap().last_step.unwrap()
    };
    let before = stored_step(h.store.load_user("ana").await.unwrap());
    let typed = code(&secret, h.clock.now());
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    h.twofold
        .verify_totp(&ana, &challenge_id(&step), &typed)
        .await
        .unwrap();
    // The accepted step is stored: it is the step of the code just typed.
    let after = stored_step(h.store.load_user("ana").await.unwrap());
    assert_eq!(
        after,
        h.clock.now().as_unix_seconds() / 30,
        "the stored step moved to the code's step"
    );
    assert!(after > before);
    // Signing in again within the same step, with the same code, is a replay.
    h.clock.advance(29 - h.clock.now().as_unix_seconds() % 30);
    assert_eq!(
        h.clock.now().as_unix_seconds() / 30,
        after,
        "still the same step"
    );
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let replayed = h
        .twofold
        .verify_totp(&ana, &challenge_id(&step), &typed)
        .await
        .unwrap_err();
    assert!(
        matches!(replayed.error, TwoFactorError::CodeAlreadyUsed),
        "{replayed:?}"
    );
    assert_eq!(stored_step(h.store.load_user("ana").await.unwrap()), after);
}

#[tokio::test]
async fn step_7_optionally_add_a_passkey_too_and_sign_in_with_it() {
    let h = harness();
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    let (mut authenticator, added) = register_passkey(&h, &ana, "Work laptop").await;
    assert!(
        added.value.backup_codes.is_none(),
        "ana already has backup codes"
    );
    let status = h.twofold.status(&ana).await.unwrap();
    assert_eq!(status.passkeys.len(), 1);
    assert_eq!(status.passkeys[0].name, "Work laptop");

    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let SignInStep::Challenge {
        methods,
        passkey_options: Some(options),
        ..
    } = &step
    else {
        panic!("{step:?}")
    };
    assert!(methods.contains(Method::Passkey) && methods.contains(Method::Totp));
    let posted = use_passkey(&mut authenticator, options.clone());
    let signed_in = h
        .twofold
        .verify_passkey(&ana, &challenge_id(&step), &posted)
        .await
        .unwrap();
    assert_eq!(signed_in.value.factor, Factor::Passkey);
    let status = h.twofold.status(&ana).await.unwrap();
    assert_eq!(status.passkeys[0].last_used_at, Some(h.clock.now()));
}

#[tokio::test]
async fn step_8_owner_enforces_2fa_and_every_user_must_enable_it_on_their_next_sign_in() {
    let h = harness();
    let owner = account("olga", "owner");
    let admin = account("adam", "admin");
    let staff = account("sam", "staff");
    // Before: staff sign in with the password alone.
    assert!(matches!(
        h.twofold.begin_sign_in(&staff).await.unwrap().value,
        SignInStep::Allow { .. }
    ));
    // Only the owner may enforce, and not without a second factor of their own.
    let refused = h
        .twofold
        .change_enforcement(&owner, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(
        refused.error,
        TwoFactorError::Denied(Reason::ActorHasNoSecondFactor)
    ));
    enroll_totp(&h, &owner).await;
    enroll_totp(&h, &admin).await;
    let refused = h
        .twofold
        .change_enforcement(&admin, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(
        refused.error,
        TwoFactorError::Denied(Reason::RoleMayNotChangeEnforcement)
    ));
    let changed = h
        .twofold
        .change_enforcement(&owner, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    assert!(matches!(
        changed.events[..],
        [Event::EnforcementChanged {
            from: Mode::Optional,
            to: Mode::Required,
            ..
        }]
    ));
    // After: the next sign-in goes straight into setup.
    h.clock.advance(60);
    let step = h.twofold.begin_sign_in(&staff).await.unwrap().value;
    assert!(
        matches!(
            step,
            SignInStep::MustEnroll {
                can_defer: false,
                reason: Reason::EnrollmentRequiredNow,
                ..
            }
        ),
        "{step:?}"
    );
    // Users with a factor are challenged as before.
    assert!(matches!(
        h.twofold.begin_sign_in(&admin).await.unwrap().value,
        SignInStep::Challenge { .. }
    ));
    assert!(h.twofold.status(&staff).await.unwrap().enforced);
}

#[tokio::test]
async fn expected_outcome_the_account_requires_2fa_on_every_sign_in() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    for _ in 0..3 {
        let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
        h.twofold
            .verify_totp(&ana, &challenge_id(&step), &code(&secret, h.clock.now()))
            .await
            .unwrap();
        h.clock.advance(3600);
    }
}

#[tokio::test]
async fn expected_outcome_backup_codes_work_if_the_phone_is_lost_each_once() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, backup) = enroll_totp(&h, &ana).await;
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let used = h
        .twofold
        .verify_backup_code(&ana, &challenge_id(&step), &backup[3].to_lowercase())
        .await
        .unwrap();
    assert_eq!(used.value.backup_codes_remaining, Some(9));
    assert!(matches!(
        used.events[0],
        Event::BackupCodeUsed { remaining: 9, .. }
    ));
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let again = h
        .twofold
        .verify_backup_code(&ana, &challenge_id(&step), &backup[3])
        .await
        .unwrap_err();
    assert!(
        matches!(again.error, TwoFactorError::CodeAlreadyUsed),
        "\"that code was already used\""
    );
}

#[tokio::test]
async fn troubleshooting_qr_code_wont_scan_use_the_manual_entry_secret_instead() {
    let h = harness();
    let ana = account("ana", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    // Typed by hand, in lowercase with the spaces: the app derives the same codes.
    let typed = setup.manual_entry_secret.to_lowercase();
    let confirmed = h
        .twofold
        .confirm_totp_enrollment(&ana, &code(&typed.to_uppercase(), h.clock.now()))
        .await;
    assert!(confirmed.is_ok());
}

#[tokio::test]
async fn troubleshooting_6_digit_code_rejected_time_skew_one_step_is_tolerated_two_are_not() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    h.clock.advance(600);
    for (skew, accepted) in [(-30i64, true), (30, true), (-60, false), (60, false)] {
        h.clock.advance(120); // a fresh step each round, so earlier successes do not make replays
        let now = h.clock.now().as_unix_seconds();
        let phone_time = now.checked_add_signed(skew).unwrap();
        let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
        let result = h
            .twofold
            .verify_totp(&ana, &challenge_id(&step), &code(&secret, phone_time))
            .await;
        assert_eq!(
            result.is_ok(),
            accepted,
            "phone clock {skew:+} s: {result:?}"
        );
        if !accepted {
            // Not accepted, but recognised as the phone's code for another
            // time: the answer says how far off, and that its next code
            // resynchronises (tests/totp_real_world.rs).
            let expected = skew / 30;
            assert!(
                matches!(
                    result.unwrap_err().error,
                    TwoFactorError::ResyncNeeded { drift_steps } if drift_steps == expected
                ),
                "phone clock {skew:+} s"
            );
        }
    }
}

#[tokio::test]
async fn troubleshooting_lost_phone_no_backup_codes_owner_or_admin_disables_2fa_from_settings_staff()
 {
    let h = harness();
    let admin = account("adam", "admin");
    let staff = account("sam", "staff");
    enroll_totp(&h, &staff).await;
    let reset = h
        .twofold
        .admin_reset(
            &admin,
            &staff,
            "lost phone; identity checked at the front desk",
            Some(h.clock.now()),
        )
        .await
        .unwrap();
    assert!(!reset.value, "not enforced: no forced setup");
    assert!(
        matches!(&reset.events[..], [Event::AdminReset { actor, target, reason, .. }] if actor == "adam" && target == "sam" && reason.starts_with("lost phone"))
    );
    assert!(!h.twofold.status(&staff).await.unwrap().enabled);
    assert!(matches!(
        h.twofold.begin_sign_in(&staff).await.unwrap().value,
        SignInStep::Allow { .. }
    ));
    // Staff cannot reset an admin, nobody resets their own, and a reason is required.
    for (actor, target, reason, expected) in [
        (
            account("sam", "staff"),
            account("adam", "admin"),
            "x",
            Reason::RoleMayNotReset,
        ),
        (
            account("adam", "admin"),
            account("adam", "admin"),
            "x",
            Reason::CannotResetSelf,
        ),
        (
            account("adam", "admin"),
            account("sue", "staff"),
            " ",
            Reason::ReasonRequired,
        ),
    ] {
        let error = h
            .twofold
            .admin_reset(&actor, &target, reason, Some(h.clock.now()))
            .await
            .unwrap_err();
        assert!(
            matches!(error.error, TwoFactorError::Denied(r) if r == expected),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn troubleshooting_lost_phone_under_enforcement_the_user_must_enroll_again_at_the_next_sign_in()
 {
    let h = harness();
    let owner = account("olga", "owner");
    let staff = account("sam", "staff");
    enroll_totp(&h, &owner).await;
    enroll_totp(&h, &staff).await;
    h.twofold
        .change_enforcement(&owner, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    let reset = h
        .twofold
        .admin_reset(&owner, &staff, "lost phone", Some(h.clock.now()))
        .await
        .unwrap();
    assert!(reset.value, "must enroll at the next sign-in");
    assert!(matches!(
        h.twofold.begin_sign_in(&staff).await.unwrap().value,
        SignInStep::MustEnroll {
            can_defer: false,
            ..
        }
    ));
}

#[tokio::test]
async fn troubleshooting_want_to_disable_2fa_possible_if_not_enforced_after_re_entering_the_password()
 {
    let h = harness();
    let owner = account("olga", "owner");
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    let now = h.clock.now();
    let no_password = h.twofold.disable(&ana, None).await.unwrap_err();
    assert!(matches!(
        no_password.error,
        TwoFactorError::Denied(Reason::ReauthenticationRequired)
    ));
    let stale = h
        .twofold
        .disable(
            &ana,
            Some(Timestamp::from_unix_seconds(now.as_unix_seconds() - 3600)),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        stale.error,
        TwoFactorError::Denied(Reason::ReauthenticationRequired)
    ));

    enroll_totp(&h, &owner).await;
    h.twofold
        .change_enforcement(&owner, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    let enforced = h
        .twofold
        .disable(&ana, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(
        enforced.error,
        TwoFactorError::Denied(Reason::EnforcedForUser)
    ));
    h.twofold
        .change_enforcement(&owner, Mode::Optional, Some(h.clock.now()))
        .await
        .unwrap();

    let disabled = h.twofold.disable(&ana, Some(h.clock.now())).await.unwrap();
    assert!(matches!(
        disabled.events[..],
        [Event::TwoFactorDisabled { .. }]
    ));
    let status = h.twofold.status(&ana).await.unwrap();
    assert!(!status.enabled && status.backup_codes_remaining.is_none());
}

#[tokio::test]
async fn troubleshooting_owner_enforced_but_staff_cant_enable_retry_the_qr_is_regenerated_each_time()
 {
    let h = harness();
    let sam = account("sam", "staff");
    let first = h
        .twofold
        .begin_totp_enrollment(&sam, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    // The network blips; the user retries and gets a new QR code.
    let second = h
        .twofold
        .begin_totp_enrollment(&sam, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    assert_ne!(first.manual_entry_secret, second.manual_entry_secret);
    assert_ne!(first.qr_svg, second.qr_svg);
    // The first secret no longer confirms; the new one does.
    let stale = h
        .twofold
        .confirm_totp_enrollment(&sam, &code(&first.manual_entry_secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(stale.error, TwoFactorError::WrongCode));
    h.twofold
        .confirm_totp_enrollment(&sam, &code(&second.manual_entry_secret, h.clock.now()))
        .await
        .unwrap();
}

/// "A wrong setup code": the page shows the error beside the same QR code and
/// secret, which still confirm; after confirming, or once lapsed, nothing is
/// pending.
#[tokio::test]
async fn a_wrong_setup_code_keeps_the_same_qr_code_and_secret() {
    let h = harness();
    let sam = account("sam", "staff");
    assert!(
        h.twofold
            .pending_totp_enrollment(&sam, Some(h.clock.now()))
            .await
            .unwrap()
            .is_none()
    );
    let setup = h
        .twofold
        .begin_totp_enrollment(&sam, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let wrong = h
        .twofold
        .confirm_totp_enrollment(&sam, "000000")
        .await
        .unwrap_err();
    assert!(matches!(
        wrong.error,
        TwoFactorError::WrongCode | TwoFactorError::InvalidCode(_)
    ));
    let again = h
        .twofold
        .pending_totp_enrollment(&sam, Some(h.clock.now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.manual_entry_secret, setup.manual_entry_secret);
    assert_eq!(again.otpauth_uri, setup.otpauth_uri);
    assert_eq!(again.qr_svg, setup.qr_svg);
    assert_eq!(again.expires_at, setup.expires_at);
    h.twofold
        .confirm_totp_enrollment(&sam, &code(&again.manual_entry_secret, h.clock.now()))
        .await
        .unwrap();
    assert!(
        h.twofold
            .pending_totp_enrollment(&sam, Some(h.clock.now()))
            .await
            .unwrap()
            .is_none()
    );

    // The setup outlives the password's freshness window: past it, showing
    // the secret again needs a new password entry (whoever holds only the
    // session must not read it with a wrong code).
    let adam = account("adam", "admin");
    let proof = h.clock.now();
    h.twofold
        .begin_totp_enrollment(&adam, Some(proof))
        .await
        .unwrap();
    h.clock.advance(301);
    let stale = h
        .twofold
        .pending_totp_enrollment(&adam, Some(proof))
        .await
        .unwrap_err();
    assert!(matches!(
        stale.error,
        TwoFactorError::Denied(Reason::ReauthenticationRequired)
    ));
    assert!(
        h.twofold
            .pending_totp_enrollment(&adam, None)
            .await
            .is_err()
    );
    h.clock.advance(300);
    assert!(
        h.twofold
            .pending_totp_enrollment(&adam, Some(h.clock.now()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_pending_setup_expires() {
    let h = harness();
    let sam = account("sam", "staff");
    let setup = h
        .twofold
        .begin_totp_enrollment(&sam, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    h.clock.advance(601);
    let error = h
        .twofold
        .confirm_totp_enrollment(&sam, &code(&setup.manual_entry_secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::Expired));
}

#[tokio::test]
async fn the_challenge_is_single_use_and_expires() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, backup) = enroll_totp(&h, &ana).await;
    let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_backup_code(&ana, &id, &backup[0])
        .await
        .unwrap();
    let reused = h
        .twofold
        .verify_backup_code(&ana, &id, &backup[1])
        .await
        .unwrap_err();
    assert!(matches!(reused.error, TwoFactorError::NoChallenge));
    let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.clock.advance(301);
    let late = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(late.error, TwoFactorError::Expired));
}

#[tokio::test]
async fn repeated_wrong_codes_lock_the_second_step_with_the_time_to_wait() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let right = code(&secret, h.clock.now());
    let wrong = wrong_code(&secret, h.clock.now());
    let wrong = wrong.as_str();
    for attempt in 1..=3 {
        let error = h.twofold.verify_totp(&ana, &id, wrong).await.unwrap_err();
        assert!(
            matches!(error.error, TwoFactorError::WrongCode),
            "attempt {attempt}"
        );
        assert!(
            matches!(error.events[0], Event::SignInFailed { failures, .. } if failures == attempt)
        );
        assert_eq!(error.lock, None, "attempt {attempt} starts no wait");
    }
    // The fourth failure starts a 30-second wait, and says so itself.
    let fourth = h.twofold.verify_totp(&ana, &id, wrong).await.unwrap_err();
    assert_eq!(fourth.lock, Some(Lock::RetryAfter { seconds: 30 }));
    let waiting = h.twofold.verify_totp(&ana, &id, &right).await.unwrap_err();
    assert!(
        matches!(
            waiting.error,
            TwoFactorError::Locked {
                lock: Lock::RetryAfter { seconds: 30 }
            }
        ),
        "{waiting:?}"
    );
    assert_eq!(waiting.lock, Some(Lock::RetryAfter { seconds: 30 }));
    assert_eq!(
        h.twofold.status(&ana).await.unwrap().locked,
        Some(Lock::RetryAfter { seconds: 30 })
    );
    h.clock.advance(30);
    let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
    // Success resets the count.
    assert_eq!(h.twofold.status(&ana).await.unwrap().locked, None);
    // Ten failures lock the account for an hour; the sign-in step says so.
    for attempt in 1..=10u32 {
        h.clock.advance(1000);
        let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let wrong = wrong_code(&secret, h.clock.now());
        let failure = h.twofold.verify_totp(&ana, &id, &wrong).await.unwrap_err();
        assert!(
            matches!(failure.error, TwoFactorError::WrongCode),
            "attempt {attempt}: {failure:?}"
        );
        assert!(
            matches!(failure.events[0], Event::SignInFailed { failures, .. } if failures == attempt),
            "attempt {attempt}: {:?}",
            failure.events
        );
        // The tenth failure, and only the tenth, locks the account.
        assert_eq!(
            failure
                .events
                .iter()
                .any(|e| matches!(e, Event::LockedOut { until: Some(_), .. })),
            attempt == 10,
            "attempt {attempt}: {:?}",
            failure.events
        );
        if attempt == 10 {
            assert_eq!(
                failure.lock,
                Some(Lock::Until {
                    at: h.clock.now().plus_seconds(3600)
                })
            );
        }
    }
    let locked = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let until = Lock::Until {
        at: h.clock.now().plus_seconds(3600),
    };
    assert!(
        matches!(locked, SignInStep::Locked { lock } if lock == until),
        "{locked:?}"
    );
    // The Staff page's question: the status says the same, as a time.
    assert_eq!(h.twofold.status(&ana).await.unwrap().locked, Some(until));
    assert_eq!(until.seconds_left(h.clock.now()), Some(3600));
    assert!(
        h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::LockedOut { .. }))
    );
}

#[tokio::test]
async fn backup_codes_can_be_regenerated_after_re_entering_the_password() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, old) = enroll_totp(&h, &ana).await;
    let denied = h
        .twofold
        .regenerate_backup_codes(&ana, None)
        .await
        .unwrap_err();
    assert!(matches!(
        denied.error,
        TwoFactorError::Denied(Reason::ReauthenticationRequired)
    ));
    let fresh = h
        .twofold
        .regenerate_backup_codes(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    assert_eq!(fresh.value.len(), 10);
    let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let old_code = h
        .twofold
        .verify_backup_code(&ana, &id, &old[0])
        .await
        .unwrap_err();
    assert!(
        matches!(old_code.error, TwoFactorError::WrongCode),
        "the old set is worthless"
    );
}

#[tokio::test]
async fn passkeys_are_named_listed_renamed_and_removed() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, added) = register_passkey(&h, &ana, "YubiKey").await;
    assert_eq!(
        added.value.backup_codes.as_ref().map(|c| c.len()),
        Some(10),
        "the first factor brings backup codes"
    );
    let id = added.value.credential_id.clone().unwrap();
    h.twofold
        .rename_passkey(&ana, &id, "Blue YubiKey")
        .await
        .unwrap();
    assert_eq!(
        h.twofold.status(&ana).await.unwrap().passkeys[0].name,
        "Blue YubiKey"
    );
    // The last factor goes only with a fresh password, as disabling 2FA does.
    let refused = h.twofold.remove_passkey(&ana, &id, None).await.unwrap_err();
    assert!(matches!(
        refused.error,
        TwoFactorError::Denied(Reason::ReauthenticationRequired)
    ));
    let removed = h
        .twofold
        .remove_passkey(&ana, &id, Some(h.clock.now()))
        .await
        .unwrap();
    // The last factor: 2FA is off, and the backup codes went with it.
    assert!(matches!(
        removed.events[..],
        [
            Event::FactorRemoved {
                factor: Factor::Passkey,
                ..
            },
            Event::TwoFactorDisabled { .. }
        ]
    ));
    let status = h.twofold.status(&ana).await.unwrap();
    assert!(status.passkeys.is_empty() && !status.enabled);
    assert_eq!(status.backup_codes_remaining, None);
}

#[tokio::test]
async fn username_less_sign_in_with_a_passkey() {
    let h = harness();
    let ana = account("ana", "staff");
    let (mut authenticator, added) = register_passkey(&h, &ana, "k").await;
    let id = added.value.credential_id.unwrap();
    let start = h
        .twofold
        .begin_passkey_sign_in(common::ORG)
        .await
        .unwrap()
        .value;
    let posted = username_less_response(&mut authenticator, &start.options, &id, "ana");
    let (user, _) = common::passkey_first(&h.twofold, &start.ceremony_id, &posted)
        .await
        .unwrap();
    assert_eq!(user, "ana");
    // The ceremony was used.
    let again = common::passkey_first(&h.twofold, &start.ceremony_id, &posted)
        .await
        .unwrap_err();
    assert!(matches!(again.error, TwoFactorError::NoChallenge));
}

#[tokio::test]
async fn status_for_the_security_page_and_the_staff_list() {
    let h = harness();
    let ana = account("ana", "staff");
    let sam = account("sam", "staff");
    let (_, backup) = enroll_totp(&h, &ana).await;
    for code in &backup[..7] {
        let id = challenge_id(&h.twofold.begin_sign_in(&ana).await.unwrap().value);
        h.twofold.verify_backup_code(&ana, &id, code).await.unwrap();
    }
    let status = h.twofold.status(&ana).await.unwrap();
    assert_eq!(
        (
            status.totp,
            status.backup_codes_remaining,
            status.backup_codes_low
        ),
        (true, Some(3), true)
    );
    let none = h.twofold.status(&sam).await.unwrap();
    assert!(!none.enabled && !none.totp && none.passkeys.is_empty() && none.locked.is_none());
}
