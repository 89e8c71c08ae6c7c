#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod code;
mod error;
#[cfg(feature = "import")]
mod import;
mod otp;
#[cfg(feature = "qr")]
mod qr;
mod secret;
mod uri;

pub use code::{Code, MAX_CODE_INPUT_BYTES};
pub use error::{CodeError, Error, ParameterError, RandomError, SecretError, UriError};
#[cfg(feature = "import")]
pub use import::{
    ImportEntry, ImportError, ImportOutcome, MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES, SkipReason,
    read_import,
};
pub use otp::{
    Algorithm, Digits, Hotp, HotpVerification, Period, Totp, TotpParams, Verification, Window,
};
#[cfg(feature = "qr")]
pub use qr::QrError;
#[cfg(feature = "serde")]
pub use secret::serde_secret;
pub use secret::{
    GENERATED_SECRET_BYTES, LEGACY_MIN_SECRET_BITS, MAX_BASE32_INPUT_BYTES, MAX_SECRET_BYTES,
    MIN_SECRET_BITS, Secret, Strength,
};
pub use uri::{MAX_NAME_BYTES, MAX_URI_BYTES, OtpAuthUri, OtpKind};

/// The system clock's current Unix time in seconds (0 if the clock is before 1970).
///
/// Everything else in this crate takes time as an argument, so that windows and
/// replays are testable without sleeping; this is the one place that reads the clock.
#[cfg(feature = "std")]
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
