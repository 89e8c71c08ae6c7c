//! One error enum for the crate, with a typed sub-error per concern.

/// Any error of this crate.
///
/// Each function returns the narrow error of its own concern (for example
/// [`CodeError`] from [`Code::parse`](crate::Code::parse)); this enum gathers them
/// for callers who want a single type, and keeps each one as its `source()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A secret could not be decoded or was refused.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A code typed by a person could not be read.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// An `otpauth://` URI could not be parsed or built.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A parameter (digits, period, window) is out of range.
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    /// The randomness source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// An export could not be read.
    #[cfg(feature = "import")]
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// A QR code could not be rendered.
    #[cfg(feature = "qr")]
    #[error(transparent)]
    Qr(#[from] crate::qr::QrError),
}

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is weaker than the floor that applies.
    ///
    /// Secrets below 128 bits need [`Secret::from_base32_legacy`](crate::Secret::from_base32_legacy);
    /// below 80 bits they are refused always.
    #[error("the secret has {bits} bits, fewer than the required {minimum}")]
    TooShort {
        /// The secret's length in bits.
        bits: usize,
        /// The floor that applied.
        minimum: usize,
    },
    /// The secret is longer than any HMAC key this crate accepts.
    #[error("the secret is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted secret, in bytes.
        max_bytes: usize,
    },
    /// The base32 text has a character outside the RFC 4648 alphabet.
    #[error("invalid base32 character at position {position}")]
    InvalidCharacter {
        /// Index (in characters) of the first offending character in the input.
        position: usize,
    },
    /// The base32 text has a length that no byte string encodes to.
    #[error("the base32 text has an impossible length ({symbols} symbols)")]
    InvalidLength {
        /// Number of base32 symbols after normalisation.
        symbols: usize,
    },
}

/// Why a code typed by a person could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The input is longer than any code could be, even with separators.
    #[error("the code input is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted input, in bytes.
        max_bytes: usize,
    },
    /// The code has the wrong number of digits.
    #[error("expected a {expected}-digit code, got {found} digits")]
    WrongLength {
        /// Digits the verifier expects.
        expected: u8,
        /// Digits found in the input.
        found: usize,
    },
    /// A digit from a script other than ASCII (for example `٣`).
    #[error("the code must use the digits 0-9 (a non-ASCII digit is at position {position})")]
    NonAsciiDigit {
        /// Index (in characters) of the offending character.
        position: usize,
    },
    /// A character that is neither a digit nor a separator.
    #[error(
        "the code may contain only digits, spaces and hyphens (invalid character at position {position})"
    )]
    InvalidCharacter {
        /// Index (in characters) of the offending character.
        position: usize,
    },
}

/// Why an `otpauth://` URI could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The URI is longer than the parser accepts.
    #[error("the URI is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted URI, in bytes.
        max_bytes: usize,
    },
    /// The scheme is not `otpauth://`.
    #[error("not an otpauth:// URI")]
    NotOtpauth,
    /// The type is neither `totp` nor `hotp`.
    #[error("unknown OTP type (expected totp or hotp)")]
    UnknownType,
    /// The label (`issuer:account`) is missing or its account part is empty.
    #[error("the URI has no account name in its label")]
    MissingAccount,
    /// An issuer or account name that the label format cannot carry faithfully.
    #[error("the {part} name is invalid: {reason}")]
    InvalidName {
        /// `"issuer"` or `"account"`.
        part: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Percent-encoding that does not decode to UTF-8.
    #[error("the {part} is not valid percent-encoded UTF-8")]
    InvalidEncoding {
        /// Where: `"label"` or the parameter name.
        part: &'static str,
    },
    /// The `secret` parameter is missing.
    #[error("the URI has no secret parameter")]
    MissingSecret,
    /// The `counter` parameter is missing from an `hotp` URI.
    #[error("an hotp URI needs a counter parameter")]
    MissingCounter,
    /// The issuer in the label and the `issuer` parameter differ.
    #[error("the label's issuer {label:?} differs from the issuer parameter {parameter:?}")]
    IssuerMismatch {
        /// Issuer from the label prefix.
        label: alloc::string::String,
        /// Issuer from the parameter.
        parameter: alloc::string::String,
    },
    /// A known parameter appears more than once.
    #[error("the parameter {name} appears more than once")]
    DuplicateParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// A known parameter has a value that is out of range or unreadable.
    #[error("the parameter {name} has an invalid value: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The secret parameter is not an acceptable secret.
    #[error("the secret parameter is invalid: {0}")]
    Secret(#[source] SecretError),
}

/// A parameter outside the range this crate supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParameterError {
    /// Digits must be 6, 7 or 8 (RFC 4226 §5.3 asks for at least 6).
    #[error("digits must be between 6 and 8, not {0}")]
    Digits(u32),
    /// The period must be at least one second.
    #[error("the period must be at least one second")]
    Period,
    /// The time lies before `T0`, where no time step is defined.
    #[error("the time lies before T0")]
    TimeBeforeT0,
    /// The verification window may reach at most [`Window::MAX_STEPS`](crate::Window::MAX_STEPS) steps each way.
    #[error("a window of {steps} steps is larger than the maximum of {max}")]
    Window {
        /// The requested steps.
        steps: u8,
        /// The maximum.
        max: u8,
    },
}

/// The randomness source failed to produce bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the randomness source failed")]
#[non_exhaustive]
pub struct RandomError;
