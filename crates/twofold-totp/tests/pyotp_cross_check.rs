//! Cross-check of `otpauth://` URIs against the real pyotp (PyPI), both ways,
//! over 400 generated cases: random Unicode, colons, spaces, `&`, `=`, `+`, `%`,
//! `@`, `/`, `?` and `#` in issuer and account, with and without an issuer, over
//! every algorithm, digit count and a spread of periods.
//!
//! - We write, pyotp reads (`pyotp.parse_uri`): every field agrees.
//! - pyotp writes (`TOTP(...).provisioning_uri()`), we read: every field
//!   agrees; only an account with a colon and no issuer is flagged ambiguous
//!   (pyotp writes no issuer parameter to confirm the reading).
//!
//! pyotp runs from a virtual environment: `TWOFOLD_PYOTP_PYTHON` names its
//! interpreter (`.ci/run` makes one); otherwise this test makes one under the
//! target directory with `python3 -m venv` and `pip install pyotp==2.12.1`.
//! Where that is impossible it skips with a message, unless `CI` is set: in CI
//! it never skips.
#![cfg(test)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use twofold_totp::{Algorithm, Digits, OtpAuthUri, OtpKind, Period, Secret};

const PYOTP: &str = "pyotp==2.12.1";
const CASES: usize = 400;

/// The interpreter of a virtual environment with pyotp, if one can be had.
fn python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("TWOFOLD_PYOTP_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pyotp-venv");
    let python = venv.join("bin").join("python");
    let ready = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", "import pyotp"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !ready(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .is_ok_and(|output| output.status.success())
            && Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", PYOTP])
                .output()
                .is_ok_and(|output| output.status.success());
        if !made || !ready(&python) {
            assert!(
                std::env::var_os("CI").is_none(),
                "pyotp is missing in CI: .ci/run must make its virtual environment \
                 and set TWOFOLD_PYOTP_PYTHON"
            );
            eprintln!(
                "SKIPPED: pyotp cross-check (needs python3 with venv and pip, or \
                 TWOFOLD_PYOTP_PYTHON naming an interpreter with {PYOTP})"
            );
            return None;
        }
    }
    Some(python)
}

/// Runs the Python side over `requests`, one answer per request.
fn ask_pyotp(python: &PathBuf, requests: &[Value]) -> Vec<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pyotp_cross_check.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for request in requests {
        input.push_str(&request.to_string());
        input.push('\n');
    }
    // Written from a thread: the answers fill the stdout pipe meanwhile.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "pyotp side failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), requests.len());
    answers
}

/// A small deterministic generator (xorshift64*), so that every run checks the
/// same cases and a failure names one that can be rerun.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    /// A name of 1 to 16 characters, half of them from the URI's own
    /// delimiters and other awkward characters, and leading or trailing
    /// spaces now and then.
    fn name(&mut self) -> String {
        const AWKWARD: &[char] = &[
            ':', ' ', '&', '=', '+', '%', '@', '/', '?', '#', '.', '-', '_', '~', '\'', '"',
        ];
        const UNICODE: &[char] = &[
            'é', 'ß', 'ü', 'ø', 'Ω', 'Ж', '漢', '字', 'ا', 'ह', '😀', '🦷', '\u{301}', 'ﬁ', '　',
        ];
        let length = 1 + self.below(16);
        let mut name: String = (0..length)
            .map(|_| match self.below(4) {
                0 | 1 => AWKWARD[self.below(AWKWARD.len())],
                2 => UNICODE[self.below(UNICODE.len())],
                _ => char::from(b'a' + u8::try_from(self.below(26)).unwrap()),
            })
            .collect();
        match self.below(6) {
            0 => name.insert(0, ' '),
            1 => name.push(' '),
            _ => {}
        }
        name
    }
}

struct Case {
    issuer: Option<String>,
    account: String,
    secret: Secret,
    algorithm: Algorithm,
    digits: Digits,
    period: u64,
}

