//! Arbitrary registration response JSON through finish_registration: errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "passkey_fixture.rs"]
mod passkey_fixture;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let f = passkey_fixture::fixture();
    if let Ok(credential) =
        f.passkeys
            .finish_registration(json, &f.registration, "fuzz", f.now, |_| false)
    {
        // Whatever registers must serialize and read back as itself.
        let stored = serde_json::to_string(&credential).expect("serialize");
        let back: twofold_passkey::PasskeyCredential =
            serde_json::from_str(&stored).expect("deserialize");
        assert_eq!(back, credential);
    }
});
