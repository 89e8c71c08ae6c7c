//! Relying-party validation, and property tests for every parser of the crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use twofold_passkey::{
    AuthenticationResponse, ConfigError, CredentialId, PasskeyConfig, RelyingParty,
};

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
    fn structured_but_wrong_responses_are_errors(id in "[A-Za-z0-9_-]{0,40}", body in "[A-Za-z0-9_-]{0,80}") {
        let json = format!(r#"{{"id":"{id}","rawId":"{id}","response":{{"authenticatorData":"{body}","clientDataJSON":"{body}","signature":"{body}"}},"type":"public-key"}}"#);
        if let Ok(response) = AuthenticationResponse::from_json(&json) {
            prop_assert_eq!(response.credential_id().to_base64url(), CredentialId::from_base64url(&id).unwrap().to_base64url());
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
