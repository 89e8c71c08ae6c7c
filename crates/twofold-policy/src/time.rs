//! Instants as Unix seconds, read as dates or RFC 3339 date-times (strings or
//! TOML's own datetimes) and written as RFC 3339 UTC.

use core::fmt;
use core::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// An instant, in whole seconds since the Unix epoch (UTC).
///
/// The policy never reads the clock: every decision takes `now` as an argument.
/// In policy documents an instant is one of:
///
/// - a date, `"2027-01-01"` or TOML's local date `2027-01-01`: midnight UTC;
/// - an RFC 3339 date and time with its UTC offset, as a string
///   (`"2027-01-01T08:30:00Z"`, `"2027-01-01T09:30:00+01:00"`) or as TOML's
///   offset datetime (`2027-01-01T08:30:00Z`). Fractions of a second are
///   dropped (the instant rounds down, to the earlier second).
///
/// A date and time without an offset (TOML's local datetime, `2027-01-01T08:30:00`)
/// is refused ([`TimestampError::MissingOffset`]): which time zone it means is not
/// known. So is anything before 1970 or after 9999 (UTC). Instants are always
/// written back in UTC.
///
/// ```
/// use twofold_policy::Timestamp;
///
/// let start: Timestamp = "2027-01-01".parse()?;
/// assert_eq!(start.as_unix_seconds(), 1_798_761_600);
/// assert_eq!(start.to_string(), "2027-01-01T00:00:00Z");
/// let paris: Timestamp = "2027-01-01T01:00:00+01:00".parse()?;
/// assert_eq!(paris, start);
/// # Ok::<(), twofold_policy::TimestampError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

/// Why a date could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Neither a date (`YYYY-MM-DD`) nor an RFC 3339 date and time.
    #[error(
        "expected a date as YYYY-MM-DD or a date and time as YYYY-MM-DDTHH:MM:SSZ \
         (or with an offset such as +01:00)"
    )]
    Malformed,
    /// A date and time without a UTC offset: the time zone it means is unknown.
    #[error("a date and time needs its UTC offset (Z, or one such as +01:00)")]
    MissingOffset,
    /// Before 1970-01-01 or after 9999-12-31 (UTC).
    #[error("an instant must fall between 1970-01-01 and 9999-12-31 (UTC)")]
    OutOfRange,
}

/// The latest instant a timestamp may be read as (9999-12-31T23:59:59Z).
const LATEST: i64 = 253_402_300_799;

const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
/// A date and time without an offset, to tell why a text was refused.
const LOCAL_DATE_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

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

    fn from_moment(moment: OffsetDateTime) -> Result<Timestamp, TimestampError> {
        let seconds = moment.unix_timestamp();
        if seconds > LATEST {
            return Err(TimestampError::OutOfRange);
        }
        u64::try_from(seconds)
            .map(Timestamp)
            .map_err(|_| TimestampError::OutOfRange)
    }

    /// Reads TOML's own datetime (`from = 2027-01-01T08:30:00Z`, no quotes) by the
    /// same rules as the string form.
    pub(crate) fn from_toml(datetime: &toml::value::Datetime) -> Result<Timestamp, TimestampError> {
        match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => date.to_string().parse(),
            (Some(date), Some(time), Some(offset)) => format!(
                "{date}T{:02}:{:02}:{:02}.{:09}{offset}",
                time.hour,
                time.minute,
                // TOML 1.1 lets seconds be left out.
                time.second.unwrap_or(0),
                time.nanosecond.unwrap_or(0)
            )
            .parse(),
            (Some(_), Some(_), None) => Err(TimestampError::MissingOffset),
            _ => Err(TimestampError::Malformed),
        }
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Timestamp, TimestampError> {
        if let Ok(moment) = OffsetDateTime::parse(text, &Rfc3339) {
            return Timestamp::from_moment(moment);
        }
        // Exactly YYYY-MM-DD: `time` would also take a signed year.
        if text.len() == 10
            && text.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && let Ok(date) = Date::parse(text, DATE)
        {
            return Timestamp::from_moment(date.midnight().assume_utc());
        }
        if PrimitiveDateTime::parse(text, LOCAL_DATE_TIME).is_ok() {
            return Err(TimestampError::MissingOffset);
        }
        Err(TimestampError::Malformed)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC: `2027-01-01T00:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let moment = i64::try_from(self.0)
            .ok()
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok());
        match moment {
            Some(t) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            // Only arithmetic gets here (a saturated deadline), never a document.
            None => write!(f, "{} seconds after 1970-01-01T00:00:00Z", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a date (2027-01-01) or a date and time with its offset (2027-01-01T08:30:00Z)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        text.parse().map_err(E::custom)
    }

    /// TOML hands its own datetimes over as a one-entry map.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Timestamp, A::Error> {
        let datetime =
            toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Timestamp::from_toml(&datetime).map_err(de::Error::custom)
    }
}
