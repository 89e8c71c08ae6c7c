//! Dates in policy documents: strings and TOML's own dates and datetimes,
//! offsets, and the typed error, with the field's path, for what cannot be used.
#![cfg(test)]

use std::error::Error as _;

use proptest::prelude::*;
use time::{Date, OffsetDateTime, UtcOffset};
use twofold_policy::{Policy, PolicyError, Timestamp, TimestampError};

/// 9999-12-31T23:59:59Z.
const LATEST: u64 = 253_402_300_799;

fn from(value: &str) -> Result<Option<Timestamp>, PolicyError> {
    Policy::from_toml(&format!("version = 1\n[enforcement]\nfrom = {value}"))
        .map(|policy| policy.document().enforcement.from)
}

fn instant(field: &str, source: TimestampError) -> PolicyError {
    PolicyError::Instant {
        field: field.into(),
        source,
    }
}

/// RFC 3339 text for `seconds` as seen at `offset` (`Z` for UTC), from `time`
/// components (the crate under test formats only UTC).
fn rfc3339(seconds: u64, offset: UtcOffset) -> Option<String> {
    let utc = OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?;
    let t = utc.checked_to_offset(offset)?;
    let zone = if offset.is_utc() {
        "Z".to_string()
    } else {
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", h.abs(), m.abs())
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

#[test]
fn dates_and_times_read_with_their_offsets_and_write_in_utc() {
    let cases = [
        ("1970-01-01", 0),
        ("2026-01-01", 1_767_225_600),
        ("2027-01-01", 1_798_761_600),
        ("2000-02-29T12:34:56Z", 951_827_696),
        ("9999-12-31T23:59:59Z", LATEST),
        ("2027-01-01T10:00:00+01:00", 1_798_794_000),
        ("2027-01-01T10:00:00-05:30", 1_798_817_400),
        ("2027-01-01T10:00:00-00:00", 1_798_797_600),
        ("2027-01-01t10:00:00z", 1_798_797_600),
        ("2027-01-01 10:00:00Z", 1_798_797_600),
        // Fractions round down, to the earlier second.
        ("2027-01-01T10:00:00.999Z", 1_798_797_600),
        // A leap second reads as the second before.
        ("2016-12-31T23:59:60Z", 1_483_228_799),
        ("1969-12-31T23:00:00-01:00", 0),
    ];
    for (text, seconds) in cases {
        let t: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.as_unix_seconds(), seconds, "{text}");
        assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t), "{text}");
    }
    assert_eq!(
        Timestamp::from_unix_seconds(1_798_794_000).to_string(),
        "2027-01-01T09:00:00Z"
    );
    let refused = [
        ("1969-12-31", TimestampError::OutOfRange),
        ("1969-12-31T23:59:59Z", TimestampError::OutOfRange),
        ("9999-12-31T23:59:59-00:01", TimestampError::OutOfRange),
        ("2027-01-01T10:00:00", TimestampError::MissingOffset),
        ("2027-01-01T10:00:00.5", TimestampError::MissingOffset),
        ("2027-1-01", TimestampError::Malformed),
        ("2027-13-01", TimestampError::Malformed),
        ("2027-02-29", TimestampError::Malformed),
        ("2027-01-01T24:00:00Z", TimestampError::Malformed),
        ("2027-01-01T10:00Z", TimestampError::Malformed),
        ("+2027-01-01", TimestampError::Malformed),
        (" 2027-01-01", TimestampError::Malformed),
        ("2027-01-01 ", TimestampError::Malformed),
        ("10:00:00Z", TimestampError::Malformed),
        ("", TimestampError::Malformed),
        ("x", TimestampError::Malformed),
    ];
    for (text, error) in refused {
        assert_eq!(text.parse::<Timestamp>(), Err(error), "{text}");
    }
    // A saturated deadline still prints, without claiming a calendar date.
    assert_eq!(
        Timestamp::from_unix_seconds(u64::MAX).to_string(),
        format!("{} seconds after 1970-01-01T00:00:00Z", u64::MAX)
    );
}

/// `from = 2026-12-01T00:00:00Z`, unquoted, means what the string means.
#[test]
fn toml_native_dates_and_datetimes_mean_what_their_strings_mean() {
    let midnight = Some("2026-12-01T00:00:00Z".parse().unwrap());
    for native in [
        "2026-12-01T00:00:00Z",
        "2026-12-01",
        "2026-12-01T01:00:00+01:00",
        "2026-11-30T19:00:00-05:00",
        "2026-12-01 00:00:00Z",
        "2026-12-01T00:00:00.750Z",
        "2026-12-01T00:00Z", // TOML 1.1: seconds may be left out
        "\"2026-12-01T00:00:00Z\"",
        "\"2026-12-01\"",
    ] {
        assert_eq!(from(native), Ok(midnight), "{native}");
    }
    let policy = Policy::from_toml(
        "version = 1\n[[exemptions]]\nuser = \"kiosk\"\nreason = \"badge readers\"\nuntil = 2027-03-01T08:00:00+01:00",
    )
    .unwrap();
    let until = policy.document().exemptions[0].until.unwrap();
    assert_eq!(until.to_string(), "2027-03-01T07:00:00Z");
    // Written back as strings, read back the same.
    assert_eq!(Policy::from_toml(&policy.to_toml()).unwrap(), policy);
    assert_eq!(Policy::from_json(&policy.to_json()).unwrap(), policy);
}

