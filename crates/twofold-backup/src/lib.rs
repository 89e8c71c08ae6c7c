#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

mod code;
mod error;
mod set;

pub use code::{
    ALPHABET, BITS_PER_SYMBOL, BackupCode, GROUP_SIZE, MAX_CODE_LENGTH, MAX_INPUT_BYTES,
    MIN_CODE_LENGTH, NewBackupCodes, NormalizedCode,
};
pub use error::{ConfigError, DecodeError, Error, InputError};
pub use set::{
    BackupCodeSet, BackupConfig, BackupVerification, DEFAULT_COUNT, DEFAULT_LENGTH,
    DEFAULT_LOW_THRESHOLD, DIGEST_BYTES, FORMAT, HashMemory, HashParams, HashedInput, MAX_CODES,
    MAX_ENCODED_BYTES, SALT_BYTES,
};
