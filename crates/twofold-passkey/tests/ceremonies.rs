//! Passkey ceremonies with real software authenticators, every response
//! round-tripped through JSON as a browser posts it.
#![cfg(test)]

mod support;

use serde_json::Value;
use support::{NOW, ORIGIN, RP_ID, SyncedPasskey, authenticate, register};
use twofold_passkey::{
    AuthenticationResponse, PasskeyConfig, PasskeyCredential, PasskeyError, PasskeyUser, Passkeys,
    RelyingParty,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;

const ANA: PasskeyUser<'static> = PasskeyUser {
    id: b"user-ana-0001",
    name: "ana@clinic.example",
    display_name: "Ana Lee",
};
const SAM: PasskeyUser<'static> = PasskeyUser {
    id: b"user-sam-0002",
    name: "sam@clinic.example",
    display_name: "Sam Roe",
};

fn passkeys() -> Passkeys {
    let rp = RelyingParty::new(RP_ID, "Smile Dental", &[ORIGIN, "https://clinic.example"]).unwrap();
    Passkeys::new(PasskeyConfig::new(rp))
}

fn enroll(
    passkeys: &Passkeys,
    authenticator: &mut impl webauthn_authenticator_rs::prelude::WebauthnAuthenticator,
    user: &PasskeyUser<'_>,
) -> PasskeyCredential {
    let (options, state) = passkeys.start_registration(user, &[], NOW).unwrap();
    let json = register(authenticator, ORIGIN, &options).unwrap();
    passkeys
        .finish_registration(&json, &state, "test key", NOW + 5, |_| false)
        .unwrap()
}

fn sign_in(
    passkeys: &Passkeys,
    authenticator: &mut impl webauthn_authenticator_rs::prelude::WebauthnAuthenticator,
    credentials: &mut [PasskeyCredential],
    now: u64,
) -> Result<twofold_passkey::AuthenticationOutcome, PasskeyError> {
    let (options, state) = passkeys.start_authentication(credentials, now).unwrap();
    let json = authenticate(authenticator, ORIGIN, &options).unwrap();
    let response = AuthenticationResponse::from_json(&json)?;
    passkeys.finish_authentication(&response, &state, credentials, now + 3)
}

#[test]
fn options_are_the_safe_passkey_defaults_in_browser_json() {
    let passkeys = passkeys();
    let (options, _) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    assert_eq!(options["rp"]["id"], RP_ID);
    assert_eq!(options["user"]["name"], "ana@clinic.example");
    assert_eq!(options["user"]["displayName"], "Ana Lee");
    assert_eq!(
        options["user"]["id"],
        support::base64_url(ANA.id),
        "user.id is base64url"
    );
    assert_eq!(options["attestation"], "none");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    let algorithms: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algorithms, [-7, -35, -257], "ES256, ES384, RS256");
    assert!(
        options["challenge"].as_str().unwrap().len() >= 43,
        "a 32-byte base64url challenge"
    );
    assert!(
        options.get("publicKey").is_none(),
        "the inner object, as parseCreationOptionsFromJSON takes"
    );
}

#[test]
fn register_then_authenticate_with_softtoken_and_softpasskey() {
    let passkeys = passkeys();
    let (mut token, _) = SoftToken::new(true).unwrap();
    let mut credentials = vec![enroll(&passkeys, &mut token, &ANA)];
    assert_eq!(credentials[0].name(), "test key");
    assert_eq!(credentials[0].created_at(), NOW + 5);
    assert!(!credentials[0].backup_eligible());

    for round in 1..=3u64 {
        let outcome = sign_in(&passkeys, &mut token, &mut credentials, NOW + 100 * round).unwrap();
        assert_eq!(outcome.index, 0);
        assert_eq!(credentials[0].counter(), outcome.counter);
        assert!(outcome.counter >= round as u32, "the counter rises");
        assert_eq!(credentials[0].last_used_at(), Some(NOW + 100 * round + 3));
    }

    let mut soft = SoftPasskey::new(true);
    let second = enroll(&passkeys, &mut soft, &ANA);
    credentials.push(second);
    let outcome = sign_in(&passkeys, &mut soft, &mut credentials, NOW + 1000).unwrap();
    assert_eq!(outcome.index, 1);
}

