//! After enrolment: the check-up 28 days on, and "remind me later" for a
//! user who has no second factor yet (capped by the grace period).
#![cfg(test)]

mod common;

use common::{ORG, account, enroll_totp, harness, register_passkey};
use twofold::{Clock, Mode, PolicyDocument, SignInStep, TwoFactorError};

const DAY: u64 = 86_400;

#[tokio::test]
async fn the_check_up_comes_at_the_first_sign_in_28_days_after_enrolment() {
    let h = harness();
    let ana = account("ana", "staff");
    let enrolled = h.clock.now();
    let (_, backup) = enroll_totp(&h, &ana).await;
    assert_eq!(h.twofold.checkup(&ana).await.unwrap(), None);
    // A backup code used meanwhile: the check-up shows what remains.
    let SignInStep::Challenge { challenge_id, .. } =
        h.twofold.begin_sign_in(&ana).await.unwrap().value
    else {
        panic!("a challenge")
    };
    h.twofold
        .verify_backup_code(&ana, &challenge_id, &backup[0])
        .await
        .unwrap();
    h.clock.set(enrolled.plus_seconds(28 * DAY - 1));
    assert_eq!(h.twofold.checkup(&ana).await.unwrap(), None);
    h.clock.set(enrolled.plus_seconds(28 * DAY));
    let checkup = h.twofold.checkup(&ana).await.unwrap().expect("due");
    assert_eq!(checkup.enrolled_at, enrolled);
    assert_eq!(checkup.backup_codes_remaining, Some(9));
    assert!(!checkup.backup_codes_low);
    // Asked until confirmed; then never again.
    h.clock.advance(DAY);
    assert!(h.twofold.checkup(&ana).await.unwrap().is_some());
    let done = h.twofold.confirm_checkup(&ana).await.unwrap();
    assert_eq!(done.events[0].kind(), "checkup_confirmed");
    h.clock.advance(400 * DAY);
    assert_eq!(h.twofold.checkup(&ana).await.unwrap(), None);
}

#[tokio::test]
async fn a_new_enrolment_after_a_reset_brings_the_check_up_back() {
    let h = harness();
    let (olga, ana) = (account("olga", "owner"), account("ana", "staff"));
    enroll_totp(&h, &olga).await;
    enroll_totp(&h, &ana).await;
    h.clock.advance(30 * DAY);
    h.twofold.confirm_checkup(&ana).await.unwrap();
    h.twofold
        .admin_reset(&olga, &ana, "new phone", Some(h.clock.now()))
        .await
        .unwrap();
    // Nothing bound: no check-up, and nothing to confirm.
    assert_eq!(h.twofold.checkup(&ana).await.unwrap(), None);
    let error = h.twofold.confirm_checkup(&ana).await.unwrap_err().error;
    assert!(matches!(error, TwoFactorError::NotEnrolled(_)), "{error:?}");
    h.clock.advance(DAY);
    let again = h.clock.now();
    register_passkey(&h, &ana, "Phone").await;
    h.clock.set(again.plus_seconds(28 * DAY));
    let checkup = h.twofold.checkup(&ana).await.unwrap().expect("due again");
    assert_eq!(checkup.enrolled_at, again);
    assert_eq!(checkup.backup_codes_remaining, Some(10));
}

#[tokio::test]
async fn the_policy_sets_when_the_check_up_comes_or_turns_it_off() {
    let h = harness();
    let ana = account("ana", "staff");
    let enrolled = h.clock.now();
    enroll_totp(&h, &ana).await;
    let mut policy = PolicyDocument::example_clinic();
    policy.checkup.after_days = 7;
    h.twofold.set_policy(ORG, policy.clone()).await.unwrap();
    h.clock.set(enrolled.plus_seconds(7 * DAY));
    assert!(h.twofold.checkup(&ana).await.unwrap().is_some());
    policy.checkup.after_days = 0;
    h.twofold.set_policy(ORG, policy).await.unwrap();
    assert_eq!(h.twofold.checkup(&ana).await.unwrap(), None);
}

fn with_reminders(skip_days: u32, mode: Mode, grace_days: u64) -> PolicyDocument {
    let mut policy = PolicyDocument::example_clinic();
    policy.reminders.skip_days = skip_days;
    policy.enforcement.mode = mode;
    policy.enforcement.grace_seconds = grace_days * DAY;
    policy
}

