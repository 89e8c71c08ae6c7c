//! `decide`: one JSON request per line in, one JSON answer per line out.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};
use twofold_policy::{Method, Methods, Mode, Policy, Timestamp, UserFacts};

use crate::json::DecisionJson;

/// The longest request line read, in bytes; a longer one is answered with an
/// error (and skipped) rather than held in memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

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
    first_sign_in: Option<u64>,
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
            first_sign_in_since_enforcement: self.first_sign_in.map(Timestamp::from_unix_seconds),
            exempt: self.exempt,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    SignIn {
        facts: FactsJson,
        now: u64,
    },
    EnforcementApplies {
        facts: FactsJson,
        now: u64,
    },
    SelfDisable {
        facts: FactsJson,
        #[serde(default)]
        reauthenticated_at: Option<u64>,
        now: u64,
    },
    AdminReset {
        actor: FactsJson,
        target: FactsJson,
        reason: String,
        now: u64,
    },
    AdminUnlock {
        actor: FactsJson,
        target: FactsJson,
        reason: String,
    },
    ChangeEnforcement {
        actor: FactsJson,
        mode: Mode,
    },
    Throttle {
        failures: u32,
        #[serde(default)]
        last_failure: Option<u64>,
        now: u64,
    },
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

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

/// The answer to one request line.
pub fn answer(policy: &Policy, line: &str) -> Response {
    let request = match serde_json::from_str::<Request>(line) {
        Ok(request) => request,
        Err(error) => return Response::error(error.to_string()),
    };
    let decision = match request {
        Request::SignIn { facts, now } => {
            DecisionJson::sign_in(policy, &policy.sign_in(&facts.facts(), at(now)))
        }
        Request::EnforcementApplies { facts, now } => {
            return Response::Applies {
                applies: policy.enforcement_applies(&facts.facts(), at(now)),
            };
        }
        Request::SelfDisable {
            facts,
            reauthenticated_at,
            now,
        } => DecisionJson::permission(
            policy,
            &policy.self_disable(&facts.facts(), reauthenticated_at.map(at), at(now)),
        ),
        Request::AdminReset {
            actor,
            target,
            reason,
            now,
        } => DecisionJson::reset(
            policy,
            &policy.admin_reset(&actor.facts(), &target.facts(), &reason, at(now)),
        ),
        Request::AdminUnlock {
            actor,
            target,
            reason,
        } => DecisionJson::permission(
            policy,
            &policy.admin_unlock(&actor.facts(), &target.facts(), &reason),
        ),
        Request::ChangeEnforcement { actor, mode } => {
            DecisionJson::permission(policy, &policy.change_enforcement(&actor.facts(), mode))
        }
        Request::Throttle {
            failures,
            last_failure,
            now,
        } => DecisionJson::throttle(
            policy,
            &policy.throttle(failures, last_failure.map(at), at(now)),
        ),
    };
    Response::Decision(decision)
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