#[test]
fn unusable_dates_are_typed_errors_that_name_their_field() {
    let cases = [
        ("2026-12-01T00:00:00", TimestampError::MissingOffset),
        ("2026-12-01T00:00:00.5", TimestampError::MissingOffset),
        ("\"2026-12-01T00:00:00\"", TimestampError::MissingOffset),
        ("08:00:00", TimestampError::Malformed),
        ("1969-12-31", TimestampError::OutOfRange),
        ("\"2027-02-30\"", TimestampError::Malformed),
        ("\"soon\"", TimestampError::Malformed),
    ];
    for (value, error) in cases {
        let refused = from(value).unwrap_err();
        assert_eq!(refused, instant("enforcement.from", error), "{value}");
        assert!(
            refused.to_string().starts_with("enforcement.from: "),
            "{refused}"
        );
        let source = refused.source().unwrap().to_string();
        assert_eq!(source, error.to_string());
        assert!(
            !refused.to_string().contains(&source),
            "the message repeats its source"
        );
    }
    let second_exemption = Policy::from_toml(
        "version = 1\n[[exemptions]]\nuser = \"a\"\nreason = \"r\"\n\
         [[exemptions]]\nuser = \"b\"\nreason = \"r\"\nuntil = 2026-12-01T00:00:00",
    )
    .unwrap_err();
    assert_eq!(
        second_exemption,
        instant("exemptions[1].until", TimestampError::MissingOffset)
    );
    let json = Policy::from_json(
        r#"{"version": 1, "exemptions": [{"user": "u", "reason": "r", "until": "2027-01-01T10:00:00"}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        json,
        instant("exemptions[0].until", TimestampError::MissingOffset)
    );
    let json = Policy::from_json(r#"{"version": 1, "enforcement": {"from": "nope"}}"#).unwrap_err();
    assert_eq!(json, instant("enforcement.from", TimestampError::Malformed));
    // A date TOML itself cannot read, or a value of another type, stays a
    // syntax error with its line and column.
    for (value, needle) in [("2027-02-30", "line 3"), ("5", "expected a date")] {
        let error = from(value).unwrap_err();
        assert!(
            matches!(&error, PolicyError::Syntax { format: "TOML", message, .. } if message.contains(needle)),
            "{value}: {error:?}"
        );
    }
    // Other fields' errors are not dates, even where their text is no date.
    let mode = Policy::from_toml("version = 1\n[enforcement]\nmode = \"2027-01-01T10:00:00\"")
        .unwrap_err();
    assert!(matches!(mode, PolicyError::Syntax { .. }), "{mode:?}");
}

proptest! {
    /// Any instant of the range, written at any offset, as a string or as
    /// TOML's offset datetime, reads back as that instant.
    #[test]
    fn any_instant_at_any_offset_reads_back(seconds in 0u64..=LATEST, minutes in -1439i32..=1439) {
        let offset = UtcOffset::from_whole_seconds(minutes * 60).unwrap();
        let Some(text) = rfc3339(seconds, offset) else {
            return Ok(()); // beyond year 9999 at that offset
        };
        let expected = Timestamp::from_unix_seconds(seconds);
        prop_assert_eq!(text.parse::<Timestamp>(), Ok(expected), "{}", text);
        prop_assert_eq!(from(&text), Ok(Some(expected)), "{}", text);
        prop_assert_eq!(from(&format!("{text:?}")), Ok(Some(expected)), "{}", text);
    }

    /// A date alone is midnight UTC, quoted or not.
    #[test]
    fn a_date_is_midnight_utc(days in 0u64..=2_932_896) {
        let midnight = Timestamp::from_unix_seconds(days * 86_400);
        let text = midnight.to_string()[..10].to_string();
        prop_assert_eq!(text.parse::<Timestamp>(), Ok(midnight));
        prop_assert_eq!(from(&text), Ok(Some(midnight)));
    }

    /// Without an offset, no date and time is read, whatever it is.
    #[test]
    fn a_date_and_time_without_offset_is_refused(seconds in 0u64..=LATEST) {
        let text = rfc3339(seconds, UtcOffset::UTC).unwrap();
        let local = text.trim_end_matches('Z');
        prop_assert_eq!(local.parse::<Timestamp>(), Err(TimestampError::MissingOffset));
        prop_assert_eq!(from(local), Err(instant("enforcement.from", TimestampError::MissingOffset)));
    }

    /// `YYYY-MM-DD` reads exactly when it is a calendar date from 1970 on.
    #[test]
    fn only_calendar_dates_from_1970_read(year in 1900u32..=9999, month in 0u32..=13, day in 0u32..=32) {
        let text = format!("{year:04}-{month:02}-{day:02}");
        let calendar = u8::try_from(month)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .and_then(|m| Date::from_calendar_date(i32::try_from(year).unwrap(), m, u8::try_from(day).unwrap()).ok());
        match (text.parse::<Timestamp>(), calendar) {
            (Ok(t), Some(date)) => {
                prop_assert!(year >= 1970);
                prop_assert_eq!(t.to_string(), format!("{date}T00:00:00Z"));
            }
            (Err(TimestampError::OutOfRange), Some(_)) => prop_assert!(year < 1970),
            (Err(TimestampError::Malformed), None) => {}
            (result, calendar) => prop_assert!(false, "{}: {:?} for {:?}", text, result, calendar),
        }
    }
}