#[test]
fn existing_credentials_are_excluded_and_the_existence_hook_refuses_duplicates() {
    let passkeys = passkeys();
    let mut soft = SoftPasskey::new(true);
    let existing = enroll(&passkeys, &mut soft, &ANA);
    let (options, state) = passkeys
        .start_registration(&ANA, std::slice::from_ref(&existing), NOW)
        .unwrap();
    let excluded: Vec<&str> = options["excludeCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(excluded, [existing.id().to_base64url()]);

    let mut other = SoftPasskey::new(true);
    let json = register(&mut other, ORIGIN, &options).unwrap();
    let refused = passkeys.finish_registration(&json, &state, "dup", NOW, |_| true);
    assert!(
        matches!(
            refused,
            Err(PasskeyError::CredentialNotAllowed {
                reason: "it is already registered"
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_wrong_origin_is_rejected() {
    let passkeys = passkeys();
    let mut soft = SoftPasskey::new(true);
    // A sibling origin under the same RP id: the browser allows it, our RP does not.
    let (options, state) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    let json = register(&mut soft, "https://phish.clinic.example", &options).unwrap();
    let error = passkeys
        .finish_registration(&json, &state, "k", NOW, |_| false)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::OriginMismatch(_)),
        "{error:?}"
    );

    let mut credentials = vec![enroll(&passkeys, &mut soft, &ANA)];
    let (options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let json = authenticate(&mut soft, "https://phish.clinic.example", &options).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    let error = passkeys
        .finish_authentication(&response, &state, &mut credentials, NOW)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::OriginMismatch(_)),
        "{error:?}"
    );
}

#[test]
fn a_wrong_rp_id_is_rejected() {
    let passkeys = passkeys();
    let mut soft = SoftPasskey::new(true);
    // A page that rewrote rp.id to its own host: the authenticator scopes the key there.
    let (mut options, state) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    options["rp"]["id"] = Value::from("app.clinic.example");
    let json = register(&mut soft, ORIGIN, &options).unwrap();
    let error = passkeys
        .finish_registration(&json, &state, "k", NOW, |_| false)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::OriginMismatch(_)),
        "{error:?}"
    );

    let mut credentials = vec![enroll(&passkeys, &mut soft, &ANA)];
    let (mut options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    options["rpId"] = Value::from("app.clinic.example");
    let json = authenticate(&mut soft, ORIGIN, &options).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    let error = passkeys
        .finish_authentication(&response, &state, &mut credentials, NOW)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::OriginMismatch(_)),
        "{error:?}"
    );
}

#[test]
fn missing_user_verification_is_rejected() {
    let passkeys = passkeys();
    // A client that ignores userVerification: "required" and asks for none.
    let mut lax = SoftPasskey::new(false);
    let (mut options, state) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    options["authenticatorSelection"]["userVerification"] = Value::from("discouraged");
    let json = register(&mut lax, ORIGIN, &options).unwrap();
    let error = passkeys
        .finish_registration(&json, &state, "k", NOW, |_| false)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::UserVerificationMissing(_)),
        "{error:?}"
    );

    let mut soft = SoftPasskey::new(true);
    let credential = enroll(&passkeys, &mut soft, &ANA);
    let mut credentials = vec![credential];
    let (mut options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    options["userVerification"] = Value::from("discouraged");
    // The same authenticator, now not verifying the user.
    let mut unverified = soft;
    let json = authenticate_without_uv(&mut unverified, &options);
    let response = AuthenticationResponse::from_json(&json).unwrap();
    let error = passkeys
        .finish_authentication(&response, &state, &mut credentials, NOW)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::UserVerificationMissing(_)),
        "{error:?}"
    );
}

fn authenticate_without_uv(soft: &mut SoftPasskey, options: &Value) -> String {
    // SoftPasskey(true) only sets UV when asked for it; "discouraged" leaves it clear.
    authenticate(soft, ORIGIN, options).unwrap()
}

#[test]
fn a_counter_regression_from_a_cloned_authenticator_is_detected() {
    let passkeys = passkeys();
    let (mut original, _) = SoftToken::new(true).unwrap();
    let mut credentials = vec![enroll(&passkeys, &mut original, &ANA)];
    let mut clone = SoftToken::from_cbor(&original.to_cbor().unwrap()).unwrap();
    sign_in(&passkeys, &mut original, &mut credentials, NOW + 10).unwrap();
    sign_in(&passkeys, &mut original, &mut credentials, NOW + 20).unwrap();
    let before = credentials[0].clone();
    let error = sign_in(&passkeys, &mut clone, &mut credentials, NOW + 30).unwrap_err();
    assert!(
        matches!(error, PasskeyError::CounterRegression(_)),
        "{error:?}"
    );
    assert_eq!(credentials[0], before, "a refused sign-in changes nothing");
}

