//! The decide protocol through the library's `answer`: what a request may
//! hold, and what a bad one is told.
#![cfg(test)]

use std::io::BufReader;

use serde_json::{Value, json};
use twofold_policy::Policy;
use twofold_policy_cli::{MAX_LINE_BYTES, answer, decide};

const CLINIC: &str = include_str!("data/clinic.toml");
/// 9999-12-31T23:59:59Z, the latest instant the CSV reader, `--at` and the
/// Python binding accept.
const LATEST: u64 = 253_402_300_799;

fn ask(request: &Value) -> Value {
    let policy = Policy::from_toml(CLINIC).unwrap();
    let response = answer(&policy, &request.to_string());
    serde_json::to_value(&response).unwrap()
}

/// The error of a refused request, or a panic naming what was answered.
fn error_of(request: &Value) -> String {
    let response = ask(request);
    match response.get("error").and_then(Value::as_str) {
        Some(error) => error.to_string(),
        None => panic!("{request} was answered: {response}"),
    }
}

fn staff(first_sign_in: Value) -> Value {
    json!({"user": "sam", "role": "staff", "first_sign_in": first_sign_in})
}

/// Every time field of every request, each set to `value`, with the path the
/// error must name.
fn requests_with_time(value: &Value) -> Vec<(&'static str, Value)> {
    let now = json!(1_796_634_000u64);
    vec![
        (
            "now",
            json!({"decision": "sign_in", "facts": staff(Value::Null), "now": value}),
        ),
        (
            "facts.first_sign_in",
            json!({"decision": "sign_in", "facts": staff(value.clone()), "now": now}),
        ),
        (
            "now",
            json!({"decision": "enforcement_applies", "facts": staff(Value::Null), "now": value}),
        ),
        (
            "facts.first_sign_in",
            json!({"decision": "enforcement_applies", "facts": staff(value.clone()), "now": now}),
        ),
        (
            "now",
            json!({"decision": "self_disable", "facts": staff(Value::Null), "reauthenticated_at": null, "now": value}),
        ),
        (
            "reauthenticated_at",
            json!({"decision": "self_disable", "facts": staff(Value::Null), "reauthenticated_at": value, "now": now}),
        ),
        (
            "now",
            json!({"decision": "admin_reset", "actor": {"user": "olga", "role": "owner"}, "target": staff(Value::Null), "reason": "lost phone", "now": value}),
        ),
        (
            "actor.first_sign_in",
            json!({"decision": "admin_reset", "actor": {"user": "olga", "role": "owner", "first_sign_in": value}, "target": staff(Value::Null), "reason": "lost phone", "now": now}),
        ),
        (
            "target.first_sign_in",
            json!({"decision": "admin_unlock", "actor": {"user": "olga", "role": "owner"}, "target": staff(value.clone()), "reason": "locked out"}),
        ),
        (
            "actor.first_sign_in",
            json!({"decision": "change_enforcement", "actor": {"user": "olga", "role": "owner", "first_sign_in": value}, "mode": "required"}),
        ),
        (
            "now",
            json!({"decision": "throttle", "failures": 3, "last_failure": null, "now": value}),
        ),
        (
            "last_failure",
            json!({"decision": "throttle", "failures": 3, "last_failure": value, "now": now}),
        ),
    ]
}

/// Past 9999-12-31T23:59:59Z, a time is refused wherever it is, with its
/// field's path, as the CSV reader, `--at` and the Python binding refuse it.
#[test]
fn times_past_9999_are_refused_naming_the_field() {
    for value in [
        json!(LATEST + 1),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        json!("2026-12-07"),
    ] {
        for (field, request) in requests_with_time(&value) {
            let error = error_of(&request);
            assert!(
                error.starts_with(&format!("{field}: ")),
                "{request}: {error}"
            );
            if value.is_u64() {
                assert!(
                    error.contains("Unix seconds from 0 to 253402300799"),
                    "{request}: {error}"
                );
            }
        }
    }
}

/// The latest instant itself is a time like any other.
#[test]
fn the_latest_instant_is_answered() {
    for (field, request) in requests_with_time(&json!(LATEST)) {
        let response = ask(&request);
        assert!(response.get("error").is_none(), "{field}: {response}");
    }
}

