//! One error enum for the crate, with a typed sub-error per concern.

/// Any error of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A code typed by a person could not be read. No hashing was done.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A stored set could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A configuration value is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The randomness source failed.
    #[error("the randomness source failed")]
    Random,
    /// Argon2 could not run (for example, it could not allocate its memory).
    #[error("Argon2 hashing failed: {0}")]
    Hashing(&'static str),
    /// The slot index does not exist in this set.
    #[error("the set has no slot {slot}")]
    NoSuchSlot {
        /// The index asked for.
        slot: usize,
    },
    /// A [`HashedInput`](crate::HashedInput) was hashed for another set (the
    /// set was regenerated since): hash the input again for this one.
    #[error("the code was hashed for another backup-code set")]
    OtherSet,
}

/// Why a typed backup code could not be read. Errors never repeat the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Longer than any code could be, even with separators; refused before hashing.
    #[error("the backup code is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted input, in bytes.
        max_bytes: usize,
    },
    /// A character outside the code alphabet, spaces and hyphens.
    #[error("backup codes use only letters and digits (invalid character at position {position})")]
    InvalidCharacter {
        /// Index (in characters) of the first offending character.
        position: usize,
    },
    /// The code has the wrong number of characters.
    #[error("a backup code has {expected} characters, not {found}")]
    WrongLength {
        /// Characters in this set's codes.
        expected: usize,
        /// Characters found (separators not counted).
        found: usize,
    },
}

/// Why a stored set could not be decoded: the record is corrupt, tampered with,
/// or from an unknown format version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Longer than any valid stored set.
    #[error("the stored backup-code set is longer than {max_bytes} bytes")]
    TooLong {
        /// The largest accepted encoding.
        max_bytes: usize,
    },
    /// Not a twofold backup-code set, or a format version this build does not know.
    #[error("unsupported backup-code set format (expected {expected})")]
    UnsupportedFormat {
        /// The format prefix this build reads.
        expected: &'static str,
    },
    /// A field is missing or has an invalid value.
    #[error("the stored backup-code set has an invalid {field}: {reason}")]
    Invalid {
        /// The field: `algorithm`, `version`, `parameters`, `length`, `salt`, `slots`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A configuration value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The number of codes per set must be between 1 and [`MAX_CODES`](crate::MAX_CODES).
    #[error("a set holds between 1 and {max} codes, not {count}")]
    Count {
        /// Requested count.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// Code length in characters, between [`MIN_CODE_LENGTH`](crate::MIN_CODE_LENGTH) and
    /// [`MAX_CODE_LENGTH`](crate::MAX_CODE_LENGTH).
    #[error("codes have between {min} and {max} characters, not {length}")]
    Length {
        /// Requested length.
        length: usize,
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
    },
    /// Argon2 parameters outside what this crate accepts.
    #[error("invalid Argon2 parameters: {0}")]
    HashParams(&'static str),
}
