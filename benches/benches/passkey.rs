//! Finishing a passkey sign-in through twofold-passkey beside calling
//! webauthn-rs-core directly, on the same assertion (a SoftPasskey ES256
//! signature). Both start from the JSON the browser posts. The target: the
//! adapter's overhead is at most 5%.
//!
//! Run with `cargo bench -p twofold-benches --bench passkey`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use twofold_passkey::{AuthenticationResponse, PasskeyConfig, PasskeyUser, Passkeys, RelyingParty};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{AuthenticationState, PublicKeyCredential};

const ORIGIN: &str = "https://app.clinic.example";
const NOW: u64 = 1_767_225_600;

fn finish(c: &mut Criterion) {
    let rp = RelyingParty::new("clinic.example", "Smile Dental", &[ORIGIN]).unwrap();
    let passkeys = Passkeys::new(PasskeyConfig::new(rp));
    let core = WebauthnCore::new_unsafe_experts_only(
        "Smile Dental",
        "clinic.example",
        vec![Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(300),
        Some(false),
        Some(false),
    );
    let mut authenticator = SoftPasskey::new(true);
    let user = PasskeyUser {
        id: b"user-0001",
        name: "ana@clinic.example",
        display_name: "Ana Lee",
    };

    let (options, registration) = passkeys.start_registration(&user, &[], NOW).unwrap();
    let created = authenticator
        .do_registration(
            Url::parse(ORIGIN).unwrap(),
            serde_json::from_value(json!({ "publicKey": options })).unwrap(),
        )
        .unwrap();
    let credential = passkeys
        .finish_registration(
            &serde_json::to_string(&created).unwrap(),
            &registration,
            "key",
            NOW,
            |_| false,
        )
        .unwrap();
    let credentials = vec![credential];

    let (options, state) = passkeys.start_authentication(&credentials, NOW).unwrap();
    let assertion = authenticator
        .do_authentication(
            Url::parse(ORIGIN).unwrap(),
            serde_json::from_value(json!({ "publicKey": options })).unwrap(),
        )
        .unwrap();
    let posted = serde_json::to_string(&assertion).unwrap();
    // The same ceremony state, as webauthn-rs-core's own type, for the direct call.
    let core_state: AuthenticationState =
        serde_json::from_value(serde_json::to_value(&state).unwrap()["core"].clone()).unwrap();
    let _: &Value = &options;

    // Both paths accept the assertion before they are timed.
    let rsp: PublicKeyCredential = serde_json::from_str(&posted).unwrap();
    core.authenticate_credential(&rsp, &core_state).unwrap();
    let mut check = credentials.clone();
    passkeys
        .finish_authentication(
            &AuthenticationResponse::from_json(&posted).unwrap(),
            &state,
            &mut check,
            NOW,
        )
        .unwrap();

    let mut group = c.benchmark_group("passkey_finish_authentication_es256");
    group.bench_function("webauthn_rs_core_direct", |b| {
        b.iter(|| {
            let rsp: PublicKeyCredential = serde_json::from_str(black_box(&posted)).unwrap();
            core.authenticate_credential(&rsp, &core_state).unwrap()
        })
    });
    group.bench_function("twofold_passkey", |b| {
        b.iter_batched(
            || credentials.clone(),
            |mut records| {
                let response = AuthenticationResponse::from_json(black_box(&posted)).unwrap();
                passkeys
                    .finish_authentication(&response, &state, &mut records, NOW)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, finish);
criterion_main!(benches);
