//! Code input parsing and verification: never panics; parsed codes verify without error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_totp::{Code, Digits, Secret, Totp, TotpParams};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let digits = Digits::new(6 + u32::from(selector % 3)).expect("6..=8");
    if let Ok(code) = Code::parse(text, digits) {
        assert_eq!(Code::parse(&code.to_string(), digits), Ok(code));
    }
    let secret = Secret::from_bytes(&[selector; 20]).expect("160-bit secret");
    let totp = Totp::new(
        &secret,
        TotpParams {
            digits,
            ..TotpParams::default()
        },
    );
    let _ = totp.verify(
        text,
        u64::from(selector) * 1_000_003,
        Some(u64::from(selector)),
    );
});