/// A sign-in at the latest instant: the deadline is computed, not wrapped
/// round or taken for u64::MAX.
#[test]
fn a_deadline_from_the_latest_instant() {
    let response =
        ask(&json!({"decision": "sign_in", "facts": staff(json!(LATEST)), "now": LATEST}));
    assert_eq!(response["outcome"], "must_enroll");
    assert_eq!(response["deadline"], LATEST + 604_800);
}

/// `failures` is a count from 0 to 2^32 - 1, as in the Python binding.
#[test]
fn failures_out_of_range_are_refused_naming_the_field() {
    for value in [
        json!(u64::from(u32::MAX) + 1),
        json!(-1),
        json!(2.5),
        json!("3"),
        json!(null),
    ] {
        let error = error_of(&json!({"decision": "throttle", "failures": value, "now": 1}));
        assert!(error.starts_with("failures: "), "{value}: {error}");
        assert!(
            error.contains("expected a count of failures from 0 to 4294967295"),
            "{value}: {error}"
        );
    }
    let most = ask(&json!({"decision": "throttle", "failures": u32::MAX, "now": 1}));
    assert_eq!(most["outcome"], "locked", "{most}");
}

/// Other mistakes name their field too; a request is still one JSON object.
#[test]
fn other_bad_requests_name_the_field() {
    let cases = [
        (
            json!({"decision": "sign_in", "facts": {"user": "sam", "role": "staff", "methods": ["sms"]}, "now": 1}),
            "facts.methods[0]: ",
        ),
        (
            json!({"decision": "sign_in", "facts": {"user": "sam", "role": "staff", "first_signin": 1}, "now": 1}),
            "facts.first_signin: unknown field `first_signin`",
        ),
        (
            json!({"decision": "sign_in", "facts": {"user": "sam", "role": "staff"}}),
            "missing field `now`",
        ),
        (
            json!({"decision": "sign_in", "facts": {"user": "sam"}, "now": 1}),
            "facts: missing field `role`",
        ),
        (
            json!({"decision": "change_enforcement", "actor": {"user": "olga", "role": "owner"}, "mode": "strict"}),
            "mode: unknown variant `strict`",
        ),
        (
            json!({"decision": "teleport"}),
            "decision: unknown variant `teleport`",
        ),
        (json!({"now": 1}), "missing field `decision`"),
        (json!([1, 2]), "a request is a JSON object"),
        (
            json!({"decision": "throttle", "failures": 1, "now": 1, "extra": true}),
            "extra: unknown field `extra`",
        ),
    ];
    for (request, start) in cases {
        let error = error_of(&request);
        assert!(error.starts_with(start), "{request}: {error}");
    }
    // A field given twice is refused, not read as its last value.
    let policy = Policy::from_toml(CLINIC).unwrap();
    let twice = answer(
        &policy,
        r#"{"decision":"throttle","failures":1,"now":1,"now":2}"#,
    );
    let twice = serde_json::to_value(&twice).unwrap();
    assert!(
        twice["error"]
            .as_str()
            .is_some_and(|e| e.contains("duplicate field `now`")),
        "{twice}"
    );
}

/// A line of exactly [`MAX_LINE_BYTES`] is a request, one byte more is not,
/// however the input arrives in pieces.
#[test]
fn the_line_limit_is_exact() {
    let policy = Policy::from_toml(CLINIC).unwrap();
    let request = |bytes: usize| {
        let start = r#"{"decision":"throttle","failures":1,"now":1}"#;
        format!("{start}{}\n", " ".repeat(bytes - start.len()))
    };
    for capacity in [16, 1000, 1 << 20] {
        let input = format!("{}{}", request(MAX_LINE_BYTES), request(MAX_LINE_BYTES + 1));
        let mut out = Vec::new();
        decide(
            &policy,
            BufReader::with_capacity(capacity, input.as_bytes()),
            &mut out,
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{capacity}");
        assert!(
            lines[0].starts_with(r#"{"outcome":"allowed""#),
            "{capacity}: {}",
            lines[0]
        );
        assert_eq!(
            lines[1], r#"{"error":"the line is longer than 65536 bytes"}"#,
            "{capacity}"
        );
    }
}
