//! users.csv with runs of blank lines (which CSV skips) and overlong rows
//! after them: blank lines are not a row, however many there are, and every
//! line number is the row's real line.
#![cfg(test)]

use twofold_policy_cli::{RowProblem, read_users};

const HEADER: &str = "user,role,methods,first_sign_in\n";

fn blank(n: usize, newline: &str) -> String {
    newline.repeat(n)
}

#[test]
fn a_run_of_blank_lines_is_skipped_and_lines_stay_right() {
    for newline in ["\n", "\r\n", "\r"] {
        let csv = format!(
            "{HEADER}ana,staff,,{newline}{}\"sam\",staff,\"totp\",{newline}{}lee,admin,,{newline}",
            blank(20_000, newline),
            blank(5, newline)
        );
        let rows =
            read_users("users.csv", csv.as_bytes()).unwrap_or_else(|e| panic!("{newline:?}: {e}"));
        let users: Vec<&str> = rows.iter().map(|r| r.user.as_str()).collect();
        assert_eq!(users, ["ana", "sam", "lee"], "{newline:?}");
        // A lone \r ends a row for CSV but is not a line: lines count \n.
        if newline != "\r" {
            let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [2, 20_003, 20_009], "{newline:?}");
        }
    }
}

#[test]
fn blank_lines_before_the_header_and_at_the_end() {
    let csv = format!(
        "{}{HEADER}ana,staff,,\n{}",
        blank(10_000, "\n"),
        blank(10_000, "\n")
    );
    let rows = read_users("users.csv", csv.as_bytes()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].line, 10_002);
}

#[test]
fn a_bad_row_after_blank_lines_is_reported_on_its_line() {
    let csv = format!(
        "{HEADER}ana,staff,,\n{}sam,staff,sms,\n",
        blank(20_000, "\n")
    );
    let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
    assert_eq!(error.line, 20_003);
    assert!(
        error
            .to_string()
            .starts_with("users.csv:20003: methods: \"sms\""),
        "{error}"
    );
}

#[test]
fn an_overlong_row_after_blank_lines_is_reported_on_its_line() {
    for size in [4_097, 20 << 20] {
        let csv = format!(
            "{HEADER}ana,staff,,\n{}{},staff,,\nsam,staff,,\n",
            blank(20_000, "\n"),
            "a".repeat(size)
        );
        let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
        assert!(
            matches!(error.problem, RowProblem::RowTooLong),
            "{size}: {error}"
        );
        assert_eq!(error.line, 20_003, "{size}: {error}");
    }
}

/// Blank lines inside a quoted field are the field's text, not blank lines:
/// they count towards the row's length, so the reader's memory stays bounded.
#[test]
fn newlines_inside_quotes_count_towards_the_row() {
    let csv = format!(
        "{HEADER}ana,staff,,\n\"{}\",staff,,\n",
        blank(20 << 20, "\n")
    );
    let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
    assert!(matches!(error.problem, RowProblem::RowTooLong), "{error}");
    assert_eq!(error.line, 3);
    // After a closing quote, after a quote in an unquoted field, and in a
    // row that starts with an empty field, too.
    for row in ["\"x\"\"y\",\"", "o\"brien,\"", ",\""] {
        let csv = format!("{HEADER}{row}{}\",,\n", blank(20 << 20, "\n"));
        let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
        assert!(
            matches!(error.problem, RowProblem::RowTooLong),
            "{row}: {error}"
        );
        assert_eq!(error.line, 2);
    }
}

/// A row of exactly the limit is read; one byte more is refused, wherever
/// the long field is.
#[test]
fn the_row_limit_is_exact() {
    for (prefix, column) in [
        ("u,staff,,", "first_sign_in"),
        ("u,staff,,\"", "first_sign_in"),
    ] {
        let quote = if prefix.ends_with('"') { "\"" } else { "" };
        let text = 4096 - prefix.len() - quote.len();
        let csv = format!("{HEADER}{prefix}{}{quote}\n", "x".repeat(text));
        let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("{column}: longer than 256 bytes")),
            "{prefix}: {error}"
        );
        let csv = format!("{HEADER}{prefix}{}{quote}\n", "x".repeat(text + 1));
        let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
        assert!(
            matches!(error.problem, RowProblem::RowTooLong),
            "{prefix}: {error}"
        );
    }
    let prefix = ",staff,,";
    let user = "u".repeat(4096 - prefix.len());
    // The user id is too long for a field, but the row is not too long.
    let csv = format!("{HEADER}{user}{prefix}\r\n");
    let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
    assert!(
        error.to_string().contains("user: longer than 256 bytes"),
        "{error}"
    );
    let csv = format!("{HEADER}{user}u{prefix}\r\n");
    let error = read_users("users.csv", csv.as_bytes()).unwrap_err();
    assert!(matches!(error.problem, RowProblem::RowTooLong), "{error}");
}

/// A reader that gives one byte per read, as a slow pipe might.
struct ByteByByte<'a>(&'a [u8]);

impl std::io::Read for ByteByByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&byte, rest)), Some(slot)) => {
                *slot = byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// Read a byte at a time, the rows and their lines are the same, and an
/// overlong row is refused, not cut short where the limit fell and read as
/// if the file ended there.
#[test]
fn a_byte_at_a_time() {
    let csv = format!("{HEADER}\n\nana,staff,,\n\n\"sam\",staff,totp,\n");
    let rows = read_users("users.csv", ByteByByte(csv.as_bytes())).unwrap();
    let lines: Vec<(&str, u64)> = rows.iter().map(|r| (r.user.as_str(), r.line)).collect();
    assert_eq!(lines, [("ana", 4), ("sam", 6)]);
    let csv = format!("{HEADER}ana,staff,,\n{},staff,,\n", "a".repeat(5000));
    let error = read_users("users.csv", ByteByByte(csv.as_bytes())).unwrap_err();
    assert!(matches!(error.problem, RowProblem::RowTooLong), "{error}");
    assert_eq!(error.line, 3);
}
