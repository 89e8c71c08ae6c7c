//! TOTP verification, side by side in one run: twofold-totp, totp-rs `check`
//! (skew 1), a verifier built on totp-lite (three generations, compared), and the
//! floor: three raw HMAC-SHA1 computations with a precomputed key.
//!
//! Every contender verifies a 6-digit SHA-1 code with a ±1 step window, in three
//! cases: the code of the current step, the code of the next step (clock skew),
//! and a wrong code. twofold-totp always evaluates all three steps; totp-rs stops
//! at the first match, so the cases differ for it.
//!
//! Run with `cargo bench -p twofold-benches --bench totp`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};

const SECRET: &[u8; 20] = b"12345678901234567890";
const NOW: u64 = 1_767_225_615;
const PERIOD: u64 = 30;

fn verify(c: &mut Criterion) {
    let secret = twofold_totp::Secret::from_bytes(SECRET).unwrap();
    let ours = twofold_totp::Totp::new(&secret, Default::default());

    let totp_rs = totp_rs::Builder::new()
        .with_secret(SECRET.to_vec())
        .with_skew(1)
        .with_step_duration(PERIOD)
        .with_digits(6)
        .build()
        .unwrap();

    // The verifier that a totp-lite user writes: three generations, compared.
    let totp_lite_verify = |token: &str, time: u64| -> bool {
        [time - PERIOD, time, time + PERIOD]
            .iter()
            .map(|&t| totp_lite::totp_custom::<totp_lite::Sha1>(PERIOD, 6, SECRET, t) == token)
            .fold(false, |any, hit| any | hit)
    };

    let keyed = Hmac::<sha1::Sha1>::new_from_slice(SECRET).unwrap();
    let floor = |step: u64| {
        let mut out = 0u8;
        for counter in [step - 1, step, step + 1] {
            let mut mac = keyed.clone();
            mac.update(&counter.to_be_bytes());
            out ^= mac.finalize().into_bytes()[19];
        }
        out
    };

    let current = ours.generate(NOW).unwrap().to_string();
    let next = ours.generate(NOW + PERIOD).unwrap().to_string();
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|code| !ours.verify(code, NOW, None).unwrap().is_accepted())
        .unwrap();

    for (case, code, accepted) in [
        ("current_step", &current, true),
        ("next_step", &next, true),
        ("wrong_code", &wrong, false),
    ] {
        // Each contender agrees on the outcome before it is timed.
        assert_eq!(
            ours.verify(code, NOW, None).unwrap().is_accepted(),
            accepted
        );
        assert_eq!(totp_rs.check(code, NOW).is_some(), accepted);
        assert_eq!(totp_lite_verify(code, NOW), accepted);

        let mut group = c.benchmark_group(format!("totp_verify_sha1_6_window1/{case}"));
        group.bench_function("twofold_totp", |b| {
            b.iter(|| ours.verify(black_box(code), black_box(NOW), None).unwrap())
        });
        group.bench_function("twofold_totp_incl_key_schedule", |b| {
            b.iter(|| {
                twofold_totp::Totp::new(black_box(&secret), Default::default())
                    .verify(black_box(code), black_box(NOW), None)
                    .unwrap()
            })
        });
        group.bench_function("totp_rs_check", |b| {
            b.iter(|| totp_rs.check(black_box(code), black_box(NOW)))
        });
        group.bench_function("totp_lite_verifier", |b| {
            b.iter(|| totp_lite_verify(black_box(code), black_box(NOW)))
        });
        group.bench_function("floor_3_hmac_sha1_prekeyed", |b| {
            b.iter(|| floor(black_box(NOW / PERIOD)))
        });
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
