//! Reading documents from TOML and JSON, with the path of the field that failed.

use serde_path_to_error::{Path, Segment};

use crate::document::PolicyDocument;
use crate::policy::{Policy, PolicyError};
use crate::time::{Timestamp, TimestampError};

impl Policy {
    /// Reads and validates a TOML policy document. Dates may be strings or
    /// TOML's own dates and offset datetimes (see [`Timestamp`]).
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let syntax = |field: Option<String>, message: String| PolicyError::Syntax {
            format: "TOML",
            field,
            message,
        };
        let deserializer =
            toml::de::Deserializer::parse(text).map_err(|error| syntax(None, error.to_string()))?;
        let document: PolicyDocument =
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                let value = || {
                    let table = text.parse::<toml::Table>().ok()?;
                    let mut segments = error.path().iter();
                    let Some(Segment::Map { key }) = segments.next() else {
                        return None;
                    };
                    let mut value = table.get(key)?;
                    for segment in segments {
                        value = match segment {
                            Segment::Map { key } => value.get(key.as_str())?,
                            Segment::Seq { index } => value.get(*index)?,
                            _ => return None,
                        };
                    }
                    match value {
                        toml::Value::String(text) => text.parse::<Timestamp>().err(),
                        toml::Value::Datetime(datetime) => Timestamp::from_toml(datetime).err(),
                        _ => None,
                    }
                };
                instant_error(error.path(), value).unwrap_or_else(|| {
                    let missing = missing_field(error.inner().message().trim_end());
                    let field = field_of(error.path(), missing);
                    syntax(field, error.inner().to_string())
                })
            })?;
        Policy::from_document(document)
    }

    /// Reads and validates a JSON policy document (dates are strings).
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let document: PolicyDocument = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| {
                let value = || {
                    let mut value = &serde_json::from_str::<serde_json::Value>(text).ok()?;
                    for segment in error.path() {
                        value = match segment {
                            Segment::Map { key } => value.get(key.as_str())?,
                            Segment::Seq { index } => value.get(*index)?,
                            _ => return None,
                        };
                    }
                    value.as_str()?.parse::<Timestamp>().err()
                };
                let message = error.inner().to_string();
                // Text that is not JSON fails wherever the reader was; only
                // a value the document cannot hold has a field to name.
                let field = match error.inner().classify() {
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof => None,
                    _ => field_of(error.path(), missing_field(without_position(&message))),
                };
                instant_error(error.path(), value).unwrap_or(PolicyError::Syntax {
                    format: "JSON",
                    field,
                    message,
                })
            })?;
        // One document: anything after it but white space is refused.
        deserializer.end().map_err(|error| PolicyError::Syntax {
            format: "JSON",
            field: None,
            message: error.to_string(),
        })?;
        Policy::from_document(document)
    }
}

/// The path of the field a reader failed at: where it was (`throttle` for a
/// table missing a field), and the `missing` field there, if serde's message
/// was that one (`throttle.lockout`, `version`); `None` where it failed at
/// the document itself or on a path serde could not follow.
fn field_of(path: &Path, missing: Option<&str>) -> Option<String> {
    let known = path.iter().all(|segment| {
        matches!(
            segment,
            Segment::Map { .. } | Segment::Seq { .. } | Segment::Enum { .. }
        )
    });
    if !known {
        return None;
    }
    let at = path.iter().next().is_some().then(|| path.to_string());
    match (at, missing) {
        (Some(at), Some(name)) => Some(format!("{at}.{name}")),
        (None, Some(name)) => Some(name.to_string()),
        (at, None) => at,
    }
}

/// The field serde's message says is missing, if that is all it says:
/// exactly "missing field `lockout`", a name of the document's own (lower
/// case and underscores), so that text quoted from the document (a comment,
/// a string value) is never taken for one.
fn missing_field(message: &str) -> Option<&str> {
    let name = message.strip_prefix("missing field `")?.strip_suffix('`')?;
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    plain.then_some(name)
}

/// serde_json's message without the position it appends (" at line 1 column 9").
fn without_position(message: &str) -> &str {
    match message.rsplit_once(" at line ") {
        Some((head, tail))
            if tail.split_once(" column ").is_some_and(|(line, column)| {
                [line, column]
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            }) =>
        {
            head
        }
        _ => message,
    }
}

/// [`PolicyError::Instant`] if the failing field holds a date (`enforcement.from`,
/// `exemptions[i].until`) and `value` says why it cannot be read.
fn instant_error(
    path: &Path,
    value: impl FnOnce() -> Option<TimestampError>,
) -> Option<PolicyError> {
    let keys: Vec<&Segment> = path.iter().collect();
    let is_instant = match keys.as_slice() {
        [Segment::Map { key: table }, Segment::Map { key }] => {
            table == "enforcement" && key == "from"
        }
        [
            Segment::Map { key: table },
            Segment::Seq { .. },
            Segment::Map { key },
        ] => table == "exemptions" && key == "until",
        _ => false,
    };
    if !is_instant {
        return None;
    }
    Some(PolicyError::Instant {
        field: path.to_string(),
        source: value()?,
    })
}