#[test]
fn an_expired_state_is_refused() {
    let config = PasskeyConfig::new(RelyingParty::new(RP_ID, "Smile Dental", &[ORIGIN]).unwrap())
        .with_ceremony_ttl_seconds(60)
        .unwrap();
    let passkeys = Passkeys::new(config);
    let mut soft = SoftPasskey::new(true);
    let (options, state) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    let json = register(&mut soft, ORIGIN, &options).unwrap();
    let error = passkeys
        .finish_registration(&json, &state, "k", NOW + 61, |_| false)
        .unwrap_err();
    assert!(matches!(error, PasskeyError::Expired), "{error:?}");
    let credential = passkeys
        .finish_registration(&json, &state, "k", NOW + 60, |_| false)
        .unwrap();

    let mut credentials = vec![credential];
    let (options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let json = authenticate(&mut soft, ORIGIN, &options).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    for late in [NOW + 61, NOW - 120] {
        let error = passkeys
            .finish_authentication(&response, &state, &mut credentials, late)
            .unwrap_err();
        assert!(matches!(error, PasskeyError::Expired), "{error:?}");
    }
    assert!(
        passkeys
            .finish_authentication(&response, &state, &mut credentials, NOW + 59)
            .is_ok()
    );
}

#[test]
fn a_response_to_another_ceremony_is_a_challenge_mismatch() {
    let passkeys = passkeys();
    let mut soft = SoftPasskey::new(true);
    let mut credentials = vec![enroll(&passkeys, &mut soft, &ANA)];
    let (options, _first) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let (_, second) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let json = authenticate(&mut soft, ORIGIN, &options).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    let error = passkeys
        .finish_authentication(&response, &second, &mut credentials, NOW)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::ChallengeMismatch(_)),
        "{error:?}"
    );
}

#[test]
fn a_synced_passkey_with_counter_zero_signs_in_twice() {
    let passkeys = passkeys();
    let mut synced = SyncedPasskey::default();
    let mut credentials = vec![enroll(&passkeys, &mut synced, &ANA)];
    assert!(credentials[0].backup_eligible() && credentials[0].backed_up());
    assert_eq!(credentials[0].counter(), 0);
    for round in 1..=2 {
        let outcome = sign_in(&passkeys, &mut synced, &mut credentials, NOW + round * 60).unwrap();
        assert_eq!(outcome.counter, 0);
        assert!(outcome.backed_up);
    }
    assert_eq!(credentials[0].counter(), 0);
}

#[test]
fn hardware_bound_only_refuses_synced_passkeys() {
    let config = PasskeyConfig::new(RelyingParty::new(RP_ID, "Smile Dental", &[ORIGIN]).unwrap())
        .hardware_bound_only();
    let strict = Passkeys::new(config);
    let mut synced = SyncedPasskey::default();
    let (options, state) = strict.start_registration(&ANA, &[], NOW).unwrap();
    let json = register(&mut synced, ORIGIN, &options).unwrap();
    let error = strict
        .finish_registration(&json, &state, "k", NOW, |_| false)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::CredentialNotAllowed { .. }),
        "{error:?}"
    );

    // A security key is fine.
    let mut key = SyncedPasskey::security_key();
    let mut credentials = vec![enroll(&strict, &mut key, &ANA)];
    assert!(sign_in(&strict, &mut key, &mut credentials, NOW).is_ok());
    // A synced passkey registered under a lenient policy is refused at sign-in.
    let lenient = passkeys();
    let mut synced_credentials = vec![enroll(&lenient, &mut synced, &ANA)];
    let error = sign_in(&strict, &mut synced, &mut synced_credentials, NOW).unwrap_err();
    assert!(
        matches!(error, PasskeyError::CredentialNotAllowed { .. }),
        "{error:?}"
    );
}

#[test]
fn a_backup_eligibility_upgrade_is_recorded() {
    let passkeys = passkeys();
    let mut key = SyncedPasskey::security_key();
    let mut credentials = vec![enroll(&passkeys, &mut key, &ANA)];
    assert!(!credentials[0].backup_eligible());
    // The provider makes it syncable, then backs it up.
    key.backup_eligible = true;
    sign_in(&passkeys, &mut key, &mut credentials, NOW).unwrap();
    assert!(credentials[0].backup_eligible() && !credentials[0].backed_up());
    key.backed_up = true;
    sign_in(&passkeys, &mut key, &mut credentials, NOW + 60).unwrap();
    assert!(credentials[0].backup_eligible() && credentials[0].backed_up());
}

