//! Passkey-first (username-less) sign-in and the WebAuthn Signal API payloads
//! (issue 18, part 4): the policy knob, user verification, the throttle, and
//! the payloads' member names as WebAuthn Level 3 §5.1.10 spells them.
#![cfg(test)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{
    Harness, ORG, account, enroll_totp, harness, harness_with_config, keyring, register_passkey,
    username_less_response, wrong_code,
};
use serde_json::Value;
use twofold::factors::passkey::PasskeyError;
use twofold::{
    Clock, Event, Factor, MemoryStore, PasskeySignIn, PolicyDocument, Reason, TwoFactorError,
};

const RP_ID: &str = "clinic.example";

fn harness_with_policy(edit: impl FnOnce(&mut PolicyDocument)) -> Harness {
    let mut config = common::config();
    edit(&mut config.default_policy);
    let memory = Arc::new(MemoryStore::new());
    Harness {
        memory: Some(Arc::clone(&memory)),
        ..harness_with_config(memory, keyring(), common::START, config)
    }
}

async fn stored(h: &Harness, user: &str) -> Value {
    let record = h.store.load_user(user).await.unwrap().unwrap();
    serde_json::json!({ "version": record.version, "value": serde_json::to_value(&record.value).unwrap() })
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Registers a passkey for `user` and starts a username-less sign-in answered by it.
async fn answered(h: &Harness, user: &str, role: &str) -> (String, String, twofold::CredentialId) {
    let (mut authenticator, added) = register_passkey(h, &account(user, role), "key").await;
    let id = added.value.credential_id.unwrap();
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let posted = username_less_response(&mut authenticator, &start.options, &id, user);
    (start.ceremony_id, posted, id)
}

#[tokio::test]
async fn a_verified_passkey_signs_in_with_both_factors_and_gives_the_signals() {
    let h = harness();
    let ana = account("ana", "staff");
    // The user handle the registration gave the authenticator.
    let options = h
        .twofold
        .begin_passkey_registration(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let registered_user_id = options["user"]["id"].as_str().unwrap().to_string();
    let (ceremony, posted, id) = answered(&h, "ana", "staff").await;
    register_passkey(&h, &ana, "second").await;
    let claim = h
        .twofold
        .identify_passkey_sign_in(&ceremony, &posted)
        .await
        .unwrap();
    assert_eq!((claim.user(), claim.organization()), ("ana", ORG));
    // Its Debug names the user and hides the ceremony state.
    let debug = format!("{claim:?}");
    assert!(
        debug.starts_with("PasskeyClaim") && debug.contains("\"ana\""),
        "{debug}"
    );
    assert!(
        !debug.contains("state") && !debug.contains("challenge"),
        "{debug}"
    );
    let done = h.twofold.finish_passkey_sign_in(claim, &ana).await.unwrap();
    let PasskeySignIn::SignedIn { signals } = &done.value else {
        panic!("expected a sign-in, got {:?}", done.value);
    };
    assert!(matches!(
        done.events[..],
        [Event::SignInSucceeded {
            factor: Factor::Passkey,
            ..
        }]
    ));
    // signalAllAcceptedCredentials: exactly WebAuthn's members.
    let all = serde_json::to_value(&signals.all_accepted_credentials).unwrap();
    assert_eq!(
        keys(&all),
        BTreeSet::from(["rpId", "userId", "allAcceptedCredentialIds"])
    );
    assert_eq!(all["rpId"], RP_ID);
    assert_eq!(all["userId"], registered_user_id.as_str());
    assert_eq!(all["userId"], Base64UrlUnpadded::encode_string(b"ana"));
    let status = h.twofold.status(&ana).await.unwrap();
    let expected: Vec<String> = status
        .passkeys
        .iter()
        .map(|p| p.id.to_base64url())
        .collect();
    assert_eq!(expected.len(), 2);
    assert!(expected.contains(&id.to_base64url()));
    assert_eq!(all["allAcceptedCredentialIds"], serde_json::json!(expected));
    // signalCurrentUserDetails.
    let details = serde_json::to_value(&signals.current_user_details).unwrap();
    assert_eq!(
        keys(&details),
        BTreeSet::from(["rpId", "userId", "name", "displayName"])
    );
    assert_eq!(details["rpId"], RP_ID);
    assert_eq!(details["userId"], registered_user_id.as_str());
    assert_eq!(details["name"], "ana");
    assert_eq!(details["displayName"], "ana");
    // The same, for the page after any other sign-in.
    assert_eq!(&h.twofold.passkey_signals(&ana).await.unwrap(), signals);
}

#[tokio::test]
async fn where_the_policy_says_no_the_passkey_only_identifies_and_the_password_is_required() {
    // The role's rule, then the organization's.
    let by_role = harness_with_policy(|doc| {
        doc.roles.get_mut("staff").unwrap().passkey_sign_in = Some(false);
    });
    let by_org = harness_with_policy(|doc| doc.passkeys.sign_in_without_password = false);
    for h in [by_role, by_org] {
        let ana = account("ana", "staff");
        let (ceremony, posted, _) = answered(&h, "ana", "staff").await;
        let claim = h
            .twofold
            .identify_passkey_sign_in(&ceremony, &posted)
            .await
            .unwrap();
        let done = h.twofold.finish_passkey_sign_in(claim, &ana).await.unwrap();
        assert_eq!(
            done.value,
            PasskeySignIn::PasswordRequired {
                reason: Reason::PasswordAlsoRequired
            }
        );
        // No sign-in happened: no event says so.
        assert!(done.events.is_empty(), "{:?}", done.events);
        // An admin is not under the staff rule when only staff turned it off.
        let ada = account("ada", "admin");
        let (ceremony, posted, _) = answered(&h, "ada", "admin").await;
        let claim = h
            .twofold
            .identify_passkey_sign_in(&ceremony, &posted)
            .await
            .unwrap();
        let done = h.twofold.finish_passkey_sign_in(claim, &ada).await.unwrap();
        let org_wide = !h
            .twofold
            .policy(ORG)
            .await
            .unwrap()
            .document()
            .passkeys
            .sign_in_without_password;
        assert_eq!(
            matches!(done.value, PasskeySignIn::PasswordRequired { .. }),
            org_wide
        );
    }
}

#[tokio::test]
async fn a_locked_user_is_not_signed_in_by_a_passkey() {
    let h = harness_with_policy(|doc| doc.throttle.max_failures = 1);
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let (mut authenticator, added) = register_passkey(&h, &ana, "key").await;
    let id = added.value.credential_id.unwrap();
    // One wrong code locks Ana (max_failures = 1).
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    let twofold::SignInStep::Challenge { challenge_id, .. } = step else {
        panic!("{step:?}")
    };
    h.twofold
        .verify_totp(&ana, &challenge_id, &wrong_code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    let before = stored(&h, "ana").await;
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let posted = username_less_response(&mut authenticator, &start.options, &id, "ana");
    let claim = h
        .twofold
        .identify_passkey_sign_in(&start.ceremony_id, &posted)
        .await
        .unwrap();
    let refused = h
        .twofold
        .finish_passkey_sign_in(claim, &ana)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::Locked { .. }),
        "{refused:?}"
    );
    assert_eq!(stored(&h, "ana").await, before, "the lock was lifted");
    // An answer that does not verify learns nothing of the lock.
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let mut forged: Value = serde_json::from_str(&username_less_response(
        &mut authenticator,
        &start.options,
        &id,
        "ana",
    ))
    .unwrap();
    forged["response"]["signature"] = Base64UrlUnpadded::encode_string(&[1u8; 70]).into();
    let claim = h
        .twofold
        .identify_passkey_sign_in(&start.ceremony_id, &forged.to_string())
        .await
        .unwrap();
    let refused = h
        .twofold
        .finish_passkey_sign_in(claim, &ana)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::Passkey(_)),
        "{refused:?}"
    );
    assert_eq!(stored(&h, "ana").await, before);
}

