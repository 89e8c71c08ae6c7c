//! Reading existing secrets for migration: `otpauth://` URIs and Google
//! Authenticator's `otpauth-migration://offline?data=…` exports.
//!
//! # The export format
//!
//! Google Authenticator's "Transfer accounts" QR codes hold
//! `otpauth-migration://offline?data=DATA`, where `DATA` is percent-encoded
//! standard base64 (RFC 4648 §4) of a protobuf `MigrationPayload`. Google has
//! not published the schema; this module follows the one the migration tools
//! reconstructed and agree on, `google_auth.proto` of Aegis
//! (<https://github.com/beemdevelopment/Aegis/blob/master/app/src/main/proto/google_auth.proto>),
//! also used by extract_otp_secrets
//! (<https://github.com/scito/extract_otp_secrets/blob/master/src/google_auth.proto>)
//! and otpauth (<https://github.com/dim13/otpauth>):
//!
//! ```text
//! message MigrationPayload {
//!   enum Algorithm { ALGORITHM_UNSPECIFIED = 0; SHA1 = 1; SHA256 = 2; SHA512 = 3; MD5 = 4; }
//!   enum DigitCount { DIGIT_COUNT_UNSPECIFIED = 0; SIX = 1; EIGHT = 2; }
//!   enum OtpType { OTP_TYPE_UNSPECIFIED = 0; HOTP = 1; TOTP = 2; }
//!   message OtpParameters {
//!     bytes secret = 1; string name = 2; string issuer = 3; Algorithm algorithm = 4;
//!     DigitCount digits = 5; OtpType type = 6; int64 counter = 7;
//!   }
//!   repeated OtpParameters otp_parameters = 1;
//!   int32 version = 2; int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5;
//! }
//! ```
//!
//! The format has no period: it is always 30 seconds. An unspecified
//! algorithm is read as SHA-1 and unspecified digits as 6, the defaults of
//! the Key URI Format, as Aegis and extract_otp_secrets read them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use prost::Message as _;
use zeroize::Zeroizing;

use crate::error::{SecretError, UriError};
use crate::otp::{Algorithm, Digits, Period};
use crate::secret::{Secret, Strength};
use crate::uri::{MAX_NAME_BYTES, OtpAuthUri, OtpKind};

/// The longest input [`read_import`] reads, in bytes (64 KiB); longer input
/// is refused before anything is decoded. A Google Authenticator QR code
/// holds at most about 3 KB.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024;

/// The most entries one export may hold. (Google Authenticator splits larger
/// transfers over several QR codes of about ten entries each.)
pub const MAX_IMPORT_ENTRIES: usize = 1000;

/// One account read from an export.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportEntry {
    /// The service name, if the export has one (an empty issuer is `None`).
    pub issuer: Option<String>,
    /// The account name, as shown in the authenticator app. For a skipped
    /// entry whose name is not UTF-8, the lossy reading (`�` for bad bytes).
    pub account: String,
    /// Whether the entry can be imported, and how strong its secret is.
    pub outcome: ImportOutcome,
}

/// What became of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportOutcome {
    /// A TOTP account that can be stored and verified.
    Importable {
        /// The account: names, secret, algorithm, digits and period.
        uri: OtpAuthUri,
        /// The secret's strength: [`Strength::Legacy`] (80 to 127 bits) is
        /// accepted, but the user should be re-enrolled with a new secret.
        strength: Strength,
    },
    /// An entry that cannot be imported as TOTP; the other entries are unaffected.
    Skipped(SkipReason),
}

