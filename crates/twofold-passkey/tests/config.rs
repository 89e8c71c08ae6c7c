//! Relying-party validation, and property tests for every parser of the crate.
#![cfg(test)]

mod support;

use std::sync::OnceLock;

use proptest::prelude::*;
use twofold_passkey::{
    AuthenticationResponse, AuthenticationState, ConfigError, CredentialId, PasskeyConfig,
    PasskeyCredential, PasskeyError, PasskeyUser, Passkeys, RelyingParty,
};

/// A registered SoftPasskey credential and an open sign-in ceremony for it.
struct Fixture {
    passkeys: Passkeys,
    credential: PasskeyCredential,
    state: AuthenticationState,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rp = RelyingParty::new(support::RP_ID, "Smile Dental", &[support::ORIGIN]).unwrap();
        let passkeys = Passkeys::new(PasskeyConfig::new(rp));
        let user = PasskeyUser {
            id: b"user-ana-0001",
            name: "ana@clinic.example",
            display_name: "Ana Lee",
        };
        let mut soft = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
        let (options, state) = passkeys
            .start_registration(&user, &[], support::NOW)
            .unwrap();
        let json = support::register(&mut soft, support::ORIGIN, &options).unwrap();
        let credential = passkeys
            .finish_registration(&json, &state, "key", support::NOW, |_| false)
            .unwrap();
        let (_, state) = passkeys
            .start_authentication(std::slice::from_ref(&credential), support::NOW)
            .unwrap();
        Fixture {
            passkeys,
            credential,
            state,
        }
    })
}

#[test]
fn relying_parties_are_validated() {
    let ok = [
        ("clinic.example", &["https://clinic.example"][..]),
        (
            "clinic.example",
            &["https://app.clinic.example", "https://clinic.example:8443"][..],
        ),
        (
            "localhost",
            &["http://localhost:8080", "https://localhost"][..],
        ),
        ("localhost", &["http://app.localhost:3000"][..]),
    ];
    for (id, origins) in ok {
        let rp = RelyingParty::new(id, "Smile Dental", origins).unwrap();
        assert_eq!(rp.id(), id);
        assert_eq!(rp.origins().collect::<Vec<_>>(), origins.to_vec());
    }
    let bad_ids = [
        "",
        "Clinic.Example",
        "com",
        "127.0.0.1",
        "-clinic.example",
        "clinic..example",
        "clinic example",
    ];
    for id in bad_ids {
        assert!(
            matches!(
                RelyingParty::new(id, "x", &["https://clinic.example"]),
                Err(ConfigError::InvalidRpId { .. })
            ),
            "{id:?}"
        );
    }
    let bad_origins = [
        "http://clinic.example",        // plain http off localhost
        "https://evil.example",         // not under the RP id
        "https://notclinic.example",    // a suffix match that is not a parent domain
        "https://clinic.example/login", // a path
        "ftp://clinic.example",
        "https://user@clinic.example",
        "https://10.0.0.1",
        "not a url",
    ];
    for origin in bad_origins {
        assert!(
            matches!(
                RelyingParty::new("clinic.example", "x", &[origin]),
                Err(ConfigError::InvalidOrigin { .. })
            ),
            "{origin}"
        );
    }
    assert!(matches!(
        RelyingParty::new("clinic.example", "x", &[]),
        Err(ConfigError::InvalidOrigin { .. })
    ));
    let rp = RelyingParty::new("clinic.example", "x", &["https://clinic.example"]).unwrap();
    assert!(
        PasskeyConfig::new(rp.clone())
            .with_ceremony_ttl_seconds(0)
            .is_err()
    );
    assert!(
        PasskeyConfig::new(rp.clone())
            .with_ceremony_ttl_seconds(86_401)
            .is_err()
    );
    let config = PasskeyConfig::new(rp)
        .with_ceremony_ttl_seconds(120)
        .unwrap()
        .hardware_bound_only();
    assert_eq!(
        (
            config.ceremony_ttl_seconds(),
            config.is_hardware_bound_only()
        ),
        (120, true)
    );
}

proptest! {
    #[test]
    fn response_parsing_never_panics(json in "\\PC{0,300}") {
        let _ = AuthenticationResponse::from_json(&json);
    }

    #[test]
    fn structured_but_wrong_responses_are_refused(
        real_id in any::<bool>(),
        id in "[A-Za-z0-9_-]{0,40}",
        body in "[A-Za-z0-9_-]{0,80}",
    ) {
        let f = fixture();
        // Half the cases name the registered credential, so that they get past
        // the credential lookup to the signature check.
        let id = if real_id { f.credential.id().to_base64url() } else { id };
        let json = format!(r#"{{"id":"{id}","rawId":"{id}","response":{{"authenticatorData":"{body}","clientDataJSON":"{body}","signature":"{body}"}},"type":"public-key"}}"#);
        match AuthenticationResponse::from_json(&json) {
            Ok(response) => {
                prop_assert_eq!(response.credential_id().to_base64url(), CredentialId::from_base64url(&id).unwrap().to_base64url());
                let mut credentials = vec![f.credential.clone()];
                let outcome = f.passkeys.finish_authentication(&response, &f.state, &mut credentials, support::NOW + 1);
                prop_assert!(outcome.is_err(), "accepted: {}", json);
                prop_assert_eq!(&credentials[0], &f.credential);
            }
            Err(error) => prop_assert!(matches!(error, PasskeyError::MalformedResponse(_)), "{:?}", error),
        }
    }

    #[test]
    fn relying_party_validation_never_panics(id in "\\PC{0,40}", origin in "\\PC{0,60}") {
        let _ = RelyingParty::new(&id, "x", &[&origin]);
    }

    #[test]
    fn credential_ids_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let id = CredentialId::from_bytes(&bytes);
        prop_assert_eq!(CredentialId::from_base64url(&id.to_base64url()).unwrap(), id.clone());
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<CredentialId>(&json).unwrap(), id);
    }
}
