//! The built `twofold-policy` binary on the fixtures in tests/data, compared
//! with the reviewed outputs in tests/data/expected (exit status, stdout and
//! stderr in one file per case). `TWOFOLD_BLESS=1 cargo test -p
//! twofold-policy-cli --test cli` rewrites them: review the diff before committing.
#![cfg(test)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_twofold-policy");
/// The instant of every dry run: 2026-12-07T09:00:00Z.
const AT: &str = "2026-12-07T09:00:00Z";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn render(&self) -> String {
        format!(
            "status: {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs the binary in tests/data (so that file names in messages are short).
fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(data())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // The tool may stop reading early (a refused row): a broken pipe is fine.
        let _ = input.write_all(bytes);
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    Run {
        status: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs a case and compares it with tests/data/expected/NAME.txt.
fn case(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let result = run(args, stdin);
    let path = data().join("expected").join(format!("{name}.txt"));
    let actual = result.render();
    if std::env::var_os("TWOFOLD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).unwrap();
    } else {
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (TWOFOLD_BLESS=1 writes it)", path.display()));
        assert_eq!(
            actual,
            expected,
            "case {name}: `twofold-policy {}`",
            args.join(" ")
        );
    }
    result
}

fn file(name: &str) -> Vec<u8> {
    std::fs::read(data().join(name)).unwrap()
}

// ---- check ----

#[test]
fn check_valid_policies() {
    assert_eq!(
        case("check-valid-toml", &["check", "valid.toml"], None).status,
        0
    );
    assert_eq!(
        case("check-valid-json", &["check", "valid.json"], None).status,
        0
    );
    assert_eq!(
        case("check-clinic", &["check", "clinic.toml"], None).status,
        0
    );
}

#[test]
fn check_reads_stdin_as_toml_or_json() {
    let toml = case(
        "check-stdin-toml",
        &["check", "-"],
        Some(&file("valid.toml")),
    );
    assert_eq!(toml.status, 0);
    assert!(toml.stdout.starts_with("-: valid: mode optional"));
    let json = case(
        "check-stdin-json",
        &["check", "-"],
        Some(&file("valid.json")),
    );
    assert_eq!(json.status, 0);
    assert!(json.stdout.starts_with("-: valid: mode required"));
}

/// Each invalid document: exit 1, and the error names the field's path (or,
/// for a syntax error, the parser's line and column).
#[test]
fn check_invalid_policies_name_the_field() {
    let cases = [
        (
            "invalid-max-failures.toml",
            "invalid-max-failures.toml: throttle.max_failures: ",
        ),
        (
            "invalid-role-methods.toml",
            "invalid-role-methods.toml: roles.staff.methods: ",
        ),
        (
            "invalid-until.toml",
            "invalid-until.toml: exemptions[0].until: this date cannot be used: ",
        ),
        ("invalid-version.toml", "invalid-version.toml: version: "),
        (
            "invalid-may-reset.toml",
            "invalid-may-reset.toml: roles.admin.may_reset: ",
        ),
        (
            "invalid-ceiling.json",
            "invalid-ceiling.json: throttle.ceiling: ",
        ),
        (
            "invalid-syntax.toml",
            "invalid-syntax.toml: TOML parse error at line 4, column 17",
        ),
        (
            "invalid-unknown-field.toml",
            "invalid-unknown-field.toml: throttle.max_failure: TOML parse error at line 4, column 1",
        ),
        (
            "invalid-syntax.json",
            "invalid-syntax.json: JSON error: trailing comma at line 3 column 40",
        ),
        // A missing field is named by its path, the parser's message after it.
        (
            "invalid-missing-version.toml",
            "invalid-missing-version.toml: version: TOML parse error at line 1, column 1",
        ),
        (
            "invalid-missing-lockout.json",
            "invalid-missing-lockout.json: throttle.lockout: JSON error: missing field `lockout`",
        ),
    ];
    for (policy, start) in cases {
        let name = format!("check-{}", policy.replace('.', "-"));
        let result = case(&name, &["check", policy], None);
        assert_eq!(result.status, 1, "{policy}");
        assert_eq!(result.stdout, "", "{policy}");
        assert!(
            result.stderr.starts_with(start),
            "{policy}: {}",
            result.stderr
        );
    }
}

#[test]
fn check_of_a_missing_file_is_bad_input() {
    let result = run(&["check", "no-such-policy.toml"], None);
    assert_eq!(result.status, 2);
    assert!(
        result
            .stderr
            .contains("no-such-policy.toml: cannot be read"),
        "{}",
        result.stderr
    );
}

// ---- dry-run ----

#[test]
fn dry_run_table_exits_1_when_someone_is_blocked() {
    let result = case(
        "dry-run-clinic-table",
        &["dry-run", "clinic.toml", "--users", "users.csv", "--at", AT],
        None,
    );
    // mia's role `member` is not in the policy, which refuses other roles.
    assert_eq!(result.status, 1);
    assert!(result.stdout.contains("blocked (1):"));
    assert!(result.stdout.contains("mia   member  built-in rule"));
}

#[test]
fn dry_run_json_exits_1_when_someone_is_blocked() {
    let result = case(
        "dry-run-clinic-json",
        &[
            "dry-run",
            "clinic.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
            "--json",
        ],
        None,
    );
    assert_eq!(result.status, 1);
    let json: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(json["at"], 1_796_634_000);
    assert_eq!(
        json["summary"],
        serde_json::json!({"must_enroll": 4, "blocked": 1, "exempt": 2, "unaffected": 4})
    );
    let users = json["users"].as_array().unwrap();
    let names: Vec<&str> = users.iter().map(|u| u["user"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "olga",
            "ada",
            "sam",
            "tom",
            "front-desk",
            "vic",
            "mia",
            "pat",
            "lee"
        ]
    );
    assert_eq!(
        users[2],
        serde_json::json!({
            "user": "sam", "role": "staff", "outcome": "must_enroll",
            "deadline": 1_797_238_800u64, "methods": ["totp", "passkey"], "can_defer": true,
            "reason": "Set up two-factor authentication before 2026-12-14T09:00:00Z.",
            "reason_code": "enrollment_due", "rule": "enforcement"
        })
    );
}

#[test]
fn dry_run_exits_0_when_nobody_is_blocked() {
    // The same users without mia.
    let known = case(
        "dry-run-clinic-known-users",
        &[
            "dry-run",
            "clinic.toml",
            "--users",
            "users-known.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(known.status, 0);
    // Everyone, under a policy that gives other roles the organization's rules.
    let organization = case(
        "dry-run-clinic-organization",
        &[
            "dry-run",
            "clinic-organization.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(organization.status, 0);
    assert!(organization.stdout.contains("blocked: none"));
}

#[test]
fn dry_run_reads_quoted_and_spaced_csv() {
    let result = case(
        "dry-run-quoted",
        &[
            "dry-run",
            "clinic.toml",
            "--users",
            "users-quoted.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(result.status, 0);
    assert!(
        result
            .stdout
            .contains("smith, jo  staff  challenge (totp, passkey)")
    );
    assert!(result.stdout.contains("o\"brien"));
}

/// Each bad users.csv: exit 2, nothing on stdout, and the message names the
/// file, the row's line and the column's name (or the header's problem).
#[test]
fn dry_run_refuses_bad_csv_with_the_row() {
    let cases = [
        (
            "users-bad-date.csv",
            "users-bad-date.csv:4: first_sign_in: \"2026-12-06 09:00\": ",
        ),
        (
            "users-bad-method.csv",
            "users-bad-method.csv:2: methods: \"sms\" is not a method",
        ),
        (
            "users-backup-method.csv",
            "users-backup-method.csv:2: methods: backup codes",
        ),
        (
            "users-bad-bool.csv",
            "users-bad-bool.csv:3: exempt: \"maybe\"",
        ),
        (
            "users-missing-column.csv",
            "users-missing-column.csv:1: the header has no `methods` column",
        ),
        (
            "users-unknown-column.csv",
            "users-unknown-column.csv:1: unknown column \"email\"",
        ),
        (
            "users-field-count.csv",
            "users-field-count.csv:3: 2 fields, but the header has 4",
        ),
        (
            "users-empty-user.csv",
            "users-empty-user.csv:3: user: must not be empty",
        ),
        (
            "users-multiline.csv",
            "users-multiline.csv:4: user: holds a control character",
        ),
        ("users-empty.csv", "users-empty.csv:1: no header row"),
    ];
    for (users, start) in cases {
        let name = format!("dry-run-{}", users.replace('.', "-"));
        let result = case(
            &name,
            &["dry-run", "clinic.toml", "--users", users, "--at", AT],
            None,
        );
        assert_eq!(result.status, 2, "{users}");
        assert_eq!(result.stdout, "", "{users}");
        assert!(
            result.stderr.starts_with(start),
            "{users}: {}",
            result.stderr
        );
    }
}

#[test]
fn dry_run_refuses_a_huge_row_without_reading_it_all() {
    // A 20 MB field on line 3, from stdin.
    let mut csv = b"user,role,methods,first_sign_in\nsam,staff,,\n".to_vec();
    csv.extend(std::iter::repeat_n(b'a', 20 << 20));
    csv.extend(b",staff,,\n");
    let result = run(
        &["dry-run", "clinic.toml", "--users", "-", "--at", AT],
        Some(&csv),
    );
    assert_eq!(result.status, 2);
    assert_eq!(result.stderr, "-:3: the row is longer than 4096 bytes\n");
    // Just over the limit, short of the reader's buffer: the same message.
    let mut csv = b"user,role,methods,first_sign_in\nsam,staff,,\n".to_vec();
    csv.extend(std::iter::repeat_n(b'a', 4100));
    csv.extend(b",staff,,\n");
    let result = run(
        &["dry-run", "clinic.toml", "--users", "-", "--at", AT],
        Some(&csv),
    );
    assert_eq!(result.status, 2);
    assert_eq!(result.stderr, "-:3: the row is longer than 4096 bytes\n");
}

/// 20,000 blank lines between rows are skipped (they are not a long row),
/// and a bad row after them is reported on its own line.
#[test]
fn dry_run_skips_runs_of_blank_lines() {
    let mut csv = b"user,role,methods,first_sign_in\nsam,staff,,\n".to_vec();
    csv.extend(std::iter::repeat_n(b'\n', 20_000));
    csv.extend(b"olga,owner,totp,\n");
    let result = run(
        &["dry-run", "clinic.toml", "--users", "-", "--at", AT],
        Some(&csv),
    );
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert!(result.stdout.contains("2 users at "), "{}", result.stdout);
    csv.extend(std::iter::repeat_n(b'\n', 20_000));
    csv.extend(b"mia,staff,sms,\n");
    let result = run(
        &["dry-run", "clinic.toml", "--users", "-", "--at", AT],
        Some(&csv),
    );
    assert_eq!(result.status, 2);
    assert!(
        result.stderr.starts_with("-:40004: methods: \"sms\""),
        "{}",
        result.stderr
    );
}

#[test]
fn dry_run_with_an_invalid_policy_is_bad_input() {
    let result = case(
        "dry-run-invalid-policy",
        &[
            "dry-run",
            "invalid-max-failures.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(result.status, 2);
}

/// `--at` as RFC 3339 (any offset), a date, or Unix seconds: the same instant
/// gives the same report.
#[test]
fn at_forms_agree() {
    let args = |at: &'static str| {
        [
            "dry-run",
            "clinic.toml",
            "--users",
            "users.csv",
            "--json",
            "--at",
            at,
        ]
    };
    let reference = run(&args(AT), None);
    for at in [
        "1796634000",
        "2026-12-07T10:00:00+01:00",
        "2026-12-07T09:00:00.5Z",
    ] {
        let other = run(&args(at), None);
        assert_eq!(other.stdout, reference.stdout, "--at {at}");
        assert_eq!(other.status, reference.status, "--at {at}");
    }
    // A date is midnight UTC: sam signed in later that day, so his grace
    // period has not started at midnight (his deadline is a week from now).
    let midnight = run(&args("2026-12-07"), None);
    assert!(midnight.stdout.starts_with("{\"at\":1796601600,"));
}

#[test]
fn bad_at_is_bad_input() {
    for at in ["2026-12-07T09:00:00", "next tuesday", "99999999999999"] {
        let result = run(
            &["dry-run", "clinic.toml", "--users", "users.csv", "--at", at],
            None,
        );
        assert_eq!(result.status, 2, "--at {at}");
        assert!(result.stderr.contains("--at"), "{}", result.stderr);
        assert_eq!(result.stdout, "");
    }
}

#[test]
fn at_defaults_to_now() {
    let result = run(
        &["dry-run", "clinic.toml", "--users", "users.csv", "--json"],
        None,
    );
    assert_eq!(result.status, 1);
    let json: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    // Some time after this test was written.
    assert!(json["at"].as_u64().unwrap() > 1_780_000_000);
}

#[test]
fn only_one_input_from_stdin() {
    let result = run(&["dry-run", "-", "--users", "-"], Some(b""));
    assert_eq!(result.status, 2);
    assert!(result.stderr.contains("only one input can be `-`"));
}

// ---- diff ----

#[test]
fn diff_exits_1_when_new_blocks_someone() {
    let result = case(
        "diff-optional-to-clinic",
        &[
            "diff",
            "clinic-optional.toml",
            "clinic.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(result.status, 1);
    assert!(
        result
            .stdout
            .contains("sam (staff): allow -> must_enroll by 2026-12-14T09:00:00Z\n")
    );
    assert!(result.stdout.contains("mia (member): allow -> blocked\n"));
}

#[test]
fn diff_exits_0_when_nobody_is_newly_blocked() {
    let result = case(
        "diff-optional-to-organization",
        &[
            "diff",
            "clinic-optional.toml",
            "clinic-organization.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(result.status, 0);
    assert!(
        result
            .stdout
            .contains("mia (member): allow -> must_enroll by 2026-12-14T09:00:00Z\n")
    );
    // Going back from the clinic to optional unblocks mia: still exit 0.
    let back = case(
        "diff-clinic-to-optional",
        &[
            "diff",
            "clinic.toml",
            "clinic-optional.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(back.status, 0);
    assert!(back.stdout.contains("mia (member): blocked -> allow\n"));
    assert!(back.stdout.ends_with(
        "blocked: 1 under clinic.toml, 0 under clinic-optional.toml (0 newly blocked)\n"
    ));
    // A policy against itself: nothing changes.
    let same = run(
        &[
            "diff",
            "clinic.toml",
            "clinic.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
        ],
        None,
    );
    assert_eq!(same.status, 0);
    assert!(
        same.stdout.starts_with("0 of 9 users change"),
        "{}",
        same.stdout
    );
}

/// Between two must_enroll outcomes: a deadline that has passed under both
/// policies no longer matters (late), but the methods still do (ada), and so
/// does a deadline that passes under one (sam) or moves (kim, tom).
#[test]
fn diff_between_must_enroll_outcomes() {
    let result = case(
        "diff-short-grace",
        &[
            "diff",
            "clinic.toml",
            "clinic-short-grace.toml",
            "--users",
            "users-grace.csv",
            "--at",
            "2026-12-20T09:00:00Z",
        ],
        None,
    );
    assert_eq!(result.status, 0);
    let changed: Vec<&str> = result
        .stdout
        .lines()
        .take_while(|line| !line.is_empty())
        .collect();
    assert_eq!(
        changed,
        [
            "ada (admin): must_enroll now (passkey only) -> must_enroll now",
            "sam (staff): must_enroll by 2026-12-22T09:00:00Z -> must_enroll now",
            "kim (staff): must_enroll by 2026-12-26T00:00:00Z -> must_enroll by 2026-12-22T00:00:00Z",
            "tom (staff): must_enroll by 2026-12-27T09:00:00Z -> must_enroll by 2026-12-23T09:00:00Z",
        ]
    );
    // late's deadline is 2026-12-08 under one and 2026-12-04 under the
    // other: both passed, so nothing changes for late.
    assert!(!result.stdout.contains("late"), "{}", result.stdout);
}

#[test]
fn diff_json() {
    let result = case(
        "diff-optional-to-clinic-json",
        &[
            "diff",
            "clinic-optional.toml",
            "clinic.toml",
            "--users",
            "users.csv",
            "--at",
            AT,
            "--json",
        ],
        None,
    );
    assert_eq!(result.status, 1);
    let json: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(json["changed"], 5);
    assert_eq!(json["newly_blocked"], 1);
    assert_eq!(json["blocked"], serde_json::json!({"old": 0, "new": 1}));
    assert_eq!(json["changes"][3]["user"], "mia");
    assert_eq!(json["changes"][3]["old"]["outcome"], "allow");
    assert_eq!(json["changes"][3]["new"]["reason_code"], "unknown_role");
}

// ---- decide ----

#[test]
fn decide_answers_each_line_including_after_bad_ones() {
    let requests = file("decide.jsonl");
    let result = case("decide-clinic", &["decide", "clinic.toml"], Some(&requests));
    assert_eq!(result.status, 0);
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(lines.len(), requests.split(|&b| b == b'\n').count() - 1);
    // Line 5 is cut short; line 6, good, is answered as usual.
    assert!(lines[4].starts_with("{\"error\":"), "{}", lines[4]);
    assert!(
        lines[5].starts_with("{\"outcome\":\"allow\""),
        "{}",
        lines[5]
    );
    // The last line, after `not json`, is answered too.
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("{\"outcome\":\"must_enroll\"")
    );
}

/// Each answer is written (and flushed) before the next request is read, so
/// that a caller can talk to the tool one line at a time.
#[test]
fn decide_answers_before_the_input_ends() {
    let mut child = Command::new(BIN)
        .args(["decide", "clinic.toml"])
        .current_dir(data())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if send.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // A guard against a hang, not a timing assertion.
    let guard = Duration::from_secs(60);
    stdin
        .write_all(b"{\"decision\":\"throttle\",\"failures\":0,\"now\":1}\n")
        .unwrap();
    stdin.flush().unwrap();
    let first = receive
        .recv_timeout(guard)
        .expect("no answer while stdin is open");
    assert!(first.starts_with("{\"outcome\":\"allowed\""), "{first}");
    stdin.write_all(b"oops\n").unwrap();
    stdin.flush().unwrap();
    let second = receive
        .recv_timeout(guard)
        .expect("no answer to a bad line");
    assert!(second.starts_with("{\"error\":"), "{second}");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn decide_answers_an_overlong_line_with_an_error() {
    let mut input = b"{\"decision\":\"sign_in\",\"facts\":{\"user\":\"".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend(b"\",\"role\":\"staff\"},\"now\":1}\n{\"decision\":\"throttle\",\"failures\":0,\"now\":1}\n");
    let result = run(&["decide", "clinic.toml"], Some(&input));
    assert_eq!(result.status, 0);
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "{\"error\":\"the line is longer than 65536 bytes\"}"
    );
    assert!(lines[1].starts_with("{\"outcome\":\"allowed\""));
}

#[test]
fn decide_needs_a_policy_file() {
    let result = run(&["decide", "-"], Some(b""));
    assert_eq!(result.status, 2);
    let invalid = run(&["decide", "invalid-version.toml"], Some(b""));
    assert_eq!(invalid.status, 2);
    assert!(
        invalid
            .stderr
            .starts_with("invalid-version.toml: version: ")
    );
}
