//! One-time codes, and reading them from what people type.

use core::fmt;

use crate::error::CodeError;
use crate::otp::Digits;

/// The longest code input accepted, in bytes: room for 8 digits with generous
/// separators. Longer input is refused before any work is done.
pub const MAX_CODE_INPUT_BYTES: usize = 32;

/// A one-time code: its value and its number of digits.
///
/// `Display` writes it zero-padded (`"007314"`); `Debug` hides the value, so
/// codes do not end up in logs by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    value: u32,
    digits: Digits,
}

impl Code {
    pub(crate) fn from_value(value: u32, digits: Digits) -> Code {
        Code { value, digits }
    }

    /// Reads a code typed by a person. Spaces, tabs and hyphens are ignored
    /// (`"123 456"`, `"123-456"`); anything else but ASCII digits is an error, as
    /// is a wrong number of digits or input longer than [`MAX_CODE_INPUT_BYTES`].
    ///
    /// This never allocates.
    ///
    /// ```
    /// use twofold_totp::{Code, CodeError, Digits};
    ///
    /// assert_eq!(Code::parse(" 012-345 ", Digits::SIX)?.to_string(), "012345");
    /// assert_eq!(
    ///     Code::parse("12345", Digits::SIX),
    ///     Err(CodeError::WrongLength { expected: 6, found: 5 })
    /// );
    /// # Ok::<(), CodeError>(())
    /// ```
    pub fn parse(input: &str, digits: Digits) -> Result<Code, CodeError> {
        if input.len() > MAX_CODE_INPUT_BYTES {
            return Err(CodeError::TooLong {
                max_bytes: MAX_CODE_INPUT_BYTES,
            });
        }
        let mut value: u32 = 0;
        let mut found = 0usize;
        for (position, c) in input.chars().enumerate() {
            match c {
                ' ' | '\t' | '-' => {}
                '0'..='9' => {
                    found += 1;
                    if found <= usize::from(digits.get()) {
                        value = value * 10 + (u32::from(c) - u32::from('0'));
                    }
                }
                c if c.is_numeric() => return Err(CodeError::NonAsciiDigit { position }),
                _ => return Err(CodeError::InvalidCharacter { position }),
            }
        }
        if found != usize::from(digits.get()) {
            return Err(CodeError::WrongLength {
                expected: digits.get(),
                found,
            });
        }
        Ok(Code { value, digits })
    }

    /// The code's numeric value.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// The code's number of digits.
    pub fn digits(&self) -> Digits {
        self.digits
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}",
            self.value,
            width = usize::from(self.digits.get())
        )
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({} digits, …)", self.digits.get())
    }
}
