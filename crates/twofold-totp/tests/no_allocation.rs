//! Verification makes zero heap allocations, counted by a global allocator.
// Test helpers outside #[test] functions may unwrap too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

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
        let mut outcomes = Vec::with_capacity(4);

        let counted = allocation_counter::measure(|| {
            outcomes.push(totp.verify(&good, now, None));
            outcomes.push(totp.verify(&good, now, Some(u64::MAX)));
            outcomes.push(totp.verify("000000", now, None));
            outcomes.push(totp.verify("12 34-5x", now, None));
        });

        assert_eq!(counted.count_total, 0, "{algorithm}: {counted:?}");
        assert!(matches!(
            outcomes[0],
            Ok(Verification::Accepted { drift: 0, .. })
        ));
        assert!(matches!(outcomes[1], Ok(Verification::Replayed { .. })));
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
