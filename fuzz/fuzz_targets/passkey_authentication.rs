//! Arbitrary authentication response JSON through finish_authentication (offered
//! and discoverable): errors only, never a panic; a refusal changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_passkey::AuthenticationResponse;

#[path = "passkey_fixture.rs"]
mod passkey_fixture;

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
    if f.passkeys
        .finish_authentication(&response, &f.authentication, &mut credentials, f.now)
        .is_err()
    {
        assert_eq!(credentials[0], f.credential);
    }
    let discoverable = f
        .passkeys
        .start_discoverable_authentication(f.now)
        .expect("start");
    let mut credentials = vec![f.credential.clone()];
    let _ = f
        .passkeys
        .finish_authentication(&response, &discoverable.1, &mut credentials, f.now);
});
