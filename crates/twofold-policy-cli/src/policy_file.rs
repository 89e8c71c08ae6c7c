//! Reading a policy document from a file or stdin, and `check`'s report.

use std::fmt;
use std::io::{self, Read, Write};

use twofold_policy::{Policy, PolicyError, UnknownRoles};

/// The largest policy document read, in bytes (a real one is a few KiB).
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// The syntax of a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyFormat {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl PolicyFormat {
    /// The format of a document by its file name: `.json` is JSON, anything
    /// else TOML. Stdin (`-`) is JSON if its text starts with `{`, else TOML.
    pub fn detect(name: &str, text: &str) -> PolicyFormat {
        let json = if name == "-" {
            text.trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('{')
        } else {
            std::path::Path::new(name)
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
        };
        if json {
            PolicyFormat::Json
        } else {
            PolicyFormat::Toml
        }
    }
}

/// Why a policy document could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFileError {
    /// The file could not be read.
    #[error("{name}: cannot be read: {source}")]
    Read {
        /// The file name as given (`-` for stdin).
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("{name}: larger than {MAX_POLICY_BYTES} bytes, which no policy document needs")]
    TooLarge {
        /// The file name as given.
        name: String,
    },
    /// The file is not UTF-8 text.
    #[error("{name}: not UTF-8 text")]
    NotUtf8 {
        /// The file name as given.
        name: String,
    },
    /// The engine refused the document.
    #[error("{name}: {}", PolicyErrorText(.error))]
    Invalid {
        /// The file name as given.
        name: String,
        /// The engine's error, with the field's path where it has one.
        #[source]
        error: PolicyError,
    },
}

impl PolicyFileError {
    /// Whether the document was read but is not a valid policy (as opposed to
    /// a file that could not be read at all).
    pub fn is_invalid_policy(&self) -> bool {
        matches!(self, PolicyFileError::Invalid { .. })
    }
}

/// The path of the field an engine error is about (`throttle.max_failures`,
/// `exemptions[0].until`, `version`, or where the reader failed: a value of
/// the wrong type or an unknown field), or `None` for a syntax error outside
/// any field, whose message gives the line and column instead.
pub fn error_path(error: &PolicyError) -> Option<&str> {
    match error {
        PolicyError::Invalid { field, .. } | PolicyError::Instant { field, .. } => Some(field),
        PolicyError::UnsupportedVersion { .. } => Some("version"),
        PolicyError::Syntax {
            field: Some(field), ..
        } => Some(field),
        _ => None,
    }
}

/// An engine error as `path: problem`, or the parser's message with its line
/// and column.
struct PolicyErrorText<'a>(&'a PolicyError);

impl fmt::Display for PolicyErrorText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PolicyError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            PolicyError::Instant { field, source } => {
                write!(f, "{field}: this date cannot be used: {source}")
            }
            // TOML's messages begin "TOML parse error at line 4, column 17";
            // where the reader failed inside a field, its path comes first.
            PolicyError::Syntax {
                format,
                field,
                message,
                ..
            } => {
                if let Some(field) = field {
                    write!(f, "{field}: ")?;
                }
                if *format == "JSON" {
                    f.write_str("JSON error: ")?;
                }
                f.write_str(message.trim_end())
            }
            error @ PolicyError::UnsupportedVersion { .. } => write!(f, "version: {error}"),
            error => write!(f, "{error}"),
        }
    }
}

/// Reads and validates a policy document named `name` (a path, or `-` for
/// stdin, which only decides the format: see [`PolicyFormat::detect`]).
pub fn load_policy(name: &str, reader: impl Read) -> Result<Policy, PolicyFileError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| PolicyFileError::Read {
            name: name.to_string(),
            source,
        })?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(PolicyFileError::TooLarge {
            name: name.to_string(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| PolicyFileError::NotUtf8 {
        name: name.to_string(),
    })?;
    let parsed = match PolicyFormat::detect(name, &text) {
        PolicyFormat::Json => Policy::from_json(&text),
        PolicyFormat::Toml => Policy::from_toml(&text),
    };
    parsed.map_err(|error| PolicyFileError::Invalid {
        name: name.to_string(),
        error,
    })
}

/// A one-line summary of a valid policy: its mode, roles, what other roles
/// get, and its exemptions.
pub fn summary(policy: &Policy) -> String {
    let document = policy.document();
    let roles = if document.roles.is_empty() {
        "no roles".to_string()
    } else {
        let names: Vec<&str> = document.roles.keys().map(String::as_str).collect();
        format!(
            "{} role{} ({})",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        )
    };
    let unknown = match document.unknown_role_rule() {
        UnknownRoles::Refuse => "other roles refused",
        UnknownRoles::Organization => "other roles get the organization's rules",
    };
    let mut line = format!("mode {}", policy.mode());
    if let Some(from) = document.enforcement.from {
        line.push_str(&format!(" from {from}"));
    }
    line.push_str(&format!(
        ", grace {}, methods {}; {roles}; {unknown}",
        duration(document.enforcement.grace_seconds),
        policy_methods(policy)
    ));
    let exemptions = document.exemptions.len();
    line.push_str(&format!(
        "; {exemptions} exemption{}",
        if exemptions == 1 { "" } else { "s" }
    ));
    line
}

/// `0 s`, `90 s`, `2 hours`, `7 days`.
fn duration(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        0 => "none".to_string(),
        s if s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s => format!("{s} s"),
    }
}

fn policy_methods(policy: &Policy) -> String {
    let methods: twofold_policy::Methods = policy
        .document()
        .enforcement
        .methods
        .iter()
        .copied()
        .collect();
    methods.to_string()
}

/// `check`: validates the document and writes `NAME: valid (summary)` to
/// `out`, or each error with its path to `err`. Returns whether it is valid;
/// `Err` only for a file that could not be read (not for an invalid policy).
pub fn check(
    name: &str,
    reader: impl Read,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<bool, CheckError> {
    match load_policy(name, reader) {
        Ok(policy) => {
            writeln!(out, "{name}: valid: {}", summary(&policy))?;
            Ok(true)
        }
        Err(error) if error.is_invalid_policy() => {
            writeln!(err, "{error}")?;
            Ok(false)
        }
        Err(error) => Err(CheckError::Policy(error)),
    }
}

/// Why `check` could not judge a document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The document could not be read.
    #[error(transparent)]
    Policy(PolicyFileError),
    /// The report could not be written.
    #[error("writing the report: {0}")]
    Write(#[from] io::Error),
}
