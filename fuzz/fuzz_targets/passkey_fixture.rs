// Shared by the passkey fuzz targets: a relying party, ceremony states and a
// credential recorded from a real SoftPasskey run (fixtures/passkey.json), so
// that the seed responses verify and mutations reach the deep checks.

use std::sync::OnceLock;

use serde_json::Value;
use twofold_passkey::{
    AuthenticationState, PasskeyConfig, PasskeyCredential, Passkeys, RegistrationState,
    RelyingParty,
};

pub struct Fixture {
    pub passkeys: Passkeys,
    pub registration: RegistrationState,
    pub authentication: AuthenticationState,
    pub credential: PasskeyCredential,
    pub now: u64,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let value: Value =
            serde_json::from_str(include_str!("../fixtures/passkey.json")).expect("fixture");
        let rp = RelyingParty::new(
            "clinic.example",
            "Smile Dental",
            &["https://app.clinic.example", "https://clinic.example"],
        )
        .expect("relying party");
        Fixture {
            passkeys: Passkeys::new(PasskeyConfig::new(rp)),
            registration: serde_json::from_value(value["registration_state"].clone())
                .expect("state"),
            authentication: serde_json::from_value(value["authentication_state"].clone())
                .expect("state"),
            credential: serde_json::from_value(value["credential"].clone()).expect("credential"),
            now: value["now"].as_u64().expect("now"),
        }
    })
}
