//! Known-answer tests: every row of RFC 6238 Appendix B and RFC 4226 Appendix D,
//! read from `tests/data/`.
#![cfg(test)]

use hmac::{Hmac, KeyInit, Mac};
use twofold_totp::{
    Algorithm, Digits, Hotp, HotpVerification, Period, Secret, Totp, TotpParams, Verification,
    Window,
};

fn rows(file: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

fn rfc6238_seed(algorithm: Algorithm) -> &'static [u8] {
    // RFC 6238 Appendix A: the seed for each mode.
    match algorithm {
        Algorithm::Sha1 => b"12345678901234567890",
        Algorithm::Sha256 => b"12345678901234567890123456789012",
        Algorithm::Sha512 => b"1234567890123456789012345678901234567890123456789012345678901234",
    }
}

#[test]
fn rfc6238_appendix_b_every_row() {
    let rows = rows("rfc6238_appendix_b.csv");
    assert_eq!(rows.len(), 18, "Appendix B has 18 rows");
    for row in rows {
        let [time, _utc, step_hex, expected, mode] = row.as_slice() else {
            panic!("bad row {row:?}");
        };
        let time: u64 = time.parse().unwrap();
        let step = u64::from_str_radix(step_hex, 16).unwrap();
        let algorithm = Algorithm::from_name(mode).unwrap();
        let secret = Secret::from_bytes(rfc6238_seed(algorithm)).unwrap();
        let params = TotpParams {
            algorithm,
            digits: Digits::EIGHT,
            period: Period::new(30).unwrap(),
            t0: 0,
            window: Window::EXACT,
        };
        let totp = Totp::new(&secret, params);
        assert_eq!(totp.step_at(time), Some(step), "step at {time}");
        assert_eq!(
            totp.generate(time).unwrap().to_string(),
            *expected,
            "{mode} at {time}"
        );
        assert_eq!(
            totp.verify(expected, time, None).unwrap(),
            Verification::Accepted { step, drift: 0 },
            "{mode} at {time}"
        );
        // The 6- and 7-digit codes are the tails of the 8-digit one (same truncation, smaller modulus).
        for (digits, tail) in [(Digits::SIX, 2), (Digits::SEVEN, 1)] {
            let totp = Totp::new(&secret, TotpParams { digits, ..params });
            assert_eq!(totp.generate(time).unwrap().to_string(), expected[tail..]);
        }
    }
}

#[test]
fn rfc4226_appendix_d_every_row() {
    let rows = rows("rfc4226_appendix_d.csv");
    assert_eq!(rows.len(), 10, "Appendix D has 10 rows");
    let key = b"12345678901234567890";
    let secret = Secret::from_bytes(key).unwrap();
    let hotp6 = Hotp::new(&secret, Algorithm::Sha1, Digits::SIX);
    let hotp8 = Hotp::new(&secret, Algorithm::Sha1, Digits::EIGHT);
    for row in rows {
        let [count, hmac_hex, truncated_hex, truncated_decimal, expected] = row.as_slice() else {
            panic!("bad row {row:?}");
        };
        let count: u64 = count.parse().unwrap();
        // The data file itself: HMAC-SHA-1 and its truncation agree with each other.
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
        mac.update(&count.to_be_bytes());
        let hmac: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hmac, *hmac_hex);
        let decimal: u32 = truncated_decimal.parse().unwrap();
        assert_eq!(u32::from_str_radix(truncated_hex, 16).unwrap(), decimal);

        assert_eq!(
            hotp6.generate(count).to_string(),
            *expected,
            "count {count}"
        );
        assert_eq!(
            hotp8.generate(count).to_string(),
            format!("{:08}", decimal % 100_000_000)
        );
        assert_eq!(
            hotp6.verify(expected, count, 0).unwrap(),
            HotpVerification::Accepted { counter: count }
        );
        // Resynchronisation: from counter 0 with enough look-ahead.
        assert_eq!(
            hotp6.verify(expected, 0, 9).unwrap(),
            HotpVerification::Accepted { counter: count }
        );
        if count > 0 {
            assert_eq!(
                hotp6.verify(expected, count + 1, 5).unwrap(),
                HotpVerification::Rejected
            );
        }
    }
}
