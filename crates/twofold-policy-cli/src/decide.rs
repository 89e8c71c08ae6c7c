//! `decide`: one JSON request per line in, one JSON answer per line out.

use std::fmt;
use std::io::{self, BufRead, Write};

use serde::de::{self, DeserializeOwned, IgnoredAny, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use twofold_policy::{Method, Methods, Mode, Policy, Timestamp, UserFacts};

use crate::instant::LATEST;
use crate::json::DecisionJson;

/// The longest request line read, in bytes; a longer one is answered with an
/// error (and skipped) rather than held in memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Unix seconds in a request: 0 to 9999-12-31T23:59:59Z, as for `--at`,
/// users.csv and the Python binding. A larger number is refused rather than
/// decided on (a deadline of u64::MAX, a date no one can write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seconds(Timestamp);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Seconds, D::Error> {
        struct Visit;
        impl Visitor<'_> for Visit {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "Unix seconds from 0 to {LATEST} (9999-12-31T23:59:59Z)")
            }
            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Seconds, E> {
                if seconds <= LATEST {
                    Ok(Seconds(Timestamp::from_unix_seconds(seconds)))
                } else {
                    Err(E::invalid_value(Unexpected::Unsigned(seconds), &self))
                }
            }
            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Seconds, E> {
                match u64::try_from(seconds) {
                    Ok(seconds) => self.visit_u64(seconds),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(seconds), &self)),
                }
            }
        }
        deserializer.deserialize_u64(Visit)
    }
}

fn at(seconds: Option<Seconds>) -> Option<Timestamp> {
    seconds.map(|Seconds(at)| at)
}

/// A count of failures in a request: 0 to 2^32 - 1, as in the Python binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Count(u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Count, D::Error> {
        struct Visit;
        impl Visitor<'_> for Visit {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a count of failures from 0 to {}", u32::MAX)
            }
            fn visit_u64<E: de::Error>(self, count: u64) -> Result<Count, E> {
                u32::try_from(count)
                    .map(Count)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(count), &self))
            }
            fn visit_i64<E: de::Error>(self, count: i64) -> Result<Count, E> {
                match u64::try_from(count) {
                    Ok(count) => self.visit_u64(count),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(count), &self)),
                }
            }
        }
        deserializer.deserialize_u64(Visit)
    }
}

/// A user's facts in a request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsJson {
    user: String,
    role: String,
    #[serde(default)]
    methods: Vec<Method>,
    #[serde(default)]
    backup_codes: bool,
    #[serde(default)]
    first_sign_in: Option<Seconds>,
    #[serde(default)]
    exempt: bool,
}

impl FactsJson {
    fn facts(&self) -> UserFacts<'_> {
        UserFacts {
            user: &self.user,
            role: &self.role,
            enrolled: self.methods.iter().copied().collect::<Methods>(),
            has_backup_codes: self.backup_codes,
            first_sign_in_since_enforcement: at(self.first_sign_in),
            exempt: self.exempt,
        }
    }
}

/// The `decision` of a request, read first to know which fields it has.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    SignIn,
    EnforcementApplies,
    SelfDisable,
    AdminReset,
    AdminUnlock,
    ChangeEnforcement,
    Throttle,
}

// One struct per decision, read from the line with serde_path_to_error so
// that an error names the field's path (`facts.first_sign_in`). (An
// internally tagged enum would buffer the object first and lose the path.)
// `decision` is checked by then; each struct only lets it through.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsAt {
    #[serde(rename = "decision")]
    _decision: IgnoredAny,
    facts: FactsJson,
    now: Seconds,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfDisable {
    #[serde(rename = "decision")]
    _decision: IgnoredAny,
    facts: FactsJson,
    #[serde(default)]
    reauthenticated_at: Option<Seconds>,
    now: Seconds,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminReset {
    #[serde(rename = "decision")]
    _decision: IgnoredAny,
    actor: FactsJson,
    target: FactsJson,
    reason: String,
    now: Seconds,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminUnlock {
    #[serde(rename = "decision")]
    _decision: IgnoredAny,
    actor: FactsJson,
    target: FactsJson,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeEnforcement {
    #[serde(rename = "decision")]
    _decision: IgnoredAny,
    actor: FactsJson,
    mode: Mode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleRequest {
    #[serde(rename = "decision")]
    _decision: IgnoredAny,
    failures: Count,
    #[serde(default)]
    last_failure: Option<Seconds>,
    now: Seconds,
}

/// The answer to one request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Response {
    /// A decision: `{"outcome": ..., "reason": ..., "reason_code": ..., "rule": ...}`.
    Decision(DecisionJson),
    /// enforcement_applies: `{"applies": bool}`.
    Applies {
        /// Whether enforcement requires a second factor of the user now.
        applies: bool,
    },
    /// A bad line: `{"error": "..."}`.
    Error {
        /// What was wrong with the line.
        error: String,
    },
}

impl Response {
    fn error(message: impl Into<String>) -> Response {
        Response::Error {
            error: message.into(),
        }
    }
}

/// Reads the line as a `T`; an error names the field's path where it has one
/// (`facts.first_sign_in: invalid value: ...`). [`kind`] has read the line
/// as one JSON object already (text after it included).
fn read<T: DeserializeOwned>(line: &str) -> Result<T, String> {
    let mut json = serde_json::Deserializer::from_str(line);
    serde_path_to_error::deserialize(&mut json).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            error.into_inner().to_string()
        } else {
            format!("{path}: {}", error.into_inner())
        }
    })
}