/// Why an entry was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// A counter-based (HOTP) account. It is not imported as TOTP: its codes
    /// come from a counter, and no time step can stand in for it.
    #[error("a counter-based (HOTP) account cannot be imported as TOTP")]
    Hotp,
    /// MD5 or an algorithm value the schema does not name.
    #[error("the hash algorithm is not supported (only SHA-1, SHA-256 and SHA-512)")]
    UnsupportedAlgorithm,
    /// A digits value the schema does not name (only 6 and 8 exist).
    #[error("the number of digits is not supported (only 6 and 8)")]
    UnsupportedDigits,
    /// The type is unspecified or a value the schema does not name.
    #[error("the account is neither TOTP nor HOTP")]
    UnknownType,
    /// The secret is shorter than [`LEGACY_MIN_SECRET_BITS`](crate::LEGACY_MIN_SECRET_BITS).
    #[error("the secret has {bits} bits, fewer than the minimum of 80")]
    WeakSecret {
        /// The secret's length in bits.
        bits: usize,
    },
    /// The secret is longer than [`MAX_SECRET_BYTES`](crate::MAX_SECRET_BYTES).
    #[error("the secret is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted secret, in bytes.
        max_bytes: usize,
    },
    /// The account name is empty.
    #[error("the account name is empty")]
    EmptyName,
    /// The issuer or account name is longer than [`MAX_NAME_BYTES`].
    #[error("the issuer or account name is longer than {max_bytes} bytes")]
    NameTooLong {
        /// The longest accepted name, in bytes.
        max_bytes: usize,
    },
    /// The issuer or account name is not UTF-8.
    #[error("the issuer or account name is not valid UTF-8")]
    NameNotUtf8,
}

/// Why an export could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The text is neither an `otpauth://` URI nor an
    /// `otpauth-migration://offline` export.
    #[error("not an otpauth:// URI or an otpauth-migration://offline export")]
    NotAnExport,
    /// The input is longer than [`MAX_IMPORT_BYTES`].
    #[error("the export is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted input, in bytes.
        max_bytes: usize,
    },
    /// The export has no `data` parameter, or an empty one.
    #[error("the export has no data parameter")]
    MissingData,
    /// The export has more than one `data` parameter.
    #[error("the export has more than one data parameter")]
    DuplicateData,
    /// The `data` parameter is not percent-encoded standard base64.
    #[error("the export's data is not valid base64")]
    InvalidBase64,
    /// The decoded data is not a `MigrationPayload`.
    #[error("the export's data is not a valid migration payload: {0}")]
    InvalidProtobuf(#[source] prost::DecodeError),
    /// The export holds more than [`MAX_IMPORT_ENTRIES`] entries.
    #[error("the export holds more than {max} entries")]
    TooManyEntries {
        /// The most entries accepted.
        max: usize,
    },
    /// A single `otpauth://` URI that could not be parsed (weak secrets included:
    /// with one entry there is nothing else to import).
    #[error(transparent)]
    Uri(#[from] UriError),
}

/// Reads an export: one entry for an `otpauth://` URI, one per account for a
/// Google Authenticator `otpauth-migration://offline?data=…` export.
///
/// Surrounding whitespace is ignored; the schemes are matched without regard
/// to case. Input longer than [`MAX_IMPORT_BYTES`] is refused before anything
/// is decoded.
///
/// - An `otpauth://` URI is read by [`OtpAuthUri::parse_legacy`], so secrets
///   of 80 to 127 bits are accepted with [`Strength::Legacy`]. A URI that does
///   not parse is [`ImportError::Uri`]; an `hotp` URI is one skipped entry.
/// - In a migration export each entry gets its own [`ImportOutcome`]: one bad
///   entry never fails the others. The `data` value may be with or without
///   base64 padding; a literal `+` in it is read as `+` (base64 has no space).
///   Google Authenticator sometimes stores the name as `Issuer:account` with
///   `issuer` set too: a name that starts with the issuer and a `:` has that
///   prefix stripped, with any spaces after the colon (as in the label of the
///   Key URI Format), unless nothing would be left. A multi-QR transfer is
///   one call per QR code.
///
/// The decoded payload and the base64 text are held in zeroizing buffers.
///
/// ```
/// use twofold_totp::{read_import, ImportOutcome, Strength};
///
/// let entries = read_import(
///     "otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B",
/// )?;
/// assert_eq!(entries.len(), 1);
/// assert_eq!(entries[0].issuer.as_deref(), Some("raspberrypi"));
/// assert_eq!(entries[0].account, "pi@raspberrypi");
/// let ImportOutcome::Importable { uri, strength } = &entries[0].outcome else {
///     panic!("expected an importable entry");
/// };
/// assert_eq!(uri.secret().to_base32(), "7KSQL2JTUDIS5EF65KLMRQIIGY");
/// assert_eq!(*strength, Strength::Recommended { bits: 128 });
/// # Ok::<(), twofold_totp::ImportError>(())
/// ```
pub fn read_import(text: &str) -> Result<Vec<ImportEntry>, ImportError> {
    if text.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLong {
            max_bytes: MAX_IMPORT_BYTES,
        });
    }
    let text = text.trim();
    if let Some(rest) = strip_prefix_ignore_case(text, "otpauth-migration://") {
        read_migration(rest)
    } else if strip_prefix_ignore_case(text, "otpauth://").is_some() {
        Ok(alloc::vec![read_uri(text)?])
    } else {
        Err(ImportError::NotAnExport)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    match text.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => text.get(prefix.len()..),
        _ => None,
    }
}

