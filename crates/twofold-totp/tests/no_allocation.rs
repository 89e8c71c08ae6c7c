//! Verification makes zero heap allocations, counted by a global allocator.
#![cfg(test)]

use twofold_totp::{Algorithm, Secret, Totp, TotpParams, Verification, Window};

#[test]
fn verification_allocates_nothing() {
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let secret = Secret::from_bytes(&[0x42; 32]).unwrap();
        let params = TotpParams {
            algorithm,
            window: Window::new(2, 2).unwrap(),
            ..TotpParams::default()
        };
        let totp = Totp::new(&secret, params);
        let now = 1_767_225_615;
        let good = totp.generate(now).unwrap().to_string();
        // A code that matches no step of the ±2 window: wrong for certain.
        let window: Vec<String> = (0..=4)
            .map(|k| totp.generate(now + k * 30 - 60).unwrap().to_string())
            .collect();
        let wrong = (0..1_000_000u32)
            .map(|n| format!("{n:06}"))
            .find(|candidate| !window.contains(candidate))
            .unwrap();
        let mut outcomes = Vec::with_capacity(4);

        let counted = allocation_counter::measure(|| {
            outcomes.push(totp.verify(&good, now, None));
            outcomes.push(totp.verify(&good, now, Some(u64::MAX)));
            outcomes.push(totp.verify(&wrong, now, None));
            outcomes.push(totp.verify("12 34-5x", now, None));
        });

        assert_eq!(counted.count_total, 0, "{algorithm}: {counted:?}");
        let step = now / 30;
        assert_eq!(outcomes[0], Ok(Verification::Accepted { step, drift: 0 }));
        assert_eq!(outcomes[1], Ok(Verification::Replayed { step }));
        assert_eq!(
            outcomes[2],
            Ok(Verification::Rejected),
            "{algorithm}: {wrong}"
        );
        assert!(outcomes[3].is_err());
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above against a counter that counts nothing.
    let counted = allocation_counter::measure(|| {
        std::hint::black_box(Secret::from_bytes(&[1; 20]).unwrap());
    });
    assert!(counted.count_total >= 1);
}
