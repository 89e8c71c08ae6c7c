//! Roles through the facade: the library's default policy is neutral (a
//! `member` signs in and sets up 2FA like anyone), and a policy that names roles
//! refuses the others with a reason that is true ("not covered"), never
//! "optional for your account".
#![cfg(test)]

mod common;

use std::sync::Arc;

use common::{
    ORG, ORIGIN, START, account, config, enroll_totp, harness, harness_with_config, keyring,
    register_passkey,
};
use twofold::{
    Clock, MemoryStore, PasskeyConfig, PolicyDocument, Reason, RelyingParty, SignInStep,
    TwoFactorConfig, TwoFactorError,
};

/// A harness on the policy that `TwoFactorConfig::new` gives.
fn library_default() -> common::Harness {
    let rp = RelyingParty::new("clinic.example", "Smile Dental", &[ORIGIN]).unwrap();
    let library = TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp));
    let config = TwoFactorConfig {
        default_policy: library.default_policy,
        ..config()
    };
    harness_with_config(Arc::new(MemoryStore::new()), keyring(), START, config)
}

fn denied(error: &TwoFactorError) -> Reason {
    match error {
        TwoFactorError::Denied(reason) => *reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn under_the_default_policy_a_member_signs_in_and_sets_up_both_factors() {
    let h = library_default();
    let mo = account("mo", "member");
    match h.twofold.begin_sign_in(&mo).await.unwrap().value {
        SignInStep::Allow { reason } => assert_eq!(reason, Reason::NotRequired),
        other => panic!("a member was not let in: {other:?}"),
    }
    enroll_totp(&h, &mo).await;
    register_passkey(&h, &mo, "laptop").await;
    match h.twofold.begin_sign_in(&mo).await.unwrap().value {
        SignInStep::Challenge { methods, .. } => assert_eq!(methods, twofold::Methods::ALL),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn the_default_policy_is_the_neutral_one() {
    let rp = RelyingParty::new("clinic.example", "Smile Dental", &[ORIGIN]).unwrap();
    let library = TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp));
    assert_eq!(library.default_policy, PolicyDocument::default());
    assert_ne!(library.default_policy, PolicyDocument::example_clinic());
}

/// The report: under the clinic's policy a `member` is refused, and
/// setup must not claim that 2FA is "optional for your account".
#[tokio::test]
async fn under_a_policy_with_roles_a_member_is_refused_with_a_true_reason() {
    let h = harness();
    let mo = account("mo", "member");
    match h.twofold.begin_sign_in(&mo).await.unwrap().value {
        SignInStep::Blocked { reason } => assert_eq!(reason, Reason::UnknownRole),
        other => panic!("a role the policy refuses got in: {other:?}"),
    }
    let now = Some(h.clock.now());
    let totp = h.twofold.begin_totp_enrollment(&mo, now).await.unwrap_err();
    let passkey = h
        .twofold
        .begin_passkey_registration(&mo, now)
        .await
        .unwrap_err();
    for failure in [totp, passkey] {
        assert_eq!(denied(&failure.error), Reason::UnknownRole);
        assert!(
            !failure.error.to_string().contains("optional"),
            "{}",
            failure.error
        );
    }
}

#[tokio::test]
async fn setup_where_second_factors_are_off_says_they_are_not_offered() {
    let h = harness();
    let mut off = PolicyDocument::example_clinic();
    off.enforcement.mode = twofold::Mode::Off;
    h.twofold.set_policy(ORG, off).await.unwrap();
    let sam = account("sam", "staff");
    let failure = h
        .twofold
        .begin_totp_enrollment(&sam, Some(h.clock.now()))
        .await
        .unwrap_err();
    assert_eq!(denied(&failure.error), Reason::NotOffered);
}

/// A setup begun under one policy and confirmed under another that refuses the
/// role is refused at confirmation too, with the same reason.
#[tokio::test]
async fn confirming_a_setup_after_the_role_was_dropped_is_refused() {
    let h = harness();
    let sam = account("sam", "staff");
    let now = Some(h.clock.now());
    let setup = h
        .twofold
        .begin_totp_enrollment(&sam, now)
        .await
        .unwrap()
        .value;
    let options = h
        .twofold
        .begin_passkey_registration(&sam, now)
        .await
        .unwrap()
        .value;
    let mut without_staff = PolicyDocument::example_clinic();
    without_staff.roles.remove("staff");
    for role in without_staff.roles.values_mut() {
        role.may_reset.retain(|r| r != "staff");
    }
    h.twofold.set_policy(ORG, without_staff).await.unwrap();
    let code = common::code(&setup.manual_entry_secret, h.clock.now());
    let failure = h
        .twofold
        .confirm_totp_enrollment(&sam, &code)
        .await
        .unwrap_err();
    assert_eq!(denied(&failure.error), Reason::UnknownRole);
    let mut authenticator = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let posted = common::create_passkey(&mut authenticator, options);
    let failure = h
        .twofold
        .finish_passkey_registration(&sam, &posted, "laptop")
        .await
        .unwrap_err();
    assert_eq!(denied(&failure.error), Reason::UnknownRole);
}
