//! Instants as Unix seconds, read and written as RFC 3339 UTC dates.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, in whole seconds since the Unix epoch (UTC).
///
/// The policy never reads the clock: every decision takes `now` as an argument.
/// In policy documents an instant is a string, either a date (`"2027-01-01"`,
/// midnight UTC) or an RFC 3339 UTC time (`"2027-01-01T08:30:00Z"`).
///
/// ```
/// use twofold_policy::Timestamp;
///
/// let start: Timestamp = "2027-01-01".parse()?;
/// assert_eq!(start.as_unix_seconds(), 1_798_761_600);
/// assert_eq!(start.to_string(), "2027-01-01T00:00:00Z");
/// # Ok::<(), twofold_policy::TimestampError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

/// Why a date string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC, years 1970 to 9999)")]
#[non_exhaustive]
pub struct TimestampError;

const SECONDS_PER_DAY: u64 = 86_400;

impl Timestamp {
    /// The instant `seconds` after the Unix epoch.
    pub const fn from_unix_seconds(seconds: u64) -> Timestamp {
        Timestamp(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_unix_seconds(self) -> u64 {
        self.0
    }

    /// The instant `seconds` later, saturating at the end of time.
    #[must_use]
    pub const fn plus_seconds(self, seconds: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }

    /// Seconds from `earlier` to `self`, or 0 if `earlier` is not earlier.
    pub const fn seconds_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn number(text: &str, digits: usize) -> Option<u64> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Timestamp, TimestampError> {
        let (date, time) = match text.split_once('T') {
            Some((date, time)) => (date, Some(time.strip_suffix('Z').ok_or(TimestampError)?)),
            None => (text, None),
        };
        let mut parts = date.split('-');
        let year = parts
            .next()
            .and_then(|p| number(p, 4))
            .ok_or(TimestampError)?;
        let month = parts
            .next()
            .and_then(|p| number(p, 2))
            .ok_or(TimestampError)?;
        let day = parts
            .next()
            .and_then(|p| number(p, 2))
            .ok_or(TimestampError)?;
        if parts.next().is_some()
            || year < 1970
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return Err(TimestampError);
        }
        let seconds_of_day = match time {
            None => 0,
            Some(time) => {
                let mut parts = time.split(':');
                let hour = parts
                    .next()
                    .and_then(|p| number(p, 2))
                    .ok_or(TimestampError)?;
                let minute = parts
                    .next()
                    .and_then(|p| number(p, 2))
                    .ok_or(TimestampError)?;
                let second = parts
                    .next()
                    .and_then(|p| number(p, 2))
                    .ok_or(TimestampError)?;
                if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
                    return Err(TimestampError);
                }
                hour * 3600 + minute * 60 + second
            }
        };
        Ok(Timestamp(
            days_from_civil(year, month, day) * SECONDS_PER_DAY + seconds_of_day,
        ))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC: `2027-01-01T00:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0 / SECONDS_PER_DAY);
        let seconds = self.0 % SECONDS_PER_DAY;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds / 3600,
            seconds % 3600 / 60,
            seconds % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
