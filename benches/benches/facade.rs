//! A full TOTP second-step verification through the facade on MemoryStore
//! (load, secret decryption, policy throttle, verification, conditional write)
//! beside a bare twofold-totp verification. The aim: under 2 µs of overhead.
//!
//! Run with `cargo bench -p twofold-benches --bench facade`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use twofold::{
    Account, Clock, DangerouslyInline, Keyring, ManualClock, MemoryStore, PasskeyConfig,
    RelyingParty, SecretKey, SignInStep, Timestamp, TwoFactor, TwoFactorConfig,
};
use twofold_totp::{Secret, Totp, TotpParams};

/// MemoryStore's futures are always ready: poll once, no runtime in the measurement.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}

const NOW: u64 = 1_767_225_615;

fn verify(c: &mut Criterion) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(NOW)));
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let twofold = TwoFactor::new(
        Arc::new(MemoryStore::new()),
        Keyring::new(SecretKey::new("k1", [7u8; 32])),
        TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp)),
    )
    .unwrap()
    .with_clock(clock.clone())
    // No runtime here: the one-off setup (backup codes) hashes in place.
    .with_offload(Arc::new(DangerouslyInline));
    let ana = Account {
        user: "ana",
        organization: "smile",
        role: "staff",
        name: "ana@clinic.example",
    };
    let setup = ready(
        twofold.begin_totp_enrollment(&ana, Some(twofold::Timestamp::from_unix_seconds(NOW))),
    )
    .unwrap()
    .value;
    let secret = Secret::from_base32(&setup.manual_entry_secret).unwrap();
    let totp = Totp::new(&secret, TotpParams::default());
    let code_now = |clock: &ManualClock| {
        totp.generate(clock.now().as_unix_seconds())
            .unwrap()
            .to_string()
    };
    ready(twofold.confirm_totp_enrollment(&ana, &code_now(&clock))).unwrap();

    let mut group = c.benchmark_group("totp_second_step");
    group.bench_function("twofold_facade_memory_store", |b| {
        b.iter_batched(
            || {
                // A new challenge for each verification (not timed), three steps on,
                // so that no window overlaps the last accepted step.
                clock.advance(90);
                let SignInStep::Challenge { challenge_id, .. } =
                    ready(twofold.begin_sign_in(&ana)).unwrap().value
                else {
                    panic!("expected a challenge");
                };
                (challenge_id, code_now(&clock))
            },
            |(challenge_id, code)| {
                ready(twofold.verify_totp(&ana, black_box(&challenge_id), black_box(&code)))
                    .unwrap()
            },
            // One challenge per verification: each begin_sign_in replaces the last.
            BatchSize::PerIteration,
        )
    });
    let now = clock.now().as_unix_seconds();
    let code = code_now(&clock);
    group.bench_function("bare_twofold_totp_incl_key_schedule", |b| {
        b.iter(|| {
            Totp::new(black_box(&secret), TotpParams::default())
                .verify(black_box(&code), black_box(now), None)
                .unwrap()
        })
    });
    group.bench_function("bare_twofold_totp", |b| {
        b.iter(|| totp.verify(black_box(&code), black_box(now), None).unwrap())
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