/// The request's `decision`.
fn kind(line: &str) -> Result<Kind, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let Value::Object(object) = value else {
        return Err(String::from(
            "a request is a JSON object: {\"decision\": ..., ...}",
        ));
    };
    let Some(decision) = object.get("decision") else {
        return Err(String::from("missing field `decision`"));
    };
    let Some(name) = decision.as_str() else {
        return Err(String::from(
            "decision: expected the decision's name, such as \"sign_in\"",
        ));
    };
    Kind::deserialize(de::value::StrDeserializer::<de::value::Error>::new(name))
        .map_err(|e| format!("decision: {e}"))
}

/// The answer to one request line.
pub fn answer(policy: &Policy, line: &str) -> Response {
    decision(policy, line).unwrap_or_else(Response::error)
}

fn decision(policy: &Policy, line: &str) -> Result<Response, String> {
    let now = |Seconds(now)| now;
    let decision = match kind(line)? {
        Kind::SignIn => {
            let r: FactsAt = read(line)?;
            DecisionJson::sign_in(policy, &policy.sign_in(&r.facts.facts(), now(r.now)))
        }
        Kind::EnforcementApplies => {
            let r: FactsAt = read(line)?;
            return Ok(Response::Applies {
                applies: policy.enforcement_applies(&r.facts.facts(), now(r.now)),
            });
        }
        Kind::SelfDisable => {
            let r: SelfDisable = read(line)?;
            DecisionJson::permission(
                policy,
                &policy.self_disable(&r.facts.facts(), at(r.reauthenticated_at), now(r.now)),
            )
        }
        Kind::AdminReset => {
            let r: AdminReset = read(line)?;
            DecisionJson::reset(
                policy,
                &policy.admin_reset(&r.actor.facts(), &r.target.facts(), &r.reason, now(r.now)),
            )
        }
        Kind::AdminUnlock => {
            let r: AdminUnlock = read(line)?;
            DecisionJson::permission(
                policy,
                &policy.admin_unlock(&r.actor.facts(), &r.target.facts(), &r.reason),
            )
        }
        Kind::ChangeEnforcement => {
            let r: ChangeEnforcement = read(line)?;
            DecisionJson::permission(policy, &policy.change_enforcement(&r.actor.facts(), r.mode))
        }
        Kind::Throttle => {
            let r: ThrottleRequest = read(line)?;
            let Count(failures) = r.failures;
            DecisionJson::throttle(
                policy,
                &policy.throttle(failures, at(r.last_failure), now(r.now)),
            )
        }
    };
    Ok(Response::Decision(decision))
}

/// One line of input, at most [`MAX_LINE_BYTES`]: `Ok(None)` at the end,
/// `Ok(Some(Err(())))` for a line that was too long (and has been skipped).
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<Result<(), ()>>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (available.get(..end).unwrap_or_default(), Some(end + 1)),
            None => (available, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(available.len());
        input.consume(used);
        if done.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(if too_long { Err(()) } else { Ok(()) }))
}

/// Answers each request line of `input` on `output`, in order, flushing after
/// each, until the input ends. A bad line gets `{"error": "..."}`; the next
/// line is read as usual.
pub fn decide(policy: &Policy, mut input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let mut line = Vec::new();
    while let Some(read) = read_line(&mut input, &mut line)? {
        let response = match read {
            Err(()) => Response::error(format!("the line is longer than {MAX_LINE_BYTES} bytes")),
            Ok(()) => match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() => {
                    Response::error("an empty line is not a request")
                }
                Ok(text) => answer(policy, text),
                Err(_) => Response::error("the line is not UTF-8 text"),
            },
        };
        serde_json::to_writer(&mut output, &response).map_err(io::Error::other)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}