#[tokio::test]
async fn a_role_the_policy_refuses_is_not_signed_in_by_a_passkey() {
    let h = harness();
    let (ceremony, posted, _) = answered(&h, "gus", "staff").await;
    let claim = h
        .twofold
        .identify_passkey_sign_in(&ceremony, &posted)
        .await
        .unwrap();
    let before = stored(&h, "gus").await;
    // The application knows Gus under a role the clinic's policy does not name.
    let refused = h
        .twofold
        .finish_passkey_sign_in(claim, &account("gus", "ghost"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::Denied(Reason::UnknownRole)),
        "{refused:?}"
    );
    assert_eq!(stored(&h, "gus").await, before);
}

#[tokio::test]
async fn the_claim_is_for_its_owner_in_its_organization_only() {
    let h = harness();
    let (ceremony, posted, _) = answered(&h, "ana", "staff").await;
    register_passkey(&h, &account("bob", "staff"), "key").await;
    let claim = h
        .twofold
        .identify_passkey_sign_in(&ceremony, &posted)
        .await
        .unwrap();
    let refused = h
        .twofold
        .finish_passkey_sign_in(claim, &account("bob", "staff"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::Passkey(_)),
        "{refused:?}"
    );
    let (ceremony, posted, _) = answered(&h, "ana", "staff").await;
    let claim = h
        .twofold
        .identify_passkey_sign_in(&ceremony, &posted)
        .await
        .unwrap();
    let elsewhere = twofold::Account {
        organization: "other-clinic",
        ..account("ana", "staff")
    };
    let refused = h
        .twofold
        .finish_passkey_sign_in(claim, &elsewhere)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.error,
            TwoFactorError::Denied(Reason::OtherOrganization)
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_answer_without_user_verification_is_refused() {
    let h = harness();
    let ana = account("ana", "staff");
    let (mut authenticator, added) = register_passkey(&h, &ana, "key").await;
    let id = added.value.credential_id.unwrap();
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    // The browser side is the attacker's: it asks the authenticator not to
    // verify the user, which then signs with the UV flag clear.
    let mut options = start.options.clone();
    options["userVerification"] = "discouraged".into();
    let posted = username_less_response(&mut authenticator, &options, &id, "ana");
    let before = stored(&h, "ana").await;
    let claim = h
        .twofold
        .identify_passkey_sign_in(&start.ceremony_id, &posted)
        .await
        .unwrap();
    let refused = h
        .twofold
        .finish_passkey_sign_in(claim, &ana)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.error,
            TwoFactorError::Passkey(PasskeyError::UserVerificationMissing(_))
        ),
        "{refused:?}"
    );
    assert_eq!(stored(&h, "ana").await, before);
}

