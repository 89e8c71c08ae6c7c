//! Cross-check against `oathtool` (OATH Toolkit, an independent C implementation)
//! over a few hundred random cases of algorithm, digits, period, T0, time and key.
//!
//! Without `oathtool` on the PATH the test skips with a message, unless `CI` is
//! set: `.ci/run` installs it, so in CI it never skips.
#![cfg(test)]

use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use twofold_totp::{Algorithm, Digits, Hotp, Period, Secret, Totp, TotpParams, Window};

fn oathtool_available() -> bool {
    match Command::new("oathtool").arg("--version").output() {
        Ok(output) => output.status.success(),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "oathtool is missing in CI: .ci/run must install it (apt-get install oathtool)"
            );
            skip_notice("SKIPPED: oathtool not found; install it with `apt-get install oathtool`");
            false
        }
    }
}

fn oathtool(args: &[String]) -> String {
    let output = Command::new("oathtool")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "oathtool {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn totp_codes_match_oathtool() {
    if !oathtool_available() {
        return;
    }
    let strategy = (
        prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ],
        6u32..=8,
        prop_oneof![Just(30u64), Just(60), 1u64..=300],
        0u64..=1_000_000,
        0u64..=4_000_000_000,
        prop::collection::vec(any::<u8>(), 16..=64),
    );
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(algorithm, digits, period, t0, time, key)| {
            let params = TotpParams {
                algorithm,
                digits: Digits::new(digits).unwrap(),
                period: Period::new(period).unwrap(),
                t0,
                window: Window::default(),
            };
            let totp = Totp::new(&Secret::from_bytes(&key).unwrap(), params);
            let time = time + t0;
            let expected = oathtool(&[
                format!("--totp={}", algorithm.as_str().to_lowercase()),
                format!("--digits={digits}"),
                format!("--time-step-size={period}s"),
                format!("--start-time=@{t0}"),
                format!("--now=@{time}"),
                hex(&key),
            ]);
            prop_assert_eq!(totp.generate(time).unwrap().to_string(), expected);
            Ok(())
        })
        .unwrap();
}

#[test]
fn hotp_codes_match_oathtool() {
    if !oathtool_available() {
        return;
    }
    let strategy = (
        6u32..=8,
        0u64..=u64::from(u32::MAX),
        prop::collection::vec(any::<u8>(), 16..=64),
    );
    let mut runner = TestRunner::new(Config {
        cases: 100,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(digits, counter, key)| {
            let hotp = Hotp::new(
                &Secret::from_bytes(&key).unwrap(),
                Algorithm::Sha1,
                Digits::new(digits).unwrap(),
            );
            let expected = oathtool(&[
                format!("--digits={digits}"),
                format!("--counter={counter}"),
                hex(&key),
            ]);
            prop_assert_eq!(hotp.generate(counter).to_string(), expected);
            Ok(())
        })
        .unwrap();
}

#[test]
fn base32_secrets_match_oathtool() {
    if !oathtool_available() {
        return;
    }
    // oathtool reads the manual-entry form (with spaces removed) as the same key.
    for _ in 0..20 {
        let secret = Secret::generate().unwrap();
        let totp = Totp::new(&secret, TotpParams::default());
        let expected = oathtool(&[
            "--totp".into(),
            "--base32".into(),
            "--now=@1767225615".into(),
            secret.to_base32(),
        ]);
        assert_eq!(totp.generate(1_767_225_615).unwrap().to_string(), expected);
    }
}

#[test]
fn the_shared_code_vectors_match_oathtool() {
    if !oathtool_available() {
        return;
    }
    // tests/data/shared_codes.csv: pairs of counters with one code, found offline
    // with Python's hmac; oathtool is a third, independent implementation.
    let path = format!("{}/tests/data/shared_codes.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.split(',').collect())
        .collect();
    assert!(rows.len() >= 6, "{} rows", rows.len());
    for row in rows {
        let [algorithm, key, first, second, code] = row.as_slice() else {
            panic!("bad row {row:?}");
        };
        for counter in [first, second] {
            // oathtool's TOTP at time counter * 30 is HOTP at `counter` under that hash.
            let time = counter.parse::<u64>().unwrap() * 30;
            let expected = oathtool(&[
                format!("--totp={}", algorithm.to_lowercase()),
                format!("--now=@{time}"),
                hex(key.as_bytes()),
            ]);
            assert_eq!(expected, *code, "{algorithm} counter {counter}");
        }
    }
}

/// Prints a skip notice where a person sees it: libtest captures test output,
/// so it is written to the process's stderr file directly.
fn skip_notice(message: &str) {
    use std::io::Write;
    match std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        Ok(mut stderr) => {
            let _ = writeln!(stderr, "{message}");
        }
        Err(_) => eprintln!("{message}"),
    }
}