#[test]
fn username_less_sign_in_names_the_user() {
    let passkeys = passkeys();
    let mut synced = SyncedPasskey::default();
    let mut ana = vec![enroll(&passkeys, &mut synced, &ANA)];
    let mut sam = vec![enroll(&passkeys, &mut SyncedPasskey::default(), &SAM)];

    let (options, state) = passkeys.start_discoverable_authentication(NOW).unwrap();
    assert_eq!(options["allowCredentials"], Value::Array(vec![]));
    assert_eq!(options["userVerification"], "required");
    assert!(state.is_discoverable());
    let json = authenticate(&mut synced, ORIGIN, &options).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    assert_eq!(response.user_handle(), Some(ANA.id));
    assert_eq!(response.credential_id(), *ana[0].id());
    // Finishing against another user's credentials fails; against Ana's it succeeds.
    let error = passkeys
        .finish_authentication(&response, &state, &mut sam, NOW)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::CredentialNotAllowed { .. }),
        "{error:?}"
    );
    let outcome = passkeys
        .finish_authentication(&response, &state, &mut ana, NOW)
        .unwrap();
    assert_eq!(outcome.index, 0);
}

#[test]
fn a_credential_not_offered_is_refused() {
    let passkeys = passkeys();
    let mut first = SoftPasskey::new(true);
    let mut second = SoftPasskey::new(true);
    let a = enroll(&passkeys, &mut first, &ANA);
    let b = enroll(&passkeys, &mut second, &ANA);
    let (options, state) = passkeys
        .start_authentication(std::slice::from_ref(&a), NOW)
        .unwrap();
    let mut options_for_b = options.clone();
    options_for_b["allowCredentials"][0]["id"] = Value::from(b.id().to_base64url());
    let json = authenticate(&mut second, ORIGIN, &options_for_b).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    let mut both = vec![a, b];
    let error = passkeys
        .finish_authentication(&response, &state, &mut both, NOW)
        .unwrap_err();
    assert!(
        matches!(error, PasskeyError::CredentialNotAllowed { .. }),
        "{error:?}"
    );
}

#[test]
fn malformed_responses_are_typed_errors() {
    let passkeys = passkeys();
    let (_, registration) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    for body in [
        "",
        "{}",
        "null",
        r#"{"id":"x","rawId":"!!","response":{},"type":"public-key"}"#,
    ] {
        let error = passkeys
            .finish_registration(body, &registration, "k", NOW, |_| false)
            .unwrap_err();
        assert!(
            matches!(error, PasskeyError::MalformedResponse(_)),
            "{body}: {error:?}"
        );
        assert!(matches!(
            AuthenticationResponse::from_json(body),
            Err(PasskeyError::MalformedResponse(_))
        ));
    }
    let huge = format!("{{\"id\":\"{}\"}}", "A".repeat(70_000));
    assert!(matches!(
        AuthenticationResponse::from_json(&huge),
        Err(PasskeyError::ResponseTooLarge { max_bytes: 65536 })
    ));
    // A syntactically valid registration with a corrupted attestation object.
    let mut soft = SoftPasskey::new(true);
    let (options, state) = passkeys.start_registration(&ANA, &[], NOW).unwrap();
    let json = register(&mut soft, ORIGIN, &options).unwrap();
    let mut value: Value = serde_json::from_str(&json).unwrap();
    value["response"]["attestationObject"] = Value::from("o2NmbXRkbm9uZQ");
    let error = passkeys
        .finish_registration(&value.to_string(), &state, "k", NOW, |_| false)
        .unwrap_err();
    assert!(
        matches!(
            error,
            PasskeyError::MalformedResponse(_) | PasskeyError::Rejected(_)
        ),
        "{error:?}"
    );
    // Empty user fields cannot start a ceremony.
    let nameless = PasskeyUser {
        id: b"x",
        name: "",
        display_name: "",
    };
    assert!(matches!(
        passkeys.start_registration(&nameless, &[], NOW),
        Err(PasskeyError::InvalidRequest(_))
    ));
    assert!(matches!(
        passkeys.start_authentication(&[], NOW),
        Err(PasskeyError::InvalidRequest(_))
    ));
}

#[test]
fn records_and_states_round_trip_through_serde() {
    let passkeys = passkeys();
    let mut token = SoftPasskey::new(true);
    let credential = enroll(&passkeys, &mut token, &ANA);
    let stored = serde_json::to_string(&credential).unwrap();
    let back: PasskeyCredential = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, credential);
    assert!(stored.contains(&format!("\"id\":\"{}\"", credential.id().to_base64url())));

    // A state stored as JSON between the two halves of the ceremony still works.
    let mut credentials = vec![back];
    let (options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let state: twofold_passkey::AuthenticationState =
        serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(state.created_at(), NOW);
    let json = authenticate(&mut token, ORIGIN, &options).unwrap();
    let response = AuthenticationResponse::from_json(&json).unwrap();
    assert!(
        passkeys
            .finish_authentication(&response, &state, &mut credentials, NOW)
            .is_ok()
    );
    assert!(!format!("{state:?}").contains("challenge"));
}