fn cases() -> Vec<Case> {
    let mut random = Cases(0x7f4a_7c15_9e37_79b9);
    (0..CASES)
        .map(|i| {
            let bytes: Vec<u8> = (0..[16, 20, 32, 64][i % 4])
                .map(|_| u8::try_from(random.next() >> 56).unwrap())
                .collect();
            Case {
                // A quarter without an issuer.
                issuer: (random.below(4) != 0).then(|| random.name()),
                account: random.name(),
                secret: Secret::from_bytes(&bytes).unwrap(),
                algorithm: [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][i % 3],
                digits: Digits::new([6, 7, 8][(i / 3) % 3]).unwrap(),
                period: [30, 15, 45, 60, 90, 1][(i / 9) % 6],
            }
        })
        .collect()
}

fn python_algorithm(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Sha1 => "sha1",
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha512 => "sha512",
    }
}

#[test]
fn pyotp_and_twofold_read_each_others_uris_field_for_field() {
    let Some(python) = python() else { return };
    let cases = cases();
    // Both kinds of name, with and without issuer, really were generated.
    assert!(cases.iter().any(|case| case.issuer.is_none()));
    assert!(
        cases
            .iter()
            .filter(|case| case.account.contains(':'))
            .count()
            > 50
    );
    assert!(
        cases
            .iter()
            .filter(|case| case
                .issuer
                .as_deref()
                .is_some_and(|issuer| issuer.contains(':')))
            .count()
            > 50
    );

    let mut requests = Vec::new();
    for case in &cases {
        let uri = OtpAuthUri::new(
            OtpKind::Totp {
                period: Period::new(case.period).unwrap(),
            },
            case.issuer.as_deref(),
            &case.account,
            case.secret.clone(),
        )
        .unwrap()
        .with_algorithm(case.algorithm)
        .with_digits(case.digits);
        requests.push(json!({ "read": uri.to_uri_string() }));
        requests.push(json!({ "write": {
            "secret": case.secret.to_base32(),
            "name": case.account,
            "issuer": case.issuer,
            "algorithm": python_algorithm(case.algorithm),
            "digits": case.digits.get(),
            "period": case.period,
        }}));
    }
    let answers = ask_pyotp(&python, &requests);

    for (i, (case, pair)) in cases.iter().zip(answers.chunks(2)).enumerate() {
        let (read, written) = (&pair[0], &pair[1]);
        let context = format!(
            "case {i}: issuer {:?}, account {:?}",
            case.issuer, case.account
        );
        // We write, pyotp reads.
        assert!(read.get("error").is_none(), "{context}: pyotp read {read}");
        assert_eq!(read["issuer"].as_str(), case.issuer.as_deref(), "{context}");
        assert_eq!(
            read["name"].as_str(),
            Some(case.account.as_str()),
            "{context}"
        );
        assert_eq!(
            read["secret"].as_str(),
            Some(case.secret.to_base32().as_str()),
            "{context}"
        );
        assert_eq!(
            read["algorithm"],
            python_algorithm(case.algorithm),
            "{context}"
        );
        assert_eq!(read["digits"], case.digits.get(), "{context}");
        assert_eq!(read["period"], case.period, "{context}");

        // pyotp writes, we read.
        let text = written["uri"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: pyotp wrote {written}"));
        let uri =
            OtpAuthUri::parse(text).unwrap_or_else(|error| panic!("{context}: {text}: {error}"));
        assert_eq!(uri.issuer(), case.issuer.as_deref(), "{context}: {text}");
        assert_eq!(uri.account(), case.account, "{context}: {text}");
        // pyotp writes no issuer parameter when there is no issuer: an
        // account's colon is then read right, but flagged as ambiguous.
        assert_eq!(
            uri.label_is_ambiguous(),
            case.issuer.is_none() && case.account.contains(':'),
            "{context}: {text}"
        );
        assert_eq!(uri.secret(), &case.secret, "{context}");
        assert_eq!(uri.algorithm(), case.algorithm, "{context}");
        assert_eq!(uri.digits(), case.digits, "{context}");
        assert_eq!(
            uri.kind(),
            OtpKind::Totp {
                period: Period::new(case.period).unwrap()
            },
            "{context}"
        );
    }
}