#[tokio::test]
async fn where_setup_is_optional_a_reminder_can_be_put_off() {
    let h = harness();
    let sam = account("sam", "staff");
    // Off by default: signed in, no reminder.
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(matches!(step, SignInStep::Allow { .. }), "{step:?}");
    let error = h.twofold.remind_me_later(&sam).await.unwrap_err().error;
    assert!(matches!(error, TwoFactorError::Denied(_)), "{error:?}");

    h.twofold
        .set_policy(ORG, with_reminders(30, Mode::Optional, 0))
        .await
        .unwrap();
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    let SignInStep::Remind {
        remind_later_until, ..
    } = step
    else {
        panic!("expected a reminder, got {step:?}");
    };
    assert_eq!(remind_later_until, h.clock.now().plus_seconds(30 * DAY));
    let until = h.twofold.remind_me_later(&sam).await.unwrap().value;
    assert_eq!(until, remind_later_until);
    h.clock.advance(29 * DAY);
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(matches!(step, SignInStep::Allow { .. }), "{step:?}");
    h.clock.advance(DAY);
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(matches!(step, SignInStep::Remind { .. }), "{step:?}");
    // Where second factors are off, there is nothing to put off.
    h.twofold
        .set_policy(ORG, with_reminders(30, Mode::Off, 0))
        .await
        .unwrap();
    let error = h.twofold.remind_me_later(&sam).await.unwrap_err().error;
    assert!(matches!(error, TwoFactorError::Denied(_)), "{error:?}");
    h.twofold
        .set_policy(ORG, with_reminders(30, Mode::Optional, 0))
        .await
        .unwrap();
    // With a factor, no reminder, and nothing to put off.
    enroll_totp(&h, &sam).await;
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(matches!(step, SignInStep::Challenge { .. }), "{step:?}");
    assert!(h.twofold.remind_me_later(&sam).await.is_err());
}

#[tokio::test]
async fn remind_me_later_never_reaches_past_the_grace_period() {
    let h = harness();
    let (olga, sam) = (account("olga", "owner"), account("sam", "staff"));
    enroll_totp(&h, &olga).await;
    h.twofold
        .set_policy(ORG, with_reminders(30, Mode::Optional, 7))
        .await
        .unwrap();
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    let first = h.clock.now();
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(
        matches!(
            step,
            SignInStep::MustEnroll {
                can_defer: true,
                ..
            }
        ),
        "{step:?}"
    );
    h.clock.advance(DAY);
    let until = h.twofold.remind_me_later(&sam).await.unwrap().value;
    assert_eq!(
        until,
        first.plus_seconds(7 * DAY),
        "capped by the grace period"
    );
    // Quiet until then: signed in without the setup page.
    h.clock.advance(5 * DAY);
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(matches!(step, SignInStep::Allow { .. }), "{step:?}");
    // At the deadline, setup comes first, and cannot be put off.
    h.clock.set(first.plus_seconds(7 * DAY));
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(
        matches!(
            step,
            SignInStep::MustEnroll {
                can_defer: false,
                ..
            }
        ),
        "{step:?}"
    );
    let error = h.twofold.remind_me_later(&sam).await.unwrap_err().error;
    assert!(matches!(error, TwoFactorError::Denied(_)), "{error:?}");
}

#[tokio::test]
async fn without_skip_days_a_grace_period_reminds_at_every_sign_in() {
    let h = harness();
    let (olga, sam) = (account("olga", "owner"), account("sam", "staff"));
    enroll_totp(&h, &olga).await;
    h.twofold
        .set_policy(ORG, with_reminders(0, Mode::Optional, 7))
        .await
        .unwrap();
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    for _ in 0..3 {
        let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
        assert!(
            matches!(
                step,
                SignInStep::MustEnroll {
                    can_defer: true,
                    ..
                }
            ),
            "{step:?}"
        );
        assert!(h.twofold.remind_me_later(&sam).await.is_err());
        h.clock.advance(DAY);
    }
}

#[tokio::test]
async fn a_reminder_put_off_before_enforcement_does_not_hide_the_grace_period() {
    let h = harness();
    let (olga, sam) = (account("olga", "owner"), account("sam", "staff"));
    enroll_totp(&h, &olga).await;
    h.twofold
        .set_policy(ORG, with_reminders(365, Mode::Optional, 7))
        .await
        .unwrap();
    h.twofold.remind_me_later(&sam).await.unwrap();
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(
        matches!(
            step,
            SignInStep::MustEnroll {
                can_defer: true,
                ..
            }
        ),
        "{step:?}"
    );
    // And again at the next sign-in: the old quiet is gone.
    h.clock.advance(DAY);
    let step = h.twofold.begin_sign_in(&sam).await.unwrap().value;
    assert!(
        matches!(
            step,
            SignInStep::MustEnroll {
                can_defer: true,
                ..
            }
        ),
        "{step:?}"
    );
}