/// `response[field]` decoded, changed by `change`, and encoded again.
fn tampered(json: &str, field: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut value: Value = serde_json::from_str(json).unwrap();
    let mut bytes = Base64UrlUnpadded::decode_vec(value["response"][field].as_str().unwrap())
        .expect("the browser's base64url");
    change(&mut bytes);
    value["response"][field] = Value::String(Base64UrlUnpadded::encode_string(&bytes));
    value.to_string()
}

#[test]
fn a_tampered_signature_or_authenticator_data_is_refused_and_changes_nothing() {
    let passkeys = passkeys();
    let mut soft = SoftPasskey::new(true);
    let mut credentials = vec![enroll(&passkeys, &mut soft, &ANA)];
    let (options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let genuine = authenticate(&mut soft, ORIGIN, &options).unwrap();
    let before = credentials.clone();
    let lengths = {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let value: Value = serde_json::from_str(&genuine).unwrap();
        let len = |field: &str| {
            Base64UrlUnpadded::decode_vec(value["response"][field].as_str().unwrap())
                .unwrap()
                .len()
        };
        [
            ("signature", len("signature")),
            ("authenticatorData", len("authenticatorData")),
        ]
    };
    let mut refused = 0;
    // Every byte of each, one bit flipped; then a byte cut off and a byte added.
    for (field, length) in lengths {
        assert!(length >= 37, "{field}: {length} bytes");
        let mut forgeries: Vec<String> = (0..length)
            .map(|i| tampered(&genuine, field, |bytes| bytes[i] ^= 0x01))
            .collect();
        forgeries.push(tampered(&genuine, field, |bytes| {
            bytes.pop();
        }));
        forgeries.push(tampered(&genuine, field, |bytes| bytes.push(0)));
        for (i, forged) in forgeries.iter().enumerate() {
            let outcome = AuthenticationResponse::from_json(forged).and_then(|response| {
                passkeys.finish_authentication(&response, &state, &mut credentials, NOW + 3)
            });
            assert!(outcome.is_err(), "{field} changed at byte {i} was accepted");
            assert_eq!(
                credentials, before,
                "{field} byte {i}: a refusal changed the credential"
            );
            refused += 1;
        }
    }
    assert!(refused >= 2 * 37 + 4, "{refused}");
    // The genuine response, untouched, is accepted: the refusals were the tampering's.
    let response = AuthenticationResponse::from_json(&genuine).unwrap();
    passkeys
        .finish_authentication(&response, &state, &mut credentials, NOW + 3)
        .unwrap();
    assert_ne!(credentials, before, "the sign-in is recorded");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    // A well-formed assertion, signed by a different authenticator's key for
    // the same credential id: a forgery that parses perfectly.
    let passkeys = passkeys();
    let mut ana = SoftPasskey::new(true);
    let mut mallory = SoftPasskey::new(true);
    let mut credentials = vec![enroll(&passkeys, &mut ana, &ANA)];
    let _ = enroll(&passkeys, &mut mallory, &ANA);
    let (options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let genuine: Value =
        serde_json::from_str(&authenticate(&mut ana, ORIGIN, &options).unwrap()).unwrap();
    // Mallory answers the same challenge with her own key…
    let mut mallory_options = options.clone();
    let (mallory_allowed, _) = passkeys
        .start_authentication(&[enroll(&passkeys, &mut mallory, &ANA)], NOW)
        .unwrap();
    mallory_options["allowCredentials"] = mallory_allowed["allowCredentials"].clone();
    let mut forged: Value =
        serde_json::from_str(&authenticate(&mut mallory, ORIGIN, &mallory_options).unwrap())
            .unwrap();
    // …and presents it under Ana's credential id.
    forged["id"] = genuine["id"].clone();
    forged["rawId"] = genuine["rawId"].clone();
    let before = credentials.clone();
    let response = AuthenticationResponse::from_json(&forged.to_string()).unwrap();
    let error = passkeys
        .finish_authentication(&response, &state, &mut credentials, NOW + 3)
        .unwrap_err();
    assert!(
        matches!(
            error,
            PasskeyError::MalformedResponse(_) | PasskeyError::Rejected(_)
        ),
        "{error:?}"
    );
    assert_eq!(credentials, before);
}
