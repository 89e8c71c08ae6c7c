//! Properties of the CSV reader and the dry run, on generated input.
#![cfg(test)]

use proptest::prelude::*;
use twofold_policy::Policy;
use twofold_policy_cli::{Timestamp, UsersReader, dry_run, read_users};

const CLINIC: &str = include_str!("data/clinic.toml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes: rows or a typed error, never a panic.
    #[test]
    fn csv_reader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for row in UsersReader::new("users.csv", bytes.as_slice()) {
            if row.is_err() {
                break;
            }
        }
    }

    /// A valid header, then lines of CSV-ish text.
    #[test]
    fn csv_reader_never_panics_after_a_header(body in "([a-z0-9;,\" \\r\\n:T+-]|\u{7}|é){0,600}") {
        let text = format!("user,role,methods,first_sign_in,exempt\n{body}");
        let result = read_users("users.csv", text.as_bytes());
        if let Err(error) = result {
            // Every error names the file and a line within it.
            prop_assert!(error.to_string().starts_with("users.csv:"));
            prop_assert!(error.line >= 1 && error.line <= text.lines().count() as u64 + 1);
        }
    }

    /// Blank lines anywhere between rows (LF or CRLF, any number) are
    /// skipped, and each row's line is the one it is on.
    #[test]
    fn blank_lines_keep_lines_right(
        rows in proptest::collection::vec(("[a-z]{1,8}", 0usize..40), 0..60),
        before in 0usize..40,
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut csv = newline.repeat(before);
        csv.push_str("user,role,methods,first_sign_in");
        csv.push_str(newline);
        let mut line = before as u64 + 2;
        let mut expected = Vec::new();
        for (user, blanks) in &rows {
            csv.push_str(&newline.repeat(*blanks));
            line += *blanks as u64;
            csv.push_str(&format!("{user},staff,,{newline}"));
            expected.push(line);
            line += 1;
        }
        let users = read_users("users.csv", csv.as_bytes()).unwrap();
        let lines: Vec<u64> = users.iter().map(|u| u.line).collect();
        prop_assert_eq!(lines, expected);
    }

    /// Generated valid rows are all read, in order, and the dry run's counts
    /// add up to the number of rows.
    #[test]
    fn dry_run_counts_add_up(
        rows in proptest::collection::vec(
            (
                "[a-z]{1,8}",
                prop_oneof!["owner", "admin", "staff", "member", "[a-z]{1,6}"],
                prop_oneof!["", "totp", "passkey", "totp;passkey", "passkey totp"],
                prop_oneof![Just(String::new()), (1_795_000_000u64..1_798_000_000).prop_map(|s| s.to_string())],
                any::<bool>(),
                any::<bool>(),
            ),
            0..200,
        ),
        now in 1_795_000_000u64..1_800_000_000,
    ) {
        let mut csv = String::from("user,role,methods,first_sign_in,backup_codes,exempt\n");
        for (user, role, methods, first, backup, exempt) in &rows {
            csv.push_str(&format!("{user},{role},{methods},{first},{backup},{exempt}\n"));
        }
        let users = read_users("users.csv", csv.as_bytes()).unwrap();
        prop_assert_eq!(users.len(), rows.len());
        for (i, (row, generated)) in users.iter().zip(&rows).enumerate() {
            prop_assert_eq!(&row.user, &generated.0);
            prop_assert_eq!(row.line, i as u64 + 2);
        }
        let policy = Policy::from_toml(CLINIC).unwrap();
        let at = Timestamp::from_unix_seconds(now);
        let report = dry_run(&policy, users.iter().cloned(), at);
        let summary = report.summary();
        prop_assert_eq!(summary.must_enroll + summary.blocked + summary.unaffected, rows.len());
        prop_assert!(summary.exempt <= summary.unaffected);
        // The same counts as the engine's own dry run.
        let facts: Vec<_> = users.iter().map(|u| u.facts()).collect();
        let engine = policy.dry_run(&facts, at);
        prop_assert_eq!(summary.must_enroll, engine.must_enroll.len());
        prop_assert_eq!(summary.blocked, engine.blocked.len());
        prop_assert_eq!(summary.unaffected, engine.unaffected.len());
        // The JSON says the same.
        let mut out = Vec::new();
        report.write_json(&mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(json["users"].as_array().unwrap().len(), rows.len());
        prop_assert_eq!(json["summary"]["blocked"].as_u64().unwrap() as usize, summary.blocked);
    }
}