fn read_uri(text: &str) -> Result<ImportEntry, ImportError> {
    let uri = OtpAuthUri::parse_legacy(text)?;
    let issuer = uri.issuer().map(String::from);
    let account = String::from(uri.account());
    let outcome = match uri.kind() {
        OtpKind::Totp { .. } => ImportOutcome::Importable {
            strength: uri.secret().strength(),
            uri,
        },
        OtpKind::Hotp { .. } => ImportOutcome::Skipped(SkipReason::Hotp),
    };
    Ok(ImportEntry {
        issuer,
        account,
        outcome,
    })
}

/// Standard base64 with or without padding (exports are padded; text that
/// passed through other tools sometimes is not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Reads what follows `otpauth-migration://`.
fn read_migration(rest: &str) -> Result<Vec<ImportEntry>, ImportError> {
    let rest = rest.split('#').next().unwrap_or_default();
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !host.eq_ignore_ascii_case("offline") && !host.eq_ignore_ascii_case("offline/") {
        return Err(ImportError::NotAnExport);
    }
    let mut data = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.eq_ignore_ascii_case("data") && data.replace(value).is_some() {
            return Err(ImportError::DuplicateData);
        }
    }
    let data = data
        .filter(|data| !data.is_empty())
        .ok_or(ImportError::MissingData)?;

    // Percent-decoding never lengthens, and base64 decoding needs at most the
    // estimate: with the capacity reserved up front neither buffer reallocates
    // (which would leave an unzeroized copy behind).
    let mut base64_text = Zeroizing::new(Vec::with_capacity(data.len()));
    base64_text.extend(percent_decode_str(data));
    let mut payload = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(
        base64_text.len(),
    )));
    BASE64
        .decode_vec(base64_text.as_slice(), &mut payload)
        .map_err(|_| ImportError::InvalidBase64)?;
    drop(base64_text);

    // prost's `Bytes` fields borrow slices of this buffer without copying; the
    // buffer is zeroized when the last of them is dropped.
    let payload = MigrationPayload::decode(Bytes::from_owner(payload))
        .map_err(ImportError::InvalidProtobuf)?;
    if payload.otp_parameters.len() > MAX_IMPORT_ENTRIES {
        return Err(ImportError::TooManyEntries {
            max: MAX_IMPORT_ENTRIES,
        });
    }
    Ok(payload.otp_parameters.iter().map(read_entry).collect())
}

fn read_entry(parameters: &OtpParameters) -> ImportEntry {
    let issuer_text = String::from_utf8_lossy(&parameters.issuer);
    let name_text = String::from_utf8_lossy(&parameters.name);
    let issuer = Some(issuer_text.as_ref()).filter(|issuer| !issuer.is_empty());
    let account = match issuer {
        Some(issuer) => strip_issuer(&name_text, issuer),
        None => &name_text,
    };
    let outcome = match importable(parameters, issuer, account) {
        Ok((uri, strength)) => ImportOutcome::Importable { uri, strength },
        Err(reason) => ImportOutcome::Skipped(reason),
    };
    ImportEntry {
        issuer: issuer.map(String::from),
        account: String::from(account),
        outcome,
    }
}

/// `name` less an `issuer:` prefix and the spaces after it, unless nothing
/// would be left.
fn strip_issuer<'a>(name: &'a str, issuer: &str) -> &'a str {
    name.strip_prefix(issuer)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(|rest| rest.trim_start_matches(' '))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(name)
}