#[tokio::test]
async fn an_unknown_credential_fails_with_the_signal_that_repeats_its_id() {
    let h = harness();
    let ana = account("ana", "staff");
    let (mut kept_authenticator, kept) = register_passkey(&h, &ana, "kept").await;
    let kept = kept.value.credential_id.unwrap();
    let (mut authenticator, added) = register_passkey(&h, &ana, "lost phone").await;
    let removed = added.value.credential_id.unwrap();
    // Removing it gives signalAllAcceptedCredentials without it.
    let accepted = h
        .twofold
        .remove_passkey(&ana, &removed, Some(h.clock.now()))
        .await
        .unwrap()
        .value
        .unwrap();
    let accepted = serde_json::to_value(&accepted).unwrap();
    assert_eq!(
        keys(&accepted),
        BTreeSet::from(["rpId", "userId", "allAcceptedCredentialIds"])
    );
    assert_eq!(accepted["rpId"], RP_ID);
    assert_eq!(accepted["userId"], Base64UrlUnpadded::encode_string(b"ana"));
    assert_eq!(
        accepted["allAcceptedCredentialIds"],
        serde_json::json!([kept.to_base64url()])
    );
    // The password manager still offers it: the answer names a credential
    // nobody has, and the error carries signalUnknownCredential's options.
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let posted = username_less_response(&mut authenticator, &start.options, &removed, "ana");
    let refused = h
        .twofold
        .identify_passkey_sign_in(&start.ceremony_id, &posted)
        .await
        .unwrap_err();
    let TwoFactorError::UnknownCredential(signal) = &refused.error else {
        panic!("{refused:?}")
    };
    let signal = serde_json::to_value(signal).unwrap();
    assert_eq!(keys(&signal), BTreeSet::from(["rpId", "credentialId"]));
    assert_eq!(signal["rpId"], RP_ID);
    assert_eq!(signal["credentialId"], removed.to_base64url());
    // Nothing else: the same for an id that was never registered, whoever's
    // user handle the answer claims.
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let mut forged: Value = serde_json::from_str(&username_less_response(
        &mut kept_authenticator,
        &start.options,
        &kept,
        "nobody",
    ))
    .unwrap();
    let never = Base64UrlUnpadded::encode_string(b"never-registered");
    forged["id"] = never.clone().into();
    forged["rawId"] = never.clone().into();
    let refused = h
        .twofold
        .identify_passkey_sign_in(&start.ceremony_id, &forged.to_string())
        .await
        .unwrap_err();
    let TwoFactorError::UnknownCredential(signal) = &refused.error else {
        panic!("{refused:?}")
    };
    assert_eq!(
        serde_json::to_value(signal).unwrap(),
        serde_json::json!({ "rpId": RP_ID, "credentialId": never })
    );
    // Removing the last passkey: nothing is accepted any more.
    let last = h
        .twofold
        .remove_passkey(&ana, &kept, Some(h.clock.now()))
        .await
        .unwrap()
        .value
        .unwrap();
    assert!(last.all_accepted_credential_ids.is_empty());
}

#[tokio::test]
async fn conditional_ui_ceremonies_that_are_never_answered_expire_and_are_purged() {
    let h = harness();
    for _ in 0..5 {
        h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
    }
    assert_eq!(common::memory(&h).contents().ceremonies.len(), 5);
    h.clock.advance(h.twofold.config().challenge_ttl_seconds);
    h.twofold.purge_expired().await.unwrap();
    assert_eq!(common::memory(&h).contents().ceremonies.len(), 0);
}
