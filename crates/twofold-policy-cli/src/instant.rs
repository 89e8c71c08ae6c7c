//! Instants on the command line and in users.csv: RFC 3339, a date, or Unix seconds.

use twofold_policy::{Timestamp, TimestampError};

/// The latest instant accepted as Unix seconds (9999-12-31T23:59:59Z), as for dates.
pub(crate) const LATEST: u64 = 253_402_300_799;

/// Why a date could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstantError {
    /// Not a date, an RFC 3339 date and time, or Unix seconds.
    #[error("{0}, or Unix seconds")]
    Date(#[source] TimestampError),
    /// Unix seconds past 9999-12-31T23:59:59Z.
    #[error("Unix seconds must be at most {LATEST} (9999-12-31T23:59:59Z)")]
    SecondsOutOfRange,
}

/// Reads an instant: an RFC 3339 date and time with its offset
/// (`2026-12-07T09:00:00Z`), a date (`2026-12-07`, midnight UTC), or Unix
/// seconds (`1796634000`).
///
/// ```
/// use twofold_policy_cli::parse_instant;
///
/// let at = parse_instant("2026-12-07T09:00:00Z")?;
/// assert_eq!(at, parse_instant("1796634000")?);
/// assert_eq!(at, parse_instant("2026-12-07T10:00:00+01:00")?);
/// assert_eq!(parse_instant("2026-12-07")?.as_unix_seconds(), 1_796_601_600);
/// assert!(parse_instant("2026-12-07T09:00:00").is_err()); // no offset: which zone?
/// # Ok::<(), twofold_policy_cli::InstantError>(())
/// ```
pub fn parse_instant(text: &str) -> Result<Timestamp, InstantError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(seconds) if seconds <= LATEST => Ok(Timestamp::from_unix_seconds(seconds)),
            _ => Err(InstantError::SecondsOutOfRange),
        };
    }
    text.parse().map_err(InstantError::Date)
}