fn importable(
    parameters: &OtpParameters,
    issuer: Option<&str>,
    account: &str,
) -> Result<(OtpAuthUri, Strength), SkipReason> {
    match parameters.r#type {
        OTP_TYPE_TOTP => {}
        OTP_TYPE_HOTP => return Err(SkipReason::Hotp),
        _ => return Err(SkipReason::UnknownType),
    }
    let algorithm = match parameters.algorithm {
        ALGORITHM_UNSPECIFIED | ALGORITHM_SHA1 => Algorithm::Sha1,
        ALGORITHM_SHA256 => Algorithm::Sha256,
        ALGORITHM_SHA512 => Algorithm::Sha512,
        _ => return Err(SkipReason::UnsupportedAlgorithm),
    };
    let digits = match parameters.digits {
        DIGIT_COUNT_UNSPECIFIED | DIGIT_COUNT_SIX => Digits::SIX,
        DIGIT_COUNT_EIGHT => Digits::EIGHT,
        _ => return Err(SkipReason::UnsupportedDigits),
    };
    let secret = Secret::from_bytes_legacy(&parameters.secret).map_err(|error| match error {
        SecretError::TooLong { max_bytes } => SkipReason::TooLong { max_bytes },
        SecretError::TooShort { bits, .. } => SkipReason::WeakSecret { bits },
        // From raw bytes only the two length errors arise.
        SecretError::InvalidCharacter { .. } | SecretError::InvalidLength { .. } => {
            SkipReason::WeakSecret {
                bits: parameters.secret.len() * 8,
            }
        }
    })?;
    if core::str::from_utf8(&parameters.issuer).is_err()
        || core::str::from_utf8(&parameters.name).is_err()
    {
        return Err(SkipReason::NameNotUtf8);
    }
    let strength = secret.strength();
    let kind = OtpKind::Totp {
        period: Period::THIRTY_SECONDS,
    };
    // `OtpAuthUri::new` refuses only empty and overlong names.
    let uri = OtpAuthUri::new(kind, issuer, account, secret).map_err(|_| {
        if account.is_empty() {
            SkipReason::EmptyName
        } else {
            SkipReason::NameTooLong {
                max_bytes: MAX_NAME_BYTES,
            }
        }
    })?;
    Ok((uri.with_algorithm(algorithm).with_digits(digits), strength))
}

const ALGORITHM_UNSPECIFIED: i32 = 0;
const ALGORITHM_SHA1: i32 = 1;
const ALGORITHM_SHA256: i32 = 2;
const ALGORITHM_SHA512: i32 = 3;
// ALGORITHM_MD5 = 4 and unknown values are refused.
const DIGIT_COUNT_UNSPECIFIED: i32 = 0;
const DIGIT_COUNT_SIX: i32 = 1;
const DIGIT_COUNT_EIGHT: i32 = 2;
// OTP_TYPE_UNSPECIFIED = 0 and unknown values are refused.
const OTP_TYPE_HOTP: i32 = 1;
const OTP_TYPE_TOTP: i32 = 2;

/// `MigrationPayload` (see the module documentation). The enums are read as
/// plain `int32` (their wire form), so that an unknown value skips one entry
/// instead of failing the payload; `name` and `issuer` (`string` in the
/// schema) are read as bytes for the same reason with bad UTF-8. The batch
/// fields are decoded but not used.
#[derive(Clone, PartialEq, prost::Message)]
struct MigrationPayload {
    #[prost(message, repeated, tag = "1")]
    otp_parameters: Vec<OtpParameters>,
    #[prost(int32, tag = "2")]
    version: i32,
    #[prost(int32, tag = "3")]
    batch_size: i32,
    #[prost(int32, tag = "4")]
    batch_index: i32,
    #[prost(int32, tag = "5")]
    batch_id: i32,
}

/// One account of a `MigrationPayload`. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
struct OtpParameters {
    #[prost(bytes = "bytes", tag = "1")]
    secret: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    name: Bytes,
    #[prost(bytes = "bytes", tag = "3")]
    issuer: Bytes,
    #[prost(int32, tag = "4")]
    algorithm: i32,
    #[prost(int32, tag = "5")]
    digits: i32,
    #[prost(int32, tag = "6")]
    r#type: i32,
    #[prost(int64, tag = "7")]
    counter: i64,
}

impl fmt::Debug for OtpParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpParameters")
            .field("secret", &"…")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("type", &self.r#type)
            .field("counter", &self.counter)
            .finish()
    }
}
