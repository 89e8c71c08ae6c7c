//! Arbitrary authentication response JSON through finish_authentication (offered
//! and discoverable): errors only, never a panic; a refusal changes nothing; and
//! no response is ever accepted unless it carries exactly the signed bytes of
//! the genuine seed response (authenticator data, client data, signature).
#![no_main]

use std::sync::OnceLock;

use base64ct::{Base64, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use twofold_passkey::AuthenticationResponse;

#[path = "passkey_fixture.rs"]
mod passkey_fixture;

const FIELDS: [&str; 3] = ["authenticatorData", "clientDataJSON", "signature"];

/// A field's bytes, in any of the base64 forms that webauthn-rs accepts.
fn decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text)
        .or_else(|_| Base64Url::decode_vec(text))
        .or_else(|_| Base64::decode_vec(text))
        .or_else(|_| Base64Unpadded::decode_vec(text))
        .ok()
}

fn signed_bytes(json: &str) -> Option<Vec<Vec<u8>>> {
    let value: Value = serde_json::from_str(json).ok()?;
    FIELDS
        .iter()
        .map(|field| decode(value.get("response")?.get(*field)?.as_str()?))
        .collect()
}

fn genuine() -> &'static Vec<Vec<u8>> {
    static GENUINE: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    GENUINE.get_or_init(|| {
        signed_bytes(include_str!("../seeds/passkey_authentication/softpasskey"))
            .expect("the seed response")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let f = passkey_fixture::fixture();
    let Ok(response) = AuthenticationResponse::from_json(json) else {
        return;
    };
    let _ = response.user_handle();
    let mut credentials = vec![f.credential.clone()];
    match f
        .passkeys
        .finish_authentication(&response, &f.authentication, &mut credentials, f.now)
    {
        Ok(_) => assert_eq!(
            signed_bytes(json).as_ref(),
            Some(genuine()),
            "a response with changed signed bytes was accepted"
        ),
        Err(_) => assert_eq!(credentials[0], f.credential),
    }
    // A fresh ceremony's challenge is random: no recorded response answers it.
    let discoverable = f
        .passkeys
        .start_discoverable_authentication(f.now)
        .expect("start");
    let mut credentials = vec![f.credential.clone()];
    assert!(
        f.passkeys
            .finish_authentication(&response, &discoverable.1, &mut credentials, f.now)
            .is_err(),
        "a response to another ceremony was accepted"
    );
    assert_eq!(credentials[0], f.credential);
});
